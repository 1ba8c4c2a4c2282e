"""A scriptable HTTP server for self-tests: it can be correct, subtly wrong, or hostile on purpose.

Written on raw sockets (not a framework) so a script can do what no framework lets a server do:
withhold headers, stall mid-body, send invalid UTF-8, reset the connection.
"""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Union


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass
class Reply:
    """A response: status, headers and either a body or a list of body steps.

    A step is bytes (sent as is), a float (sleep that many seconds), or "reset" (abort the
    connection with a TCP RST).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    steps: list[Union[bytes, float, str]] | None = None
    reason: str = "OK"
    withhold_headers: float | None = None  # sleep this long before sending anything


Handler = Callable[[Request], Reply]


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    base = {"Content-Type": "application/json", "x-request-id": "req_fake"}
    base.update(headers or {})
    return Reply(status=status, headers=base, body=json.dumps(payload).encode())


def sse_reply(events: Iterable[Any], *, done: bool = True, headers: dict[str, str] | None = None,
              newline: str = "\n") -> Reply:
    """An SSE reply from chunk objects (dicts are JSON-encoded, strings sent as data verbatim)."""
    steps: list[Union[bytes, float, str]] = []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        steps.append(f"data: {data}{newline}{newline}".encode())
    if done:
        steps.append(f"data: [DONE]{newline}{newline}".encode())
    base = {"Content-Type": "text/event-stream", "x-request-id": "req_fake"}
    base.update(headers or {})
    return Reply(headers=base, steps=steps)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeServer:
    """``with FakeServer(handler) as base_url:`` serves ``handler`` on 127.0.0.1 (ephemeral port)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        outer = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer._serve(self.request)

        self._server = _TCPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> str:
        self._thread.start()
        return self.base_url

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(30)
        try:
            request = _read_request(sock)
        except (OSError, ValueError):
            return
        if request is None:
            return
        self.requests.append(request)
        reply = self.handler(request)
        try:
            _write_reply(sock, reply)
        except OSError:
            pass


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Request(method, target, headers, rest[:length])


def _write_reply(sock: socket.socket, reply: Reply) -> None:
    if reply.withhold_headers:
        time.sleep(reply.withhold_headers)
    headers = dict(reply.headers)
    if reply.body is not None:
        headers.setdefault("Content-Length", str(len(reply.body)))
    headers["Connection"] = "close"  # body ends when the connection closes: no framing to get wrong
    head = f"HTTP/1.1 {reply.status} {reply.reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(head.encode("latin-1") + b"\r\n")
    if reply.body is not None:
        sock.sendall(reply.body)
    for step in reply.steps or []:
        if isinstance(step, bytes):
            sock.sendall(step)
        elif isinstance(step, (int, float)):
            time.sleep(step)
        elif step == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            return
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


# -- a correct server with one thing changed ---------------------------------------------------
# Self-tests need "the reference behaviour, except X". Rather than a second hand-written server,
# requests are answered by the reference app in-process and the answer is then altered.

Mutation = Callable[..., Any]


def reference_proxy(
    *,
    body: Mutation | None = None,
    chunks: Mutation | None = None,
    headers: Mutation | None = None,
    status: int | None = None,
    newline: str = "\n",
    comment_every: int = 0,
    read_size: int | None = None,
    no_space: bool = False,
    server_config: Any = None,
) -> Handler:
    """A handler answering like the reference server, then applying the given mutations.

    body(payload, request) -> payload: any JSON reply. chunks(events, request) -> events: a
    stream's data events as dicts (JSON) or str, ending with "[DONE]". headers(dict) -> dict.
    newline / comment_every / read_size / no_space re-frame the stream in legal ways.
    """
    from starlette.testclient import TestClient

    from chatconform.reference.app import create_app
    from chatconform.reference.config import ServerConfig

    app_client = TestClient(create_app(server_config or ServerConfig()), raise_server_exceptions=False)

    def handle(req: Request) -> Reply:
        fwd = {k: v for k, v in req.headers.items() if k not in ("host", "content-length", "connection")}
        resp = app_client.request(req.method, req.path, content=req.body, headers=fwd)
        out_headers = {k: v for k, v in resp.headers.items() if k.lower() not in ("content-length", "transfer-encoding", "connection")}
        if headers:
            out_headers = headers(out_headers)
        code = status or resp.status_code
        if resp.headers.get("content-type", "").startswith("text/event-stream"):
            from chatconform.sse import parse

            events, _ = parse(resp.content)
            data: list[Any] = []
            for event in events:
                try:
                    data.append(json.loads(event.data) if event.data != "[DONE]" else "[DONE]")
                except ValueError:
                    data.append(event.data)
            if chunks:
                data = chunks(data, req)
            sep = ":" if no_space else ": "
            raw = b""
            for n, item in enumerate(data):
                if comment_every and n % comment_every == 0:
                    raw += f": keep-alive{newline}{newline}".encode()
                text = item if isinstance(item, str) else json.dumps(item)
                raw += f"data{sep}{text}{newline}{newline}".encode()
            step = read_size or max(len(raw), 1)
            steps: list[Union[bytes, float, str]] = []
            for i in range(0, len(raw), step):
                steps += [raw[i : i + step], 0.001] if read_size else [raw[i : i + step]]
            return Reply(status=code, headers=out_headers, steps=steps)
        content = resp.content
        if body is not None:
            try:
                payload = json.loads(content)
            except ValueError:
                payload = None
            if payload is not None:
                content = json.dumps(body(payload, req)).encode()
        return Reply(status=code, headers=out_headers, body=content)

    return handle
