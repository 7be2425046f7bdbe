"""llmbatch: a DataFrame in, the provider's Batch API in between, the same frame back with answers.

>>> import llmbatch
>>> job = df.llmbatch.classify(["positive", "negative"], text="body", id="doc_id")
>>> labelled = llmbatch.load(job.path).wait()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llmbatch._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchFailedError,
    BudgetExceededError,
    ConfigError,
    ConflictError,
    DuplicateWorkError,
    InputError,
    JobFolderError,
    JobNotReady,
    LLMBatchError,
    NameConflictError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    RateLimitError,
    RequestTooLargeError,
    ResultsIntegrityError,
    SchemaError,
    ServerError,
    UnprocessableError,
)
from llmbatch._version import __version__
from llmbatch.accessor import register as _register

if TYPE_CHECKING:
    from llmbatch import schema
    from llmbatch._retry import RetryPolicy
    from llmbatch.catalog import jobs, load
    from llmbatch.frames import scan_parquet
    from llmbatch.job import BatchHandle
    from llmbatch.prepare import Limits
    from llmbatch.providers import Anthropic, OpenAI
    from llmbatch.status import JobStatus, ShardStatus

# Imported on first use (PEP 562): the job machinery imports pyarrow, and `import llmbatch`
# should cost what registering the accessor costs, not more.
_LAZY = {
    "schema": ("llmbatch.schema", None),
    "RetryPolicy": ("llmbatch._retry", "RetryPolicy"),
    "jobs": ("llmbatch.catalog", "jobs"),
    "load": ("llmbatch.catalog", "load"),
    "BatchHandle": ("llmbatch.job", "BatchHandle"),
    "Limits": ("llmbatch.prepare", "Limits"),
    "Anthropic": ("llmbatch.providers", "Anthropic"),
    "OpenAI": ("llmbatch.providers", "OpenAI"),
    "JobStatus": ("llmbatch.status", "JobStatus"),
    "ShardStatus": ("llmbatch.status", "ShardStatus"),
    "scan_parquet": ("llmbatch.frames", "scan_parquet"),
}

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Anthropic",
    "AuthenticationError",
    "BadRequestError",
    "BatchFailedError",
    "BatchHandle",
    "BudgetExceededError",
    "ConfigError",
    "ConflictError",
    "DuplicateWorkError",
    "InputError",
    "JobFolderError",
    "JobNotReady",
    "JobStatus",
    "LLMBatchError",
    "Limits",
    "NameConflictError",
    "NotFoundError",
    "OpenAI",
    "PermissionDeniedError",
    "ProviderError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResultsIntegrityError",
    "RetryPolicy",
    "SchemaError",
    "ServerError",
    "ShardStatus",
    "UnprocessableError",
    "__version__",
    "jobs",
    "load",
    "scan_parquet",
    "schema",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and keep the value (PEP 562)."""
    if name not in _LAZY:
        msg = f"module 'llmbatch' has no attribute {name!r}"
        raise AttributeError(msg)
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_register()
