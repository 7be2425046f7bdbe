"""One realtime request of a sync job: which rows it carries, and their result lines.

A request is one row, except embeddings, which go many text inputs a request (up to
GROUP_INPUTS, and GROUP_BYTES of text) and are split back into one line per row. Each answer
becomes a line in the shape of the provider's batch results (`Wire.result_line`), so it is read
like a batch answer. A failure is the rows' error line, never the job's, except a refused key.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from llmbatch._exceptions import (
    APIStatusError,
    AuthenticationError,
    PermissionDeniedError,
    ProviderError,
)
from llmbatch.sync_options import Pacer
from llmbatch.wire import Wire

__all__ = ["Answer", "Caller", "Unit", "shares", "units"]

EMBEDDINGS = "/v1/embeddings"
GROUP_INPUTS = 256  # inputs per realtime embeddings request (OpenAI takes up to 2,048)
GROUP_BYTES = 300_000  # and at most this much text: well under its 300k-token request cap
_NO_STATUS = 0  # a request that got no HTTP answer (connection, timeout, bad body)


class Answer(NamedTuple):
    """One row's result line, and whether it is a success."""

    custom_id: str
    line: bytes
    succeeded: bool


@dataclass
class Unit:
    """One realtime request: one row, or (embeddings) several rows' inputs in one body."""

    ids: list[str]
    body: Any
    grouped: bool = False

    def singles(self) -> list[Unit]:
        """The rows of a grouped request, one request each (after the group was refused)."""
        return [Unit([cid], {**self.body, "input": text}) for cid, text in self.pairs()]

    def pairs(self) -> Iterator[tuple[str, Any]]:
        return zip(self.ids, self.body["input"], strict=True)


def units(requests: Iterable[tuple[str, Any]], endpoint: str) -> Iterator[Unit]:
    """Realtime requests: one per row, except embeddings of text inputs with the same
    parameters, which go up to GROUP_INPUTS (and GROUP_BYTES of text) a request."""
    if endpoint != EMBEDDINGS:
        yield from (Unit([cid], body) for cid, body in requests)
        return
    group: list[tuple[str, str]] = []
    params: dict[str, Any] | None = None
    size = 0
    for cid, body in requests:
        text = body.get("input") if isinstance(body, dict) else None
        if not isinstance(text, str):
            yield from _group(group, params)
            group, params, size = [], None, 0
            yield Unit([cid], body)
            continue
        rest = {k: v for k, v in body.items() if k != "input"}
        full = len(group) >= GROUP_INPUTS or size + len(text) > GROUP_BYTES
        if group and (rest != params or full):
            yield from _group(group, params)
            group, size = [], 0
        group.append((cid, text))
        params, size = rest, size + len(text)
    yield from _group(group, params)


def _group(group: list[tuple[str, str]], params: dict[str, Any] | None) -> Iterator[Unit]:
    if not group or params is None:
        return
    if len(group) == 1:
        cid, text = group[0]
        yield Unit([cid], {**params, "input": text})
        return
    ids = [cid for cid, _ in group]
    yield Unit(ids, {**params, "input": [text for _, text in group]}, grouped=True)


class Caller:
    """Sends units to one realtime path on one client (thread-safe: no state of its own)."""

    def __init__(self, client: Any, wire: Wire, path: str, pacer: Pacer) -> None:
        self.client = client
        self.wire = wire
        self.path = path
        self.pacer = pacer

    def call(self, unit: Unit) -> list[Answer]:
        """One realtime request → one result line per row, `(custom_id, line, succeeded)`.

        Every failure but a refused key is that row's error (the job goes on); 401/403 stop
        the run: every other row would fail the same way.
        """
        self.pacer.wait()
        try:
            answer = self.client.post(self.path, orjson.dumps(unit.body))
        except (AuthenticationError, PermissionDeniedError):
            raise
        except APIStatusError as exc:
            if unit.grouped and exc.status_code == 400:  # one bad input: find it, keep the rest
                return [out for one in unit.singles() for out in self.call(one)]
            return self._failed(unit, exc.status_code, exc.body, exc.message)
        except ProviderError as exc:
            return self._failed(unit, _NO_STATUS, None, str(exc).splitlines()[0])
        if not isinstance(answer, dict):
            return self._failed(unit, _NO_STATUS, None, "the provider's answer was not an object")
        if unit.grouped:
            return self._split(unit, answer)
        cid = unit.ids[0]
        return [Answer(cid, self.wire.result_line(cid, 200, answer, ""), True)]

    def _failed(self, unit: Unit, status: int, body: Any, message: str) -> list[Answer]:
        line = self.wire.result_line
        return [Answer(cid, line(cid, status, body, message), False) for cid in unit.ids]

    def _split(self, unit: Unit, answer: dict[str, Any]) -> list[Answer]:
        """A grouped embeddings answer → one embeddings list per row (tokens shared out by
        text length, so the job's totals stay the provider's)."""
        data = answer.get("data")
        items: list[Any] = data if isinstance(data, list) else []
        by_index = {d.get("index"): d for d in items if isinstance(d, dict)}
        if len(items) != len(unit.ids) or set(by_index) != set(range(len(unit.ids))):
            got = len(items)
            message = f"the embeddings answer has {got} item(s) for {len(unit.ids)} inputs"
            return self._failed(unit, _NO_STATUS, None, message)
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        tokens = shares(usage.get("prompt_tokens"), [len(t) for _, t in unit.pairs()])
        out = []
        for k, cid in enumerate(unit.ids):
            body = {
                "object": "list",
                "data": [{**by_index[k], "index": 0}],
                "model": answer.get("model"),
                "usage": {"prompt_tokens": tokens[k], "total_tokens": tokens[k]},
            }
            out.append(Answer(cid, self.wire.result_line(cid, 200, body, ""), True))
        return out


def shares(total: Any, weights: list[int]) -> list[int | None]:
    """`total` split in proportion to `weights` by largest remainders (integers summing to
    `total`). The API reports one token count per request, so a row's share is an estimate;
    the job's total is exact."""
    if not isinstance(total, int) or isinstance(total, bool):
        return [None] * len(weights)
    whole = sum(weights) or 1
    exact = [total * w / whole for w in weights]
    out: list[int | None] = [int(x) for x in exact]
    left = total - sum(int(x) for x in exact)
    for i in sorted(range(len(exact)), key=lambda i: int(exact[i]) - exact[i])[:left]:
        out[i] = int(exact[i]) + 1
    return out
