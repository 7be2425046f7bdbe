"""`df.llmbatch.*` on pandas and polars: thin shells that hold the frame and delegate.

`import llmbatch` registers the namespace without importing either library (pandas imports
pyarrow): on a library already imported at once, on the other right after the program first
imports it (a small `sys.meta_path` hook). The job machinery is imported when a verb runs. A
polars LazyFrame is collected first. The three verbs share one signature on both libraries.
`mode="sync"` sends the same requests through the realtime API instead (prompt development:
answers in seconds, at the full price); everything else about the job is the same.
Like the official SDKs, other keyword arguments must be body parameters the endpoint documents
(`seed=`, `top_p=`, `metadata=`, ...); any other field goes through `extra_body={...}`, merged
into every body as is.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # importlib.abc and pathlib cost more than the rest of `import llmbatch`
    from collections.abc import Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from pathlib import Path

    from llmbatch.job import BatchHandle
    from llmbatch.prepare import Limits

__all__ = ["LLMBatchAccessor", "register"]


class LLMBatchAccessor:
    """The `.llmbatch` namespace of a DataFrame."""

    def __init__(self, df: Any) -> None:
        self._df = df

    def _job(self, kind: str, args: dict[str, Any]) -> BatchHandle:
        """A verb's arguments (its `locals()`, spelt once in its signature) → a job."""
        from llmbatch.create import JobRequest, create_job  # heavy: pyarrow, the job

        given = {name: value for name, value in args.items() if name != "self"}
        return create_job(self._df, JobRequest(kind=kind, **given))

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
        mode: str = "batch",
        reuse: bool = True,
        max_cost: float | None = None,
        max_enqueued_tokens: int | None = None,
        concurrency: int | None = None,
        requests_per_minute: float | None = None,
        extra_body: dict[str, Any] | None = None,
        **params: Any,
    ) -> BatchHandle:
        """Embed every row's `text` (OpenAI `/v1/embeddings`); adds `embedding` or `V1..Vn`.

        Example:
            >>> job = df.llmbatch.embed(text="body", id="doc_id", dimensions=256)
        """
        return self._job("embed", locals())

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
        mode: str = "batch",
        reuse: bool = True,
        max_cost: float | None = None,
        max_enqueued_tokens: int | None = None,
        concurrency: int | None = None,
        requests_per_minute: float | None = None,
        extra_body: dict[str, Any] | None = None,
        **params: Any,
    ) -> BatchHandle:
        """Ask for a free-text answer per row; adds `content`.

        Other keywords are the endpoint's documented body parameters (`seed=`, `top_p=`, ...);
        an undocumented field is refused unless passed in `extra_body={...}`.

        Example:
            >>> job = df.llmbatch.complete(prompt="Summarise: {body}", id="doc_id")
        """
        return self._job("complete", locals())

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
        mode: str = "batch",
        reuse: bool = True,
        max_cost: float | None = None,
        max_enqueued_tokens: int | None = None,
        concurrency: int | None = None,
        requests_per_minute: float | None = None,
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
        return self._job("classify", locals())


_LIBRARIES = ("pandas", "polars")
_registered: set[str] = set()
_lock = threading.Lock()


def _register_on(name: str, module: ModuleType) -> None:
    """Register the namespace on one imported frame library, once."""
    with _lock:
        if name in _registered:
            return
        _registered.add(name)
    if name == "pandas":
        module.api.extensions.register_dataframe_accessor("llmbatch")(LLMBatchAccessor)
    else:
        module.api.register_dataframe_namespace("llmbatch")(LLMBatchAccessor)
        module.api.register_lazyframe_namespace("llmbatch")(LLMBatchAccessor)


class _RegisteringLoader:
    """Runs a frame library's own loader, then registers on it and steps aside."""

    def __init__(self, loader: Loader, name: str) -> None:
        self._loader, self._name = loader, name

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its real loader (importlib.resources, pkgutil and reload use it).
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _register_on(self._name, module)
        _step_aside()

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._loader, attr)


class _RegisterOnImport:
    """Finds pandas and polars like the finders after it, wrapping the loader it returns."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _LIBRARIES or fullname in _registered:
            return None
        for finder in [f for f in sys.meta_path if f is not self]:
            find = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    # duck-typed: subclassing importlib.abc.Loader costs 60 ms of imports
                    spec.loader = cast("Loader", _RegisteringLoader(spec.loader, fullname))
                return spec
        return None


_HOOK = _RegisterOnImport()


def _step_aside() -> None:
    """Remove the import hook once every library holds the namespace."""
    if _registered.issuperset(_LIBRARIES) and _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)


def register() -> None:
    """Register `.llmbatch` on pandas and polars without importing either.

    A library already imported gets it now; the others right after their first import, through
    a `sys.meta_path` hook that removes itself once both are done. A library that is not
    installed is never imported.
    """
    for name in _LIBRARIES:
        module = sys.modules.get(name)
        if module is not None:
            _register_on(name, module)
    if not _registered.issuperset(_LIBRARIES) and _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)
