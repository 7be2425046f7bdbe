"""`df.llmbatch.*` on pandas and polars: thin shells that hold the frame and delegate.

Registered on `import llmbatch` for each library that is installed (a polars LazyFrame is
collected first). The three verbs share one signature on both libraries. Like the official SDKs,
other keyword arguments must be body parameters the endpoint documents (`seed=`, `top_p=`,
`metadata=`, ...); any other field goes through `extra_body={...}`, merged into every body as is.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from llmbatch.create import JobRequest, create_job
from llmbatch.job import BatchHandle
from llmbatch.prepare import Limits

__all__ = ["LLMBatchAccessor", "register"]


class LLMBatchAccessor:
    """The `.llmbatch` namespace of a DataFrame."""

    def __init__(self, df: Any) -> None:
        self._df = df

    def embed(
        self,
        text: str,
        id: str | None = None,
        *,
        model: str | None = None,
        dimensions: int | None = None,
        provider: Any = "openai",
        wide: bool = False,
        suffix: str = "",
        skip_empty: bool = False,
        folder: str | Path | None = None,
        name: str | None = None,
        force: bool = False,
        limits: Limits | None = None,
        submit: bool = True,
        extra_body: dict[str, Any] | None = None,
        **params: Any,
    ) -> BatchHandle:
        """Embed every row's `text` (OpenAI `/v1/embeddings`); adds `embedding` or `V1..Vn`.

        Example:
            >>> job = df.llmbatch.embed(text="body", id="doc_id", dimensions=256)
        """
        return create_job(self._df, JobRequest(
            kind="embed", text=text, id=id, model=model, dimensions=dimensions,
            provider=provider, wide=wide, suffix=suffix, skip_empty=skip_empty, folder=folder,
            name=name, force=force, limits=limits, submit=submit, params=params,
            extra_body=extra_body,
        ))  # fmt: skip

    def complete(
        self,
        text: str | None = None,
        id: str | None = None,
        *,
        prompt: str | None = None,
        system_prompt: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        provider: Any = "openai",
        api: str = "chat",
        content_column: str = "content",
        suffix: str = "",
        skip_empty: bool = False,
        folder: str | Path | None = None,
        name: str | None = None,
        force: bool = False,
        limits: Limits | None = None,
        submit: bool = True,
        extra_body: dict[str, Any] | None = None,
        **params: Any,
    ) -> BatchHandle:
        """Ask for a free-text answer per row; adds `content`.

        Other keywords are the endpoint's documented body parameters (`seed=`, `top_p=`, ...);
        an undocumented field is refused unless passed in `extra_body={...}`.

        Example:
            >>> job = df.llmbatch.complete(prompt="Summarise: {body}", id="doc_id")
        """
        return create_job(self._df, JobRequest(
            kind="complete", text=text, prompt=prompt, id=id, system_prompt=system_prompt,
            model=model, temperature=temperature, max_tokens=max_tokens, provider=provider,
            api=api, content_column=content_column, suffix=suffix, skip_empty=skip_empty,
            folder=folder, name=name, force=force, limits=limits, submit=submit, params=params,
            extra_body=extra_body,
        ))  # fmt: skip

    def classify(
        self,
        schema: Any,
        text: str | None = None,
        id: str | None = None,
        *,
        prompt: str | None = None,
        system_prompt: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        provider: Any = "openai",
        api: str = "chat",
        label_column: str = "label",
        structured: str = "output_config",
        relax: bool = False,
        suffix: str = "",
        skip_empty: bool = False,
        folder: str | Path | None = None,
        name: str | None = None,
        force: bool = False,
        limits: Limits | None = None,
        submit: bool = True,
        extra_body: dict[str, Any] | None = None,
        **params: Any,
    ) -> BatchHandle:
        """Structured output per row; adds one typed column per schema property.

        `schema` is a JSON Schema dict, a pydantic model class, a list of labels, or built with
        `llmbatch.schema`. Anthropic uses `output_config.format`; `structured="tool"` uses
        forced tool use instead. `relax=True` moves value-only constraints the provider rejects
        (bounds, lengths, formats) into the property's description instead of refusing them.

        Example:
            >>> job = df.llmbatch.classify(["positive", "negative"], text="body", id="doc_id")
        """
        return create_job(self._df, JobRequest(
            kind="classify", schema=schema, text=text, prompt=prompt, id=id,
            system_prompt=system_prompt, model=model, temperature=temperature,
            max_tokens=max_tokens, provider=provider, api=api, label_column=label_column,
            structured=structured, relax=relax, suffix=suffix, skip_empty=skip_empty,
            folder=folder, name=name, force=force, limits=limits, submit=submit, params=params,
            extra_body=extra_body,
        ))  # fmt: skip


def _import(name: str) -> Any:
    """The module if it is installed and importable, else None (never a hard dependency)."""
    try:
        if importlib.util.find_spec(name) is None:
            return None
        return importlib.import_module(name)
    except (ImportError, ValueError):
        return None


def register() -> None:
    """Register `.llmbatch` on every installed frame library (never imports a missing one)."""
    pd = _import("pandas")
    if pd is not None:
        pd.api.extensions.register_dataframe_accessor("llmbatch")(LLMBatchAccessor)
    pl = _import("polars")
    if pl is not None:
        pl.api.register_dataframe_namespace("llmbatch")(LLMBatchAccessor)
        pl.api.register_lazyframe_namespace("llmbatch")(LLMBatchAccessor)
