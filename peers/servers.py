"""Installing, starting and stopping real OpenAI-compatible servers ("peers") on loopback.

Each peer lives in its own virtualenv under the cache directory (``$CHATCONFORM_PEERS_DIR``, by
default ``.peers/`` in the repository root), installed with pip from the package registries
configured on the machine. Nothing is downloaded at run time: the servers are mocked (LiteLLM) or
run a tiny model written on the spot (llama-cpp-python).

A started peer listens on 127.0.0.1 on an ephemeral port, in its own process group, and is always
stopped: the context manager kills the whole group on the way out, whatever happened inside.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
EVIDENCE = HERE / "evidence"


def cache_dir() -> Path:
    return Path(os.environ.get("CHATCONFORM_PEERS_DIR") or REPO / ".peers")


class PeerUnavailable(RuntimeError):
    """The peer could not be installed or did not come up; the message says why."""


@dataclass
class Running:
    """A started peer: where it listens, and what to pass to the suite."""

    name: str
    base_url: str  # including /v1
    api_key: str
    model: str
    log: Path
    pid: int
    client_args: tuple[str, ...] = ()

    def suite_args(self) -> list[str]:
        return [f"--base-url={self.base_url}", f"--api-key={self.api_key}", f"--model={self.model}",
                *self.client_args]


@dataclass
class Peer:
    """One kind of server. Subclasses say what to install and how to start it."""

    name: str = ""
    requirements: tuple[str, ...] = ()
    install_env: dict[str, str] = field(default_factory=dict)
    default_model: str = ""
    ready_path: str = "/v1/models"
    ready_timeout: float = 120.0
    # what this server needs from any client, passed to every suite run against it
    client_args: tuple[str, ...] = ()

    # -- installation -------------------------------------------------------------------------

    @property
    def home(self) -> Path:
        return cache_dir() / self.name

    @property
    def python(self) -> Path:
        return self.home / "venv" / "bin" / "python"

    @property
    def marker(self) -> Path:
        return self.home / "installed.json"

    def installed(self) -> bool:
        try:
            return json.loads(self.marker.read_text())["requirements"] == list(self.requirements)
        except (OSError, ValueError, KeyError):
            return False

    def install(self, *, force: bool = False, quiet: bool = True) -> float:
        """Create the venv and pip-install the pinned requirements. Returns the seconds it took
        (0 when the cache already had it). Raises PeerUnavailable with the log's tail on failure."""
        if self.installed() and not force:
            return 0.0
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "install.log"
        started = time.monotonic()
        env = {**os.environ, **self.install_env}
        with log.open("w") as out:
            steps = [[sys.executable, "-m", "venv", "--clear", str(self.home / "venv")],
                     [str(self.python), "-m", "pip", "install", "--no-cache-dir", *self.requirements]]
            for cmd in steps:
                out.write(f"$ {' '.join(cmd)}\n")
                out.flush()
                proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
                if proc.returncode != 0:
                    raise PeerUnavailable(f"{self.name}: `{' '.join(cmd)}` exited {proc.returncode}; "
                                          f"last lines of {log}:\n{tail(log)}")
        seconds = time.monotonic() - started
        self.marker.write_text(json.dumps({"requirements": list(self.requirements),
                                           "install_seconds": round(seconds, 1)}, indent=1))
        if not quiet:
            print(f"{self.name}: installed in {seconds:.0f} s", file=sys.stderr)
        return seconds

    # -- running --------------------------------------------------------------------------------

    def command(self, port: int, api_key: str, workdir: Path) -> list[str]:
        raise NotImplementedError

    def environment(self, api_key: str) -> dict[str, str]:
        return {}

    def prepare(self, workdir: Path) -> None:
        """Write whatever the server needs before it starts (a config, a model)."""

    @contextmanager
    def running(self, *, api_key: str, model: str | None = None) -> Iterator[Running]:
        """Start the peer on 127.0.0.1 on a free port; yield once it answers; always stop it."""
        if not self.installed():
            raise PeerUnavailable(f"{self.name} is not installed: run `python -m peers install {self.name}`")
        workdir = self.home / "run"
        workdir.mkdir(parents=True, exist_ok=True)
        self.prepare(workdir)
        port = free_port()
        log = self.home / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCONFORM_"))}
        env.update(self.environment(api_key))
        with log.open("w") as out:
            proc = subprocess.Popen(self.command(port, api_key, workdir), cwd=workdir, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # its own process group: we kill all of it
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(proc, base + self.ready_path, api_key, self.ready_timeout, log)
            yield Running(self.name, base + "/v1", api_key, model or self.default_model, log, proc.pid,
                          self.client_args)
        finally:
            stop(proc)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(proc: subprocess.Popen, url: str, api_key: str, timeout: float, log: Path) -> None:
    """Poll url until any HTTP answer below 500 comes back; fail fast if the process dies."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PeerUnavailable(f"server exited {proc.returncode} before answering; {log}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.25)
    stop(proc)
    raise PeerUnavailable(f"no answer from {url} within {timeout:.0f} s; {log}:\n{tail(log)}")


def stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still there after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure no child of the group survives it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
