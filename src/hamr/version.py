"""The package version (one place; read by ``hamr.__version__`` and the bench's code version)."""

__version__ = "0.1.0"
