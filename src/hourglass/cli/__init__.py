"""The `hourglass` command: parser (its options), main (one function per command), compare
(the main job, also the Python API's ``compare``)."""

from hourglass.cli.main import entry, main

__all__ = ["entry", "main"]
