"""The package version (one place: the package, provenance and wheels read it)."""

__version__ = "0.1.0"
