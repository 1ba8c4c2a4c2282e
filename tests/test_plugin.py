"""The plugin: target resolution, grading, redaction in what a run prints."""

from tests.fakes import FakeServer, reference_proxy
from tests.harness import API_KEY, run_suite


def test_a_bare_host_gets_the_profile_base_path():
    server = FakeServer(reference_proxy())
    with server as url:
        host = url.rsplit("/v1", 1)[0]
        run = run_suite("suites/test_responses.py", base_url=host, args=("-k", "schema"))
    assert run.returncode == 0, run.summary()
    assert server.requests and all(r.path.startswith("/v1/chat/completions") for r in server.requests)


def test_should_violations_warn_and_fail_only_under_strict():
    def drop_refusal(payload, req):
        for choice in payload.get("choices", []):
            choice.get("message", {}).pop("refusal", None)
        return payload

    with FakeServer(reference_proxy(body=drop_refusal)) as url:
        lenient = run_suite("suites/test_responses.py", base_url=url)
        strict = run_suite("suites/test_responses.py", base_url=url, args=("-o", "chatconform_strict=true"))
    assert lenient.returncode == 0 and "response.message-refusal-key" in lenient.warned_requirements(), lenient.summary()
    assert "response.message-refusal-key [SHOULD] warning" in lenient.output
    strict.assert_fails({"response.message-refusal-key"})


def test_the_key_never_appears_in_what_a_failing_run_prints():
    def leak_key_in_error(payload, req):
        return {"error": {"message": f"bad key {API_KEY}", "type": "x", "param": None, "code": None}}

    run = run_suite("suites/test_responses.py", against=reference_proxy(body=leak_key_in_error), args=("-k", "schema"))
    assert run.returncode == 1
    assert API_KEY not in run.output
    assert "$OPENAI_API_KEY" in run.output  # the curl reproduction reads it from the environment


def test_under_a_budget_the_core_suites_run_before_the_sweeps_and_the_generated_tests():
    import subprocess
    import sys

    from tests.harness import REPO

    def order(*args):
        proc = subprocess.run([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", "-p", "no:cacheprovider",
                               "--base-url=http://127.0.0.1:9/v1", f"--api-key={API_KEY}", "--model=m", *args],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        return [line for line in proc.stdout.splitlines() if "::" in line]

    budgeted, unbudgeted = order(), order("--max-requests=0", "--max-billed=0", "--max-tokens=0")
    assert sorted(budgeted) == sorted(unbudgeted) and budgeted != unbudgeted
    assert unbudgeted == sorted(unbudgeted, key=lambda n: n.split("::")[0])  # without a budget: pytest's order

    def first(ids, text):
        return next(i for i, n in enumerate(ids) if text in n)

    def last(ids, text):
        return max(i for i, n in enumerate(ids) if text in n)

    sweep = first(budgeted, "test_parameters.py::test_valid_value_is_accepted")
    # MUST tests of one or a few exchanges first, then the MUST sweeps, then SHOULD, generated last
    assert last(budgeted, "test_tools.py::test_required_calls_a_tool") < sweep
    assert last(budgeted, "test_stored_completions.py::test_retrieval_returns") < sweep
    assert first(budgeted, "test_parameters.py::test_max_completion_tokens_is_accepted") < sweep  # one request: core
    assert first(budgeted, "test_seed.py") > sweep  # seed's tests cite SHOULD requirements only
    generated = min(first(budgeted, "test_property_based.py"), first(budgeted, "test_stateful.py"))
    assert generated > last(budgeted, "test_seed.py") and generated > last(budgeted, "test_newer_parameter")
    assert all("test_property_based.py" in n or "test_stateful.py" in n for n in budgeted[generated:])
