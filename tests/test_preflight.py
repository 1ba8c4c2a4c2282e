"""The pre-flight: an outage ends the run at once, with one line, its own exit code and a record.

Each case is a whole pytest run against a fake on 127.0.0.1 (or a port nothing listens on), as a
user would meet it. Time bounds are generous multiples of what a run takes on a loaded machine:
the point is "seconds, not the whole suite", which takes minutes against such a target.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from chatconform.plugin.preflight import EXIT_CODES
from chatconform.report import record
from tests.fakes import FakeServer, Reply, json_reply, reference_proxy
from tests.harness import REPO, run_suite

SELECTION = "suites/test_responses.py"
BOUND = 90  # seconds; measured 6-13 s for the whole suite's collection plus the pre-flight


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _html(req):
    page = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works!</body></html>"
    status = 200 if req.method == "GET" else 501
    return Reply(status=status, headers={"Content-Type": "text/html"}, body=page)


def _wrong_key(req):
    return json_reply({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                 "param": None, "code": "invalid_api_key"}}, status=401)


def _not_found(req):
    return json_reply({"error": {"message": f"Unknown path {req.path}", "type": "invalid_request_error",
                                 "param": None, "code": None}}, status=404)


def _unknown_model(req):
    if req.path.endswith("/models"):
        return json_reply({"object": "list", "data": [{"id": "other-model", "object": "model"}]})
    return json_reply({"error": {"message": "The model `fake-model` does not exist", "type": "invalid_request_error",
                                 "param": "model", "code": "model_not_found"}}, status=404)


def _reset(req):
    return Reply(headers={"Content-Type": "application/json"}, steps=[b'{"id": "chatcmpl-1", "obj', "reset"])


def _outage(run, cause: str, tmp_path):
    assert run.returncode == EXIT_CODES[cause], run.output
    assert len(run.output.splitlines()) < 40, run.output
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output, run.output
    line = next(ln for ln in run.output.splitlines() if "chatconform pre-flight:" in ln)
    assert cause.replace("_", " ") in line and "Try:" in line
    (written,) = tmp_path.glob("*/run.json")
    rec = record.load(written)  # valid against the schema
    assert rec["preflight"]["status"] == cause and rec["preflight"]["exit_code"] == EXIT_CODES[cause]
    assert rec["run"]["exit_status"] == EXIT_CODES[cause]
    assert rec["summary"]["headline"]["status"] == "NOT JUDGED"
    return line, rec


def test_closed_port_is_unreachable_within_seconds_for_the_whole_suite(tmp_path):
    started = time.monotonic()
    run = run_suite(base_url=_closed_port(), preflight=True, args=(f"--reports-dir={tmp_path}",))
    seconds = time.monotonic() - started
    line, _ = _outage(run, "unreachable", tmp_path)
    assert "refused" in line.lower()
    assert seconds < BOUND, seconds
    assert "chatconform report diff" in run.output  # what to do next, with the run's own paths


@pytest.mark.parametrize("handler, cause, words", [
    (_html, "not_an_api", "not JSON"),
    (_wrong_key, "key_rejected", "401"),
    (_not_found, "wrong_path", "404"),
    (_unknown_model, "unknown_model", "fake-model"),
    (_reset, "answer_broken", "broke off"),
], ids=["html", "wrong-key", "wrong-path", "unknown-model", "reset"])
def test_each_outage_has_its_line_and_code(tmp_path, handler, cause, words):
    fake = FakeServer(handler)
    with fake as url:
        run = run_suite(SELECTION, base_url=url, preflight=True, args=(f"--reports-dir={tmp_path}",))
    line, _ = _outage(run, cause, tmp_path)
    assert words in line
    assert len(fake.requests) <= 2  # at most GET /models and one completion


def test_a_missing_required_header_sends_nothing(tmp_path):
    fake = FakeServer(reference_proxy())
    with fake as url:
        run = run_suite(SELECTION, base_url=url, preflight=True,
                        args=(f"--reports-dir={tmp_path}", "--profile=gateway"))
    line, _ = _outage(run, "missing_header", tmp_path)
    assert "x-deployment-name" in line and "--header" in line
    assert fake.requests == []


def test_a_healthy_target_passes_and_its_completion_is_reused(tmp_path):
    # without the models capability the pre-flight sends the suite's minimal completion itself
    fake = FakeServer(reference_proxy())
    with fake as url:
        run = run_suite(SELECTION, base_url=url, preflight=True,
                        args=(f"--reports-dir={tmp_path}", "--capabilities=request_id,stop,n",
                              "-k", "schema or object"))
    assert run.returncode == 0, run.summary()
    minimal = [r for r in fake.requests if r.method == "POST" and (r.json() or {}).get("max_completion_tokens") == 16
               and len(r.json()) == 3]
    assert len(minimal) == 1, [r.json() for r in minimal]  # billed once, by the pre-flight
    (written,) = tmp_path.glob("*/run.json")
    assert json.loads(written.read_text())["preflight"]["status"] == "ok"


def test_no_preflight_skips_it(tmp_path):
    run = run_suite(SELECTION, base_url=_closed_port(), args=(f"--reports-dir={tmp_path}", "-k", "object"))
    assert run.returncode == 1  # the tests ran, and failed on the dead port
    (written,) = tmp_path.glob("*/run.json")
    assert json.loads(written.read_text())["preflight"] == {
        "status": "skipped", "message": "--no-preflight", "hint": "", "exit_code": None, "url": None,
        "http_status": None, "seconds": 0.0}


def test_verify_base_url_means_the_preflight(tmp_path):
    # pytest-base-url's own check would error every test; it is superseded, even with --no-preflight
    run = run_suite(SELECTION, base_url=_closed_port(), args=(f"--reports-dir={tmp_path}", "--verify-base-url"))
    assert run.returncode == EXIT_CODES["unreachable"], run.output


def test_diff_from_a_clean_run_to_an_outage_fails(tmp_path):
    clean_dir, down_dir = tmp_path / "clean", tmp_path / "down"
    clean = run_suite("suites/test_models.py", args=(f"--reports-dir={clean_dir}", "--run-name=clean"))
    assert clean.returncode == 0, clean.summary()
    down = run_suite("suites/test_models.py", base_url=_closed_port(), preflight=True,
                     args=(f"--reports-dir={down_dir}", "--run-name=down"))
    assert down.returncode == EXIT_CODES["unreachable"]
    proc = subprocess.run([sys.executable, "-m", "chatconform", "report", "diff", str(clean_dir / "clean"),
                           str(down_dir / "down")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "NOT JUDGED" in proc.stdout and "unreachable" in proc.stdout
    assert len(proc.stdout.splitlines()) < 15, proc.stdout  # the outage, not 117 "changes"
