"""What a run prints, and what it leaves behind: short, by requirement, honest, never overwritten."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from chatconform.plugin import runs
from chatconform.report import record
from chatconform.shell import has_control, safe_command
from tests.harness import REPO, run_suite


def _pytest(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# -- usage errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("option, words", [
    ("--profile=nosuch", "known profiles"),
    ("--capabilities=bogus", "known:"),
    ("--request-timeout=abc", "positive number"),
])
def test_bad_options_are_one_line_usage_errors(option, words):
    proc = _pytest("suites/test_models.py", option)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in lines[0], lines


def test_requirement_ids_select_tests():
    proc = _pytest("--collect-only", "-q", "-k", "stream.done-terminates")
    selected = [ln for ln in proc.stdout.splitlines() if "::" in ln]
    assert selected and all("stream" in ln for ln in selected), proc.stdout[-2000:]


def test_version():
    proc = subprocess.run([sys.executable, "-m", "chatconform", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("chatconform ")


def test_self_tests_print_no_target_header():
    proc = _pytest("tests/test_sse.py", "--collect-only", "-q")
    assert "chatconform 0.1" not in proc.stdout and "target" not in proc.stdout, proc.stdout


# -- a faulty server: by requirement, no tracebacks ------------------------------------------------------
def test_error_flat_prints_each_requirement_once_without_tracebacks():
    run = run_suite(args=("--reference-fault=error-flat",), timeout=600)
    out = run.output
    assert run.returncode == 1
    assert len(out.splitlines()) < 400, len(out.splitlines())
    assert "Traceback" not in out and "site-packages" not in out and "def " not in out
    listed = [ln for ln in out.splitlines() if ln.strip().startswith("✖ error.envelope ")]
    assert len(listed) == 1, listed
    count = sum(1 for t in run.tests for v in t.verdicts if v.requirement == "error.envelope" and v.outcome == "fail")
    assert f"fail ({count} tests)" in listed[0]
    assert "FAIL: " in out and "MUST requirements violated (errors" in out  # the headline names the area
    assert not has_control(out.replace("\n", ""))  # no raw control bytes, curl lines included


def test_tracebacks_come_back_when_asked():
    run = run_suite("suites/test_errors.py", args=("--reference-fault=error-flat", "--tb=short", "-k", "envelope"))
    assert "FAILURES" in run.output and "raise ConformanceFailure" in run.output or "Error" in run.output


def test_a_clean_run_summary_fits_a_screen():
    run = run_suite("suites/test_responses.py", "suites/test_streaming.py", "suites/test_parameters.py")
    assert run.returncode == 0, run.summary()
    section = run.output.split("= chatconform =", 1)[1].split("short test summary", 1)[0]
    assert len(section.splitlines()) <= 40, section
    assert "chatconform: PASS: " in section
    assert "per-parameter support" not in section  # nothing unusual in it: not printed


# -- the headline -----------------------------------------------------------------------------------------
def _req(rid, area, verdict, level="MUST"):
    return {"id": rid, "area": area, "level": level, "verdict": verdict}


def test_headline_names_must_failures_and_areas_whatever_the_share():
    reqs = [_req(f"r{i}", "responses", "pass") for i in range(98)]
    reqs += [_req("stream.done", "streaming", "fail"), _req("auth.any", "auth", "fail")]
    h = record.headline(reqs)
    assert h["status"] == "FAIL" and h["must_failed"] == 2
    assert h["failed_areas"] == {"streaming": 1, "auth": 1}
    assert "%" not in h["text"] and "streaming 1" in h["text"] and "auth 1" in h["text"]


def test_headline_counts_what_was_not_judged_and_marks_partial():
    reqs = [_req("a", "x", "pass"), _req("b", "x", "blocked"), _req("c", "x", "not_judged"),
            _req("d", "x", "unsupported"), _req("e", "x", "warning", "SHOULD")]
    h = record.headline(reqs)
    assert h["status"] == "INCOMPLETE" and h["must_unjudged"] == {"error": 0, "blocked": 1, "not_judged": 1}
    assert "1 of 3 applicable MUST met" in h["text"] and "1 SHOULD/MAY warning" in h["text"]
    assert record.headline([_req("a", "x", "pass")], partial=True)["status"] == "INCOMPLETE"
    assert record.headline([_req("a", "x", "pass")], partial=True)["text"].startswith("PARTIAL (interrupted)")
    assert record.headline([_req("a", "x", "pass")])["status"] == "PASS"
    down = {"status": "unreachable", "message": "refused", "exit_code": 10}
    assert record.headline([_req("a", "x", "not_run")], preflight=down)["status"] == "NOT JUDGED"


# -- run directories ----------------------------------------------------------------------------------------
def test_a_reused_run_name_is_refused_unless_replaced(tmp_path):
    (tmp_path / "nightly").mkdir()
    (tmp_path / "nightly" / "run.json").write_text(json.dumps({"run": {"started": "2025-06-01T00:00:00Z"}}))
    proc = _pytest("suites/test_models.py", f"--reports-dir={tmp_path}", "--run-name=nightly")
    assert proc.returncode == 4 and "--replace-run" in proc.stdout + proc.stderr
    replaced = run_suite("suites/test_models.py", args=(f"--reports-dir={tmp_path}", "--run-name=nightly",
                                                        "--replace-run"))
    assert replaced.returncode == 0
    assert record.load(tmp_path / "nightly")["run"]["name"] == "nightly"


def test_unnamed_runs_are_pruned_to_the_newest(tmp_path):
    for day in range(1, 26):
        d = tmp_path / record.default_run_name("host", datetime(2025, 6, day, tzinfo=timezone.utc))
        d.mkdir()
        (d / "run.json").write_text("{}")
    (tmp_path / "named").mkdir()
    (tmp_path / "named" / "run.json").write_text("{}")
    removed = runs.prune(tmp_path)
    assert len(removed) == 25 - runs.KEEP_UNNAMED
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "named" in left and "host-20250601T000000Z" not in left and "host-20250625T000000Z" in left


def test_sigterm_leaves_a_partial_record(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "suites/test_property_based.py",
                             f"--reports-dir={tmp_path}", "--run-name=cut", "--fuzz-examples=200"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    for line in proc.stdout:  # wait for collection (the progress line has no newline until its end)
        if line.startswith("collected") or time.monotonic() > deadline:
            break
    time.sleep(8)  # into the first property test: 200 examples per operation take minutes
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=240)
    rec = record.load(tmp_path / "cut")
    assert rec["run"]["partial"] is True and rec["run"]["interrupted"] == "SIGTERM"
    assert rec["summary"]["headline"]["text"].startswith("PARTIAL (interrupted)")
    # the test cut short is left out, not an error of the requirements it cites
    assert all(r["verdict"] != "error" for r in rec["requirements"]), [
        r["id"] for r in rec["requirements"] if r["verdict"] == "error"]


def test_a_swallowed_sigterm_still_ends_the_run(tmp_path):
    """Code inside a test may catch the KeyboardInterrupt a SIGTERM raises (hypothesis, cut mid-draw,
    can turn it into an internal error): the run still ends before the next test."""
    suite = tmp_path / "test_swallow.py"
    suite.write_text("import os, signal, time\n\n\ndef test_swallows():\n    try:\n"
                     "        os.kill(os.getpid(), signal.SIGTERM)\n        time.sleep(5)\n"
                     "    except KeyboardInterrupt:\n        pass\n\n\ndef test_after():\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", str(suite), "-p", "no:cacheprovider", "-v",
                           f"--rootdir={tmp_path}", f"--reports-dir={tmp_path}", "--run-name=cut", "--no-preflight"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "test_after PASSED" not in proc.stdout
    rec = record.load(tmp_path / "cut")
    assert rec["run"]["partial"] is True and rec["run"]["interrupted"] == "SIGTERM"


# -- shell lines ---------------------------------------------------------------------------------------------
def test_curl_lines_carry_no_raw_control_bytes():
    body = '{"content": "\x1b[31mred\x07 it\'s\x7f"}'
    line = f"curl -sS -X POST 'http://h/v1' -H \"Authorization: Bearer $OPENAI_API_KEY\" --data-raw {shlex.quote(body)}"
    safe = safe_command(line)
    assert not has_control(safe) and '"Authorization: Bearer $OPENAI_API_KEY"' in safe
    echoed = subprocess.run(["bash", "-c", "printf %s " + safe.split("--data-raw ", 1)[1]], capture_output=True)
    assert echoed.stdout == body.encode()
    assert safe_command("curl -sS 'http://h'") == "curl -sS 'http://h'"
