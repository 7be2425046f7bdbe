"""Identifier formats of the real services (reference section E.2).

Ids are random (not seeded): a reset emulator must never hand out an id a client may still
hold from before the reset.
"""

from __future__ import annotations

import random

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_rng = random.Random()  # seeded from os.urandom; fast enough for 50,000 line ids


def _base62(n: int) -> str:
    return "".join(_rng.choices(_BASE62, k=n))


def _hex(n: int = 32) -> str:
    return f"{_rng.getrandbits(4 * n):0{n}x}"


def file_id() -> str:
    """`file-<22 base62>`."""
    return "file-" + _base62(22)


def batch_id() -> str:
    """`batch_<32 hex>`."""
    return "batch_" + _hex()


def batch_request_id() -> str:
    """`batch_req_<32 hex>`: the `id` of one output/error line."""
    return "batch_req_" + _hex()


def request_id_hex() -> str:
    """32 hex: an OpenAI `x-request-id` and a line's `response.request_id`."""
    return _hex()


def message_batch_id() -> str:
    """`msgbatch_01<22 base62>`."""
    return "msgbatch_01" + _base62(22)


def anthropic_request_id() -> str:
    """`req_011C<20 base62>`: Anthropic's `request-id` header."""
    return "req_011C" + _base62(20)
