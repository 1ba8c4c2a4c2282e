"""A small reverse proxy for the benchmarks: forwards every request to an upstream base URL after
an added delay, passing streamed responses through as they arrive, and counts what it forwarded.

It runs in a thread of the benchmark process (uvicorn on 127.0.0.1, an ephemeral port) and stops
with `stop()` or the `with` block.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
DROP_REQUEST = HOP | {b"host", b"content-length"}


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.billed = 0  # POST .../chat/completions answered 2xx
        self.errors = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return {"requests": self.requests, "billed": self.billed, "errors": self.errors,
                    "max_in_flight": self.max_in_flight}

    def reset(self) -> None:
        with self.lock:
            self.requests = self.billed = self.errors = self.in_flight = self.max_in_flight = 0


class DelayProxy:
    def __init__(self, upstream: str, delay_s: float = 0.0, read_timeout: float = 130.0) -> None:
        """upstream: scheme://host:port (paths are forwarded unchanged)."""
        self.upstream = upstream.rstrip("/")
        self.delay_s = delay_s
        self.read_timeout = read_timeout
        self.stats = Stats()
        self.url: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        s = self.stats
        with s.lock:
            s.requests += 1
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.read_timeout, connect=5.0),
                                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))
            path = scope.get("raw_path") or scope["path"].encode()
            url = self.upstream + path.decode("latin-1")
            if scope.get("query_string"):
                url += "?" + scope["query_string"].decode("latin-1")
            headers = [(k, v) for k, v in scope["headers"] if k.lower() not in DROP_REQUEST]
            request = self._client.build_request(scope["method"], url, headers=headers, content=body)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                with s.lock:
                    s.errors += 1
                await send({"type": "http.response.start", "status": 502,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": f"proxy: {exc!r}".encode()})
                return
            try:
                if (scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/chat/completions")
                        and 200 <= response.status_code < 300):
                    with s.lock:
                        s.billed += 1
                out_headers = [(k, v) for k, v in response.headers.raw if k.lower() not in HOP]
                await send({"type": "http.response.start", "status": response.status_code, "headers": out_headers})
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            except httpx.HTTPError:
                with s.lock:
                    s.errors += 1
            finally:
                await response.aclose()
        finally:
            with s.lock:
                s.in_flight -= 1

    def start(self, timeout: float = 15.0) -> str:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, interface="asgi3", proxy_headers=False, log_level="error", lifespan="off",
                                server_header=False,
                                date_header=False, timeout_keep_alive=30, timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name="bench-proxy")
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the benchmark proxy did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> DelayProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
