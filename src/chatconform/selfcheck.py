"""The detection matrix: the suite run against the reference server once per catalogue entry.

Every fault must make a test fail that cites one of the fault's requirement IDs; every legal
variation must pass with neither a failure nor a warning; every hostile behaviour must end in
failures, within its time bound, without pytest crashing. Each row is a `pytest <suites>`
subprocess with its own embedded reference server (`--reference-fault NAME` /
`--reference-variation NAME`), running only the suites that cite what the entry concerns
(suites_for: the server knows catalogue areas and requirement IDs, not the suite's files).

Faults run with chatconform_strict on, so a SHOULD-level deviation fails too; hostile rows run
with a short --request-timeout, since proving the suite never hangs must not take minutes.

`chatconform selfcheck` and tests/test_detection_matrix.py both run this.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .paths import specs_dir
from .reference.injection import FAULT, HOSTILE, VARIATION, Entry, catalogue
from .requirements import catalogue as requirement_catalogue
from .requirements import cited_requirement_ids
from .verdict import TestResult, failing_requirements

HOSTILE_REQUEST_TIMEOUT = 1  # seconds of silence per read; a whole exchange gets twice that
HOSTILE_BOUND = 60.0  # seconds a hostile row may take, server start and every request included
ROW_TIMEOUT = 240.0  # a row that takes longer has hung: it is killed and reported
CRASH_MARKERS = ("INTERNALERROR",)
# Plugins no row needs: skipping their imports halves a row's start-up (pytest ignores absent ones).
UNUSED_PLUGINS = ("schemathesis", "hypothesispytest", "allure_pytest", "xdist", "xdist.looponfail", "anyio")


def repository() -> Path:
    """The checkout whose suites/ the matrix runs (the suites are not part of the installed package)."""
    root = specs_dir().parent
    if not (root / "suites").is_dir():
        raise FileNotFoundError(f"no suites/ next to {specs_dir()}: selfcheck needs a chatconform checkout")
    return root


def pytest_args(entry: Entry) -> list[str]:
    if entry.kind == VARIATION:
        return [f"--reference-variation={entry.name}"]
    args = [f"--reference-fault={entry.name}"]
    if entry.kind == FAULT:
        return args + ["-o", "chatconform_strict=true"]
    return args + [f"--request-timeout={HOSTILE_REQUEST_TIMEOUT}"]


@dataclass
class Row:
    entry: Entry
    returncode: int | None  # None: killed after ROW_TIMEOUT
    seconds: float
    suites: list[str] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    output: str = ""

    # -- what the run says (read from the verdict records) -------------------------------------------
    @property
    def failed_tests(self) -> list[TestResult]:
        return [t for t in self.tests if t.outcome in ("failed", "error")]

    def _with(self, outcome: str) -> set[str]:
        return {v.requirement for t in self.tests for v in t.verdicts if v.outcome == outcome}

    def failed_requirements(self) -> set[str]:
        return failing_requirements(self.tests)

    def warned_requirements(self) -> set[str]:
        return self._with("warning")

    def failures_by_suite(self) -> dict[str, int]:
        counts = {suite: 0 for suite in self.suites}
        for test in self.failed_tests:
            suite = test.nodeid.split("::", 1)[0]
            counts[suite] = counts.get(suite, 0) + 1
        return counts

    @property
    def crashed(self) -> bool:
        return self.returncode not in (0, 1) or any(marker in self.output for marker in CRASH_MARKERS)

    # -- the verdict -----------------------------------------------------------------------------
    def problem(self) -> str | None:
        """None when the row is as the catalogue says; otherwise what is wrong."""
        if self.returncode is None:
            return f"hung: killed after {ROW_TIMEOUT:g}s"
        if self.crashed:
            return f"pytest ended abnormally (exit {self.returncode})"
        kind = self.entry.kind
        if kind == FAULT:
            if self.returncode != 1:
                return "not detected: every test passed"
            if not self.failed_requirements() & set(self.entry.requirements):
                named = sorted(self.failed_requirements()) or ["no requirement"]
                return (f"not detected as {', '.join(self.entry.requirements)}: the failures cite "
                        f"{', '.join(named)}")
            return None
        if kind == VARIATION:
            if self.failed_tests or self.returncode != 0:
                return f"false positive: {len(self.failed_tests)} failed ({self._first_failures()})"
            if self.warned_requirements():
                return f"false positive: warnings for {', '.join(sorted(self.warned_requirements()))}"
            return None
        if self.seconds > HOSTILE_BOUND:
            return f"not bounded: took {self.seconds:.0f}s (bound {HOSTILE_BOUND:g}s)"
        if self.returncode != 1 or not self.failed_tests:
            return "not detected: no test failed"
        return None

    def _first_failures(self) -> str:
        return ", ".join(t.nodeid.split("::", 1)[-1] for t in self.failed_tests[:3])

    @property
    def ok(self) -> bool:
        return self.problem() is None

    def summary(self) -> str:
        lines = [f"{self.entry.kind} {self.entry.name}: exit {self.returncode}, {self.seconds:.1f}s, "
                 f"problem: {self.problem()}"]
        lines += [f"  {t.outcome}: {t.nodeid}\n" + "\n".join(f"    {v.headline()}" for v in t.verdicts
                                                           if v.outcome != "pass") for t in self.failed_tests[:6]]
        return "\n".join(lines) + "\n" + self.output[-2500:]


def _environment() -> dict[str, str]:
    # a user's target settings must not leak in: every row runs against its own embedded server
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCONFORM_", "PYTEST_"))}


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """(exit status, output); (None, output so far) when it had to be killed. The run gets its own
    process group, so a hung row's embedded server goes down with it."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_environment(), start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return None, output


# Suites that judge generated requests: each row runs only the hand-written suites, where one
# deviation shows as the failures of the tests that cite what it breaks.
GENERATED = ("suites/test_property_based.py", "suites/test_stateful.py")


@lru_cache(maxsize=None)
def _cited_by_suite(root: Path) -> dict[str, frozenset[str]]:
    """suite path (from the checkout root) -> the requirement IDs its tests cite."""
    by_suite: dict[str, set[str]] = {}
    for rid, sites in cited_requirement_ids(root / "suites").items():
        for site in sites:
            path = Path(site.split("::", 1)[0]).resolve().relative_to(root).as_posix()
            by_suite.setdefault(path, set()).add(rid)
    return {k: frozenset(v) for k, v in by_suite.items() if k not in GENERATED}


def suites_for(entry: Entry, root: Path | None = None) -> list[str]:
    """The suites that judge an entry: those citing one of its requirements (a fault, a hostile
    behaviour), or any requirement of its areas (a legal variation must leave them all clean)."""
    root = (root or repository()).resolve()
    if entry.kind == VARIATION:
        wanted = {r.id for r in requirement_catalogue() if r.area in entry.areas}
    else:
        wanted = set(entry.requirements)
    return sorted(suite for suite, ids in _cited_by_suite(root).items() if ids & wanted)


def run_row(entry: Entry, *, root: Path | None = None, timeout: float = ROW_TIMEOUT) -> Row:
    root = root or repository()
    suites = suites_for(entry, root)
    with tempfile.TemporaryDirectory(prefix="chatconform-selfcheck-") as tmp:
        results = Path(tmp) / "results.json"
        cmd = [sys.executable, "-m", "pytest", *suites, "-q", "-p", "no:cacheprovider",
               *[arg for name in UNUSED_PLUGINS for arg in ("-p", f"no:{name}")],
               f"--results-json={results}", f"--reports-dir={tmp}", *pytest_args(entry)]
        started = time.monotonic()
        code, output = _run(cmd, root, timeout)
        row = Row(entry, code, time.monotonic() - started, suites=suites, output=output)
        if results.exists():
            row.tests = [TestResult.from_dict(t) for t in json.loads(results.read_text())["tests"]]
        return row


def select(names: Sequence[str] = (), kinds: Iterable[str] = (FAULT, VARIATION, HOSTILE)) -> list[Entry]:
    entries = [e for e in catalogue().values() if e.kind in tuple(kinds)]
    if not names:
        return entries
    unknown = [n for n in names if n not in catalogue()]
    if unknown:
        raise KeyError(f"not in the catalogue: {', '.join(unknown)}")
    return [e for e in entries if e.name in names]


def run_matrix(entries: Sequence[Entry], *, jobs: int = 2, progress: Callable[[Row], None] | None = None) -> list[Row]:
    """Every row, ``jobs`` at a time; rows come back in catalogue order."""
    root = repository()
    # the slowest rows (hostile ones wait out timeouts) start first, so the pool ends together
    ordered = sorted(entries, key=lambda e: e.kind != HOSTILE)
    rows: dict[str, Row] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for row in pool.map(lambda e: run_row(e, root=root), ordered):
            rows[row.entry.name] = row
            if progress:
                progress(row)
    return [rows[e.name] for e in entries]


# -- the printed matrix ------------------------------------------------------------------------------
LABELS = {"responses": "resp", "streaming": "stream", "streaming_tools": "s-tools", "parameters": "params",
          "structured_output": "struct", "logprobs": "logprob", "stored_completions": "stored",
          "extensions": "ext", "headers": "headers", "errors": "errors", "auth": "auth", "tools": "tools",
          "seed": "seed"}


def _label(suite: str) -> str:
    stem = Path(suite).stem.removeprefix("test_")
    return LABELS.get(stem, stem[:8])


def _verdict(row: Row) -> str:
    if not row.ok:
        return f"PROBLEM: {row.problem()}"
    if row.entry.kind == FAULT:
        return "caught: " + ", ".join(sorted(row.failed_requirements() & set(row.entry.requirements)))
    if row.entry.kind == HOSTILE:
        return f"ended in {row.seconds:.0f}s"
    return "clean"


def render(rows: Sequence[Row]) -> str:
    """Rows = catalogue entries, columns = suites; a cell is the number of failed tests in that
    suite (0 for a clean run), "·" where the suite was not run."""
    suites = sorted({s for row in rows for s in row.suites}, key=_label)
    labels = [_label(s) for s in suites]
    widths = [max(len(label), 3) for label in labels]
    name_width = max([len(r.entry.name) for r in rows] + [5])
    head = f"{'entry':<{name_width}}  {'kind':<9}  " + " ".join(f"{l:>{w}}" for l, w in zip(labels, widths))
    lines = [head + "  verdict"]
    for row in rows:
        counts = row.failures_by_suite()
        cells = [f"{counts[s] if s in row.suites else '·':>{w}}" for s, w in zip(suites, widths)]
        lines.append(f"{row.entry.name:<{name_width}}  {row.entry.kind:<9}  " + " ".join(cells) + "  " + _verdict(row))
    lines.append("")
    lines.append("columns: " + ", ".join(f"{label} = {suite}" for label, suite in zip(labels, suites)))
    lines.append("cells: failed tests in that suite; · = suite not run for that entry")
    return "\n".join(lines)


def score(rows: Sequence[Row]) -> dict[str, tuple[int, int]]:
    """kind -> (entries as the catalogue says, entries run)."""
    out: dict[str, tuple[int, int]] = {}
    for kind in (FAULT, VARIATION, HOSTILE):
        of_kind = [r for r in rows if r.entry.kind == kind]
        if of_kind:
            out[kind] = (sum(r.ok for r in of_kind), len(of_kind))
    return out


SCORE_LABELS = {FAULT: "faults detected", VARIATION: "variations clean", HOSTILE: "hostile behaviours bounded"}


def render_score(rows: Sequence[Row]) -> str:
    parts = [f"{SCORE_LABELS[kind]} {ok}/{total}" for kind, (ok, total) in score(rows).items()]
    return "score: " + ", ".join(parts)
