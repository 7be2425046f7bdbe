"""Values a provider config holds but never shows: the key, a token, header and query values.

A :class:`Secret` hides one string; a :class:`SecretMap` shows its names and hides its values
(``default_headers`` and ``default_query`` may carry credentials, and there is no telling which
do). Neither shows a value in ``repr``, ``str`` or ``vars()``; a pickled :class:`SecretMap`
keeps only its names, so a config sent to another process must be given its values again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["Secret", "SecretMap"]


class Secret:
    """A string that refuses to show itself (repr, str, pickling)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'<secret>'"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an API key is never pickled; it is read from the environment again")


class SecretMap:
    """Names with hidden values; some names may have lost their values (a reopened job).

    Args:
        values: the names and their values.
        names: further names whose values are not known here (recorded in a job folder).
    """

    __slots__ = ("_names", "_values")

    def __init__(self, values: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> None:
        self._values = dict(values or {})
        self._names = tuple(sorted({*self._values, *names}))

    @property
    def names(self) -> list[str]:
        """Every name, sorted (what a job folder records)."""
        return list(self._names)

    def missing(self) -> list[str]:
        """The names whose values are not known here."""
        return [name for name in self._names if name not in self._values]

    def values(self) -> dict[str, str]:
        """The known names and values (for the HTTP client only)."""
        return dict(self._values)

    def get(self, name: str) -> str | None:
        """The value of ``name``, compared without case (header names), or None."""
        wanted = name.lower()
        return next((v for k, v in self._values.items() if k.lower() == wanted), None)

    def __bool__(self) -> bool:
        return bool(self._names)

    def __repr__(self) -> str:
        return f"<names {self.names} (values hidden)>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        return (SecretMap, (None, self._names))  # a pickle keeps the names, never a value
