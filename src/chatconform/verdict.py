"""The verdict record: what one test found about one requirement, as data from the check to every reader.

A verdict is made once, where a check returns (pass) or raises (fail, not judged, unsupported), or
where a test stops before reaching a requirement it cites (blocked, error). The plugin carries it
to the controller as a plain dict (``as_dict``/``from_dict``: xdist ships user properties as
data); the terminal summary, the run record, Allure, JUnit, ``selfcheck`` and the self-test
harness all read these fields and never parse a message back.

Checks report into the *sink* of the test that runs them (``recording``); outside a test (the
reference server's own tests, a check called by hand) nothing is recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any


def _flat(record: Any) -> dict[str, Any]:
    """A dataclass whose fields are plain values as a dict: dataclasses.asdict without its
    recursive deep copy (a run turns thousands of records into JSON)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


# -- outcomes -------------------------------------------------------------------------------------
PASS = "pass"  # a check judged a real response and found it right
FAIL = "fail"  # a MUST requirement was violated
WARNING = "warning"  # a SHOULD/MAY requirement was violated (a failure only under --strict)
BLOCKED = "blocked"  # the test stopped at another requirement's failure before reaching this one
NOT_JUDGED = "not_judged"  # the check ran, but the response gave it nothing to judge
UNSUPPORTED = "unsupported"  # the target lacks the optional capability this depends on
INFORMATIONAL = "informational"  # observed and recorded; carries no conformance weight here
ERROR = "error"  # the harness could not judge: no usable response, or a suite bug
NOT_RUN = "not_run"  # only for a requirement as a whole: no test in the run cites it

OUTCOMES = (PASS, FAIL, WARNING, BLOCKED, NOT_JUDGED, UNSUPPORTED, INFORMATIONAL, ERROR, NOT_RUN)
LABELS = {PASS: "pass", FAIL: "fail", WARNING: "warning", BLOCKED: "blocked", NOT_JUDGED: "not judged",
          UNSUPPORTED: "unsupported", INFORMATIONAL: "informational", ERROR: "error", NOT_RUN: "not run"}
MARKS = {PASS: "✔", FAIL: "✖", WARNING: "!", BLOCKED: "⊘", NOT_JUDGED: "?", UNSUPPORTED: "-",
         INFORMATIONAL: "i", ERROR: "E", NOT_RUN: " "}
# When several tests speak about one requirement, the requirement takes the first of these that
# occurs: one violation fails it; an error means the run could not judge it; a pass (judged right
# wherever it was reached) beats the tests that never reached it: blocked ones (their earlier
# failure is counted where it happened) and those with nothing to judge; an observation beats a
# missing capability.
PRECEDENCE = (FAIL, ERROR, WARNING, PASS, BLOCKED, NOT_JUDGED, INFORMATIONAL, UNSUPPORTED, NOT_RUN)
# Outcomes that mean "not shown to be met" for a requirement that applies to the target.
UNMET = (FAIL, ERROR, WARNING, BLOCKED, NOT_JUDGED)


def aggregate(outcomes: Iterable[str]) -> str:
    present = set(outcomes)
    return next((o for o in PRECEDENCE if o in present), NOT_RUN)


@dataclass(frozen=True)
class Evidence:
    """One exchange a verdict relied on, already redacted: a summary line, a curl line and, for a
    verdict that is not a pass, the whole transcript."""

    summary: str
    curl: str
    transcript: str | None = None

    @classmethod
    def of(cls, exchange: Any, full: bool) -> Evidence:
        status = exchange.status if exchange.status is not None else "no response"
        return cls(summary=f"{exchange.method} {exchange.url} -> {status}", curl=exchange.curl(),
                   transcript=exchange.transcript() if full else None)


@dataclass(frozen=True)
class Verdict:
    requirement: str
    level: str  # MUST / SHOULD / MAY as graded for this target (a profile may change it)
    outcome: str
    test: str = ""  # the pytest node id
    expected: str = ""
    received: str = ""
    where: str | None = None
    reason: str = ""  # why it is not a pass, in one line (blocked by, not judged because, ...)
    capability: str | None = None
    exchanges: tuple[Evidence, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        # what dataclasses.asdict gives: every field a str or None, exchanges a tuple of dicts
        return {**_flat(self), "exchanges": tuple(_flat(e) for e in self.exchanges)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        values = dict(data)
        values["exchanges"] = tuple(Evidence(**e) for e in values.get("exchanges") or ())
        return cls(**values)

    @property
    def label(self) -> str:
        return LABELS[self.outcome]

    @property
    def curl(self) -> str | None:
        return self.exchanges[0].curl if self.exchanges else None

    def headline(self) -> str:
        """``[id] LEVEL outcome: reason``: the one line a person reads."""
        detail = self.reason or (f"expected {self.expected}; received {self.received}" if self.expected else "")
        return f"[{self.requirement}] {self.level} {self.label}" + (f": {detail}" if detail else "")


@dataclass(frozen=True)
class Note:
    """Something observed about a requirement that carries no verdict (which SSE framing a server
    uses, how it answers an unusual value)."""

    requirement: str
    message: str


@dataclass(frozen=True)
class SupportRow:
    """One row of the per-parameter support table: how the target answered one parameter case."""

    parameter: str
    case: str
    verdict: str


@dataclass(frozen=True)
class TestResult:
    """One test as the run saw it: pytest's outcome, what it cites, and its verdicts."""

    __test__ = False  # a record, not a test class, in the modules of the self-tests that import it

    nodeid: str
    outcome: str  # passed / failed / skipped / error (pytest's view)
    requirements: tuple[str, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    message: str = ""  # pytest's own text for an outcome no verdict explains (a suite bug)
    duration: float = 0.0
    notes: tuple[Note, ...] = ()  # informational observations (record.info)
    support: tuple[SupportRow, ...] = ()  # per-parameter support table rows (record.support)

    def as_dict(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "outcome": self.outcome, "requirements": list(self.requirements),
                "verdicts": [v.as_dict() for v in self.verdicts], "message": self.message,
                "duration": self.duration,
                "notes": [_flat(n) for n in self.notes], "support": [_flat(s) for s in self.support]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestResult:
        return cls(nodeid=data["nodeid"], outcome=data["outcome"], requirements=tuple(data.get("requirements") or ()),
                   verdicts=tuple(Verdict.from_dict(v) for v in data.get("verdicts") or ()),
                   message=data.get("message", ""), duration=float(data.get("duration", 0.0)),
                   notes=tuple(Note(**n) for n in data.get("notes") or ()),
                   support=tuple(SupportRow(**s) for s in data.get("support") or ()))

    def verdict_for(self, requirement: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.requirement == requirement), None)


def failing_requirements(tests: Iterable[TestResult]) -> set[str]:
    """Requirements that failed their test: MUST failures, and warnings that failed it (--strict)."""
    return {v.requirement for t in tests for v in t.verdicts
            if v.outcome == FAIL or (v.outcome == WARNING and t.outcome == "failed")}


# -- the sink checks report into --------------------------------------------------------------------
@dataclass
class Observation:
    """What a check said about a requirement, before the plugin grades it into a Verdict."""

    requirement: str
    outcome: str  # PASS, FAIL (graded to warning by level), NOT_JUDGED, INFORMATIONAL
    error: BaseException | None = None
    exchanges: list[Any] = field(default_factory=list)
    reason: str = ""


class Sink:
    def __init__(self) -> None:
        self.observations: list[Observation] = []
        self.recorded: set[int] = set()  # id() of exceptions already observed

    def add(self, observation: Observation) -> None:
        if observation.error is not None:
            if id(observation.error) in self.recorded:
                return
            self.recorded.add(id(observation.error))
        self.observations.append(observation)


_SINK: ContextVar[Sink | None] = ContextVar("chatconform_verdict_sink", default=None)


@contextlib.contextmanager
def recording(sink: Sink) -> Iterator[Sink]:
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)


def observe(requirement: str, outcome: str, *, error: BaseException | None = None,
            exchanges: Iterable[Any] = (), reason: str = "") -> None:
    sink = _SINK.get()
    if sink is not None:
        sink.add(Observation(requirement, outcome, error, [e for e in exchanges if e is not None], reason))
