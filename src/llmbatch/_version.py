"""The version of llmbatch: the one place it is written (pyproject.toml reads it too)."""

__version__ = "0.1.0"
