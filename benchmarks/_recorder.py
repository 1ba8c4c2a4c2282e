"""A pytest plugin for the benchmarks (`-p _recorder`, with benchmarks/ on PYTHONPATH): logs every
HTTP request the run sends, exactly as it goes to the transport, so a benchmark can replay them.

Active only when CHATCONFORM_BENCH_RECORD names a directory; each process (the controller and
every xdist worker) appends JSON lines to <dir>/<pid>.jsonl:

    {"kind": "request", "t": <epoch s>, "method", "url", "headers": [[k, v]...], "body": base64,
     "status": int|null, "seconds": time until the body was read or closed}
    {"kind": "serve", "argv": [...]}   a `chatconform serve` child started by the run

It patches httpx's sync and async transports (below any client, retries included) and
subprocess.Popen (to learn the embedded server's options). The keys it logs are the run's
throwaway or benchmark keys; the files live in a temporary directory the benchmark deletes.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx

_DIR = os.environ.get("CHATCONFORM_BENCH_RECORD")
_LOCK = threading.Lock()
_FILE = None
_PENDING: dict[int, dict[str, Any]] = {}


def _write(entry: dict[str, Any]) -> None:
    global _FILE
    with _LOCK:
        if _FILE is None:
            _FILE = open(Path(_DIR) / f"{os.getpid()}.jsonl", "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        _FILE.write(json.dumps(entry) + "\n")


def _body(request: httpx.Request) -> bytes:
    try:
        return request.content
    except httpx.RequestNotRead:
        try:
            return request.read()
        except Exception:  # a one-shot stream: it cannot be replayed anyway
            return b""


def _start(request: httpx.Request) -> dict[str, Any]:
    return {
        "kind": "request",
        "t": time.time(),
        "_t0": time.perf_counter(),
        "method": request.method,
        "url": str(request.url),
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.headers.raw],
        "body": base64.b64encode(_body(request)).decode("ascii"),
        "status": None,
    }


def _finish(entry: dict[str, Any]) -> None:
    with _LOCK:
        t0 = entry.pop("_t0", None)
        _PENDING.pop(id(entry), None)
    if t0 is None:  # already written
        return
    entry["seconds"] = time.perf_counter() - t0
    entry.pop("_json", None)
    entry.pop("_head", None)
    _write(entry)


_ID = re.compile(rb'"id"\s*:\s*"(chatcmpl-[^"]{1,200})"')


def _note_id(entry: dict[str, Any], chunk: bytes) -> None:
    """Keep the completion id a JSON answer issued, so a replay can map it to the one it gets."""
    if entry.get("_json") and "response_id" not in entry and len(entry.setdefault("_head", b"")) < 4096:
        entry["_head"] += chunk[:4096]
        match = _ID.search(entry["_head"])
        if match:
            entry["response_id"] = match.group(1).decode("latin-1")


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, entry: dict[str, Any]) -> None:
        self.inner, self.entry = inner, entry

    def __iter__(self):  # type: ignore[override]
        for chunk in self.inner:
            _note_id(self.entry, chunk)
            yield chunk

    def close(self) -> None:
        try:
            if hasattr(self.inner, "close"):
                self.inner.close()
        finally:
            _finish(self.entry)


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, entry: dict[str, Any]) -> None:
        self.inner, self.entry = inner, entry

    async def __aiter__(self):  # type: ignore[override]
        async for chunk in self.inner:
            _note_id(self.entry, chunk)
            yield chunk

    async def aclose(self) -> None:
        try:
            if hasattr(self.inner, "aclose"):
                await self.inner.aclose()
        finally:
            _finish(self.entry)


def _install() -> None:
    sync_handle = httpx.HTTPTransport.handle_request
    async_handle = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        entry = _start(request)
        with _LOCK:
            _PENDING[id(entry)] = entry
        try:
            response = sync_handle(self, request)
        except BaseException:
            _finish(entry)
            raise
        entry["status"] = response.status_code
        entry["_json"] = "json" in response.headers.get("content-type", "")
        response.stream = _SyncStream(response.stream, entry)
        return response

    async def handle_async_request(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        entry = _start(request)
        with _LOCK:
            _PENDING[id(entry)] = entry
        try:
            response = await async_handle(self, request)
        except BaseException:
            _finish(entry)
            raise
        entry["status"] = response.status_code
        entry["_json"] = "json" in response.headers.get("content-type", "")
        response.stream = _AsyncStream(response.stream, entry)
        return response

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]

    popen_init = subprocess.Popen.__init__

    def init(self: subprocess.Popen, args: Any, *a: Any, **k: Any) -> None:
        try:
            argv = [str(x) for x in args] if isinstance(args, (list, tuple)) else str(args).split()
            if "serve" in argv and any("chatconform" in x for x in argv):
                _write({"kind": "serve", "argv": argv})
        except Exception:
            pass
        popen_init(self, args, *a, **k)

    subprocess.Popen.__init__ = init  # type: ignore[method-assign]


def pytest_unconfigure(config: Any) -> None:
    with _LOCK:
        left = list(_PENDING.values())
    for entry in left:  # a response never read to its end: still a request sent
        _finish(entry)
    if _FILE is not None:
        _FILE.flush()


if _DIR:
    _install()
