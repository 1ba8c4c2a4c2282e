"""Hostile behaviours: what a broken or malicious server does to a client at the HTTP level.

They sit in front of the whole app as a raw ASGI layer, because none of them is a response a
framework would produce: no headers at all, a body that stops half way, never ends, is far too
large or not UTF-8, a reset connection. Only POST /chat/completions is affected; the request is
read first, so a behaviour knows whether it was a streaming one.

Every behaviour ends by itself once the client goes away, and at the latest after HOLD_LIMIT
seconds, so a forgotten server does not spin forever.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HOLD_LIMIT = 600.0  # seconds: "forever" for any client with a timeout
PATH = "/v1/chat/completions"
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
JSON_HEADERS = [(b"content-type", b"application/json")]


class Raw:
    """One exchange, as a hostile behaviour handles it."""

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        self.app = app
        self.scope = scope
        self.body = body
        self._receive = receive
        self._send = send
        self.gone = asyncio.Event()  # the client closed the connection
        self._replayed = False
        self.started = time.monotonic()

    @property
    def streamed(self) -> bool:
        try:
            request = json.loads(self.body)
        except ValueError:
            return False
        return isinstance(request, dict) and request.get("stream") is True

    @property
    def expired(self) -> bool:
        return self.gone.is_set() or time.monotonic() - self.started > HOLD_LIMIT

    async def watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.gone.set()
                return

    async def receive(self) -> Message:
        """What the inner app reads: the request body once, then the disconnect when it happens."""
        if not self._replayed:
            self._replayed = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if not self.gone.is_set():
            await self._send(message)

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def write(self, data: bytes, more: bool = True) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def hold(self) -> None:
        """Keep the connection open, sending nothing, until the client gives up."""
        try:
            await asyncio.wait_for(self.gone.wait(), HOLD_LIMIT)
        except asyncio.TimeoutError:
            pass

    async def run_app(self, send: Callable[[Message], Awaitable[None]]) -> None:
        """The reference answer, passed through ``send`` (which may alter, delay or drop it)."""
        await self.app(self.scope, self.receive, send)

    def reset(self) -> None:
        """Abort the TCP connection with a RST (SO_LINGER 0), not an orderly close."""
        transport = getattr(getattr(self._send, "__self__", None), "transport", None)
        if transport is None:
            raise ConnectionResetError("hostile: connection reset")  # uvicorn then drops the connection
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        transport.abort()
        self.gone.set()


Behaviour = Callable[[Raw], Awaitable[None]]


class HostileLayer:
    def __init__(self, app: ASGIApp, behaviours: list[Behaviour]) -> None:
        self.app = app
        self.behaviours = behaviours

    def __getattr__(self, name: str) -> Any:  # `.state` and friends of the Starlette app
        if name == "app":  # not set yet (a copy in the making): no recursion
            raise AttributeError(name)
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != PATH:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = Raw(self.app, scope, receive, send, b"".join(chunks))
        watcher = asyncio.create_task(raw.watch())
        try:
            for behaviour in self.behaviours:  # one is the norm; several just run in turn
                await behaviour(raw)
                if raw.gone.is_set():
                    break
        finally:
            watcher.cancel()


# -- the behaviours --------------------------------------------------------------------------------
async def never_respond(raw: Raw) -> None:
    await raw.hold()


async def stall(raw: Raw) -> None:
    """The status line, headers and the first part of the body; then silence with the connection open."""
    parts = 0
    stalled = False

    async def send(message: Message) -> None:
        nonlocal parts, stalled
        if stalled:
            return
        if message["type"] != "http.response.body":
            await raw.send(message)
            return
        data = message.get("body", b"")
        parts += 1
        if raw.streamed and parts <= 2:
            await raw.write(data)
            return
        await raw.write(data[: len(data) // 2])
        stalled = True
        await raw.hold()

    await raw.run_app(send)


def _chunk(content: str) -> bytes:
    chunk = {"id": "chatcmpl-hostile", "object": "chat.completion.chunk", "created": int(time.time()),
             "model": "chatconform-reference", "choices": [{"index": 0, "delta": {"content": content},
                                                            "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _completion_head() -> bytes:
    return (b'{"id":"chatcmpl-hostile","object":"chat.completion","created":%d,"model":"chatconform-reference",'
            b'"choices":[{"index":0,"finish_reason":"stop","logprobs":null,"message":{"role":"assistant",'
            b'"refusal":null,"content":"' % int(time.time()))


COMPLETION_TAIL = b'"}}]}'


async def endless(raw: Raw) -> None:
    """A 200 whose body never ends: chunk after chunk, or one JSON string that goes on and on."""
    if raw.streamed:
        await raw.start(200, SSE_HEADERS)
        piece = _chunk("again ") * 20
    else:
        await raw.start(200, JSON_HEADERS)
        await raw.write(_completion_head())
        piece = b"again " * 4096
    while not raw.expired:
        await raw.write(piece)
        await asyncio.sleep(0)  # let the disconnect be noticed


OVERSIZE = 16 * 1024 * 1024  # four times the suite's 4 MiB cap


async def oversized(raw: Raw) -> None:
    """A well-formed answer of 16 MiB: one huge content string, or one huge chunk."""
    filler = b"x" * (256 * 1024)
    if raw.streamed:
        head, tail = _chunk("@@").split(b"@@")
        await raw.start(200, SSE_HEADERS)
    else:
        head, tail = _completion_head(), COMPLETION_TAIL
        size = len(head) + OVERSIZE + len(tail)
        await raw.start(200, JSON_HEADERS + [(b"content-length", str(size).encode())])
    await raw.write(head)
    for _ in range(OVERSIZE // len(filler)):
        if raw.expired:
            return
        await raw.write(filler)
    await raw.write(tail + (b"data: [DONE]\n\n" if raw.streamed else b""), more=False)


_CONTENT = re.compile(rb'("content":")([^"\\])')


async def invalid_utf8(raw: Raw) -> None:
    """The reference answer with the first byte of every non-empty content replaced by 0xFF,
    which is never valid UTF-8 (same length, so Content-Length still holds)."""

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = dict(message, body=_CONTENT.sub(lambda m: m.group(1) + b"\xff", message.get("body", b"")))
        await raw.send(message)

    await raw.run_app(send)


async def reset(raw: Raw) -> None:
    """Headers and part of the body, then a TCP reset."""
    done = False

    async def send(message: Message) -> None:
        nonlocal done
        if done:
            return
        if message["type"] != "http.response.body":
            await raw.send(message)
            return
        data = message.get("body", b"")
        await raw.write(data[: max(1, len(data) // 2)])
        await asyncio.sleep(0.05)  # let the partial body reach the client before the reset
        done = True
        raw.reset()

    await raw.run_app(send)


DRIP_SECONDS = 0.5  # well inside any read timeout, so only a total time limit ends the exchange


async def slow_drip(raw: Raw) -> None:
    """The reference answer, one byte every half second."""

    async def send(message: Message) -> None:
        if message["type"] != "http.response.body":
            await raw.send(message)
            return
        for byte in message.get("body", b""):
            if raw.expired:
                return
            await raw.write(bytes([byte]))
            await asyncio.sleep(DRIP_SECONDS)
        if not message.get("more_body", False):
            await raw.write(b"", more=False)

    await raw.run_app(send)
