"""The terminal summary: one line per requirement that is not a pass, grouped by area (h2spec style).

Each requirement is aggregated over its tests exactly as the run record does it
(chatconform.report.record.judge_requirement): a failing requirement appears once, with how many
tests failed on it, one representative expected / received / curl, and the test IDs.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from ..report.record import judge_requirement
from ..requirements import catalogue
from ..shell import safe_command
from ..verdict import BLOCKED, FAIL, MARKS, WARNING, TestResult, Verdict
from .results import results

SHOWN = ("fail", "error", "warning", "not_judged")  # in this order, each once per requirement
TESTS_SHOWN = 4
LINE = 160


def _cut(text: str, limit: int = LINE) -> str:
    # one printable line, whatever the body held: no raw control bytes reach the terminal
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def requirement_lines(tests: list[TestResult], verbose: bool) -> list[str]:
    """The requirements that are not a pass, by area: mark, ID, level, statement, then the evidence.
    Blocked requirements follow, one line per requirement that blocked them: they are the
    consequence of a failure already listed, not a finding of their own."""
    cat = catalogue()
    by_requirement: dict[str, list[TestResult]] = defaultdict(list)
    for t in tests:
        for rid in t.requirements:
            by_requirement[rid].append(t)
    by_area: dict[str, list[str]] = defaultdict(list)
    blocked: dict[str, list[str]] = defaultdict(list)  # blocking requirement -> blocked ones
    for req in cat:
        if req.id not in by_requirement:
            continue
        entry = judge_requirement(req, by_requirement[req.id])
        outcome = entry["verdict"]
        if outcome == BLOCKED:
            for blocker in _blockers(req.id, by_requirement[req.id]):
                blocked[blocker].append(f"{req.id} [{entry['level']}]")
            continue
        if outcome not in SHOWN:
            continue
        theirs = [v for t in by_requirement[req.id] if (v := t.verdict_for(req.id)) and v.outcome == outcome]
        lines = [f"  {MARKS[outcome]} {req.id} [{entry['level']}] {outcome.replace('_', ' ')}"
                 f" ({len(theirs)} test{'s' if len(theirs) != 1 else ''}): {_cut(req.statement, 100)}"]
        lines += _evidence(theirs[0] if theirs else None, entry["reason"], outcome)
        ids = [v.test for v in theirs]
        shown = ids if verbose else ids[:TESTS_SHOWN]
        more = f" (+{len(ids) - len(shown)} more)" if len(ids) > len(shown) else ""
        lines.append("      " + _cut(f"tests: {', '.join(shown)}{more}", 10_000 if verbose else LINE + 60))
        by_area[req.area].append("\n".join(lines))
    out = []
    for area, entries in by_area.items():
        out.append(f"{area}:")
        out += entries
    if blocked:
        out.append("blocked (not reached: their tests stopped at an earlier failure, listed above):")
        for blocker, ids in blocked.items():
            out.append("  " + _cut(f"{MARKS[BLOCKED]} {len(ids)} by {blocker}: {', '.join(ids)}",
                                   10_000 if verbose else 2 * LINE))
    return out


def _blockers(rid: str, tests: list[TestResult]) -> list[str]:
    """The requirements whose failure stopped these tests before they reached ``rid``: the failing
    verdicts of the same tests (read as data, not from the reason text)."""
    found: list[str] = []
    for t in tests:
        mine = t.verdict_for(rid)
        if mine is None or mine.outcome != BLOCKED:
            continue
        for v in t.verdicts:
            if v.requirement != rid and (v.outcome == FAIL or (v.outcome == WARNING and t.outcome == "failed")):
                if v.requirement not in found:
                    found.append(v.requirement)
                break
    return found[:1] or ["an earlier failure"]


def _evidence(v: Verdict | None, reason: str, outcome: str) -> list[str]:
    if v is None:
        return [f"      {_cut(reason)}"]
    lines = []
    if v.expected:
        lines.append(f"      expected: {_cut(v.expected)}")
        lines.append(f"      received: {_cut(v.received)}")
    else:
        lines.append(f"      {_cut(v.reason or reason)}")
    if outcome in ("fail", "warning", "error") and v.curl:
        lines.append(f"      reproduce: {_cut(safe_command(v.curl), 400)}")
    return lines


def unsupported_lines(tests: list[TestResult]) -> list[str]:
    grouped: dict[str, list[Verdict]] = defaultdict(list)
    for t in tests:
        for v in t.verdicts:
            if v.outcome == "unsupported":
                grouped[v.capability or "(capability)"].append(v)
    if not grouped:
        return []
    count = sum(len({v.test for v in vs}) for vs in grouped.values())
    lines = [f"unsupported capabilities ({len(grouped)}, {count} tests):"]
    for capability, vs in sorted(grouped.items()):
        n = len({v.test for v in vs})
        lines.append(f"  {capability}: {n} test{'s' if n > 1 else ''} ({_cut(vs[0].reason, 120)})")
    return lines


# what a conformant server answers: a valid value accepted, an invalid one refused with a 4xx
EXPECTED_SUPPORT = {"accepted", "refused", "honoured", "accepted (effect not observable)"}


def _expected(verdict: str) -> bool:
    return verdict in EXPECTED_SUPPORT or verdict.startswith("rejected 4")


def support_lines(tests: list[TestResult], verbose: bool) -> list[str]:
    rows = sorted({(r.parameter, r.case, r.verdict) for t in tests for r in t.support})
    # the table is for what is unusual (unsupported, a server error, no response, ignored):
    # a valid value accepted and an invalid one refused with a 4xx are what every row should say
    interesting = [r for r in rows if verbose or not _expected(r[2])]
    if not interesting:
        return []
    width = max(len(r[0]) for r in interesting)
    cwidth = max(len(r[1]) for r in interesting)
    return ["per-parameter support:"] + [f"  {p:<{width}}  {c:<{cwidth}}  {v}" for p, c, v in interesting]


def note_lines(tests: list[TestResult], verbose: bool) -> list[str]:
    notes = list(dict.fromkeys((n.requirement, n.message) for t in tests for n in t.notes))
    if not notes:
        return []
    shown = notes if verbose else notes[:10]
    lines = ["informational:"] + [f"  i {rid}: {_cut(message, 140)}" for rid, message in shown]
    if len(shown) < len(notes):
        lines.append(f"  … {len(notes) - len(shown)} more (-v shows them)")
    return lines


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    collected = results(config)
    tests = collected.tests
    reporter = config.pluginmanager.getplugin("chatconform-report")
    closing = reporter.closing_lines() if reporter is not None else []
    if not any(t.requirements for t in tests) and not collected.cost["requests"]:
        for line, markup in closing:  # a pre-flight outage: no test ran, the record says why
            terminalreporter.write_line(line, **markup)
        return  # nothing was judged (a self-test run): nothing to summarise
    verbose = config.getoption("verbose") > 0
    terminalreporter.section("chatconform")
    write = terminalreporter.write_line
    for block in (requirement_lines(tests, verbose), unsupported_lines(tests), note_lines(tests, verbose),
                  support_lines(tests, verbose)):
        for line in block:
            write(line)
    c = collected.cost
    write(f"chatconform cost: {c['requests']} requests, {c['prompt_tokens'] + c['completion_tokens']} tokens "
          f"reported by the target (prompt {c['prompt_tokens']}, completion {c['completion_tokens']})")
    for line, markup in closing:
        write(line, **markup)
