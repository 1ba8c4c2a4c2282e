"""Verdicts are earned (issue 9): the plugin loads through its entry point, an Unsupported raised in
a fixture is unsupported, a test stopped by an earlier failure leaves its own requirement blocked
(in the summary, the run record and Allure), a check with nothing to judge says so, and nothing
passes that no check judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from chatconform.report import record
from tests.fakes import FakeServer, Reply, reference_proxy
from tests.harness import API_KEY, run_suite

OWN_TEST = '''
import pytest
from chatconform.checks import responses
from chatconform.failures import Unsupported


@pytest.fixture
def needs_store():
    raise Unsupported("store", "this fixture found the store missing")


@pytest.mark.requirement("response.object-chat-completion")
def test_object(client, target):
    body = {"model": target.model, "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 4}
    responses.object_is_chat_completion(client.chat(body))


@pytest.mark.requirement("stored.retrieve-same")
def test_unsupported_in_a_fixture(needs_store):
    raise AssertionError("never reached")


@pytest.mark.requirement("response.id-present")
def test_that_judges_nothing(target):
    pass
'''


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCONFORM_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def test_the_plugin_loads_through_its_entry_point_with_no_conftest(tmp_path):
    """No conftest.py anywhere: the options are known before pytest reads the command line, so a
    model id that is an existing path (/tmp) is the option's value, not a test path."""
    (tmp_path / "test_own.py").write_text(textwrap.dedent(OWN_TEST))
    results = tmp_path / "results.json"
    server = FakeServer(reference_proxy())
    with server as url:
        proc = _pytest(tmp_path, "test_own.py", f"--base-url={url}", f"--api-key={API_KEY}", "--model", "/tmp",
                       f"--results-json={results}", f"--reports-dir={tmp_path / 'reports'}")
    assert not list(tmp_path.rglob("conftest.py"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert any(json.loads(r.body).get("model") == "/tmp" for r in server.requests if r.body)
    tests = {t["nodeid"].rsplit("::", 1)[-1]: t for t in json.loads(results.read_text())["tests"]}
    verdict = {name: [v["outcome"] for v in t["verdicts"]] for name, t in tests.items()}
    assert verdict == {"test_object": ["pass"], "test_unsupported_in_a_fixture": ["unsupported"],
                       "test_that_judges_nothing": ["not_judged"]}, verdict
    assert tests["test_unsupported_in_a_fixture"]["outcome"] == "skipped"  # not an ERROR
    nothing = tests["test_that_judges_nothing"]["verdicts"][0]
    assert "without any check" in nothing["reason"]


def test_an_earlier_failure_leaves_the_later_requirement_blocked(tmp_path):
    """One fault in the error body: the requirement of each refusal case is blocked, not "not run",
    and stays in the MUST denominator; the summary, the run record and Allure all say so."""
    allure_dir = tmp_path / "allure"
    run = run_suite("suites/test_parameters.py", args=(
        "--reference-fault=error-flat", "-k", "refused_with_400 and temperature", "--run-name=blocked",
        f"--reports-dir={tmp_path}", f"--alluredir={allure_dir}"))
    assert run.returncode == 1, run.summary()
    assert run.verdict_of("error.envelope") == "fail"
    assert run.verdict_of("request.temperature-range") == "blocked", run.summary()
    shown = [ln for ln in run.output.splitlines() if "request.temperature-range" in ln and "⊘" in ln]
    assert shown, run.output  # the summary marks it blocked
    saved = record.load(tmp_path / "blocked")
    entry = next(r for r in saved["requirements"] if r["id"] == "request.temperature-range")
    assert entry["verdict"] == "blocked" and "stopped at error.envelope" in entry["reason"]
    assert saved["summary"]["must"]["blocked"] >= 1
    assert saved["summary"]["must"]["judged"] > saved["summary"]["must"]["met"]
    results = [json.loads(p.read_text()) for p in allure_dir.glob("*-result.json")]
    tags = {label["value"] for r in results for label in r.get("labels", []) if label["name"] == "tag"}
    assert "blocked: request.temperature-range" in tags, tags


def _html_page(req) -> Reply:
    return Reply(status=200, headers={"Content-Type": "text/html"}, body=b"<html><body>It works!</body></html>")


def test_a_static_html_server_earns_no_pass():
    """auth.bearer-accepted once passed against any page that was not a 401; and no requirement of
    a run against something that is not an API may come out a pass."""
    run = run_suite("suites/test_auth.py", "suites/test_responses.py", against=_html_page, args=("--no-preflight",))
    assert run.verdict_of("auth.bearer-accepted") == "not_judged", run.summary()
    passed = {v.requirement for v in run.verdicts if v.outcome == "pass"}
    assert not passed, passed
