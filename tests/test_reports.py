"""Reports from real runs: run records that validate, Allure results that map to the catalogue,
a comparison that shows the runs side by side (also in headless Chromium), a diff that fails on
a regression, and no trace of the API key anywhere."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chatconform.cli import main
from chatconform.report import compare, record
from chatconform.plugin.reporting import should_record
from chatconform.requirements import catalogue
from chatconform.verdict import TestResult, Verdict
from tests.fakes import FakeServer, reference_proxy
from tests.harness import API_KEY, run_suite

SUITES = ("suites/test_responses.py", "suites/test_streaming.py")
REGRESSED = "stream.done-terminates"  # MUST: the deviation drops [DONE]
WARNED = "response.message-refusal-key"  # SHOULD: the deviation drops message.refusal
UNSUPPORTED = "response.n-choices"  # the second run declares no `n` capability


def _drop_done(events, request):
    return [e for e in events if e != "[DONE]"]


def _drop_refusal(payload, request):
    for choice in payload.get("choices", []) if isinstance(payload, dict) else []:
        if isinstance(choice.get("message"), dict):
            choice["message"].pop("refusal", None)
    return payload


def _make_reports(out: Path) -> None:
    good = run_suite(*SUITES, args=("--run-name=reference", f"--reports-dir={out}"))
    assert good.returncode == 0, good.summary()
    fake = FakeServer(reference_proxy(chunks=_drop_done, body=_drop_refusal))
    with fake as url:
        bad = run_suite(*SUITES, base_url=url, args=(
            "--run-name=vendor", f"--reports-dir={out}", f"--alluredir={out / 'allure-results'}",
            "--capabilities=stream_usage,stop,request_id",
        ))
    assert bad.returncode == 1, bad.summary()
    assert any(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in fake.requests)  # the key was used


@pytest.fixture(scope="module")
def reports(tmp_path_factory, request):
    """Two runs into one reports dir: the embedded server, and a deviating fake with Allure on.

    Made once per session even under pytest-xdist: the first worker to get here builds them, the
    others wait for it (an exclusive-create lock file, so no extra dependency).
    """
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker is None:
        out = tmp_path_factory.mktemp("reports")
        _make_reports(out)
        return out
    shared = tmp_path_factory.getbasetemp().parent  # this session's, shared by its workers
    out, done, lock = shared / "reports", shared / "reports.done", shared / "reports.lock"
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        deadline = time.monotonic() + 600
        while not done.exists():
            assert time.monotonic() < deadline, "another worker did not finish making the reports"
            time.sleep(0.2)
        assert done.read_text() == "ok", "another worker failed to make the reports (see its failure)"
        return out
    try:
        out.mkdir()
        _make_reports(out)
    except BaseException:
        done.write_text("failed")
        raise
    done.write_text("ok")
    return out


def _verdicts(run: dict) -> dict[str, str]:
    return {r["id"]: r["verdict"] for r in run["requirements"]}


# -- the run record ------------------------------------------------------------------------------
def test_run_records_validate_and_judge_every_requirement(reports):
    good, bad = record.load(reports / "reference"), record.load(reports / "vendor" / "run.json")
    assert record.schema()["$id"].endswith("chatconform.run.v1")
    ids = [r.id for r in catalogue()]
    for run in (good, bad):
        assert record.schema_errors(run) == []
        assert [r["id"] for r in run["requirements"]] == ids
        assert run["versions"]["chatconform"] and run["versions"]["spec"]
        assert run["cost"]["requests"] > 0
    assert good["target"] == good["target"] | {"name": "reference", "embedded": True, "base_url": None}
    assert bad["target"]["name"] == "127.0.0.1" and bad["target"]["model"] == "fake-model"
    # a clean server sends no error inside a stream: that one requirement has nothing to judge
    unjudged = {rid for rid, v in _verdicts(good).items() if v not in ("pass", "not_run")}
    assert unjudged <= {"stream.in-band-error-recognisable"}, unjudged
    assert _verdicts(good)["stream.in-band-error-recognisable"] == "not_judged"
    v = _verdicts(bad)
    assert (v[REGRESSED], v[WARNED], v[UNSUPPORTED]) == ("fail", "warning", "unsupported")
    assert bad["summary"]["must"]["failed"] == 1 and bad["summary"]["must"]["score"] < 1
    failed = next(r for r in bad["requirements"] if r["id"] == REGRESSED)
    evidence = failed["evidence"][0]
    assert evidence["test"].startswith("suites/test_streaming.py::") and evidence["expected"] and evidence["received"]
    wire = {a["name"]: a["content"] for a in evidence["attachments"]}
    assert "text/event-stream" in wire["exchange"] and "Bearer ***" in wire["exchange"]
    assert wire["curl"].startswith("curl -N ") and "$OPENAI_API_KEY" in wire["curl"]


def test_junit_xml_beside_the_record(reports):
    root = ET.parse(reports / "vendor" / "junit.xml").getroot()
    suite = root.find("testsuite")
    run = record.load(reports / "vendor")
    assert int(suite.get("tests")) == len(run["tests"]) and int(suite.get("failures")) == 2
    cited = {p.get("value") for p in suite.iter("property") if p.get("name") == "requirement"}
    assert REGRESSED in cited


def test_only_sessions_that_judged_requirements_are_recorded():
    judged = [TestResult("suites/t.py::a", "passed", ("stream.done-terminates",))]
    selftest = [TestResult("tests/t.py::a", "passed", ())]
    assert should_record(judged, named=False) and should_record([], named=True)
    assert not should_record(selftest, named=False) and not should_record([], named=False)


def _judged(tests):
    run = {"name": "unit", "started": "2025-01-01T00:00:00Z", "finished": "2025-01-01T00:00:01Z",
           "duration_seconds": 1.0, "exit_status": 1, "strict": True}
    target = {"name": "unit", "embedded": False, "model": "m", "profile": "generic"}
    versions = {"chatconform": "0", "spec": "0", "catalogue": 1}
    data = record.SessionData(tests=tests, cost={"requests": 1})
    built = record.build_record(data, catalogue(), run=run, target=target, versions=versions)
    assert record.schema_errors(built) == []
    return {r["id"]: r for r in built["requirements"]}


def test_verdict_rules():
    """Per requirement, over its tests: one failure fails it; an error is not made up for by a pass
    elsewhere; a pass beats the tests that never reached it (blocked) and "nothing to judge here";
    blocked everywhere stays blocked; no citing test is "not run"."""
    done, after, role, usage, ident, created, cut = (
        "stream.done-terminates", "stream.nothing-after-done", "stream.role-first", "stream.usage-consistent",
        "stream.single-id", "stream.single-created", "stream.finish-reason-last")

    def test(name, outcome, *verdicts):
        return TestResult(f"t::{name}", outcome, tuple(v.requirement for v in verdicts), tuple(verdicts))

    def v(rid, outcome, **kw):
        return Verdict(rid, catalogue()[rid].level.value, outcome, **kw)

    tests = [
        test("both", "failed", v(done, "fail", expected="[DONE]", received="nothing",
                                 reason="expected [DONE]; received nothing"),
             v(after, "blocked", reason=f"not reached: the test stopped at {done}")),
        test("done-ok", "passed", v(done, "pass")),
        test("role", "failed", v(role, "warning", expected="role first", received="none")),
        test("timeout", "failed", v(usage, "error", reason="no usable response: timeout")),
        test("id-ok", "passed", v(ident, "pass")),
        test("id-blocked", "failed", v(ident, "blocked", reason="not reached")),
        test("cut", "skipped", v(created, "not_judged", reason="the reply was cut by the cap")),
        test("cut-elsewhere", "passed", v(cut, "pass")),
        test("cut-here", "skipped", v(cut, "not_judged", reason="cut")),
    ]
    judged = _judged(tests)
    assert judged[done]["verdict"] == "fail"  # one failing test is enough, whatever the others say
    assert judged[done]["reason"] == "expected [DONE]; received nothing"
    assert judged[after]["verdict"] == "blocked" and "stopped at " + done in judged[after]["reason"]
    assert judged[role]["verdict"] == "warning"
    assert judged[usage]["verdict"] == "error"
    assert judged[ident]["verdict"] == "pass"  # judged right where it was reached
    assert judged[after]["verdict"] == "blocked"  # reached nowhere
    assert judged[created]["verdict"] == "not_judged"
    assert judged[cut]["verdict"] == "pass"  # judged and right where there was something to judge
    assert judged["stream.content-type"]["verdict"] == "not_run"
    assert judged["stream.content-type"]["reason"] == "no test in this run cites it"


def test_blocked_and_not_judged_stay_in_the_must_denominator():
    rows = [{"level": "MUST", "verdict": x} for x in ("pass", "blocked", "not_judged", "unsupported", "not_run")]
    must = record.must_summary(rows)
    assert (must["met"], must["judged"], must["blocked"], must["not_judged"]) == (1, 3, 1, 1)
    assert must["score"] == round(1 / 3, 4)


def test_run_names():
    assert record.check_run_name("openai-gpt-4o.nightly_1") == "openai-gpt-4o.nightly_1"
    for bad in ("", "../x", "a/b", ".hidden", "x" * 129):
        with pytest.raises(ValueError):
            record.check_run_name(bad)
    from datetime import datetime, timezone
    when = datetime(2025, 6, 1, 3, 17, 5, tzinfo=timezone.utc)
    assert record.default_run_name("api.vendor.example", when) == "api.vendor.example-20250601T031705Z"


# -- compare -------------------------------------------------------------------------------------
def test_compare_renders_both_columns_and_the_differing_rows(reports, tmp_path, capsys):
    html_path, md_path = tmp_path / "compare.html", tmp_path / "compare.md"
    assert main(["report", "compare", str(reports / "reference"), str(reports / "vendor"),
                 "--html", str(html_path), "--markdown", str(md_path)]) == 0
    page = html_path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!github\.com/openai/)""", page)  # nothing fetched
    assert "<script src" not in page and "<link" not in page
    for name in ("reference", "vendor"):
        assert f'<span class="run-name" title="{name}">{name}</span>' in page
    row = re.search(rf'<tr class="req" id="r-{re.escape(REGRESSED)}"[^>]*>', page).group(0)
    assert 'data-differs="1"' in row and 'data-verdicts="pass fail"' in row
    assert f'id="e1-{REGRESSED}"' in page  # the evidence drawer of the failing cell
    markdown = md_path.read_text(encoding="utf-8")
    differing = markdown.split("differ between runs", 1)[1].split("<details>", 1)[0]
    assert "1. reference" in markdown and "2. vendor" in markdown
    for rid in (REGRESSED, WARNED, UNSUPPORTED):
        assert f"`{rid}`" in differing
    assert len(markdown) < compare.MARKDOWN_LIMIT


def test_compare_accepts_a_directory_of_runs(reports, capsys):
    assert main(["report", "compare", str(reports)]) == 0
    assert "2 runs compared" in capsys.readouterr().out


# -- diff ----------------------------------------------------------------------------------------
def test_diff_fails_on_the_regression(reports, capsys):
    assert main(["report", "diff", str(reports / "reference"), str(reports / "vendor")]) == 1
    out = capsys.readouterr().out
    regressions = out.split("REGRESSIONS (1)", 1)[1].split("\n\n", 1)[0]
    assert f"{REGRESSED} [MUST, streaming]: pass -> fail" in regressions
    assert UNSUPPORTED in out.split("NEWLY UNSUPPORTED", 1)[1] and WARNED in out.split("NEW WARNINGS", 1)[1]


def test_diff_passes_without_regression(reports, capsys, tmp_path):
    assert main(["report", "diff", str(reports / "vendor"), str(reports / "reference"),
                 "--markdown", str(tmp_path / "diff.md")]) == 0
    assert f"{REGRESSED} [MUST, streaming]: fail -> pass" in capsys.readouterr().out.split("FIXES", 1)[1]
    assert "no regression" in (tmp_path / "diff.md").read_text(encoding="utf-8")
    assert main(["report", "diff", str(reports / "vendor"), str(reports / "vendor")]) == 0


def test_unusable_input_exits_2(reports, tmp_path, capsys):
    not_a_record = tmp_path / "other.json"
    not_a_record.write_text('{"hello": 1}')
    broken = json.loads((reports / "vendor" / "run.json").read_text())
    broken["requirements"][0]["verdict"] = "sort of"
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps(broken))
    for bad in (tmp_path / "missing", not_a_record, invalid):
        assert main(["report", "diff", str(reports / "reference"), str(bad)]) == 2
        assert main(["report", "compare", str(bad)]) == 2
    assert "verdict" in capsys.readouterr().err


# -- Allure --------------------------------------------------------------------------------------
def _allure_results(directory: Path) -> dict[str, dict]:
    results = [json.loads(p.read_text()) for p in directory.glob("*-result.json")]
    return {r["fullName"].rsplit("#", 1)[1]: r for r in results}


def test_allure_results_map_to_the_catalogue(reports):
    alluredir = reports / "allure-results"
    results = _allure_results(alluredir)
    failed = results["test_stream_ends_with_done"]
    labels = {(label["name"], label["value"]) for label in failed["labels"]}
    assert {("epic", "streaming"), ("feature", "core"), ("story", REGRESSED), ("severity", "critical")} <= labels
    params = {p["name"]: p["value"].strip("'") for p in failed["parameters"]}
    assert params == params | {"target": "127.0.0.1", "model": "fake-model", "profile": "generic"}
    assert any(link["name"] == f"requirement {REGRESSED}" for link in failed["links"])
    names = [a["name"] for a in failed["attachments"]]
    assert any(n.endswith("response (raw SSE transcript)") for n in names) and any(n.endswith(": curl") for n in names)
    sse = next(a for a in failed["attachments"] if a["name"].endswith("(raw SSE transcript)"))
    assert "data: " in (alluredir / sse["source"]).read_text()

    categories = json.loads((alluredir / "categories.json").read_text())
    by_name = {c["name"]: c for c in categories}

    def category(result):
        message = (result.get("statusDetails") or {}).get("message", "")
        for c in categories:
            if result["status"] in c["matchedStatuses"] and re.fullmatch(c.get("messageRegex", ".*"), message, re.S):
                return c["name"]
        return None

    assert category(failed) == "MUST violations"
    assert category(results["test_message_carries_refusal_key"]) == "SHOULD / MAY warnings"
    assert category(results["test_n_gives_n_choices"]) == "Unsupported capabilities"
    assert "Harness problems (timeouts, connection errors)" in by_name

    env = dict(line.split("=", 1) for line in (alluredir / "environment.properties").read_text().splitlines())
    assert env["target"] == "127.0.0.1" and env["model"] == "fake-model" and env["profile"] == "generic"
    assert env["chatconform"] and env["spec"] and env["run_name"] == "vendor"
    assert json.loads((alluredir / "executor.json").read_text())["buildName"] == "vendor"


def test_the_canary_key_appears_nowhere_under_reports(reports):
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert len(files) > 20  # both records, JUnit, the Allure results and attachments
    leaks = [str(p) for p in files if API_KEY.encode() in p.read_bytes()]
    assert leaks == []


# -- headless Chromium ---------------------------------------------------------------------------
class _Matrix(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.body: dict[str, str | None] = {}
        self.columns = 0
        self.rows: list[dict[str, str | None]] = []
        self.cells: list[int] = []
        self.chart: dict[str, str | None] = {}
        self.bars: list[dict[str, str | None]] = []
        self.headlines: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "svg" and "chart" in classes:
            self.chart = a
        elif tag == "rect" and "bar" in classes:
            self.bars.append(a)
        elif tag == "div" and "headline" in classes:
            self.headlines.append(a.get("data-status"))
        elif tag == "body":
            self.body = a
        elif tag == "th" and "run" in classes:
            self.columns += 1
        elif tag == "tr" and "req" in classes:
            self.rows.append(a)
            self.cells.append(0)
        elif tag == "td" and "v" in classes and self.cells:
            self.cells[-1] += 1


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed (Debian: apt-get install chromium)")
def test_comparison_renders_in_headless_chromium(reports, tmp_path):
    page = tmp_path / "compare.html"
    assert main(["report", "compare", str(reports / "reference"), str(reports / "vendor"), "--html", str(page)]) == 0
    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = _Matrix()
    dom.feed(proc.stdout)
    assert dom.body.get("data-ready") == "1", "the page's script did not finish"
    assert dom.columns == 2
    assert len(dom.rows) == len(catalogue())
    assert set(dom.cells) == {2}
    shown = [r for r in dom.rows if "hidden" not in r]
    assert shown and all(r["data-ran"] == "1" for r in shown)  # the script hid the requirements no run judged
    assert any(r["id"] == f"r-{REGRESSED}" and r["data-differs"] == "1" for r in shown)
    # the chart: per-area MUST results, one bar per run, the regressed requirement's failure in red
    assert dom.chart.get("data-runs") == "2" and int(dom.chart["data-areas"]) >= 2
    assert {b["data-run"] for b in dom.bars} == {"0", "1"}
    failing = [b for b in dom.bars if b["data-kind"] == "failed"]
    assert failing and {b["data-run"] for b in failing} == {"1"}
    assert len(dom.headlines) == 2 and dom.headlines[1] == "FAIL", dom.headlines
