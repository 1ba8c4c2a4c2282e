"""Shared helpers for the benchmark scripts: child processes that are always stopped, pytest runs
with a recorder, replays, machine facts and tables.

Everything runs on 127.0.0.1 with ephemeral ports. Every child runs in its own process group
(start_new_session) and is killed with its whole group when the benchmark ends, on success,
error, Ctrl-C or SIGTERM alike.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent  # the tree whose suite and server are measured; see use_repo
PYTHON = sys.executable
API_KEY = "bench-key-0123456789"
MODEL = "bench-model"
LISTENING = re.compile(r"listening on (http://\S+)")
PYTEST_TIME = re.compile(r"\bin ([0-9.]+)s\b")



def use_repo(path: str | None) -> None:
    """Measure another checkout (e.g. `git archive HEAD | tar -x -C DIR`) instead of this one: its
    suites, specs and src/ (put first on PYTHONPATH for every child, ahead of the editable install)."""
    global REPO
    if not path:
        return
    REPO = Path(path).resolve()
    if not (REPO / "suites").is_dir() or not (REPO / "src" / "chatconform").is_dir():
        raise SystemExit(f"--repo {path}: no suites/ and src/chatconform/ there")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))


def add_common_args(parser: Any) -> None:
    parser.add_argument("--repo", metavar="DIR", help="measure this checkout instead of the one holding benchmarks/")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")


# every child process group we started, killed at exit whatever happens
_CHILDREN: set[subprocess.Popen] = set()
_LOCK = threading.Lock()


def kill_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the child's process group, then SIGKILL it if anything is left after `grace` s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # grandchildren (an embedded server, xdist workers) may outlive the leader
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    with _LOCK:
        _CHILDREN.discard(proc)


def _kill_all() -> None:
    with _LOCK:
        children = list(_CHILDREN)
    for proc in children:
        kill_group(proc, grace=1.0)


atexit.register(_kill_all)


def _on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds every finally block, then atexit kills the rest


if sys.argv and Path(sys.argv[0]).resolve().parent == BENCH_DIR:  # a benchmark script, not an importer
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(_sig, _on_signal)
        except (ValueError, OSError):  # not the main thread
            pass


def spawn(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(list(cmd), start_new_session=True, **kwargs)
    with _LOCK:
        _CHILDREN.add(proc)
    return proc


@dataclass
class Completed:
    cmd: list[str]
    returncode: int
    wall: float
    stdout: str
    timed_out: bool = False

    @property
    def reported_seconds(self) -> float | None:
        """The 'in 12.34s' of pytest's last summary line."""
        for line in reversed(self.stdout.strip().splitlines()):
            match = PYTEST_TIME.search(line)
            if match and ("passed" in line or "failed" in line or "error" in line or "no tests" in line
                          or "selected" in line or "collected" in line or "skipped" in line):
                return float(match.group(1))
        return None

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.stdout.strip().splitlines()[-lines:])


def run(cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None) -> Completed:
    """Run a command to completion (stdout and stderr together), killing its group on timeout."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as out:
        start = time.perf_counter()
        proc = spawn(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd or REPO, env=env)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            wall = time.perf_counter() - start
            kill_group(proc)  # also reaps what the command left behind (servers, workers)
        out.seek(0)
        text = out.read()
    return Completed(list(cmd), proc.returncode if not timed_out else -9, wall, text, timed_out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class Server:
    """A server child process (its own group) that prints 'listening on URL' or opens a port."""

    def __init__(self, cmd: Sequence[str], name: str, port: int | None = None, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.cmd, self.name, self.port, self.env, self.cwd = list(cmd), name, port, env, cwd or REPO
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")

    def start(self, timeout: float = 30.0) -> str:
        self.proc = spawn(self.cmd, stdout=subprocess.PIPE, stderr=self._log, cwd=self.cwd,
                          env=dict(self.env or os.environ, PYTHONUNBUFFERED="1"), text=True, errors="replace")
        found: list[str] = []

        def reader() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self._log.write(line)
                if not found:
                    match = LISTENING.search(line)
                    if match:
                        found.append(match.group(1).rstrip("/"))
            # keep draining so the child never blocks on a full pipe

        threading.Thread(target=reader, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not found:
            if self.proc.poll() is not None:
                break
            if self.port is not None and wait_for_port(self.port, 0.2):
                found.append(f"http://127.0.0.1:{self.port}")
                break
            time.sleep(0.05)
        if not found:
            self.stop()
            raise RuntimeError(f"{self.name} did not start within {timeout:g}s:\n{self.log()[-3000:]}")
        self.url = found[0]
        return self.url

    def log(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def stop(self) -> None:
        if self.proc is not None:
            kill_group(self.proc)
            self.proc = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def reference_server(extra: Sequence[str] = (), api_key: str | None = API_KEY) -> Server:
    """`chatconform serve` on an ephemeral port; .url is the base including /v1."""
    cmd = [PYTHON, "-m", "chatconform", "serve", "--host", "127.0.0.1", "--port", "0"]
    if api_key:
        cmd += ["--api-key", api_key]
    return Server(cmd + list(extra), "chatconform serve")


# -- pytest runs with the recorder -----------------------------------------------------------------
@dataclass
class SuiteRun:
    label: str
    completed: Completed
    requests: list[dict[str, Any]] = field(default_factory=list)  # what the recorder saw, in order
    serve_argv: list[list[str]] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def wall(self) -> float:
        return self.completed.wall

    @property
    def cost(self) -> dict[str, int]:
        return dict(self.results.get("cost") or {})

    @property
    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for test in self.results.get("tests") or []:
            outcome = str(test.get("outcome", "?"))
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    @property
    def http_seconds(self) -> float:
        return sum(r.get("seconds", 0.0) for r in self.requests)

    @property
    def billed(self) -> int:
        return sum(1 for r in self.requests if is_billed(r))

    @property
    def tokens(self) -> int:
        c = self.cost
        return int(c.get("prompt_tokens", 0)) + int(c.get("completion_tokens", 0))


def is_billed(request: dict[str, Any]) -> bool:
    """A billed completion: POST .../chat/completions answered with a 2xx."""
    status = request.get("status") or 0
    return (request.get("method") == "POST" and request.get("url", "").split("?")[0].rstrip("/").endswith("/chat/completions")
            and 200 <= status < 300)


def pytest_cmd(*args: str) -> list[str]:
    cmd = [PYTHON, "-m", "pytest", "-p", "no:cacheprovider"]
    conftest = REPO / "conftest.py"
    if REPO != BENCH_DIR.parent and conftest.is_file() and "chatconform.plugin" in conftest.read_text(encoding="utf-8"):
        # an older checkout loads the plugin from its root conftest, while the venv's (newer)
        # editable install also registers it as the `chatconform` entry point: keep one
        cmd += ["-p", "no:chatconform"]
    return cmd + list(args)


def run_suite(label: str, args: Sequence[str], timeout: float, workdir: Path, record: bool = True,
              extra_env: dict[str, str] | None = None) -> SuiteRun:
    """Run the conformance suite (a subprocess, from the repo root) with --results-json and, when
    `record`, the recorder plugin, which logs every HTTP request the run sends."""
    workdir.mkdir(parents=True, exist_ok=True)
    record_dir = workdir / "record"
    record_dir.mkdir(exist_ok=True)
    for old in record_dir.glob("*.jsonl"):
        old.unlink()
    results = workdir / "results.json"
    if results.exists():
        results.unlink()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "CHATCONFORM_", "PYTEST_")) or k == "CHATCONFORM_BENCH_CACHE"}
    env.update(PYTHONHASHSEED="0")  # the same requests every run
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # see clean_env
    cmd = pytest_cmd("-q", f"--results-json={results}", f"--reports-dir={workdir / 'reports'}")
    if record:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
        env["CHATCONFORM_BENCH_RECORD"] = str(record_dir)
        cmd += ["-p", "_recorder"]
    env.update(extra_env or {})
    completed = run(cmd + list(args), timeout=timeout, env=env)
    suite = SuiteRun(label, completed)
    if results.exists():
        try:
            suite.results = json.loads(results.read_text(encoding="utf-8"))
        except ValueError:
            pass
    if record:
        suite.requests, suite.serve_argv = read_records(record_dir)
    return suite


def read_records(record_dir: Path) -> tuple[list[dict[str, Any]], list[list[str]]]:
    requests: list[dict[str, Any]] = []
    argv: list[list[str]] = []
    for path in sorted(record_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("kind") == "request":
                requests.append(entry)
            elif entry.get("kind") == "serve":
                argv.append(entry["argv"])
    requests.sort(key=lambda r: r.get("t", 0.0))
    return requests, argv


def check_suite(suite: SuiteRun) -> str | None:
    """Why this run is not a usable measurement, or None."""
    c = suite.completed
    if c.timed_out:
        return f"{suite.label}: timed out after {c.wall:.0f}s"
    if c.returncode not in (0, 1):  # 1: some conformance checks failed, still a complete run
        return f"{suite.label}: pytest exited {c.returncode}:\n{c.tail()}"
    if not suite.results.get("tests"):
        return f"{suite.label}: no --results-json with test outcomes (pytest exited {c.returncode}):\n{c.tail()}"
    return None


def replay_server_args(suite: SuiteRun) -> list[str]:
    """The `serve` options the run's embedded server was started with (keys, rate limit, faults),
    without host and port; [] when the run targeted a server we started ourselves."""
    if not suite.serve_argv:
        return []
    argv = suite.serve_argv[0]
    out: list[str] = []
    skip_next = False
    tail = argv[argv.index("serve") + 1:] if "serve" in argv else []
    for i, arg in enumerate(tail):
        if skip_next:
            skip_next = False
            continue
        if arg in ("--host", "--port"):
            skip_next = True
            continue
        if arg.startswith(("--host=", "--port=")):
            continue
        out.append(arg)
    return out


# -- a raw replay --------------------------------------------------------------------------------
DROP_REQUEST_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class Replayer:
    """Sends recorded requests again, one by one, with one plain httpx client (keep-alive, each
    body read to its end), rewriting `base_from` to `base_to` and the ids of stored completions to
    the ones the fresh server issued, so lookups find what they found in the run. The raw replay
    (`replay`) and the bare pytest run (`pytest_replay`) both send through it."""

    def __init__(self, base_from: str | None, base_to: str, timeout: float = 30.0) -> None:
        import httpx

        self.base_from, self.base_to = base_from, base_to
        self.client = httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False)
        self.sent = self.matched = self.errors = 0
        self.differences: dict[str, int] = {}
        self.ids: dict[str, str] = {}

    def send(self, r: dict[str, Any]) -> None:
        import base64

        import httpx

        url = r["url"]
        if self.base_from and url.startswith(self.base_from):
            url = self.base_to + url[len(self.base_from):]
        for old_id, new_id in self.ids.items():
            if old_id in url:
                url = url.replace(old_id, new_id)
        headers = [(k, v) for k, v in r["headers"] if k.lower() not in DROP_REQUEST_HEADERS]
        body = base64.b64decode(r["body"]) if r.get("body") else None
        self.sent += 1
        try:
            with self.client.stream(r["method"], url, headers=headers, content=body) as response:
                head = b""
                for chunk in response.iter_raw():
                    if r.get("response_id") and len(head) < 4096:
                        head += chunk[:4096]
                if r.get("response_id"):
                    match = re.search(rb'"id"\s*:\s*"(chatcmpl-[^"]{1,200})"', head)
                    if match:
                        self.ids[r["response_id"]] = match.group(1).decode("latin-1")
                if response.status_code == r.get("status"):
                    self.matched += 1
                else:
                    path = re.sub(r"/chatcmpl-[^/?]+", "/{id}", url.split("://", 1)[-1].split("/", 1)[-1].split("?")[0])
                    key = f"{r['method']} /{path}: {r.get('status')} -> {response.status_code}"
                    self.differences[key] = self.differences.get(key, 0) + 1
        except httpx.HTTPError:
            self.errors += 1

    def close(self) -> None:
        self.client.close()


def replay(requests: Iterable[dict[str, Any]], base_from: str | None, base_to: str, timeout: float = 30.0,
           deadline: float = 300.0) -> dict[str, Any]:
    """Send the recorded requests again with a plain httpx loop. Returns wall time, count, status matches."""
    requests = list(requests)
    stop_at = time.monotonic() + deadline
    replayer = Replayer(base_from, base_to, timeout)
    try:
        start = time.perf_counter()
        for r in requests:
            if time.monotonic() > stop_at:
                break
            replayer.send(r)
        wall = time.perf_counter() - start
    finally:
        replayer.close()
    return {"wall": wall, "requests": replayer.sent, "status_matched": replayer.matched, "errors": replayer.errors,
            "status_differences": dict(sorted(replayer.differences.items(), key=lambda kv: -kv[1]))}


# The bare pytest run: as many tests as the suite ran, the recorded requests shared out among them
# in order, nothing else (no plugin of ours, no fixtures, no checks). What pytest itself costs for
# that many tests and requests, start-up included: the floor under any pytest suite's overhead.
_PYTEST_REPLAY = """\
import json, os, sys

import pytest

sys.path.insert(0, os.environ["CHATCONFORM_BENCH_DIR"])
from _common import Replayer  # noqa: E402

with open(os.environ["CHATCONFORM_BENCH_REPLAY"], encoding="utf-8") as fh:
    PLAN = json.load(fh)
REQUESTS, TESTS = PLAN["requests"], PLAN["tests"]
replayer = Replayer(PLAN["base_from"], PLAN["base_to"])


@pytest.mark.parametrize("n", range(TESTS))
def test_replay(n):
    for r in REQUESTS[n * len(REQUESTS) // TESTS:(n + 1) * len(REQUESTS) // TESTS]:
        replayer.send(r)
    assert replayer.errors == 0
    assert n < TESTS - 1 or replayer.sent == len(REQUESTS)  # the last test: every request went out
"""


def pytest_replay(requests: Sequence[dict[str, Any]], base_from: str | None, base_to: str, tests: int,
                  workdir: Path, timeout: float) -> dict[str, Any]:
    """Time a bare pytest process (its own rootdir and empty config; the plugins the suite's own
    config turns off, schemathesis' and hypothesis', off here too, and ours) that runs `tests`
    trivial tests replaying `requests` among them. Returns wall time and pytest's outcome."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (workdir / "test_replay.py").write_text(_PYTEST_REPLAY, encoding="utf-8")
    plan = workdir / "plan.json"
    plan.write_text(json.dumps({"requests": list(requests), "tests": max(1, tests), "base_from": base_from,
                                "base_to": base_to}), encoding="utf-8")
    env = clean_env(CHATCONFORM_BENCH_DIR=str(BENCH_DIR), CHATCONFORM_BENCH_REPLAY=str(plan))
    off = ["-p", "no:cacheprovider", "-p", "no:chatconform", "-p", "no:schemathesis", "-p", "no:hypothesispytest"]
    done = run([PYTHON, "-m", "pytest", "-q", *off, "test_replay.py"],
               timeout=timeout, env=env, cwd=workdir)
    return {"wall": done.wall, "tests": max(1, tests), "requests": len(requests), "returncode": done.returncode,
            "tail": done.tail(3)}


def origin_of(suite: SuiteRun) -> str | None:
    """The scheme://host:port the run's requests went to (the first one's)."""
    for r in suite.requests:
        match = re.match(r"^(https?://[^/]+)", r["url"])
        if match:
            return match.group(1)
    return None


# -- output ------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg": load,
    }


def print_machine() -> None:
    m = machine()
    print(f"machine: {m['date']}, nproc {m['nproc']}, {m['cpu']}, Python {m['python']}, load average {m['loadavg']}")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def ratio_line(name: str, value: float | None, target: str = "") -> str:
    """One machine-greppable line: 'ratio <name>: <x>x [target ...]'."""
    line = f"ratio {name}: {fmt_ratio(value)}"
    return line + (f"  [target {target}]" if target else "")


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        payload = dict(payload, machine=machine())
        Path(path).write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")


def workspace(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=f"chatconform-bench-{prefix}-")


def hand_written_suites() -> list[str]:
    generated = {"test_property_based.py", "test_stateful.py"}
    return sorted(f"suites/{p.name}" for p in (REPO / "suites").glob("test_*.py") if p.name not in generated)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a measured child. PYTHONDONTWRITEBYTECODE is dropped: with it pytest
    cannot cache its assertion-rewritten modules, and re-rewrites every module of every pytest11
    plugin distribution (schemathesis, hypothesis, ...) on each start, several seconds here."""
    env = dict(os.environ, **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def pytest_help(timeout: float = 120.0) -> str:
    return run(pytest_cmd("--help"), timeout=timeout, env=clean_env()).stdout


def concurrency_option(help_text: str) -> str | None:
    """The in-run concurrency option, once the plugin has one (e.g. --concurrency N)."""
    for match in re.finditer(r"^\s+(--[a-z0-9-]*(?:concurren|in-flight|inflight|parallel-requests)[a-z0-9-]*)",
                             help_text, re.M):
        return match.group(1)
    return None
