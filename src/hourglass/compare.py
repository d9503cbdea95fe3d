"""``from hourglass.compare import compare``, the import the README documents: the function
lives with the commands (cli/compare.py)."""

from hourglass.cli.compare import compare

__all__ = ["compare"]
