"""How much a run may send and for how long: ``--concurrency``, ``--max-requests``, ``--max-billed``,
``--max-tokens`` and ``--run-deadline``, with ini keys and environment fallbacks.

The limits live in the client (chatconform.client): a request a limit stops is not sent, and the
checks that needed it report NOT JUDGED with the limit named. Against a remote target the
defaults keep one run within 250 requests, 40 billed completions and 5,000 tokens; against the
embedded reference server nothing is billed, so only the deadline applies there.

**One budget per run.** The counts are a :class:`chatconform.client.Ledger`, made once per process
(``ledger(config)``) and given to every client of the run: the pre-flight's counts, and is counted
before it is sent like every other request. Under pytest-xdist the controller and every worker
use a :class:`FileLedger` on one file in the run's shared directory (plugin.worker_share): each
change is made under an exclusive ``flock``, which the kernel releases if its holder dies, so a
worker that dies cannot hang the others; what a dead worker held for requests it never finished
is given back by the next change (its process id no longer exists).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..client import Ledger, fresh_ledger_state

# (option name, ini key, environment, default against a remote target, default for the embedded server, help)
@dataclass(frozen=True)
class Limit:
    name: str
    remote: float | None
    embedded: float | None
    metavar: str
    help: str
    integer: bool = True

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return f"chatconform_{self.name}"

    @property
    def env(self) -> str:
        return f"CHATCONFORM_{self.name.upper()}"


LIMITS = [
    # 8 against a vendor: its latency, not the suite, is what a run waits for (a 250 ms target: 26 s
    # at 8, 33 s at 4, 68 s serial, the same requests each time); 4 for the embedded server, on the
    # same cores as the suite
    Limit("concurrency", 8, 4, "N",
          "requests in flight at once within this process (1: serial; default 8 against --base-url, 4 for the "
          "embedded server); streamed requests always go alone"),
    Limit("max_requests", 250, None, "N", "stop sending after this many requests (0: no limit; "
                                          "default 250 against --base-url, none for the embedded server)"),
    Limit("max_billed", 40, None, "N", "stop sending completions the target would bill after this many "
                                       "(0: no limit; default 40 against --base-url, none for the embedded server)"),
    Limit("max_tokens", 5000, None, "N", "stop sending billed completions once the target reported this many "
                                         "tokens (0: no limit; default 5000 against --base-url, none embedded)"),
    Limit("run_deadline", 600, 600, "SECONDS", "send nothing after this many seconds of the run (0: none; "
                                               "default 600)", integer=False),
]
BY_NAME = {limit.name: limit for limit in LIMITS}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatconform", "chatconform conformance run")
    for limit in LIMITS:
        group.addoption(limit.flag, dest=f"cc_{limit.name}", default=None, metavar=limit.metavar,
                        help=f"{limit.help} [env {limit.env}]")
        parser.addini(limit.ini, help=limit.help, default=None)


def value(config: pytest.Config, name: str, embedded: bool) -> float | None:
    """A limit's value (None: no limit): command line, environment, ini file, then the default for
    this kind of target. A malformed value is one usage error."""
    limit = BY_NAME[name]
    raw = config.getoption(f"cc_{name}") or os.environ.get(limit.env) or config.getini(limit.ini)
    if raw in (None, ""):
        return limit.embedded if embedded else limit.remote
    try:
        number = int(raw) if limit.integer else float(raw)
    except (TypeError, ValueError):
        kind = "a whole number" if limit.integer else "a number of seconds"
        raise pytest.UsageError(f"{limit.flag} must be {kind} (0 for no limit), not {raw!r}") from None
    if number < 0 or (name == "concurrency" and number < 1):
        raise pytest.UsageError(f"{limit.flag} must be {'at least 1' if name == 'concurrency' else '0 or more'}, "
                                f"not {raw!r}")
    return None if number == 0 else number


def limits(config: pytest.Config, embedded: bool) -> dict[str, float | None]:
    return {limit.name: value(config, limit.name, embedded) for limit in LIMITS}


def pytest_configure(config: pytest.Config) -> None:
    # malformed values fail at start-up, once, not in every test
    for limit in LIMITS:
        value(config, limit.name, embedded=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line per reason the client stopped sending (given up, deadline, budget), and the
    adjustment a cap-ignoring target caused: the one clear reason behind a run of NOT JUDGED."""
    for key, reason in stopped_reasons(config).items():
        if key == "cap-ignored":
            terminalreporter.write_line(f"chatconform: {reason}", yellow=True)
        else:
            terminalreporter.write_line(f"chatconform: stopped sending: {reason}; the checks that needed "
                                        "the requests not sent are not judged", yellow=True, bold=True)

STOPPED: pytest.StashKey[dict[str, str]] = pytest.StashKey()
LEDGER: pytest.StashKey[Any] = pytest.StashKey()
LEDGER_FILE = "budget.json"


class FileLedger(Ledger):
    """A Ledger whose state is a JSON file, changed under ``flock``: one budget for every process
    of a run (the xdist controller's pre-flight and the workers)."""

    def __init__(self, path: Path, max_requests: int | None = None, max_billed: int | None = None,
                 max_tokens: int | None = None) -> None:
        super().__init__(max_requests, max_billed, max_tokens)
        self.path = Path(path)

    @contextmanager
    def _transaction(self) -> Iterator[dict[str, Any]]:
        with self._lock, open(self.path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel if this process dies
            try:
                handle.seek(0)
                raw = handle.read()
                try:
                    state = json.loads(raw) if raw.strip() else fresh_ledger_state()
                except ValueError:  # never half-written (the lock), but never fatal either
                    state = fresh_ledger_state()
                # what a dead process held for requests it never finished is given back
                state["pending"] = {pid: held for pid, held in state.get("pending", {}).items() if _alive(pid)}
                yield state
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state))
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def ledger(config: pytest.Config, embedded: bool) -> Any:
    """This process's ledger of the run's budget, made once: on the shared file under xdist
    (controller and workers alike), else in memory."""
    found = config.stash.get(LEDGER, None)
    if found is not None:
        return found
    from .worker_share import shared_dir

    found_limits = limits(config, embedded)
    counts = [None if found_limits[name] is None else int(found_limits[name])  # type: ignore[arg-type]
              for name in ("max_requests", "max_billed", "max_tokens")]
    directory = shared_dir(config)
    made = FileLedger(directory / LEDGER_FILE, *counts) if directory is not None else Ledger(*counts)
    config.stash[LEDGER] = made
    return made



def stopped_reasons(config: pytest.Config) -> dict[str, str]:
    """What stopped the client, this process's and (on the xdist controller) every worker's."""
    from .session import state

    reasons = dict(config.stash.get(STOPPED, {}))
    client = state(config).existing_client
    if client is not None:
        reasons.update(client.stopped)
        if client.cap_ignored:
            reasons["cap-ignored"] = client.cap_ignored
    return reasons


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        session.config.workeroutput["chatconform_stopped"] = stopped_reasons(session.config)  # type: ignore[attr-defined]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    found = getattr(node, "workeroutput", {}).get("chatconform_stopped")
    if found:
        config = node.config  # type: ignore[attr-defined]
        config.stash.setdefault(STOPPED, {}).update(found)
