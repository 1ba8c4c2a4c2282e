"""A small closed-loop HTTP/1.1 load generator on asyncio streams (no client library in the hot
path, so the generator costs little next to the server it measures).

`concurrency` keep-alive connections each send the same request, read the whole response
(Content-Length, chunked, or until close) and send the next, until `max_requests` have completed
or `max_seconds` have passed. Every read has a timeout; nothing here can hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    completed: int = 0  # responses read to the end
    ok: int = 0  # 2xx
    streams_ok: int = 0  # 2xx whose body holds "data: [DONE]"
    errors: int = 0  # connection errors and timeouts
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    content_types: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    sample_error: str = ""  # the start of the first non-2xx body

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        values = sorted(self.latencies)
        return values[min(len(values) - 1, int(q * len(values)))]


def build_request(url: str, body: bytes, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load generator only targets loopback")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}",
             "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    """A keep-alive connection's reader with its own buffer: a response is parsed from whatever
    the socket has delivered, and the socket is read (one await) only when that runs out. Reading
    through StreamReader.readuntil/readexactly instead costs two awaits per chunk of a chunked
    body, which for a stream of SSE events made the generator cost twice what it does for a
    plain response and so skewed the streamed rates (it shares the cores with the servers)."""

    def __init__(self, reader: asyncio.StreamReader):
        self.reader = reader
        self.buf = bytearray()
        self.pos = 0  # where the unparsed bytes start

    async def _more(self) -> None:
        data = await self.reader.read(1 << 16)
        if not data:
            raise asyncio.IncompleteReadError(bytes(self.buf[self.pos:]), None)
        if self.pos:  # drop what is parsed before growing the buffer
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    async def until(self, delimiter: bytes) -> bytes:
        """The bytes up to and including delimiter."""
        while True:
            end = self.buf.find(delimiter, self.pos)
            if end >= 0:
                end += len(delimiter)
                out = bytes(self.buf[self.pos:end])
                self.pos = end
                return out
            if len(self.buf) - self.pos > 1 << 20:
                raise asyncio.LimitOverrunError("no delimiter within 1 MiB", 0)
            await self._more()

    async def exactly(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            await self._more()
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    async def chunked(self) -> bytes:
        """A chunked body, decoded; the chunks already received are parsed without an await."""
        parts = []
        buf = self.buf
        while True:
            line_end = buf.find(b"\r\n", self.pos)
            if line_end < 0:
                await self._more()
                buf = self.buf
                continue
            size = int(bytes(buf[self.pos:line_end]).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.pos = line_end + 2
                while (await self.until(b"\r\n")) != b"\r\n":  # trailers, then the blank line
                    pass
                return b"".join(parts)
            start, end = line_end + 2, line_end + 2 + size
            if len(buf) < end + 2:
                await self._more()  # the chunk is not all here: read on and parse its size again
                buf = self.buf
                continue
            parts.append(bytes(buf[start:end]))
            self.pos = end + 2

    async def rest(self) -> bytes:
        """Everything until the server closes the connection."""
        out = bytes(self.buf[self.pos:]) + await self.reader.read()
        self.buf, self.pos = bytearray(), 0
        return out


async def _read_response(conn: _Connection) -> tuple[int, dict[str, str], bytes]:
    head = await conn.until(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await conn.exactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        body = await conn.chunked()
    else:
        body = await conn.rest()
        headers["connection"] = "close"
    return status, headers, body


async def _worker(host: str, port: int, raw: bytes, result: LoadResult, budget: list[int], stop_at: float,
                  timeout: float, record: bool) -> None:
    conn = writer = None
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
                    conn = _Connection(reader)
                start = time.perf_counter()
                writer.write(raw)
                await writer.drain()
                status, headers, body = await asyncio.wait_for(_read_response(conn), timeout)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                result.errors += 1
                if writer is not None:
                    writer.close()
                conn = writer = None
                await asyncio.sleep(0.01)
                continue
            if record:
                result.completed += 1
                result.statuses[status] = result.statuses.get(status, 0) + 1
                ctype = headers.get("content-type", "").split(";")[0]
                result.content_types[ctype] = result.content_types.get(ctype, 0) + 1
                if not 200 <= status < 300 and not result.sample_error:
                    result.sample_error = f"{status}: {body[:200].decode('utf-8', 'replace')}"
                if 200 <= status < 300:
                    result.ok += 1
                    result.latencies.append(time.perf_counter() - start)
                    if b"data: [DONE]" in body:
                        result.streams_ok += 1
            if headers.get("connection", "").lower() == "close":
                writer.close()
                conn = writer = None
    finally:
        if writer is not None:
            writer.close()


async def _run(url: str, body: bytes, headers: dict[str, str], concurrency: int, max_requests: int,
               max_seconds: float, warmup: int, timeout: float) -> LoadResult:
    host, port, raw = build_request(url, body, headers)
    if warmup:
        await asyncio.gather(*(_worker(host, port, raw, LoadResult(), [max(1, warmup // concurrency)],
                                       time.perf_counter() + max_seconds, timeout, False)
                               for _ in range(concurrency)))
    result = LoadResult()
    budget = [max_requests]
    start = time.perf_counter()
    await asyncio.gather(*(_worker(host, port, raw, result, budget, start + max_seconds, timeout, True)
                           for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    return result


def load(url: str, body: bytes, headers: dict[str, str], concurrency: int = 8, max_requests: int = 2000,
         max_seconds: float = 10.0, warmup: int = 40, timeout: float = 10.0) -> LoadResult:
    """Closed-loop load; bounded by max_requests and max_seconds (plus one timeout at most)."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(asyncio.wait_for(
            _run(url, body, headers, concurrency, max_requests, max_seconds, warmup, timeout),
            timeout=2 * max_seconds + 3 * timeout + 10))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a chatconform dependency on Linux and macOS),
    else asyncio's. The generator shares the cores with the server it measures, so the less it
    costs per request the more the figures say about the server; every server in a run is
    measured with the same loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def loop_name() -> str:
    return "uvloop" if _loop_factory() is not None else "asyncio"
