"""The parameter suite fails a server that accepts what it must refuse, or refuses it the wrong way,
and accepts the legal variations of a refusal."""

from __future__ import annotations

import json
import re

from tests.fakes import Reply, Request, json_reply, reference_proxy
from tests.harness import SuiteRun, run_suite

SUITE = "suites/test_parameters.py"
REFUSED = "test_invalid_value_is_refused_with_400"
ACCEPTED = "test_valid_value_is_accepted"


def _with_body(req: Request, body: dict) -> Request:
    return Request(req.method, req.path, req.headers, json.dumps(body).encode())


def _refusal(status: int, message: str, param: str | None) -> Reply:
    return json_reply({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                 "code": None}}, status=status)


def _failure(run: SuiteRun, test: str, case: str) -> str:
    nodeid = f"{SUITE}::{test}[{case}]"
    found = [t for t in run.tests if t.nodeid == nodeid]
    assert found, f"{nodeid} did not run\n{run.summary()}"
    assert found[0].outcome == "failed", f"{nodeid}: {found[0].outcome}\n{run.summary()}"
    return "\n".join(v.headline() for v in found[0].verdicts if v.outcome != "pass")


def test_accepting_or_misreporting_invalid_values_fails():
    """Four faults at once, each confined to its own cases: temperature 2.01 silently ignored (as a
    clamping server would), an empty messages array answered with a 500, the bound logit_bias 100
    refused (exclusive range) although logit_bias itself works, every other refusal sent as 422."""
    proxy = reference_proxy()

    def handle(req: Request) -> Reply:
        body = req.json()
        if isinstance(body, dict) and 100 in (body.get("logit_bias") or {}).values():
            return _refusal(400, "logit_bias values must be between -99 and 99.", "logit_bias")
        if isinstance(body, dict) and body.get("temperature") == 2.01:
            del body["temperature"]
            return proxy(_with_body(req, body))
        if isinstance(body, dict) and body.get("messages") == []:
            return json_reply({"error": {"message": "internal error", "type": "api_error", "param": None,
                                         "code": None}}, status=500)
        reply = proxy(req)
        if reply.status == 400:
            reply.status, reply.reason = 422, "Unprocessable Entity"
        return reply

    run = run_suite(SUITE, against=handle)
    assert run.returncode == 1, run.summary()
    assert "[request.temperature-range]" in _failure(run, REFUSED, "temperature=2.01")
    assert "[error.client-error-not-5xx]" in _failure(run, REFUSED, "messages=[]")
    assert "[error.status-400-invalid]" in _failure(run, REFUSED, "n=129")
    # not "unsupported": logit_bias with a plain value is accepted, so the refusal is about the bound
    assert "[request.boundaries-accepted]" in _failure(run, ACCEPTED, "logit_bias=100")
    assert run.failed_requirements() == {
        "request.temperature-range", "error.client-error-not-5xx", "error.status-400-invalid",
        "request.boundaries-accepted",
    }, run.summary()
    assert not run.unsupported(), run.summary()
    # every other valid value was left alone, so no other accept case may fail
    assert [t.nodeid for t in run.failed if REFUSED not in t.nodeid] == [
        f"{SUITE}::{ACCEPTED}[logit_bias=100]"], run.summary()
    assert re.search(r"temperature\s+2\.01\s+accepted out-of-range value!", run.output), run.output[-3000:]


def test_legal_refusals_and_ignored_parameters_are_accepted():
    """Error bodies with extra fields, `param` as a path into the value, an unknown parameter ignored,
    a newer parameter refused by name and logit_bias unsupported are all conformant."""

    def decorate(payload, req):
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            error["innererror"] = {"code": "InvalidParameter"}  # Azure adds these
            error["status"] = 400
            if error.get("param") == "stop":
                error["param"] = "stop[4]"
            payload["request_id"] = "req_fake"
        return payload

    proxy = reference_proxy(body=decorate)

    def handle(req: Request) -> Reply:
        body = req.json()
        if isinstance(body, dict) and "x_chatconform_unknown" in body:
            del body["x_chatconform_unknown"]
            return proxy(_with_body(req, body))
        if isinstance(body, dict) and "reasoning_effort" in body:
            return _refusal(400, "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                            "reasoning_effort")
        if isinstance(body, dict) and "logit_bias" in body:
            return _refusal(400, "logit_bias is not supported by this server.", "logit_bias")
        return proxy(req)

    run = run_suite(SUITE, against=handle, args=("-vv",))  # -v past the harness -q: every row, ordinary ones too
    run.assert_clean()
    assert run.unsupported() == {"logit_bias"}, run.summary()
    assert "per-parameter support:" in run.output, run.output[-3000:]
    table = run.output.split("per-parameter support:", 1)[1]
    for row in (r"temperature\s+2\.01\s+rejected 400 \(param=temperature\)",
                r"role\s+\"wizard\"\s+rejected 400 \(param=messages\[0\]\.role\)",
                r"stop\s+5-strings\s+rejected 400 \(param=stop\[4\]\)",
                r"x_chatconform_unknown\s+true\s+ignored \(accepted\)",
                r"reasoning_effort\s+\"low\"\s+rejected 400 \(param=reasoning_effort\)",
                r"logit_bias\s+100\s+unsupported"):
        assert re.search(row, table), f"no support row /{row}/ in\n{table}"


def _stream_options_without_stream(answer):
    inner = reference_proxy()

    def handle(req):
        body = json.loads(req.body or b"null") if req.method == "POST" else None
        if isinstance(body, dict) and "stream_options" in body and not body.get("stream"):
            return answer(req, inner)
        return inner(req)

    return handle


def test_stream_options_without_stream_ignored_is_fine_and_a_500_is_not():
    """Issue 11: LiteLLM and llama-cpp-python ignore stream_options on a non-streamed request
    (legal); a server that breaks on it is not."""
    def ignore(req, inner):
        body = json.loads(req.body)
        body.pop("stream_options")
        return inner(type(req)(req.method, req.path, req.headers, json.dumps(body).encode()))

    def crash(req, inner):
        return json_reply({"error": {"message": "boom", "type": "server_error", "param": None, "code": None}},
                          status=500)

    select = ("-k", "stream_options_on_a_non_streamed")
    ignored = run_suite(SUITE, against=_stream_options_without_stream(ignore), args=select)
    assert ignored.verdict_of("request.stream-options-without-stream") == "pass", ignored.summary()
    broken = run_suite(SUITE, against=_stream_options_without_stream(crash), args=select)
    assert broken.verdict_of("request.stream-options-without-stream") == "warning", broken.summary()


def test_accepted_values_share_requests_and_a_refused_combination_fails_nothing():
    """Valid values of different parameters go several to a request; a server that legally refuses
    two parameters together (here any request with both user and tools) gets each half, and then
    each value, on its own: every case is still judged on a request it was accepted in, and no
    test fails."""
    proxy = reference_proxy()
    bodies = []

    def handle(req: Request) -> Reply:
        body = req.json()
        if req.method == "POST" and isinstance(body, dict):
            bodies.append(body)
            if body.get("user") is not None and body.get("tools"):
                return _refusal(400, "user cannot be combined with tools on this model.", "user")
        return proxy(req)

    run = run_suite(SUITE, against=handle, args=("-k", ACCEPTED, "-vv"))
    run.assert_clean()
    accepted = [t for t in run.tests if ACCEPTED in t.nodeid]
    assert accepted and all(t.outcome == "passed" for t in accepted if "stream" not in t.nodeid), run.summary()
    # far fewer requests than cases (39), though the refused combination was split
    sent = [b for b in bodies if b.get("max_completion_tokens") == 4]
    assert len(sent) < len(accepted) // 2, (len(sent), len(accepted))
    assert any(b.get("user") is not None and b.get("tools") for b in sent)  # the combination was tried
    # each case's support row is still recorded
    table = run.output.split("per-parameter support:", 1)[1]
    for row in (r"user\s+\"chatconform-user\"\s+accepted", r"tools\s+128-functions\s+accepted", r"temperature\s+2\s+accepted"):
        assert re.search(row, table), f"no support row /{row}/ in\n{table}"


def test_temperature_and_top_p_are_never_in_one_request():
    from chatconform.payloads.parameters import groups, combined_body
    import importlib.util
    import pathlib

    spec = importlib.util.spec_from_file_location("tp", pathlib.Path(__file__).parents[1] / SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for group in groups(module.ACCEPTED + module.NEWER):
        body = combined_body(group, "m")
        assert not (body.get("temperature") is not None and body.get("top_p") is not None), [c.id for c in group]
        assert len({c.parameter for c in group}) == len(group)  # at most one value per parameter
        assert len(group) == 1 or "stream" not in body
