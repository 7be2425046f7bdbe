"""llmbatch: a DataFrame in, the provider's Batch API in between, the same frame back with answers."""

from __future__ import annotations

__version__ = "0.1.0"
