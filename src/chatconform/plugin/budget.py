"""How much a run may send and for how long: ``--concurrency``, ``--max-requests``, ``--max-billed``,
``--max-tokens`` and ``--run-deadline``, with ini keys and environment fallbacks.

The limits live in the client (chatconform.client): a request a limit stops is not sent, and the
checks that needed it report NOT JUDGED with the limit named. Against a remote target the
defaults keep one run within 250 requests, 40 billed completions and 5,000 tokens; against the
embedded reference server nothing is billed, so only the deadline applies there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

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
    Limit("concurrency", 4, 4, "N",
          "requests in flight at once within this process (1: serial); streamed requests always go alone"),
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
