"""The headers and auth suites fail servers that drop request ids or rate-limit headers, or take
keys they must refuse; and the reference server's rate-limited key, which lets them provoke 429.
"""

from __future__ import annotations

import warnings

from chatconform.payloads.errors import UNKNOWN_MODEL, UNKNOWN_PATH
from chatconform.reference.app import create_app
from chatconform.reference.config import ServerConfig
from tests.fakes import Reply, Request
from tests.harness import API_KEY
from tests.test_errors_suite import PROBE, RESTRICTED, altered, case_of, key_args, run, verdicts

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette 1.x nudges towards httpx2 on import
    from starlette.testclient import TestClient

RIGHT_KEYS = {API_KEY, RESTRICTED, PROBE}


def _headers(reply: Reply, change) -> Reply:
    headers = change({k.lower(): v for k, v in reply.headers.items()})
    return Reply(status=reply.status, headers=headers, body=reply.body, steps=reply.steps, reason=reply.reason)


def _with_headers(req: Request, headers: dict[str, str]) -> Request:
    return Request(req.method, req.path, headers, req.body)


def test_wrong_keys_taken_and_headers_dropped_fail():
    """A proxy that forwards whatever key it gets as the right one (so wrong and malformed keys
    work), drops x-request-id everywhere, omits the rate-limit headers on plain responses and
    reports more requests remaining than the limit on streams. Without the 403/429 options, those
    cases are reported unsupported."""

    def request(req: Request) -> Request:
        headers = dict(req.headers)
        if "authorization" in headers and headers["authorization"] not in {f"Bearer {k}" for k in RIGHT_KEYS}:
            headers["authorization"] = f"Bearer {API_KEY}"
        if "api-key" in headers and headers["api-key"] not in RIGHT_KEYS:
            headers["api-key"] = API_KEY
        return _with_headers(req, headers)

    def reply(out: Reply, req: Request) -> Reply:
        def change(headers: dict[str, str]) -> dict[str, str]:
            headers.pop("x-request-id", None)
            if headers.get("content-type", "").startswith("application/json"):
                headers = {k: v for k, v in headers.items() if not k.startswith("x-ratelimit-")}
            elif "x-ratelimit-limit-requests" in headers:
                headers["x-ratelimit-remaining-requests"] = str(int(headers["x-ratelimit-limit-requests"]) + 1)
            return headers

        return _headers(out, change)

    result = run(altered(reply, request))
    assert result.returncode == 1, result.summary()
    expected = {
        ("test_success_carries_request_id[completion]", "header.request-id"),
        ("test_success_carries_request_id[stream]", "header.request-id"),
        ("test_request_ids_differ", "header.request-id"),
        ("test_error_carries_request_id[invalid-value]", "header.request-id-on-errors"),
        ("test_error_carries_request_id[missing-key]", "header.request-id-on-errors"),
        ("test_ratelimit_headers[completion]", "header.ratelimit"),
        ("test_ratelimit_headers[stream]", "header.ratelimit"),
        ("test_wrong_bearer_key_is_rejected", "auth.wrong-key-401"),
        ("test_wrong_key_in_api_key_header_is_rejected", "auth.api-key-header-accepted"),
        ("test_malformed_authorization_is_rejected[other-scheme]", "auth.malformed-header-401"),
        ("test_malformed_authorization_is_rejected[bearer-without-token]", "auth.malformed-header-401"),
        ("test_authentication_failure_gets_401[wrong-key]", "error.status-401-auth"),
    }
    found = verdicts(result)
    assert expected <= found, f"missing {sorted(expected - found)}\n{result.summary()}"
    assert not {v for v in found if v[1] == "auth.missing-key-401"}, found  # no key still gets 401
    assert {"restricted_key", "rate_limit_probe"} <= result.unsupported(), result.summary()


def test_missing_key_taken_and_api_key_header_ignored_fail(pytestconfig):
    """A server that lets keyless requests through on the run's key, ignores the api-key header,
    repeats one request id, and sends 429 without Retry-After."""

    def request(req: Request) -> Request:
        headers = {k: v for k, v in req.headers.items() if k != "api-key"}
        if "authorization" not in headers and "api-key" not in req.headers:
            headers["authorization"] = f"Bearer {API_KEY}"
        return _with_headers(req, headers)

    def reply(out: Reply, req: Request) -> Reply:
        def change(headers: dict[str, str]) -> dict[str, str]:
            headers["x-request-id"] = "req_always_the_same"
            headers.pop("retry-after", None)
            return headers

        return _headers(out, change)

    result = run(altered(reply, request), *key_args(pytestconfig))
    assert result.returncode == 1, result.summary()
    expected = {
        ("test_missing_key_is_rejected[missing-key]", "auth.missing-key-401"),
        ("test_missing_key_is_rejected[missing-key-retrieve]", "auth.missing-key-401"),
        ("test_missing_key_is_rejected[missing-key-messages]", "auth.missing-key-401"),
        ("test_authentication_failure_gets_401[missing-key]", "error.status-401-auth"),
        ("test_api_key_header_is_accepted", "auth.api-key-header-accepted"),
        ("test_request_ids_differ", "header.request-id"),
    }
    if any(arg.startswith("--rate-limit-probe") for arg in key_args(pytestconfig)):
        expected.add(("test_429_carries_retry_after", "header.retry-after-429"))
    found = verdicts(result)
    assert expected <= found, f"missing {sorted(expected - found)}\n{result.summary()}"
    assert ("test_wrong_bearer_key_is_rejected", "auth.wrong-key-401") not in found, found


def test_case_recognition_matches_the_suite():
    """The fakes above single out error cases by their requests; a renamed case would silently
    make them test nothing."""
    assert case_of(Request("GET", "/v1" + UNKNOWN_PATH, {"authorization": "Bearer x"}, b"")) == "unknown-path"
    body = b'{"model": "%s", "messages": []}' % UNKNOWN_MODEL.encode()
    assert case_of(Request("POST", "/v1/chat/completions", {"authorization": "Bearer x"}, body)) == "unknown-model"


def test_reference_rate_limited_key_alone_gets_429():
    """--rate-limited-api-key: that key runs out after --rate-limit requests; the main key never does."""
    client = TestClient(create_app(ServerConfig(api_key="main", rate_limited_api_key="probe", rate_limit_rpm=2)))
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 2}
    probe = {"Authorization": "Bearer probe"}
    statuses = [client.post("/v1/chat/completions", json=chat, headers=probe).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.post("/v1/chat/completions", json=chat, headers=probe)
    assert limited.headers["x-ratelimit-limit-requests"] == "2" and int(limited.headers["retry-after"]) >= 1
    for _ in range(5):
        main = client.post("/v1/chat/completions", json=chat, headers={"Authorization": "Bearer main"})
        assert main.status_code == 200
    assert int(main.headers["x-ratelimit-limit-requests"]) > 2
    wrong = client.post("/v1/chat/completions", json=chat, headers={"Authorization": "Bearer other"})
    assert wrong.status_code == 401
