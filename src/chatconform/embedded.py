"""Running the reference server as a child process, for a run with no --base-url.

A separate process keeps the boundary honest (the suite talks to it over HTTP only). Each
pytest-xdist worker starts its own (chatconform.plugin.embedded), which keeps workers apart.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence

LISTENING = re.compile(r"listening on (http://\S+)")


class EmbeddedServer:
    def __init__(self, api_key: str, models: Sequence[str] = (), extra_args: Sequence[str] = (),
                 profile: str | None = None) -> None:
        self.api_key = api_key
        self.models = list(models)
        self.profile = profile  # specs/profiles name to emulate; None: the server's default (reference)
        self.extra_args = list(extra_args)
        self.base_url: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._log = tempfile.TemporaryFile(mode="w+")

    def start(self, timeout: float = 30.0) -> str:
        cmd = [sys.executable, "-m", "chatconform", "serve", "--host", "127.0.0.1", "--port", "0"]
        cmd += ["--api-key", self.api_key]
        if self.models:
            cmd += ["--models", ",".join(self.models)]
        if self.profile:
            cmd += ["--profile", self.profile]
        cmd += self.extra_args
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, text=True, env=env
        )
        found: list[str] = []

        def read_first_line() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                match = LISTENING.search(line)
                if match:
                    found.append(match.group(1))
                    return

        reader = threading.Thread(target=read_first_line, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            self._log.seek(0)
            raise RuntimeError(f"the reference server did not start within {timeout:g}s:\n{self._log.read()[-4000:]}")
        self.base_url = found[0]
        return self.base_url

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
