"""The HTTP layer never hangs, never leaks the key, and retries what may be retried.

No test here bounds wall-clock time tightly: a loaded machine stretches every duration. A bound
is shown by what came back instead (the server holds its answer far longer than the client may
wait, so a client that waited would see the answer), by counting events and requests, or, where
a duration is the point, by a generous multiple of the configured limit.
"""

import threading
import time

import httpx

from chatconform.client import BUDGET, Auth, Client, ClientSettings, retry_after_seconds
from tests.fakes import FakeServer, Reply, json_reply, sse_reply

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


HOLD = 30.0  # far beyond every client limit here: a client that waited this long got the answer


def test_withheld_headers_time_out_quickly():
    with FakeServer(lambda req: Reply(withhold_headers=HOLD, body=b"{}")) as url:
        ex = client_for(url).chat({})
    # the answer comes after HOLD seconds: no status means the client stopped waiting first
    assert ex.status is None and ex.problem_kind == "timeout"
    assert ex.elapsed < HOLD / 2


def test_stalled_stream_is_cut_off_with_partial_events_kept():
    reply = sse_reply([{"n": 1}, {"n": 2}], done=True)
    reply.steps.insert(1, HOLD)  # the second event and [DONE] come after the stall
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url).chat({"stream": True})
    assert ex.status == 200 and ex.problem_kind == "timeout"
    assert [e.data for e in ex.events] == ['{"n": 1}']
    assert ex.elapsed < HOLD / 2


def test_endless_stream_hits_the_event_limit():
    reply = Reply(headers={"Content-Type": "text/event-stream"}, steps=[b"data: {}\n\n"] * 10_000)
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url, ClientSettings(read_timeout=1, total_timeout=5, max_stream_events=50)).chat({"stream": True})
    assert ex.problem_kind == "limit"


def test_slow_drip_hits_the_total_deadline():
    # a tick every 0.2 s, each within the 1 s read timeout, for 40 s in all: only the 3 s total
    # deadline can end it, and then before most ticks were sent
    ticks = 200
    reply = Reply(headers={"Content-Type": "text/event-stream"}, steps=[b": tick\n", 0.2] * ticks)
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url).chat({"stream": True})
    assert ex.problem_kind == "timeout"
    assert 0 < ex.body.count(b"tick") < ticks / 2


def test_body_over_the_cap_is_cut():
    # 5 MB in 8 KiB writes against a 10,000 byte cap: the client stops reading soon after the cap
    piece = b"x" * 8192
    reply = Reply(headers={"Content-Type": "application/json"}, steps=[piece] * 640)
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url).chat({})
    assert ex.problem_kind == "size"
    assert FAST.max_body_bytes < len(ex.body) < 50 * len(piece)


def test_connection_reset_is_a_recorded_problem():
    reply = sse_reply([{"n": 1}], done=False)
    reply.steps.append("reset")
    with FakeServer(lambda req: reply) as url:
        ex = client_for(url).chat({"stream": True})
    assert ex.problem_kind == "connection" and "mid-response" in ex.problem
    assert [e.data for e in ex.events] == ['{"n": 1}'] and not ex.done_seen


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
        ex = client_for(url).chat({})
    # a 3 s wait budget holds one wait of 2 s; a second would make 4
    assert ex.status == 503 and ex.attempts == 2 and ex.retry_waits == [2.0]


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
    with FakeServer(lambda req: Reply(withhold_headers=HOLD, body=b"{}")) as fake:
        c = client_for(fake, ClientSettings(read_timeout=0.3, total_timeout=1, give_up_after=2))
        results = [c.chat({}) for _ in range(6)]
    assert [r.attempts for r in results] == [1, 1, 0, 0, 0, 0]
    assert "not sent" in results[-1].problem and results[-1].status is None
    assert c.cost.requests == 2 and c.cost.not_sent == 4


def test_one_answer_resets_the_count():
    answers = iter([Reply(withhold_headers=2, body=b"{}"), json_reply({}), Reply(withhold_headers=2, body=b"{}"),
                    json_reply({})])
    with FakeServer(lambda req: next(answers)) as url:
        c = client_for(url, ClientSettings(read_timeout=0.3, total_timeout=1, give_up_after=2))
        statuses = [c.chat({}).status for _ in range(4)]
    assert statuses == [None, 200, None, 200]


# -- a hostile target is given up on: stalls and endless bodies count like silence ----------------
def test_stalls_mid_body_count_toward_giving_up():
    stall = Reply(headers={"Content-Type": "application/json"}, steps=[b'{"id": ', HOLD])
    with FakeServer(lambda req: stall) as url:
        c = client_for(url, ClientSettings(read_timeout=0.3, total_timeout=1, give_up_after=2))
        results = [c.chat({}) for _ in range(4)]
    assert [r.status for r in results] == [200, 200, None, None]
    assert [r.attempts for r in results] == [1, 1, 0, 0]
    assert "no complete response" in results[-1].problem and results[-1].problem_kind == "connection"


def test_endless_bodies_count_toward_giving_up():
    endless = Reply(headers={"Content-Type": "application/json"}, steps=[b"x" * 8192] * 640)
    with FakeServer(lambda req: endless) as url:
        c = client_for(url, ClientSettings(read_timeout=1, total_timeout=5, max_body_bytes=10_000, give_up_after=2))
        kinds = [c.chat({}).problem_kind for _ in range(3)]
    assert kinds == ["size", "size", "connection"]


def test_a_streak_of_stalls_is_given_up_on_by_the_time_it_cost():
    stall = Reply(headers={"Content-Type": "application/json"}, steps=[b"{", HOLD])
    with FakeServer(lambda req: stall) as url:
        # each stall costs at least the 0.3 s read timeout: two of them pass the 0.5 s allowance
        c = client_for(url, ClientSettings(read_timeout=0.3, total_timeout=1, give_up_after=100,
                                           give_up_after_seconds=0.5))
        attempts = [c.chat({}).attempts for _ in range(4)]
    assert attempts == [1, 1, 0, 0]


# -- the run's limits ---------------------------------------------------------------------------------
VALID = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 16}
USAGE = {"prompt_tokens": 30, "completion_tokens": 30, "total_tokens": 60}


def test_past_the_run_deadline_nothing_is_sent():
    calls = []
    with FakeServer(lambda req: calls.append(req) or json_reply({})) as url:
        c = client_for(url, ClientSettings(run_deadline=1e-6))
        time.sleep(0.01)
        ex = c.chat(VALID)
    assert calls == [] and ex.attempts == 0 and ex.status is None
    assert ex.problem_kind == BUDGET and "deadline" in ex.problem
    assert "deadline" in c.stopped


def test_the_run_deadline_cuts_an_exchange_in_flight():
    stall = Reply(headers={"Content-Type": "application/json"}, steps=[b"{", HOLD])
    with FakeServer(lambda req: stall) as url:
        c = client_for(url, ClientSettings(read_timeout=20, total_timeout=40, run_deadline=0.5))
        ex = c.chat(VALID)
    assert ex.problem_kind == "timeout"
    assert ex.elapsed < 10  # 20 times the deadline, half the read timeout that would end it otherwise


def test_the_request_budget_stops_sending():
    with FakeServer(lambda req: json_reply({})) as fake:
        c = client_for(fake, ClientSettings(max_requests=2))
        results = [c.request("GET", "/models") for _ in range(4)]
    assert [r.attempts for r in results] == [1, 1, 0, 0]
    assert results[-1].problem_kind == BUDGET and "2 requests" in results[-1].problem


def test_the_billed_budget_stops_valid_completions_but_not_invalid_ones():
    def handler(req):
        body = req.json()
        if body.get("temperature") == 3:
            return json_reply({"error": {"message": "temperature", "type": "invalid_request_error"}}, 400)
        return json_reply({"usage": USAGE})

    server = FakeServer(handler)
    with server as url:
        c = client_for(url, ClientSettings(max_billed=2))
        billed = [c.chat(VALID) for _ in range(3)]
        invalid = c.chat({**VALID, "temperature": 3})
    assert [r.status for r in billed] == [200, 200, None]
    assert billed[-1].problem_kind == BUDGET and "billed" in billed[-1].problem
    assert invalid.status == 400  # refused for free by a conforming target: still worth sending
    assert c.cost.billed == 2 and len(server.requests) == 3


def test_an_invalid_request_accepted_is_billed_and_then_budgeted_like_a_valid_one():
    server = FakeServer(lambda req: json_reply({"usage": USAGE}))
    with server as url:
        c = client_for(url, ClientSettings(max_billed=1))
        first = c.chat({**VALID, "temperature": 3})  # accepted although the spec forbids it
        second = c.chat({**VALID, "temperature": 3})
    assert first.status == 200 and c.cost.billed == 1
    assert second.problem_kind == BUDGET and len(server.requests) == 1


def test_the_token_budget_is_never_exceeded():
    with FakeServer(lambda req: json_reply({"usage": USAGE})) as url:
        c = client_for(url, ClientSettings(max_tokens=200))
        results = [c.chat(VALID) for _ in range(6)]
    sent = [r for r in results if r.attempts]
    assert 1 <= len(sent) < 6 and c.cost.tokens <= 200
    assert results[-1].problem_kind == BUDGET and "tokens" in results[-1].problem


def test_a_target_that_ignores_the_cap_gets_max_tokens_too():
    server = FakeServer(lambda req: json_reply({"usage": {"prompt_tokens": 5, "completion_tokens": 200}}))
    with server as url:
        c = client_for(url)
        first = c.chat(VALID)
        second = c.chat(VALID)
    assert "max_tokens" not in server.requests[0].json() and first.note is None
    assert server.requests[1].json()["max_tokens"] == 16 and second.request_json["max_tokens"] == 16
    assert "ignored max_completion_tokens" in c.cap_ignored and "max_tokens" in second.note


def test_a_target_within_the_cap_gets_the_request_unchanged():
    server = FakeServer(lambda req: json_reply({"usage": {"prompt_tokens": 5, "completion_tokens": 16}}))
    with server as url:
        c = client_for(url)
        c.chat(VALID)
        c.chat(VALID)
    assert c.cap_ignored is None and all("max_tokens" not in r.json() for r in server.requests)


# -- concurrency ---------------------------------------------------------------------------------------
class Meter:
    """Counts requests on the server at once. Until ``gather`` have been in at the same time,
    each plain request waits for company (up to HOLD), so concurrency shows however slow the
    machine; after that nobody waits."""

    def __init__(self, gather: int) -> None:
        self.gather = gather
        self.now = 0
        self.most = 0
        self.seen_by_streams: list[int] = []
        self.lock = threading.Condition()

    def __call__(self, req):
        streamed = (req.json() or {}).get("stream") is True
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            if streamed:
                self.seen_by_streams.append(self.now)
            self.lock.notify_all()
            self.lock.wait_for(lambda: self.most >= self.gather or streamed, timeout=HOLD)
        try:
            return sse_reply([{"n": 1}]) if streamed else json_reply({})
        finally:
            with self.lock:
                self.now -= 1


def _in_threads(calls):
    threads = [threading.Thread(target=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HOLD * 2)


def test_requests_in_flight_are_bounded_by_the_limit():
    meter = Meter(gather=2)
    with FakeServer(meter) as url:
        c = client_for(url, ClientSettings(max_in_flight=2))
        _in_threads([lambda: c.chat({})] * 6)
    # two meet on the server (so they ran concurrently); a third never joined them
    assert meter.most == 2 and c.most_in_flight == 2 and c.cost.requests == 6


def test_a_stream_is_on_the_wire_alone():
    release = threading.Event()
    now = []  # requests on the server when each stream arrived
    on_server = threading.Semaphore(0)
    count = [0]
    lock = threading.Lock()

    def handler(req):
        streamed = (req.json() or {}).get("stream") is True
        with lock:
            count[0] += 1
            if streamed:
                now.append(count[0])
        try:
            if streamed:
                return sse_reply([{"n": 1}])
            on_server.release()
            release.wait(HOLD)  # the plain requests stay in flight until the test lets them go
            return json_reply({})
        finally:
            with lock:
                count[0] -= 1

    with FakeServer(handler) as url:
        c = client_for(url, ClientSettings(read_timeout=HOLD, total_timeout=2 * HOLD, max_in_flight=5))
        plain = [threading.Thread(target=c.chat, args=({},)) for _ in range(3)]
        streams = [threading.Thread(target=c.chat, args=({"stream": True},)) for _ in range(2)]
        for t in plain:
            t.start()
        assert all(on_server.acquire(timeout=HOLD) for _ in plain)  # three plain requests in flight at once
        for t in streams:
            t.start()
        time.sleep(0.5)  # room for a stream to slip in, were the gate open
        release.set()
        for t in plain + streams:
            t.join(HOLD * 2)
    assert now == [1, 1]  # each stream found the server to itself
    assert c.most_in_flight == 3 and c.cost.requests == 5


# -- exact limits: counted before sending ------------------------------------------------------------
def test_concurrent_sends_never_pass_the_request_limit():
    server = FakeServer(lambda req: (time.sleep(0.2), json_reply({}))[1])
    with server as url:
        c = client_for(url, ClientSettings(max_in_flight=8, max_requests=3))
        _in_threads([lambda: c.request("GET", "/models")] * 8)
    assert len(server.requests) == 3 and c.cost.requests == 3 and c.cost.not_sent == 5


def test_concurrent_billable_sends_never_pass_the_billed_limit():
    server = FakeServer(lambda req: (time.sleep(0.2), json_reply({"usage": USAGE}))[1])
    with server as url:
        c = client_for(url, ClientSettings(max_in_flight=8, max_billed=2))
        _in_threads([lambda: c.chat(VALID)] * 8)
    assert len(server.requests) == 2 and c.cost.billed == 2


def test_a_retry_counts_against_the_request_limit_before_it_is_sent():
    replies = iter([Reply(429, {"Retry-After": "0"}, b"{}")] * 5)
    server = FakeServer(lambda req: next(replies))
    with server as url:
        c = client_for(url, ClientSettings(max_requests=2))
        first = c.request("GET", "/models")
        second = c.request("GET", "/models")
    assert first.attempts == 2 and second.attempts == 0 and len(server.requests) == 2


def test_clients_sharing_a_ledger_share_one_budget():
    from chatconform.client import Ledger

    ledger = Ledger(max_requests=3)
    server = FakeServer(lambda req: json_reply({}))
    with server as url:
        first, second = client_for(url), client_for(url)
        first.ledger = second.ledger = ledger
        sent = [c.request("GET", "/models").attempts for c in (first, second, first, second)]
    assert sent == [1, 1, 1, 0] and len(server.requests) == 3


def test_a_file_ledger_is_one_budget_across_processes(tmp_path):
    """Two processes spending from one file (the xdist workers) never pass the limit together."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from chatconform.plugin.budget import FileLedger\n"
        "led = FileLedger(sys.argv[1], max_requests=None, max_billed=25)\n"
        "n = 0\n"
        "while led.reserve(True) is None:\n"
        "    led.settle(held=True, billed=True, tokens=1)\n"
        "    n += 1\n"
        "print(n)\n"
    )
    path = tmp_path / "budget.json"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    counts = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(counts) == 25
    from chatconform.plugin.budget import FileLedger

    assert FileLedger(path).state()["billed"] == 25


def test_what_a_dead_process_held_is_given_back(tmp_path):
    import subprocess
    import sys

    from chatconform.plugin.budget import FileLedger

    path = tmp_path / "budget.json"
    script = ("import sys, os\nfrom chatconform.plugin.budget import FileLedger\n"
              "assert FileLedger(sys.argv[1], max_billed=1).reserve(True) is None\nos._exit(0)\n")
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)
    # the dead process held the only billed completion; it never settled, and no one waits on it
    assert FileLedger(path, max_billed=1).reserve(True) is None


def test_a_target_that_ignores_the_cap_and_answers_at_length_stays_within_the_token_budget():
    """Each answer costs 2,005 tokens whatever the cap: after the first, every request holds that
    much of the budget before it is sent, so 5,000 tokens buy two answers, not three."""
    server = FakeServer(lambda req: json_reply({"usage": {"prompt_tokens": 5, "completion_tokens": 2000}}))
    with server as url:
        c = client_for(url, ClientSettings(max_in_flight=4, max_tokens=5000))
        _in_threads([lambda: c.chat(VALID)] * 2)  # two at once: the second held 64 before the first answered
        later = [c.chat(VALID) for _ in range(3)]
    assert c.cost.tokens == 4010 and len(server.requests) == 2
    assert c.ledger.state()["largest"] == 2005 and all(r.problem_kind == BUDGET for r in later)
    assert c.cap_ignored and "tokens" in c.stopped


def test_the_run_key_in_another_header_style_is_billed_and_budgeted():
    server = FakeServer(lambda req: json_reply({"usage": USAGE}))
    with server as url:
        c = client_for(url, ClientSettings(max_billed=1))
        other_style = c.chat(VALID, auth=Auth("api-key", KEY))
        second = c.chat(VALID)
    assert other_style.status == 200 and c.cost.billed == 1
    assert second.problem_kind == BUDGET and len(server.requests) == 1


def test_a_stream_past_the_token_budget_is_cut_and_not_judged():
    """A target that ignores the cap and streams on is cut off about where the tokens run out (so
    it stops generating); the cut exchange is not judged, and its events count as tokens."""
    chunk = {"choices": [{"index": 0, "delta": {"content": "x"}}]}
    server = FakeServer(lambda req: sse_reply([chunk] * 400))
    with server as url:
        c = client_for(url, ClientSettings(max_tokens=100, max_stream_events=5000))
        cut = c.chat({**VALID, "stream": True})
    assert cut.status == 200 and cut.problem_kind == BUDGET and "token" in cut.problem
    assert len(cut.events) <= 100 + 8 and c.cost.tokens == cut.stream_stats.events  # every event received counts
    assert "tokens" in c.stopped
