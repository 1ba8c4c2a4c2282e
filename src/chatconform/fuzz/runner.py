"""Sending a schemathesis case through chatconform's client and judging the answer.

Requests never go through schemathesis' own transport: the plugin's Client sends them, so the
property tests get the same timeouts, size caps, retries, redaction, cost accounting and Allure
attachments as every other suite. Schemathesis receives the redacted exchange as a Response and
runs chatconform's checks on it (`case.validate_response`); the key never reaches schemathesis,
so nothing it prints can contain it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..checks.common import require_response
from ..client import Client, Exchange
from ..failures import ConformanceFailure, HarnessProblem, Unsupported
from ..requirements import Level, catalogue
from ..target import Target
from . import checks, schema, shaping
from .checks import NEGATIVE, POSITIVE, PROBE, STATEFUL, Sent

# Headers a case may carry that chatconform's client sets itself (or that would leak a key).
_OWN_HEADERS = frozenset({"authorization", "api-key", "user-agent", "accept-encoding", "accept", "connection",
                          "content-length", "host", "x-schemathesis-testcaseid"})


def to_response(exchange: Exchange) -> Any:
    """The redacted exchange as a schemathesis Response (its request carries the masked key only)."""
    import requests
    from schemathesis import Response

    request = requests.Request(method=exchange.method, url=exchange.url, headers=dict(exchange.request_headers),
                               data=exchange.request_body).prepare()
    headers: dict[str, list[str]] = {}
    for name, value in exchange.headers.multi_items():
        headers.setdefault(name.lower(), []).append(value)
    return Response(status_code=exchange.status or 0, headers=headers, content=exchange.body, request=request,
                    elapsed=exchange.elapsed, verify=True, http_version="1.1")


def _operation(case: Any) -> str:
    return f"{case.method} {case.path}"


def _body(case: Any) -> tuple[bool, Any]:
    """(whether the case has a body, the body)."""
    from schemathesis.core import NotSet

    return not isinstance(case.body, NotSet), case.body


class Runner:
    """Prepares, sends and judges the cases of one test item."""

    def __init__(self, client: Client, target: Target, item: Any) -> None:
        self.client = client
        self.target = target
        self.item = item
        self._unsupported: set[str] = set()
        self.unanswered = 0

    # -- the three kinds of property test ----------------------------------------------------------
    def _plan_positive(self, case: Any, *, stream: bool) -> _Planned:
        """A valid request (shaped for cost and capabilities) must be accepted with a conforming answer."""
        case.body = shaping.positive(case.body, self.target, stream=stream)
        self._harness_guard(case.body)
        return _Planned(case, self.target, POSITIVE, case.body, None, ())

    def _plan_negative(self, case: Any) -> _Planned | None:
        """An invalid request must be refused (400, the envelope); never accepted, never a 5xx. The
        case shaped, with how it must be answered; None: nothing left to test."""
        has_body, generated = _body(case)
        if schema.is_probe(case):
            return _Planned(case, self.target, PROBE, None, None, (400,))
        if has_body:
            case.body = shaping.negative(generated, self.target)
        decoded = _decoded(case.body) if has_body else None
        if case.method == "POST":
            rejection = shaping.rejection(decoded, self.target, has_body=has_body)
            if rejection is None:
                return None  # shaping made the body valid (its only fault was a parameter it drops): nothing to test
            allowed: tuple[int, ...] = (400,)
        else:
            # the id is random, so "no such completion" (404) is as right as "invalid parameter" (400)
            rejection = shaping.Rejection(shaping.INVALID, _description(case))
            allowed = (400, 404)
        return _Planned(case, self.target, NEGATIVE, decoded, rejection, allowed)

    # -- whole tests: generate (at run time, never at collection), send, judge ---------------------
    def generated(self, kind: str, label: str) -> None:
        """The fuzzing phase of one operation: hypothesis draws the run's number of examples from
        the schema for ``kind`` and each is sent and judged; the first failure (shrunk against the
        embedded server) fails the test."""
        import hypothesis

        from ..plugin.runs import stop_if_terminating
        from . import settings

        s = settings()
        strategy = schema.strategy(kind, label)

        def plan(case: Any) -> _Planned | None:
            return self._plan_negative(case) if kind == "negative" else \
                self._plan_positive(case, stream=kind == "streaming")

        phases = [hypothesis.Phase.generate] + ([hypothesis.Phase.shrink] if s.shrink else [])
        options = hypothesis.settings(max_examples=s.examples_for(kind), deadline=None, database=None,
                                      derandomize=s.derandomize and s.seed is None, phases=phases,
                                      report_multiple_bugs=False,  # one failure, the one the plugin grades
                                      suppress_health_check=list(hypothesis.HealthCheck))

        def run(each: Any) -> None:
            @options
            @hypothesis.given(case=strategy)
            def examples(case: Any) -> None:
                stop_if_terminating()  # a SIGTERM hypothesis swallowed while drawing ends the test here
                each(case)

            (hypothesis.seed(s.seed)(examples) if s.seed is not None else examples)()

        if s.shrink:  # a failure is replayed while hypothesis shrinks it: each case is sent as it is drawn
            def one(case: Any) -> None:
                planned = plan(case)
                exchange = self._answered(case) if planned is not None else None
                if exchange is not None:
                    self.judge(case, planned.sent(exchange))

            run(one)
            return

        # nothing will be replayed (against --base-url): every example is drawn and shaped first (a
        # fraction of one round trip), then all are sent together and judged in the order drawn
        def planned() -> Any:
            plans: list[_Planned] = []
            run(lambda case: plans.append(plan(case)))
            return (p for p in plans if p is not None)

        self._send_and_judge(planned())

    def boundaries(self, label: str) -> None:
        """The coverage phase of one operation: a fixed set of invalid requests, sent concurrently
        (at most the client's max_in_flight on the wire), then judged in schemathesis' order; the
        first failing case fails the test. Against a remote target one case per (constraint kind,
        parameter) is sent, against the embedded server one per constraint (see the suite)."""
        plans = (self._plan_negative(case) for case in schema.boundary_cases(label, per_parameter=not self.target.embedded))
        self._send_and_judge(p for p in plans if p is not None)

    def _send_and_judge(self, plans: Any) -> None:
        """Send planned cases concurrently (at most the client's max_in_flight on the wire), then
        judge them in order; the first failing case fails the test, and what is not on the wire
        by then stays off it."""
        from concurrent.futures import ThreadPoolExecutor

        workers = max(1, int(getattr(self.client.settings, "max_in_flight", 1) or 1))
        sending = []
        # each case goes out as soon as it is shaped: the wire and the server work while the rest
        # are generated and shaped; the pool never has more than max_in_flight of them in flight
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chatconform-cases") as pool:
            for plan in plans:
                sending.append((plan, pool.submit(self._try_send, plan.case)))
            try:
                for plan, future in sending:
                    exchange = self._received(plan.case, future.result())
                    if exchange is not None:
                        self.judge(plan.case, plan.sent(exchange))
            except BaseException:
                for _, future in sending:  # the test has its failure: what is not on the wire yet stays off it
                    future.cancel()
                raise

    def _try_send(self, case: Any) -> Exchange | HarnessProblem:
        try:
            return self.send(case)
        except HarnessProblem as exc:  # noted by the test's own thread (_received)
            return exc

    def _answered(self, case: Any) -> Exchange | None:
        """Send one generated case; None when no usable response came (a timeout, a reset)."""
        return self._received(case, self._try_send(case))

    def _received(self, case: Any, outcome: Exchange | HarnessProblem) -> Exchange | None:
        """One unanswered case among many says nothing about the requirements the others judge, so
        it is noted (the test's requirements stay unjudged by it) instead of erroring them all."""
        if not isinstance(outcome, HarnessProblem):
            return outcome
        from ..plugin.grading import note

        self.unanswered += 1
        if self.unanswered == 1:
            note(self.item, "request.standard-parameters-accepted" if case.method == "POST" and not
                 schema.is_probe(case) else "error.client-error-not-5xx",
                 f"a generated request got no usable response ({outcome.exchange.problem}): "
                 f"{outcome.exchange.curl()[:300]}")
        return None

    # -- sending -----------------------------------------------------------------------------------
    def send(self, case: Any) -> Exchange:
        if case.path.startswith("/chat/completions/") or (case.method == "GET" and case.path == "/chat/completions"):
            self._require_store()
        kwargs = case.as_transport_kwargs(base_url=self.target.base_url)
        headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items() if k.lower() not in _OWN_HEADERS}
        raw: bytes | None = None
        if "json" in kwargs:
            raw = json.dumps(kwargs["json"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif "data" in kwargs:
            data = kwargs["data"]
            raw = data if isinstance(data, bytes) else str(data).encode()
        path = case.path
        for name, value in case.path_parameters.items():
            # generated values arrive percent-encoded already, linked ids raw: escape what is unsafe
            # in a path segment and leave existing escapes alone
            path = path.replace("{" + name + "}", quote(str(value), safe="%"))
        stream = isinstance(case.body, Mapping) and case.body.get("stream") is True
        exchange = self.client.request(case.method, path, raw_body=raw, headers=headers,
                                       params=kwargs.get("params") or None, stream=stream)
        self._forget(exchange)
        require_response(exchange)  # no response: a harness problem; not sent for the budget: not judged
        return exchange

    def _require_store(self) -> None:
        """The stored-completion operations need the store: claimed by the profile and shown by the
        target (a framework 404 on the route means it is absent, settled once per session)."""
        from ..plugin.facts import facts

        if not self.target.has("store"):
            raise Unsupported("store", f"not declared by profile {self.target.profile.name} / --capabilities")
        absent = facts(self.item.config).absent("store")
        if absent:
            raise Unsupported("store", absent)

    def _forget(self, exchange: Exchange) -> None:
        from ..plugin.session import STATE

        session = self.item.config.stash.get(STATE, None)
        if session is not None:
            session.forget(exchange)

    # -- judging -----------------------------------------------------------------------------------
    def judge(self, case: Any, sent: Sent, *, recorder: Any = None) -> None:
        from schemathesis.core.failures import FailureGroup

        checks.SENT[case.id] = sent
        try:
            case.validate_response(to_response(sent.exchange), checks=checks.all_checks(), recorder=recorder)
        except FailureGroup as group:
            raise _most_severe(sent.failures, group) from None
        except Unsupported as exc:
            self._record_unsupported(exc)
        finally:
            checks.SENT.pop(case.id, None)

    def _record_unsupported(self, exc: Unsupported) -> None:
        from ..plugin.grading import support

        if exc.capability not in self._unsupported:
            self._unsupported.add(exc.capability)
            support(self.item, exc.capability, "property tests", f"unsupported: {exc.reason[:120]}")

    def _harness_guard(self, body: Any) -> None:
        wrong = shaping.violations(body)
        if wrong:  # a bug in shaping, not in the target: say so instead of blaming the server
            raise AssertionError(f"[harness] shaping produced an invalid request: {wrong[0].message[:300]}")

    # -- stateful steps ----------------------------------------------------------------------------
    def stateful_send(self, case: Any, created: dict[str, tuple[Exchange, dict[str, Any]]]) -> tuple[Sent, Any]:
        operation = _operation(case)
        if case.method == "POST":
            case.body = shaping.positive(case.body, self.target, stream=False, store=True)
            self._harness_guard(case.body)
            sent = Sent(self.send(case), self.target, STATEFUL, case.body, operation=operation)
            return sent, to_response(sent.exchange)
        # `after` must name a message of this completion; a random one is a different (400) case
        case.query = {k: v for k, v in case.query.items() if k != "after"}
        completion_id = str(case.path_parameters.get("completion_id"))
        origin = created.get(completion_id)
        sent = Sent(self.send(case), self.target, STATEFUL, None, operation=operation,
                    created=origin[0] if origin else None, created_body=origin[1] if origin else None,
                    query=dict(case.query))
        return sent, to_response(sent.exchange)


@dataclass
class _Planned:
    """A case shaped and ready to send, with what its answer must be."""

    case: Any
    target: Target
    purpose: str
    decoded: Any
    rejection: shaping.Rejection | None
    allowed: tuple[int, ...]

    def sent(self, exchange: Exchange) -> Sent:
        operation = _operation(self.case)
        if self.purpose == POSITIVE:
            return Sent(exchange, self.target, POSITIVE, self.case.body, operation=operation)
        if self.purpose == PROBE:
            return Sent(exchange, self.target, PROBE, None, operation=operation)
        return Sent(exchange, self.target, NEGATIVE, self.decoded, rejection=self.rejection,
                    allowed_statuses=self.allowed, operation=operation)


def _decoded(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray)):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _description(case: Any) -> str:
    data = getattr(getattr(case.meta, "phase", None), "data", None) if case.meta is not None else None
    return str(getattr(data, "description", None) or "an invalid parameter")


def _most_severe(failures: list[AssertionError], group: BaseException) -> BaseException:
    """One failure for the plugin to grade: the first MUST violation in check order (status checks
    run first), else the first harness problem; schemathesis' own group if none is ours."""
    if not failures:
        return group
    cat = catalogue()

    def rank(exc: AssertionError) -> int:
        if isinstance(exc, ConformanceFailure):
            return 0 if cat[exc.requirement].level is Level.MUST else 2
        return 1

    return sorted(failures, key=rank)[0]
