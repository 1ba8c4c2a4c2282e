"""Server-sent events framing: `data: <json>\n\n` per chunk, then `data: [DONE]\n\n`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

from starlette.responses import StreamingResponse

MEDIA_TYPE = "text/event-stream; charset=utf-8"
DONE = b"data: [DONE]\n\n"


def frame(chunk: dict) -> bytes:
    payload = json.dumps(chunk, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return b"data: " + payload.encode("utf-8") + b"\n\n"


async def _frames(chunks: Iterable[dict]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield frame(chunk)
    yield DONE


def sse_response(chunks: Iterable[dict]) -> StreamingResponse:
    # no-cache and no buffering: proxies in front of a CI mock must not hold the stream back
    headers = {"Content-Type": MEDIA_TYPE, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_frames(chunks), headers=headers, media_type=None)
