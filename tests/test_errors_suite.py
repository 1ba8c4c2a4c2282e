"""The errors suite fails servers whose errors are not the documented ones, and accepts the legal
variations of an error. Each run serves the reference behaviour with several faults at once, each
confined to one error case, and checks that each case's test names the right requirement.

The helpers here are shared with tests/test_headers_auth_suite.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from chatconform.payloads.errors import TRUNCATED_JSON
from chatconform.reference.config import ServerConfig
from tests.fakes import FakeServer, Reply, Request, reference_proxy
from tests.harness import API_KEY, SuiteRun, run_suite

SUITES = ("suites/test_errors.py", "suites/test_headers.py", "suites/test_auth.py")
MODEL = "fake-model"
RESTRICTED = "sk-selftest-restricted-5151515151"
PROBE = "sk-selftest-probe-6161616161"
CONFIG = ServerConfig(api_key=API_KEY, models=(MODEL,), restricted_api_key=RESTRICTED,
                      rate_limited_api_key=PROBE, rate_limit_rpm=3)


def key_args(config: pytest.Config) -> tuple[str, ...]:
    """The options that let the suite provoke 403 and 429, where this plugin has them."""
    args = []
    if hasattr(config.option, "cc_restricted_api_key"):
        args.append(f"--restricted-api-key={RESTRICTED}")
    if hasattr(config.option, "cc_rate_limit_probe"):
        args.append(f"--rate-limit-probe={PROBE}")
    return tuple(args)


def altered(reply: Callable[[Reply, Request], Reply] | None = None,
            request: Callable[[Request], Request] | None = None) -> Callable[[Request], Reply]:
    """The reference server (with CONFIG), its requests and replies passed through the given changes."""
    proxy = reference_proxy(server_config=CONFIG)

    def handle(req: Request) -> Reply:
        if request is not None:
            req = request(req)
        out = proxy(req)
        return reply(out, req) if reply is not None else out

    return handle


def run(handler: Callable[[Request], Reply], *args: str) -> SuiteRun:
    with FakeServer(handler) as url:
        return run_suite(*SUITES, base_url=url, model=MODEL, args=("--profile=reference", *args))


def verdicts(run: SuiteRun) -> set[tuple[str, str]]:
    """(test name with its parameter, requirement) for every failure and every warning."""
    return {(v.test.split("::")[-1], v.requirement) for v in run.verdicts if v.outcome in ("fail", "warning")}


def body_of(reply: Reply) -> dict:
    return json.loads(reply.body or b"null")


def with_body(reply: Reply, payload: object, status: int | None = None,
              content_type: str = "application/json") -> Reply:
    headers = {k: v for k, v in reply.headers.items() if k.lower() != "content-type"}
    headers["Content-Type"] = content_type
    raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    return Reply(status=status or reply.status, headers=headers, body=raw, reason="Error")


def case_of(req: Request) -> str | None:
    """Which error case of chatconform.payloads.errors a request is (None: an ordinary request)."""
    if req.body == TRUNCATED_JSON:
        return "invalid-json"
    body = req.json()
    auth = req.headers.get("authorization")
    if "chatconform-no-such-endpoint" in req.path:
        return "unknown-path"
    if auth is None and "api-key" not in req.headers:
        return "missing-key"
    if auth and auth.startswith("Bearer sk-chatconform-wrong-"):
        return "wrong-key"
    if auth == f"Bearer {RESTRICTED}":
        return "restricted-key"
    if auth == f"Bearer {PROBE}":
        return "rate-limited"
    if isinstance(body, dict) and body.get("temperature") == 3:
        return "invalid-value-streamed" if body.get("stream") else "invalid-value"
    if isinstance(body, dict) and str(body.get("model", "")).startswith("chatconform-no-such-model-"):
        return "unknown-model"
    return None


def test_broken_errors_fail_with_their_requirement(pytestconfig):
    """Eight faults, one per case: an HTML page, a flat body (vLLM before 0.10.1), a string error
    with 422 (TGI), no message, a 500 for a bad key, OpenAI-style types with a numeric code and no
    param, a 404 for the restricted key, and a proxy's HTML 404 for an unknown path."""

    def reply(out: Reply, req: Request) -> Reply:
        case = case_of(req)
        if case == "invalid-json":
            return with_body(out, "<html><body>400 Bad Request</body></html>", content_type="text/html")
        if case == "invalid-value":
            error = body_of(out)["error"]
            return with_body(out, {"object": "error", **error, "code": 400})
        if case == "invalid-value-streamed":
            return with_body(out, {"error": "temperature must be at most 2", "error_type": "validation"}, 422)
        if case == "missing-key":
            payload = body_of(out)
            del payload["error"]["message"]
            return with_body(out, payload)
        if case == "wrong-key":
            return with_body(out, {"error": {"message": "boom", "type": "api_error", "param": None, "code": None}}, 500)
        if case == "unknown-model":
            error = body_of(out)["error"]
            openai_style = {"message": error["message"], "type": "invalid_request_error", "code": 404}
            return with_body(out, {"error": openai_style})
        if case == "restricted-key":
            return with_body(out, {"error": {"message": "no such model", "type": "not_found_error", "param": None,
                                             "code": None}}, 404)
        if case == "unknown-path":
            return with_body(out, "<html>404 Not Found</html>", content_type="text/html")
        return out

    result = run(altered(reply), *key_args(pytestconfig))
    assert result.returncode == 1, result.summary()
    expected = {
        ("test_error_is_sent_as_json[invalid-json]", "error.content-type-json"),
        ("test_error_body_is_the_envelope[invalid-json]", "error.envelope"),
        ("test_error_body_is_the_envelope[invalid-value]", "error.envelope"),
        ("test_error_message_is_a_string[invalid-value]", "error.message-string"),
        ("test_invalid_request_gets_400[invalid-value-streamed]", "error.status-400-invalid"),
        ("test_error_body_is_the_envelope[invalid-value-streamed]", "error.envelope"),
        ("test_invalid_parameter_is_named[invalid-value-streamed]", "error.param-names-parameter"),
        ("test_error_message_is_a_string[missing-key]", "error.message-string"),
        ("test_client_error_is_not_5xx[wrong-key]", "error.client-error-not-5xx"),
        ("test_authentication_failure_gets_401[wrong-key]", "error.status-401-auth"),
        ("test_wrong_bearer_key_is_rejected", "auth.wrong-key-401"),
        ("test_error_type_follows_the_status_table[unknown-model]", "error.type-vocabulary"),
        ("test_error_carries_code[unknown-model]", "error.code-key"),
        ("test_error_carries_param[unknown-model]", "error.param-key"),
        ("test_unknown_path_gets_404_envelope", "error.unknown-path-404"),
    }
    if any(arg.startswith("--restricted-api-key") for arg in key_args(pytestconfig)):
        expected.add(("test_restricted_key_gets_403", "error.status-403-permission"))
    found = verdicts(result)
    assert expected <= found, f"missing {sorted(expected - found)}\n{result.summary()}"
    # a fault in one case leaves the others alone
    assert not {v for v in found if "[invalid-json]" not in v[0] and v[1] == "error.content-type-json"}, found


def test_legal_variations_of_an_error_are_accepted(pytestconfig):
    """Extra members in the envelope and beside it, charset on the media type, header names in
    another case, 400 for an unknown model, Retry-After as an HTTP-date, resets in plain seconds."""

    def reply(out: Reply, req: Request) -> Reply:
        case = case_of(req)
        headers = {k.lower(): v for k, v in out.headers.items()}
        if headers.get("content-type", "").startswith("application/json"):
            headers["content-type"] = "application/json; charset=utf-8"
        if "x-ratelimit-reset-requests" in headers:
            headers["x-ratelimit-reset-requests"] = "7"
        if "retry-after" in headers:
            headers["retry-after"] = "Wed, 21 Oct 2015 07:28:00 GMT"
        headers = {k.upper() if n % 2 else k.title(): v for n, (k, v) in enumerate(headers.items())}
        out = Reply(status=out.status, headers=headers, body=out.body, steps=out.steps, reason=out.reason)
        if out.status < 400 or out.body is None:
            return out
        payload = body_of(out)
        payload["error"]["innererror"] = {"code": "ResponsibleAIPolicyViolation"}
        payload["request_id"] = "req_extra"
        if case == "unknown-model":
            out.status = 400
            payload["error"]["type"] = "invalid_request_error"
        out.body = json.dumps(payload).encode()
        return out

    result = run(altered(reply), *key_args(pytestconfig))
    result.assert_clean()
    provoked = {"restricted_key", "rate_limit_probe"} if len(key_args(pytestconfig)) == 2 else set()
    assert not (result.unsupported() & provoked), result.summary()


def _openai_types_and_param_none(reply: Reply, req: Request) -> Reply:
    """OpenAI's own error types (invalid_request_error on a 401), and `param` sent as "None"."""
    if reply.status < 400 or not reply.body:
        return reply
    payload = json.loads(reply.body)
    error = payload.get("error")
    if isinstance(error, dict):
        error["type"] = "requests" if reply.status == 429 else (
            "server_error" if reply.status >= 500 else "invalid_request_error")
        if error.get("param") is None:
            error["param"] = "None"
    return Reply(status=reply.status, headers=reply.headers, body=json.dumps(payload).encode())


def test_the_error_vocabulary_is_the_profiles_and_param_none_is_not_null(pytestconfig):
    """OpenAI's own types are an observation under --profile openai and generic (no document there
    defines a vocabulary, so the level is informational) and fail under hicap (seed 003's table, MUST).
    The string "None" for a missing param is flagged under error.param-key either way."""
    handler = altered(_openai_types_and_param_none)
    outcomes = {}
    for profile in ("openai", "generic", "hicap"):
        with FakeServer(handler) as url:
            run = run_suite("suites/test_errors.py", base_url=url, model=MODEL,
                            args=(f"--profile={profile}", *key_args(pytestconfig)))
        outcomes[profile] = run.verdict_of("error.type-vocabulary")
        assert "error.param-key" in run.warned_requirements() | run.failed_requirements(), run.summary()
    assert outcomes == {"openai": "informational", "generic": "informational", "hicap": "fail"}, outcomes
