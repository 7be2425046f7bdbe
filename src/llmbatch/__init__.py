"""llmbatch: a DataFrame in, the provider's Batch API in between, the same frame back with answers.

>>> import llmbatch
>>> job = df.llmbatch.classify(["positive", "negative"], text="body", id="doc_id")
>>> labelled = llmbatch.load(job.path).wait()
"""

from __future__ import annotations

__version__ = "0.1.0"

from llmbatch import schema
from llmbatch._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BatchFailedError,
    ConfigError,
    InputError,
    JobFolderError,
    JobNotReady,
    LLMBatchError,
    NameConflictError,
    NotFoundError,
    ProviderError,
    RateLimitError,
    ResultsIntegrityError,
    SchemaError,
    ServerError,
)
from llmbatch._retry import RetryPolicy
from llmbatch.accessor import register as _register
from llmbatch.catalog import jobs, load
from llmbatch.job import BatchHandle
from llmbatch.prepare import Limits
from llmbatch.providers._config import Anthropic, OpenAI
from llmbatch.status import JobStatus, ShardStatus

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "Anthropic",
    "AuthenticationError",
    "BadRequestError",
    "BatchFailedError",
    "BatchHandle",
    "ConfigError",
    "InputError",
    "JobFolderError",
    "JobNotReady",
    "JobStatus",
    "LLMBatchError",
    "Limits",
    "NameConflictError",
    "NotFoundError",
    "OpenAI",
    "ProviderError",
    "RateLimitError",
    "ResultsIntegrityError",
    "RetryPolicy",
    "SchemaError",
    "ServerError",
    "ShardStatus",
    "__version__",
    "jobs",
    "load",
    "schema",
]

_register()
