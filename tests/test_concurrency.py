"""In-run concurrency (chatconform.plugin.concurrency): with ``--concurrency`` above 1 the declared
and fixture exchanges go out several at a time ahead of the tests that judge them, and the run
sends exactly the requests a serial run sends."""

import re
import subprocess
import sys
import threading
import time

from chatconform.reference.config import ServerConfig
from tests.fakes import FakeServer, reference_proxy
from tests.harness import API_KEY, REPO, run_suite

SUITES = ("suites/test_tools.py", "suites/test_structured_output.py", "suites/test_models.py",
          "suites/test_logprobs.py", "suites/test_seed.py")
DELAY = 0.2  # seconds each request is held: long enough that requests sent together overlap


class Overlap:
    """Answers like the handler it wraps, each request held DELAY seconds; counts how many are in at once."""

    def __init__(self, handler):
        self.handler = handler
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(DELAY)
            return self.handler(request)
        finally:
            with self.lock:
                self.now -= 1


def _shape(body: bytes) -> bytes:
    """A request body without what the reference server makes up at random (tool call ids and
    arguments, echoed back when a call is answered)."""
    body = re.sub(rb'"call_[0-9a-zA-Z]+"', b'"call_*"', body)
    return re.sub(rb'"arguments": "(?:[^"\\]|\\.)*"', b'"arguments": "*"', body)


def _run(concurrency):
    meter = Overlap(reference_proxy(server_config=ServerConfig(api_key=API_KEY, models=("fake-model",))))
    server = FakeServer(meter)
    with server as url:
        run = run_suite(*SUITES, base_url=url, args=(f"--concurrency={concurrency}",))
    assert run.returncode == 0, run.summary()
    return sorted((r.method, r.path, _shape(r.body)) for r in server.requests), meter.most


def test_a_concurrent_run_sends_what_a_serial_run_sends_several_at_a_time():
    serial, serial_most = _run(1)
    concurrent, most = _run(4)
    assert serial_most == 1
    assert 1 < most <= 4
    assert concurrent == serial  # the same requests, each once


def test_a_mark_naming_an_undeclared_exchange_is_a_usage_error(tmp_path):
    suite = tmp_path / "test_typo.py"
    suite.write_text("import pytest\n\n\n@pytest.mark.exchange('tools.requierd')\ndef test_x(shared):\n"
                     "    shared('tools.requierd')\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", str(suite), "-p", "no:cacheprovider", "-q",
                           f"--rootdir={tmp_path}", "--no-preflight"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "undeclared exchanges: tools.requierd" in proc.stdout + proc.stderr
