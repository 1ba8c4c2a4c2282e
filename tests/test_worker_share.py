"""`-n 2` never sends more than a serial run: shared exchanges are made by one worker and read by
the others (chatconform.plugin.worker_share)."""

import threading

from chatconform.plugin.worker_share import WorkerShare
from chatconform.reference.config import ServerConfig
from tests.fakes import FakeServer, reference_proxy
from tests.harness import API_KEY, run_suite

SUITES = ("suites/test_responses.py", "suites/test_streaming.py", "suites/test_errors.py", "suites/test_parameters.py")


def test_one_maker_however_many_workers_ask(tmp_path):
    made, values = [], []

    def make():
        made.append(1)
        return {"answer": 42}

    workers = [threading.Thread(target=lambda: values.append(WorkerShare(tmp_path).get("k", make)))
               for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert len(made) == 1 and values == [{"answer": 42}] * 4


def test_a_failed_make_is_not_shared(tmp_path):
    first = WorkerShare(tmp_path)
    try:
        first.get("k", lambda: (_ for _ in ()).throw(RuntimeError("no answer")))
    except RuntimeError:
        pass
    assert WorkerShare(tmp_path).get("k", lambda: "made again") == "made again"


def _requests(*args):
    server = FakeServer(reference_proxy(server_config=ServerConfig(api_key=API_KEY, models=("fake-model",))))
    with server as url:
        run = run_suite(*SUITES, base_url=url, args=args)
    assert run.returncode == 0, run.summary()
    return len(server.requests)


def test_two_workers_send_no_more_than_one():
    serial, parallel = _requests(), _requests("-n", "2")
    assert parallel <= serial, (parallel, serial)


# -- one budget per run ------------------------------------------------------------------------------
BUDGETED = ("suites/test_responses.py", "suites/test_parameters.py")


def _budgeted(*args):
    """A run with a request budget of 40 against a fake that answers everything; the pre-flight on."""
    server = FakeServer(reference_proxy(server_config=ServerConfig(api_key=API_KEY, models=("fake-model",))))
    with server as url:
        run = run_suite(*BUDGETED, base_url=url, preflight=True,
                        args=("--max-requests=40", "--max-billed=0", "--max-tokens=0", *args))
    return run, len(server.requests)


def test_the_request_budget_is_one_per_run_shared_by_the_workers_and_the_preflight():
    serial, serial_sent = _budgeted()
    parallel, parallel_sent = _budgeted("-n", "2")
    for run, sent in ((serial, serial_sent), (parallel, parallel_sent)):
        assert sent == 40, (sent, run.summary())  # exactly the limit: the pre-flight counted, nothing past it
        assert run.cost["requests"] == 40, run.cost
        assert "budget of 40 requests" in run.output, run.output[-2000:]
        assert not run.failed, run.summary()  # what was not sent is not judged, never failed


def test_the_billed_budget_is_one_per_run_under_xdist():
    server = FakeServer(reference_proxy(server_config=ServerConfig(api_key=API_KEY, models=("fake-model",))))
    with server as url:
        run = run_suite(*BUDGETED, base_url=url, preflight=True,
                        args=("--max-requests=0", "--max-billed=6", "--max-tokens=0", "-n", "2"))
    # the controller's pre-flight and both workers spent from one budget of 6, to the last one
    assert run.cost["billed"] == 6, (run.cost, run.summary())
    assert "budget of 6 billed completions" in run.output, run.output[-2000:]
    assert not run.failed, run.summary()
