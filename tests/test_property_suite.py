"""The property tests have teeth, and a seed makes them reproducible.

Each broken server is the reference server with one fault; the property tests must fail naming
the requirement the fault breaks. Two faults share a run where they hit different tests.
"""

import json
from collections import Counter

from tests.fakes import FakeServer, Reply, Request, json_reply, reference_proxy
from tests.harness import API_KEY, run_suite

PROPERTY = "suites/test_property_based.py"
STATEFUL = "suites/test_stateful.py"
ARGS = ("--fuzz-examples=10", "--fuzz-seed=1")


def _rewriting(handler, rewrite):
    """Hand the request to ``handler`` with its JSON body passed through ``rewrite`` first."""

    def handle(req: Request) -> Reply:
        body = req.json()
        if isinstance(body, dict):
            changed = rewrite(dict(body))
            if changed != body:
                req = Request(req.method, req.path, req.headers, json.dumps(changed).encode())
        return handler(req)

    return handle


def _ignore_out_of_range_temperature(body):
    """A server that clamps nothing and rejects nothing: an invalid temperature is simply dropped."""
    t = body.get("temperature")
    if isinstance(t, (int, float)) and not isinstance(t, bool) and not 0 <= t <= 2:
        del body["temperature"]
    return body


def _drop_done(events, req):
    return [e for e in events if e != "[DONE]"]


def _crash_on_empty_messages(handler):
    def handle(req: Request) -> Reply:
        body = req.json()
        if isinstance(body, dict) and body.get("messages") == []:
            return json_reply({"error": {"message": "list index out of range", "type": "api_error",
                                         "param": None, "code": None}}, status=500)
        return handler(req)

    return handle


def _retrieval_differs(payload, req):
    if req.method == "GET" and not req.path.split("?")[0].endswith("/messages") and isinstance(payload, dict):
        for choice in payload.get("choices") or []:
            if isinstance(choice.get("message"), dict):
                choice["message"]["content"] = "not what was created"
    return payload


def test_accepted_garbage_and_a_stream_without_done_fail_their_requirements():
    handler = _rewriting(reference_proxy(chunks=_drop_done), _ignore_out_of_range_temperature)
    run = run_suite(PROPERTY, against=handler, args=(*ARGS, "-k", "constraint or streamed"))
    assert run.returncode == 1, run.summary()
    assert {"request.temperature-range", "stream.done-terminates"} <= run.failed_requirements(), run.summary()
    assert API_KEY not in run.output, "the API key leaked into the output"


def test_a_server_error_and_a_changed_retrieval_fail_their_requirements():
    handler = _crash_on_empty_messages(reference_proxy(body=_retrieval_differs))
    run = run_suite(PROPERTY, STATEFUL, against=handler, args=(*ARGS, "-k", "constraint or stored"))
    assert run.returncode == 1, run.summary()
    assert {"error.client-error-not-5xx", "stored.retrieve-same"} <= run.failed_requirements(), run.summary()
    assert API_KEY not in run.output, "the API key leaked into the output"


def test_the_same_seed_sends_the_same_requests_and_a_faithful_server_passes():
    sent = []
    for _ in range(2):
        server = FakeServer(reference_proxy())
        with server as url:
            run = run_suite(PROPERTY, base_url=url, args=ARGS)
        assert run.returncode == 0 and not run.failed, run.summary()
        sent.append([(r.method, r.path, r.body) for r in server.requests])
    assert len(sent[0]) > 20, "too few requests to say anything about reproducibility"
    # the boundary cases go out several at a time, so their order on the wire may differ: the same
    # requests, as many times each
    assert Counter(sent[0]) == Counter(sent[1])


def test_one_unanswered_generated_request_does_not_error_the_whole_property_test():
    """Issue 11, item 10: a server that leaves malformed JSON hanging once used to mark all fifteen
    requirements of the umbrella negative test "error"; the case is noted, the others are judged."""
    import time

    inner = reference_proxy()
    hung = []

    def hang_on_malformed_json(req):
        try:
            json.loads(req.body or b"null")
        except ValueError:
            if not hung:
                hung.append(req)
                time.sleep(3)  # past the client's whole-exchange timeout (2 x --request-timeout 1)
        return inner(req)

    run = run_suite("suites/test_property_based.py", against=hang_on_malformed_json,
                    args=("--fuzz-examples=5", "--request-timeout=1", "-k", "invalid"))
    assert hung, "no malformed-JSON case was generated: the test proves nothing"
    assert run.returncode == 0, run.summary()
    assert not run.requirements_with("error"), run.summary()
    assert "no usable response" in " ".join(run.notes().values()), run.notes()


def test_each_operation_of_a_property_test_keeps_its_own_record():
    """Issue 11, item 10: schemathesis gives the operations of one property test one node ID; the
    run record and --results-json used to merge them into one entry."""
    run = run_suite("suites/test_property_based.py", args=("--fuzz-examples=2", "-k", "invalid"))
    assert run.returncode == 0, run.summary()
    ids = [t.nodeid for t in run.tests]
    assert len(ids) == len(set(ids)) >= 2, ids
    assert all(i.endswith("]") for i in ids), ids  # ...[POST /chat/completions], [GET /chat/completions], ...


def test_collection_builds_nothing_and_imports_neither_schemathesis_nor_hypothesis():
    """Issue 12: the property tests are parametrized by operation from the spec alone; their cases
    are generated when they run. (schemathesis and hypothesis register pytest plugins of their
    own, which import them whatever chatconform does: they are left out here.)"""
    import subprocess
    import sys

    from tests.harness import REPO

    code = (
        "import sys, pytest\n"
        "class Check:\n"
        "    def pytest_collection_finish(self, session):\n"
        "        print('LOADED', sorted(m for m in ('schemathesis', 'hypothesis') if m in sys.modules))\n"
        "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:schemathesis', '-p', 'no:hypothesispytest',\n"
        "                      '-p', 'no:cacheprovider', 'suites/test_property_based.py', 'suites/test_stateful.py'],\n"
        "                     plugins=[Check()]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "CHATCONFORM_REEXEC": "0"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LOADED []" in proc.stdout, proc.stdout
    assert "test_invalid_requests_are_refused[POST /chat/completions]" in proc.stdout, proc.stdout
    assert "8 tests collected" in proc.stdout, proc.stdout


def test_remote_boundary_cases_are_one_per_constraint_kind_and_parameter_sent_concurrently():
    """Against --base-url the boundary test sends one case per (constraint kind, top-level
    parameter), several at a time and never more than --concurrency; the embedded run keeps one
    per constraint, and the remote set breaks every kind of constraint of every parameter it does."""
    import threading
    import time

    from chatconform.fuzz import schema

    full = list(schema.boundary_cases())
    reduced = list(schema.boundary_cases(per_parameter=True))
    assert len(reduced) < len(full)
    assert {(schema.constraint(c)[0], schema.parameter(c)) for c in full} == \
        {(schema.constraint(c)[0], schema.parameter(c)) for c in reduced}

    inner = reference_proxy()
    lock = threading.Lock()
    flight = {"now": 0, "most": 0}

    def slow(req):
        with lock:
            flight["now"] += 1
            flight["most"] = max(flight["most"], flight["now"])
        try:
            time.sleep(0.02)
            return inner(req)
        finally:
            with lock:
                flight["now"] -= 1

    server = FakeServer(slow)
    with server as url:
        run = run_suite(PROPERTY, base_url=url, args=("-k", "constraint", "--concurrency=3"))
    assert run.returncode == 0, run.summary()
    assert len(server.requests) == len(reduced), (len(server.requests), len(reduced))
    assert 1 < flight["most"] <= 3, flight


# -- the boundary cases kept between runs (chatconform.fuzz.plan_cache) ------------------------------
def _signature(case):
    from chatconform.fuzz import schema

    return (case.method, case.path, json.dumps(case.body, sort_keys=True, default=lambda o: type(o).__name__), case.query,
            dict(case.headers), case.media_type, schema.constraint(case), schema.parameter(case))


def test_boundary_cases_are_kept_between_runs_and_rebuilt_the_same(tmp_path, monkeypatch):
    """The second time, the cases come from the cache (generation is not called), identical to the
    generated ones in every field the runner reads, in order; "no body" is schemathesis' own
    sentinel again (it is tested by identity)."""
    from schemathesis.core import NOT_SET, NotSet

    from chatconform.fuzz import schema

    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path))
    generated = list(schema.boundary_cases(per_parameter=True))
    assert len(list((tmp_path / "boundaries").glob("*.pickle"))) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again although the cases were kept")

    monkeypatch.setattr(schema, "_generated_boundary_cases", no_generation)
    rebuilt = list(schema.boundary_cases(per_parameter=True))
    assert [_signature(c) for c in rebuilt] == [_signature(c) for c in generated]
    assert all((c.body is NOT_SET) == isinstance(g.body, NotSet) for c, g in zip(rebuilt, generated))
    assert any(c.body is NOT_SET for c in rebuilt)  # the body-less case is among them
    with __import__("pytest").raises(AssertionError, match="generated again"):
        list(schema.boundary_cases(per_parameter=False))  # another selection: another key


def test_boundary_cache_stores_only_whole_sets_and_never_trusts_a_broken_file(tmp_path, monkeypatch):
    from chatconform import fuzz
    from chatconform.fuzz import plan_cache, schema

    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path))
    cases = schema.boundary_cases(per_parameter=True)
    next(cases)
    cases.close()  # a test that failed on its first case: nothing is stored
    assert not list(tmp_path.rglob("*.pickle"))

    whole = [_signature(c) for c in schema.boundary_cases(per_parameter=True)]
    [stored] = list(tmp_path.rglob("*.pickle"))
    stored.write_bytes(b"not a pickle")
    assert [_signature(c) for c in schema.boundary_cases(per_parameter=True)] == whole  # generated again
    assert plan_cache.load(stored.stem) is not None  # and stored whole again

    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", "")  # off
    assert plan_cache.directory() is None and plan_cache.load(stored.stem) is None
    assert plan_cache.key("boundaries") is None
    monkeypatch.setenv("CHATCONFORM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fuzz, "HASH_SEED_FIXED", False)  # generation differs from run to run: no key
    assert plan_cache.key("boundaries") is None
