"""The HTTP layer never hangs, never leaks the key, and retries what may be retried."""

import time

from chatconform.client import Auth, Client, ClientSettings, retry_after_seconds
from tests.fakes import FakeServer, Reply, json_reply, sse_reply

import httpx

KEY = "sk-canary-0123456789abcdef"
FAST = ClientSettings(connect_timeout=2, read_timeout=1.0, total_timeout=3.0, max_body_bytes=10_000,
                      max_stream_events=50, after_done_grace=0.3, max_retry_wait=3)


def client_for(url, settings=FAST, style="bearer"):
    return Client(url, Auth(style, KEY), settings)


def test_key_never_recorded_even_when_the_server_echoes_it():
    def handler(req):
        return json_reply({"error": {"message": f"bad key {KEY}", "type": "x", "param": None, "code": None}}, 401,
                          headers={"x-echo": KEY})

    with FakeServer(handler) as url:
        ex = client_for(url).chat({"model": "m", "messages": []})
    everything = ex.transcript() + ex.curl() + repr(ex.request_headers) + ex.text
    assert KEY not in everything
    assert "Bearer ***" in ex.transcript()
    assert '"Authorization: Bearer $OPENAI_API_KEY"' in ex.curl()


def test_api_key_header_style_is_redacted_too():
    with FakeServer(lambda req: json_reply({"ok": req.headers.get("api-key") == KEY})) as url:
        ex = client_for(url, style="api-key").request("GET", "/x")
    assert ex.json() == {"ok": True}
    assert KEY not in ex.transcript() + ex.curl()


def test_withheld_headers_time_out_quickly():
    with FakeServer(lambda req: Reply(withhold_headers=5, body=b"{}")) as url:
        started = time.monotonic()
        ex = client_for(url).chat({})
    assert ex.status is None and ex.problem_kind == "timeout"
    assert time.monotonic() - started < 2.5


def test_stalled_stream_is_cut_off_with_partial_events_kept():
    reply = sse_reply([{"n": 1}], done=False)
    reply.steps.append(5.0)
    with FakeServer(lambda req: reply) as url:
        started = time.monotonic()
        ex = client_for(url).chat({"stream": True})
    assert ex.status == 200 and ex.problem_kind == "timeout"
    assert [e.data for e in ex.events] == ['{"n": 1}']
    assert time.monotonic() - started < 2.5


def test_endless_stream_hits_the_event_limit():
    reply = Reply(headers={"Content-Type": "text/event-stream"}, steps=[b"data: {}\n\n"] * 10_000)
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url, ClientSettings(read_timeout=1, total_timeout=5, max_stream_events=50)).chat({"stream": True})
    assert ex.problem_kind == "limit"


def test_slow_drip_hits_the_total_deadline():
    reply = Reply(headers={"Content-Type": "text/event-stream"}, steps=[b": tick\n", 0.2] * 100)
    with FakeServer(lambda req: reply) as url:
        started = time.monotonic()
        ex = client_for(url).chat({"stream": True})
    assert ex.problem_kind == "timeout"
    assert time.monotonic() - started < 4.5


def test_body_over_the_cap_is_cut():
    with FakeServer(lambda req: Reply(headers={"Content-Type": "application/json"}, body=b"x" * 50_000)) as url:
        ex = client_for(url).chat({})
    assert ex.problem_kind == "size" and len(ex.body) <= 50_000


def test_connection_reset_is_a_recorded_problem():
    reply = sse_reply([{"n": 1}], done=False)
    reply.steps.append("reset")
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url).chat({"stream": True})
    assert ex.problem_kind in ("connection", None) and not ex.done_seen


def test_refused_connection_is_a_recorded_problem():
    ex = client_for("http://127.0.0.1:9/v1").chat({})
    assert ex.status is None and ex.problem_kind == "connection"


def test_429_then_success_is_retried_honouring_retry_after():
    calls = []

    def handler(req):
        calls.append(req)
        if len(calls) == 1:
            return json_reply({"error": {"message": "slow down"}}, 429, headers={"Retry-After": "1"})
        return json_reply({"ok": True})

    with FakeServer(handler) as url:
        ex = client_for(url).chat({})
    assert ex.status == 200 and ex.attempts == 2 and ex.retry_waits == [1.0]


def test_503_retries_give_up_within_the_wait_budget():
    with FakeServer(lambda req: json_reply({"error": {}}, 503, headers={"Retry-After": "2"})) as url:
        started = time.monotonic()
        ex = client_for(url).chat({})
    assert ex.status == 503 and sum(ex.retry_waits) <= FAST.max_retry_wait
    assert time.monotonic() - started < FAST.max_retry_wait + 2


def test_no_retry_when_the_test_wants_to_see_the_429():
    with FakeServer(lambda req: json_reply({}, 429, headers={"Retry-After": "1"})) as url:
        ex = client_for(url).chat({}, retry=False)
    assert ex.status == 429 and ex.attempts == 1


def test_retry_after_forms():
    assert retry_after_seconds(httpx.Headers({"retry-after": "3"}), 1) == 3
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "1500"}), 1) == 1.5
    assert retry_after_seconds(httpx.Headers({"retry-after": "garbage"}), 3) == 4
    assert retry_after_seconds(httpx.Headers({}), 1) == 1


def test_data_after_done_is_recorded():
    reply = sse_reply([{"n": 1}])
    reply.steps.append(b'data: {"late": true}\n\n')
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url).chat({"stream": True})
    assert ex.done_seen and [e.data for e in ex.after_done] == ['{"late": true}']


def test_usage_is_counted_as_cost():
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    with FakeServer(lambda req: json_reply({"usage": usage})) as url:
        c = client_for(url)
        c.chat({})
        c.chat({})
    assert (c.cost.requests, c.cost.prompt_tokens, c.cost.completion_tokens) == (2, 6, 8)


def test_an_unresponsive_target_is_given_up_after_a_few_exchanges():
    with FakeServer(lambda req: Reply(withhold_headers=3, body=b"{}")) as url:
        c = client_for(url, ClientSettings(read_timeout=0.3, total_timeout=1, give_up_after=2))
        started = time.monotonic()
        results = [c.chat({}) for _ in range(6)]
    assert [r.attempts for r in results] == [1, 1, 0, 0, 0, 0]
    assert "not sent" in results[-1].problem and results[-1].status is None
    assert time.monotonic() - started < 3


def test_one_answer_resets_the_count():
    answers = iter([Reply(withhold_headers=2, body=b"{}"), json_reply({}), Reply(withhold_headers=2, body=b"{}"),
                    json_reply({})])
    with FakeServer(lambda req: next(answers)) as url:
        c = client_for(url, ClientSettings(read_timeout=0.3, total_timeout=1, give_up_after=2))
        statuses = [c.chat({}).status for _ in range(4)]
    assert statuses == [None, 200, None, 200]
