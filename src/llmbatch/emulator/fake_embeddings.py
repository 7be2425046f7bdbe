"""Synthetic ``/v1/embeddings``: deterministic unit vectors, validated like the real endpoint.

Each input's vector comes from ``shake_256(model, text)``, one byte per component: the byte
picks a sign and one of 128 magnitudes (half-normal quantiles), and the vector is scaled to
unit length, so components look roughly Gaussian. A smaller ``dimensions`` reads a prefix of
the same stream and re-normalises it, as text-embedding-3 models do: the same text points the
same way at every size, in every batch (the arithmetic is in :mod:`fake_vectors`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import NamedTuple, cast

import orjson

from llmbatch.emulator.fake_openai_checks import (
    integer_above,
    integer_below,
    invalid_value,
    missing,
    no_model,
    openai_error,
)
from llmbatch.emulator.fake_text import estimate_tokens

_MODEL_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_FIXED_DIMENSIONS = frozenset({"text-embedding-ada-002"})
_UNKNOWN_DEFAULT = 1536
_UNKNOWN_MAX = 8192
_MAX_INPUTS = 2048
_MAX_INPUT_TOKENS = 8192
_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_VECTORS_AT_ONCE = 256
_ITEM = b'%s{"object":"embedding","index":%d,"embedding":'
_TAIL = b'],"model":%s,"usage":{"prompt_tokens":%d,"total_tokens":%d}}'
_fake_vectors: ModuleType | None = None
_INVALID_INPUT = (
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference."
)


def embedding_input_count(body: dict) -> int:
    """How many embedding inputs a request carries (a list counts item by item).

    Example: ``embedding_input_count({"input": ["a", "b"]})`` is 2; a string or one token
    list is 1.
    """
    value = body.get("input") if isinstance(body, dict) else None
    if isinstance(value, list) and value and not all(isinstance(v, int) for v in value):
        return len(value)
    return 1


def default_dimensions(model: str) -> int:
    """The vector length a model returns when ``dimensions`` is not given."""
    return _MODEL_DIMENSIONS.get(model, _UNKNOWN_DEFAULT)


def embeddings_answer(body: dict) -> tuple[int, dict]:
    """``(status, body)`` for one ``/v1/embeddings`` request."""
    problem = _check(body)
    if problem is not None:
        return 400, problem
    model = body["model"]
    inputs = _inputs(body["input"])
    size = body.get("dimensions") or default_dimensions(model)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(inputs):
        seed = _seed(model, item)
        if as_base64:
            encoded: object = base64.b64encode(vector_bytes(seed, size)).decode("ascii")
        else:
            encoded = unit_vector(seed, size)
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(_input_tokens(item) for item in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return 200, {"object": "list", "data": data, "model": model, "usage": usage}


def embeddings_answers_json(bodies: Sequence[dict]) -> list[tuple[bytes, int] | None]:
    """Per body, the 200 body of :func:`embeddings_answer` as JSON bytes and its prompt
    tokens, or None when the body is invalid (:func:`embeddings_answer` words its 400) or its
    model has no JSON form.

    The float vectors of all the bodies are computed together and go from numpy arrays to
    JSON with no list of floats between (at most ``_VECTORS_AT_ONCE`` per array: a bound
    on memory).
    """
    asks = [_ask(body) for body in bodies]
    floats: dict[int, list[bytes]] = {}  # size -> the seeds of float vectors of that size
    for ask in asks:
        if ask is not None and not ask.as_base64:
            floats.setdefault(ask.size, []).extend(ask.seeds)
    vectors = {size: _float_vectors(seeds, size) for size, seeds in floats.items()}
    return [None if ask is None else _answer_json(ask, vectors) for ask in asks]


class _Ask(NamedTuple):
    """A valid embeddings body, read: the model as JSON, its inputs' seeds and tokens."""

    name: bytes
    seeds: list[bytes]
    size: int
    as_base64: bool
    tokens: int


def _ask(body: dict) -> _Ask | None:
    if _check(body) is not None:
        return None
    model = body["model"]
    try:
        name = orjson.dumps(model)
    except orjson.JSONEncodeError:
        return None
    inputs = _inputs(body["input"])
    size = body.get("dimensions") or default_dimensions(model)
    as_base64 = body.get("encoding_format") == "base64"
    tokens = sum(_input_tokens(item) for item in inputs)
    return _Ask(name, [_seed(model, item) for item in inputs], size, as_base64, tokens)


def _float_vectors(seeds: list[bytes], size: int) -> Iterator[bytes]:
    """Each seed's unit vector as JSON, in order."""
    vectors = _vectors()
    for start in range(0, len(seeds), _VECTORS_AT_ONCE):
        for row in vectors.unit_arrays(seeds[start : start + _VECTORS_AT_ONCE], size):
            yield orjson.dumps(row, option=_NUMPY)


def _answer_json(ask: _Ask, vectors: dict[int, Iterator[bytes]]) -> tuple[bytes, int]:
    parts = [b'{"object":"list","data":[']
    for index, seed in enumerate(ask.seeds):
        parts.append(_ITEM % (b"," if index else b"", index))
        if ask.as_base64:
            parts.append(b'"%s"}' % base64.b64encode(_vectors().vector_bytes(seed, ask.size)))
        else:
            parts += (next(vectors[ask.size]), b"}")
    parts.append(_TAIL % (ask.name, ask.tokens, ask.tokens))
    return b"".join(parts), ask.tokens


def _vectors() -> ModuleType:
    """:mod:`fake_vectors`, imported on first use (numpy: the emulator starts lean)."""
    global _fake_vectors
    if _fake_vectors is None:
        from llmbatch.emulator import fake_vectors

        _fake_vectors = fake_vectors
    return _fake_vectors


def unit_vector(seed: bytes, size: int) -> list[float]:
    """A unit-length vector of ``size`` floats drawn from ``seed`` (prefix-stable in size).

    Example: ``unit_vector(b"seed", 3)`` has length 3 and norm 1 (to float32 precision).
    """
    from llmbatch.emulator import fake_vectors  # numpy on first use: the emulator starts lean

    return fake_vectors.unit_vector(seed, size)


def vector_bytes(seed: bytes, size: int) -> bytes:
    """The unit vector as little-endian float32 bytes (what ``encoding_format=base64`` sends)."""
    from llmbatch.emulator import fake_vectors

    return fake_vectors.vector_bytes(seed, size)


def _seed(model: str, item: str | list[int]) -> bytes:
    if isinstance(item, str):
        key = b"text\0" + item.encode("utf-8", "surrogatepass")
    else:
        key = b"tokens\0" + ",".join(map(str, item)).encode()
    return hashlib.blake2b(key, key=model.encode()[:64], digest_size=32).digest()


def _input_tokens(item: str | list[int]) -> int:
    return estimate_tokens(item) if isinstance(item, str) else max(1, len(item))


def _inputs(value: object) -> list:
    """The request's inputs as a list of strings or token lists (already validated)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [value]
    return list(cast("list[object]", value))


def _check(body: dict) -> dict | None:
    """The 400 envelope the real endpoint would answer, or None when the request is fine."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return no_model()
    if "input" not in body:
        return missing("input")
    problem = _check_input(body["input"])
    if problem is not None:
        return problem
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64", None):
        return invalid_value(fmt, ("float", "base64"), "encoding_format")
    return _check_dimensions(model, body.get("dimensions"))


def _check_input(value: object) -> dict | None:
    items = _inputs(value) if isinstance(value, (str, list)) else None
    if not items or not all(_good_item(item) for item in items):
        return openai_error(_INVALID_INPUT)
    if len(items) > _MAX_INPUTS:
        message = (
            f"Invalid 'input': array too long. Expected an array with maximum length "
            f"{_MAX_INPUTS}, but got an array with length {len(items)} instead."
        )
        return openai_error(message, "input", "array_above_max_length")
    longest = max(_input_tokens(item) for item in items)
    if longest > _MAX_INPUT_TOKENS:
        message = (
            f"This model's maximum context length is {_MAX_INPUT_TOKENS} tokens, however you "
            f"requested {longest} tokens ({longest} in your prompt; 0 for the completion). "
            "Please reduce your prompt; or completion length."
        )
        return openai_error(message)
    return None


def _good_item(item: object) -> bool:
    if isinstance(item, str):
        return item != ""
    return (
        isinstance(item, list)
        and bool(item)
        and all(isinstance(t, int) and not isinstance(t, bool) for t in item)
    )


def _check_dimensions(model: str, dimensions: object) -> dict | None:
    if dimensions is None:
        return None
    if model in _FIXED_DIMENSIONS:
        return openai_error("This model does not support specifying dimensions.")
    if not isinstance(dimensions, int) or isinstance(dimensions, bool):
        return openai_error(
            f"Invalid type for 'dimensions': expected an integer, but got {dimensions!r} instead.",
            "dimensions",
            "invalid_type",
        )
    if dimensions < 1:
        return integer_below("dimensions", 1, dimensions)
    most = _MODEL_DIMENSIONS.get(model, _UNKNOWN_MAX)
    if dimensions > most:
        return integer_above("dimensions", most, dimensions)
    return None
