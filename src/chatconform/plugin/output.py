"""How a conformance failure reads in pytest's own output: the check's message, not a traceback.

A check that finds a violation raises ``ConformanceFailure`` (or ``HarnessProblem`` when there was
no usable response) with everything a reader needs: requirement, expected, received, curl line.
The Python traceback through checks/ and the client says nothing more and made one wrong error body
cost 2,600 lines. So, unless ``-v`` or an explicit ``--tb`` asks for tracebacks:

- such a test's report carries the check's message instead of the traceback (``VerdictRepr``); its
  first line is what the short summary (``-ra``) shows after the test ID;
- when every failure of the run is such a report, pytest's FAILURES section is left out: the
  chatconform summary (by requirement, with one representative expected / received / curl and
  the test IDs) already says it once per requirement instead of once per test.

A test that broke for another reason (a suite bug) keeps its traceback and the FAILURES section.
Curl lines are re-quoted without raw control bytes (chatconform.shell).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from ..failures import ConformanceFailure, HarnessProblem
from ..shell import safe_command

SHAPED = "chatconform-shaped"  # a user property: xdist carries it to the controller as data
LINE = 200


def tracebacks_wanted(config: pytest.Config) -> bool:
    """-v, or a --tb style other than pytest's default ``auto``."""
    return config.getoption("verbose") > 0 or config.getoption("tbstyle", "auto") not in ("auto", None)


def printable(text: str, limit: int = LINE) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Crash:
    def __init__(self, message: str) -> None:
        self.message = message


class VerdictRepr:
    """A report's longrepr made of the check's own words. ``str()`` is the whole message (the run
    record keeps it); the terminal gets its first line, the rest being in the chatconform summary."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.reprcrash = _Crash(lines[0])

    def toterminal(self, tw: Any) -> None:
        tw.line(self.lines[0])

    def __str__(self) -> str:
        return "\n".join(self.lines)


def message_lines(exc: BaseException) -> list[str] | None:
    if isinstance(exc, ConformanceFailure):
        from ..requirements import catalogue

        level = catalogue()[exc.requirement].level.value if exc.requirement in catalogue() else "MUST"
        lines = [printable(f"[{exc.requirement}] {level}: expected {exc.expected}; received {exc.received}")]
        if exc.where:
            lines.append(f"  at:       {printable(exc.where)}")
        lines += [f"  expected: {printable(exc.expected, 1000)}", f"  received: {printable(exc.received, 1000)}"]
        if exc.exchange is not None:
            if exc.exchange.problem:
                lines.append(f"  problem:  {printable(exc.exchange.problem)}")
            lines.append(f"  reproduce: {safe_command(exc.exchange.curl())}")
        return lines
    if isinstance(exc, HarnessProblem):
        e = exc.exchange
        return [printable(f"[harness] expected {exc.what}, got {e.excerpt()}"),
                f"  problem:  {printable(e.problem or '')}", f"  reproduce: {safe_command(e.curl())}"]
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed and call.excinfo is not None and not tracebacks_wanted(item.config):
        lines = message_lines(call.excinfo.value)
        if lines is not None:
            report.longrepr = VerdictRepr(lines)
            report.user_properties.append((SHAPED, True))
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)  # around the terminal reporter's own FAILURES section
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> Generator[None, Any, Any]:
    failures = terminalreporter.stats.get("failed", []) + terminalreporter.stats.get("error", [])
    reports = [r for r in failures if hasattr(r, "longrepr")]
    omit = bool(reports) and not tracebacks_wanted(config) and all(_shaped(r) for r in reports)
    saved = config.option.tbstyle
    if omit:
        config.option.tbstyle = "no"
    try:
        return (yield)
    finally:
        config.option.tbstyle = saved


def _shaped(report: Any) -> bool:
    return any(key == SHAPED for key, _ in getattr(report, "user_properties", ()))
