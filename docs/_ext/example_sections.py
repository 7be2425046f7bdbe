"""A griffe extension for the API reference: an `Example:` section is read as `Examples:`.

The library's docstrings head their doctest lines `Example:` (Google style reads only the
plural as an examples section); renamed, they render as Python code instead of loose text.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

_SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(Extension):
    """Rename `Example:` section headers to `Examples:` before the docstring is parsed."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
