"""Reports of a search directory: frontier plot, tables, samples."""

from hourglass.report.html import write_report

__all__ = ["write_report"]
