"""Run the reference server with uvicorn and announce where it listens.

The announcement is one stdout line, printed only once uvicorn accepts connections; the pytest
plugin starts `chatconform serve --port 0` and reads the port from it.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading

import uvicorn
import yaml

from chatconform.reference.app import create_app
from chatconform.reference.config import ServerConfig

ANNOUNCEMENT = "chatconform reference server listening on {url}"


def base_url(host: str, port: int, base_path: str = "/v1") -> str:
    """What a user of the emulated vendor types as the base URL (the profile's base_path:
    /v1, /v2/openai, or the bare host for Azure's resource endpoint)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{base_path}"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; binding it here is how `--port 0` learns the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP; without it every reply on a kept-alive connection waits out the
    # client's delayed ACK (~40 ms a request)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _AnnouncingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, url: str):
        super().__init__(config)
        self.url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(ANNOUNCEMENT.format(url=self.url), flush=True)


def serve(config: ServerConfig, host: str = "127.0.0.1", port: int = 8765, log_level: str = "warning") -> int:
    """Serve until SIGINT/SIGTERM; returns the process exit status."""
    try:
        app = create_app(config)
    except (OSError, yaml.YAMLError, KeyError) as exc:
        print(f"chatconform serve: cannot load specs/openapi.yaml: {exc}", file=sys.stderr)
        return 1
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"chatconform serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    url = base_url(host, sock.getsockname()[1], app.state.profile.base_path)
    # uvicorn picks uvloop and httptools when installed (the `http`/`loop` defaults, "auto"): several
    # times cheaper per request than asyncio and h11. An access log is written only when the log
    # level shows it (info or debug); otherwise uvicorn would still format its fields per request.
    # No proxy headers: nothing sits in front of a local mock, and the app reads neither the
    # client address nor the scheme.
    access_log = log_level.lower() in ("info", "debug", "trace")
    uv_config = uvicorn.Config(app, log_level=log_level, lifespan="off", timeout_graceful_shutdown=5,
                               access_log=access_log, proxy_headers=False)
    server = _AnnouncingServer(uv_config, url)

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    # uvicorn re-raises the signal that stopped it once it has shut down; with these handlers in
    # place that is a no-op, so SIGTERM/SIGINT end the process with status 0 and no traceback.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if server.started else 1
