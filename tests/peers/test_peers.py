"""The suite against real servers: each peer's verdicts must match peers/evidence/<peer>.yaml.

Opt-in (CHATCONFORM_PEERS=1, as `tox -e peers` sets it): installing the peers takes minutes
(llama-cpp-python compiles llama.cpp). A peer that cannot be installed or does not start is
skipped with the reason; CHATCONFORM_PEERS=require makes that a failure instead (for CI).
Run serially: llama-cpp-python cuts a running stream when another request arrives.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from peers import PEERS, PeerUnavailable
from peers.expectations import check, load, verdicts_from_run_record
from tests.harness import API_KEY, SuiteRun, run_suite

pytestmark = pytest.mark.peers

OPT_IN = os.environ.get("CHATCONFORM_PEERS", "")
SUITE_TIMEOUT = 1500  # seconds for one whole suite run against one peer
# where each peer's run record is kept, and the matrix generated from them (reports/ is output)
REPORTS = Path(os.environ.get("CHATCONFORM_PEERS_REPORTS", Path(__file__).resolve().parents[2] / "reports" / "peers"))
# extra pytest arguments for the suite runs, e.g. "-k stream" while working on one area (the
# harness runs a loopback target without a budget, so every requirement gets judged)
SUITE_ARGS = tuple(os.environ.get("CHATCONFORM_PEERS_SUITE_ARGS", "").split())

_runs: dict[str, tuple[SuiteRun, dict[str, str], float]] = {}


def _unavailable(reason: str):
    if OPT_IN == "require":
        pytest.fail(reason)
    pytest.skip(reason)


def suite_against(name: str) -> tuple[SuiteRun, dict[str, str], float]:
    """Install (cached), start, run the whole suite once per session, stop. (run, verdicts, seconds)"""
    if not OPT_IN or OPT_IN == "0":
        pytest.skip("peer self-tests are opt-in: CHATCONFORM_PEERS=1 (tox -e peers) installs and builds "
                    "real servers, which takes minutes")
    if name not in _runs:
        peer = PEERS[name]
        expectations = load(name)
        try:
            peer.install()
        except PeerUnavailable as error:
            _unavailable(f"{name} could not be installed: {error}")
        reports = REPORTS
        reports.mkdir(parents=True, exist_ok=True)
        if True:  # the records stay: the compatibility matrix is generated from them
            try:
                with peer.running(api_key=API_KEY, model=expectations.get("model")) as server:
                    started = time.monotonic()
                    shutil.rmtree(reports / name, ignore_errors=True)  # a run name is never overwritten
                    run = run_suite("suites", base_url=server.base_url, model=server.model, timeout=SUITE_TIMEOUT,
                                    args=(f"--reports-dir={reports}", f"--run-name={name}", *server.client_args,
                                          *SUITE_ARGS))
                    seconds = time.monotonic() - started
            except PeerUnavailable as error:
                _unavailable(f"{name} did not start: {error}")
            record = reports / name / "run.json"
            assert record.exists(), f"the run against {name} wrote no run record:\n{run.summary()}"
            _runs[name] = (run, verdicts_from_run_record(record), seconds)
    return _runs[name]


def _rows(name: str) -> list[str]:
    return sorted((load(name).get("requirements") or {}))


@pytest.mark.parametrize("name", sorted(PEERS))
def test_the_run_ends_with_verdicts(name):
    """Never a hang, a crash or a usage error: exit 0 (all passed) or 1 (some failed)."""
    run, _, seconds = suite_against(name)
    assert run.returncode in (0, 1), run.summary()
    assert run.tests, run.summary()
    print(f"{name}: suite took {seconds:.0f} s, {len(run.tests)} tests, cost {run.cost}")


@pytest.mark.parametrize("name", sorted(PEERS))
def test_no_verdict_missing_from_the_expectations(name):
    """Every fail, warning or error the suite gives is a row of peers/evidence/<name>.yaml."""
    _, observed, _ = suite_against(name)
    unlisted = [c.message for c in check(load(name), observed) if c.requirement not in _rows(name)]
    assert not unlisted, "\n".join(unlisted)


@pytest.mark.parametrize("name,requirement", [(n, r) for n in sorted(PEERS) for r in _rows(n)])
def test_expectation(name, requirement):
    """One row: a real deviation must still be seen; a fixed false verdict must stay gone; a false
    verdict the suite still gives (false-verdict-pending-fix) shows as xfail with its reason."""
    _, observed, _ = suite_against(name)
    (result,) = [c for c in check(load(name), observed) if c.requirement == requirement]
    if result.pending:
        pytest.xfail(result.message)
    assert result.ok, result.message


@pytest.mark.parametrize("name", sorted(PEERS))
def test_every_real_deviation_has_its_probe(name):
    """A fail row without the raw exchange that shows the server really does it is not evidence."""
    rows = load(name).get("requirements") or {}
    missing = [rid for rid, row in rows.items() if row.get("judgement") == "real deviation"
               and not (row.get("probe") or {}).get("curl")]
    assert not missing, f"real deviations without a probe in peers/evidence/{name}.yaml: {missing}"


@pytest.mark.parametrize("name", sorted(PEERS))
def test_the_peer_is_stopped_afterwards(name):
    """The context manager kills the server's whole process group: nothing is left listening."""
    if not OPT_IN or OPT_IN == "0":
        pytest.skip("peer self-tests are opt-in: CHATCONFORM_PEERS=1")
    peer = PEERS[name]
    try:
        peer.install()
        with peer.running(api_key=API_KEY) as server:
            pid = server.pid
    except PeerUnavailable as error:
        _unavailable(str(error))
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)


def test_the_compatibility_matrix_is_generated_from_the_runs():
    """Never hand-written: `chatconform report compare` over the peers' run records gives the
    Markdown matrix and the compare page (reports/peers/compatibility.md, compare.html)."""
    from chatconform.cli import main

    records = [suite_against(name) and REPORTS / name for name in sorted(PEERS)]
    markdown, html = REPORTS / "compatibility.md", REPORTS / "compare.html"
    assert main(["report", "compare", *map(str, records), "--markdown", str(markdown), "--html", str(html)]) == 0
    text = markdown.read_text(encoding="utf-8")
    for name in sorted(PEERS):
        assert name in text, f"{name} is not a column of the matrix"
    assert html.stat().st_size > 1000
