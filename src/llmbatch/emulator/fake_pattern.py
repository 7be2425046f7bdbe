"""Strings that match a regular expression, for ``pattern`` in synthetic structured output.

Best effort by design: the regex is parsed with the standard library's own parser and walked
once; the result is checked with ``re.search`` and None is returned when it does not match
(the caller then falls back to a fixed string).
"""

from __future__ import annotations

import re

from llmbatch.emulator.fake_text import Rand

try:
    from re import _parser as _sre  # type: ignore[attr-defined]  # Python >= 3.11
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef, unused-ignore]  # needed on 3.10 only

_CATEGORY_SAMPLES = {
    "CATEGORY_DIGIT": "0123456789",
    "CATEGORY_NOT_DIGIT": "abcxyz",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "abcxyz",
    "CATEGORY_WORD": "abcxyzABCXYZ0189",
    "CATEGORY_NOT_WORD": "-.+ ",
}
_NEGATED_CANDIDATES = "aZ0_-. q~"


def pattern_string(pattern: str, rand: Rand) -> str | None:
    """A string that ``re.search(pattern, ...)`` matches, or None when this walk cannot tell.

    Handles literals, classes, ``\\d\\w\\s``, ``.``, groups, alternation and quantifiers;
    anything else (back-references, unusual flags) gives None.
    """
    try:
        out: list[str] = []
        _emit(_sre.parse(pattern), rand, out)
        text = "".join(out)
        return text if re.search(pattern, text) else None
    except Exception:  # any parser oddity means "cannot tell", by design
        return None


def _emit(tokens: object, rand: Rand, out: list[str]) -> None:
    for op, arg in tokens:  # type: ignore[attr-defined]
        name = _name(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_char(arg, rand))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            for _ in range(low + rand.below(min(high, low + 3) - low + 1)):
                _emit(sub, rand, out)
        elif name == "SUBPATTERN":
            _emit(arg[-1], rand, out)
        elif name == "ATOMIC_GROUP":
            _emit(arg, rand, out)
        elif name == "BRANCH":
            _emit(rand.choice(arg[1]), rand, out)
        elif name not in ("AT", "ASSERT", "ASSERT_NOT"):
            raise ValueError(name)


def _class_char(items: list, rand: Rand) -> str:
    if items and _name(items[0][0]) == "NEGATE":
        for char in _NEGATED_CANDIDATES:
            if not any(_class_has(op, arg, char) for op, arg in items[1:]):
                return char
        raise ValueError("negated class")
    op, arg = rand.choice(items)
    name = _name(op)
    if name == "LITERAL":
        return chr(arg)
    if name == "RANGE":
        return chr(arg[0] + rand.below(arg[1] - arg[0] + 1))
    if name == "CATEGORY":
        return rand.choice(_CATEGORY_SAMPLES[_name(arg)])
    raise ValueError(name)


def _class_has(op: object, arg: object, char: str) -> bool:
    name = _name(op)
    if name == "LITERAL":
        return chr(arg) == char  # type: ignore[arg-type]
    if name == "RANGE":
        return arg[0] <= ord(char) <= arg[1]  # type: ignore[index]
    return name == "CATEGORY" and re.fullmatch(_category_regex(_name(arg)), char) is not None


def _category_regex(name: str) -> str:
    return {"DIGIT": r"\d", "NOT_DIGIT": r"\D", "SPACE": r"\s", "NOT_SPACE": r"\S"}.get(
        name.removeprefix("CATEGORY_"), r"\w" if name == "CATEGORY_WORD" else r"\W"
    )


def _name(op: object) -> str:
    return str(getattr(op, "name", op))
