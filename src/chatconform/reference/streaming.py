"""Server-sent events framing: `data: <json>\n\n` per chunk, then `data: [DONE]\n\n`.

`Framing` holds the legal ways of writing the same events differently (other line endings,
comment lines, `data:` without the space, ...); the default is what OpenAI sends. The fault
catalogue (chatconform.reference.faults) chooses another framing for its variations.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

MEDIA_TYPE = "text/event-stream; charset=utf-8"
DONE = "[DONE]"


@dataclass(frozen=True)
class Framing:
    newline: str = "\n"
    space: bool = True  # `data: x` (True) or `data:x`
    comment_every: int = 0  # a `: keep-alive` comment before every n-th event (0: none)
    event_ids: bool = False  # `id:` and `event: message` fields on every event
    retry_field: bool = False  # a `retry:` field opening the stream
    multiline: bool = False  # each JSON chunk spread over several `data:` lines
    split_writes: bool = False  # every event written in small pieces, as a slow network delivers it


# json.dumps(chunk, ensure_ascii=False, separators=(",", ":"), allow_nan=False), without building
# an encoder for each of a stream's chunks
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode(chunk: dict) -> str:
    return _ENCODER.encode(chunk)


def _data_lines(data: str, framing: Framing) -> list[str]:
    """The data as one line, or (multiline) broken after every comma between JSON tokens: the
    client joins `data:` lines with "\n", which JSON reads as whitespace."""
    if not framing.multiline or data == DONE:
        return [data]
    lines, start, in_string, escaped = [], 0, False, False
    for i, ch in enumerate(data):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ",":
            lines.append(data[start:i + 1])
            start = i + 1
    return lines + [data[start:]]


def frame(item: dict | str | bytes, framing: Framing = Framing(), number: int = 0) -> bytes:
    """One event: a chunk (JSON-encoded), a str sent verbatim as the data (DONE, faulty data), or
    bytes sent as they are (no framing at all)."""
    if isinstance(item, bytes):
        return item
    data = item if isinstance(item, str) else encode(item)
    nl = framing.newline
    sep = ": " if framing.space else ":"
    lines = []
    if framing.comment_every and number % framing.comment_every == 0:
        lines += [": keep-alive", ""]
    if framing.retry_field and number == 0:
        lines.append("retry: 3000")
    if framing.event_ids:
        lines += [f"id{sep}{number}", f"event{sep}message"]
    lines += [f"data{sep}{line}" for line in _data_lines(data, framing)]
    return (nl.join(lines) + nl + nl).encode("utf-8")


def plain_frame(item: dict | str | bytes) -> bytes:
    """frame(item, Framing(), number) for any number: OpenAI's framing, one `data: ` line."""
    if isinstance(item, bytes):
        return item
    data = item if isinstance(item, str) else _ENCODER.encode(item)
    return ("data: " + data + "\n\n").encode("utf-8")


# Piece sizes for split writes: uneven, so pieces end inside field names, inside "\r\n", inside
# multi-byte characters, and never twice at the same offset of an event.
_PIECES = (1, 7, 2, 13, 3, 29, 5)


def _pieces(raw: bytes) -> Iterable[bytes]:
    offset, turn = 0, 0
    while offset < len(raw):
        size = _PIECES[turn % len(_PIECES)]
        yield raw[offset:offset + size]
        offset += size
        turn += 1


async def _frames(items: Iterable[dict | str | bytes], framing: Framing) -> AsyncIterator[bytes]:
    for number, item in enumerate(items):
        raw = frame(item, framing, number)
        if not framing.split_writes:
            yield raw
            continue
        for piece in _pieces(raw):
            yield piece
            await asyncio.sleep(0.001)  # a write per piece: the client sees them as separate reads


class _ImmediateStream(Response):
    """A stream whose events are all at hand: written at once, as a buffering proxy passes one on.

    StreamingResponse runs the body in a task beside a second one that watches `receive` for the
    client going away, so that it can cancel a body that waits; this body never waits, so it needs
    neither task nor cancel scope (about half of a stream's cost). Its events also go out in one
    write: the same bytes, still chunked and ending where the events say, which a client reads in
    whatever pieces TCP hands it. A write per event made a stream cost 1.6 non-streamed answers, for
    no difference a client could time (the server has nothing to wait for between events); the
    other extreme, events in many small uneven writes, is the `split-writes` framing variation.
    """

    def __init__(self, items: Iterable[dict | str | bytes], framing: Framing, headers: dict[str, str]):
        # as StreamingResponse.__init__: no body, so no Content-Length (the stream is chunked)
        self.status_code, self.background = 200, None
        self.init_headers(headers)
        self.items, self.framing = items, framing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # one body message with more_body False: the server writes it and the chunked terminator
        plain = self.framing == Framing()
        body = b"".join(plain_frame(item) if plain else frame(item, self.framing, number)
                        for number, item in enumerate(self.items))
        await send({"type": "http.response.body", "body": body, "more_body": False})


def sse_response(items: Iterable[dict | str | bytes], framing: Framing = Framing()) -> Response:
    """A stream of ``items``: chunks as dicts, DONE and any deliberately odd data as str (see frame).

    The caller includes DONE: a stream ends where its items say.
    """
    # no-cache and no buffering: proxies in front of a CI mock must not hold the stream back
    headers = {"Content-Type": MEDIA_TYPE, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if not framing.split_writes:
        return _ImmediateStream(items, framing, headers)
    return StreamingResponse(_frames(items, framing), headers=headers, media_type=None)
