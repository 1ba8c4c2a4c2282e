"""Grading: what the checks observed and how a test ended, made into one verdict per cited requirement.

While a test runs (setup included), checks report into its verdict sink (chatconform.verdict).
An exception that ends the test is turned into what it means, wherever it was raised (fixture,
test, check):

- ``Unsupported``: every cited requirement unsupported; the test is skipped;
- ``NotJudged``: that requirement not judged; the test is skipped;
- ``ConformanceFailure``: fail at MUST (and under --strict); at SHOULD/MAY a warning and the test
  passes; at a level a profile made informational, an observation;
- anything else (``HarnessProblem``, a suite bug): error.

When the test is over, a cited requirement nothing spoke about is *blocked* (the test stopped at
another requirement's failure), *error* (it stopped on a harness problem) or *not judged* (the test
ended without any check for it returning). A requirement passes only where a check returned.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from .. import verdict as v
from ..failures import ConformanceFailure, HarnessProblem, NotApplicable, NotJudged, Unsupported
from ..requirements import catalogue
from .markers import requirement_ids, test_id
from .session import state

SINK: pytest.StashKey[v.Sink] = pytest.StashKey()
STOPPED: pytest.StashKey[BaseException] = pytest.StashKey()
NOTES: pytest.StashKey[list[v.Note]] = pytest.StashKey()
SUPPORT: pytest.StashKey[list[v.SupportRow]] = pytest.StashKey()
VERDICTS = "chatconform-verdicts"  # user_properties key: carried to the xdist controller as data
MAX_EVIDENCE = 3


# -- levels ---------------------------------------------------------------------------------------
def graded_level(config: pytest.Config, requirement: str) -> str:
    """The requirement's level for this target: the catalogue's, unless the profile sets another
    (specs/profiles: e.g. header.request-id is MUST only where a document promises the header)."""
    base = catalogue()[requirement].level.value if requirement in catalogue() else "MUST"
    profile = state(config).profile
    return str(profile.level(requirement, base)) if profile is not None else base


def _fails_the_run(config: pytest.Config, level: str) -> bool:
    return level == "MUST" or (level in ("SHOULD", "MAY") and state(config).strict)


# -- the hooks ------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    # fixtures build shared exchanges and may find a capability missing: graded like the test
    with v.recording(item.stash.setdefault(SINK, v.Sink())):
        try:
            return (yield)
        except BaseException as exc:  # noqa: BLE001 - every ending is graded, then re-raised or turned into a skip
            return _ended(item, exc)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with v.recording(item.stash.setdefault(SINK, v.Sink())):
        try:
            return (yield)
        except BaseException as exc:  # noqa: BLE001
            return _ended(item, exc)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
        verdicts = finalize(item, call.excinfo.value if call.excinfo else None)
        item.user_properties.append((VERDICTS, {
            "verdicts": [x.as_dict() for x in verdicts],
            "notes": [{"requirement": n.requirement, "message": n.message} for n in item.stash.get(NOTES, [])],
            "support": [{"parameter": s.parameter, "case": s.case, "verdict": s.verdict}
                        for s in item.stash.get(SUPPORT, [])],
        }))
    return (yield)


def _ended(item: pytest.Item, exc: BaseException) -> None:
    """Record what ended the test; return to let it pass (a warning), or raise what pytest should see."""
    sink = item.stash.setdefault(SINK, v.Sink())
    item.stash[STOPPED] = exc
    if isinstance(exc, Unsupported):
        for rid in requirement_ids(item):
            sink.add(v.Observation(rid, v.UNSUPPORTED, reason=f"capability {exc.capability!r}: {exc.reason}"))
        raise pytest.skip.Exception(f"UNSUPPORTED capability {exc.capability!r}: {exc.reason}") from None
    if isinstance(exc, NotApplicable):
        for rid in requirement_ids(item):
            sink.add(v.Observation(rid, v.INFORMATIONAL, reason=f"not applicable under this profile: "
                                                                f"[{exc.requirement}] {exc.reason}"))
        raise pytest.skip.Exception(f"NOT APPLICABLE [{exc.requirement}]: {exc.reason}") from None
    if isinstance(exc, NotJudged):
        sink.add(v.Observation(exc.requirement, v.NOT_JUDGED, exc, [exc.exchange] if exc.exchange else [],
                               reason=exc.reason))
        raise pytest.skip.Exception(f"NOT JUDGED [{exc.requirement}]: {exc.reason}") from None
    if isinstance(exc, ConformanceFailure):
        sink.add(v.Observation(exc.requirement, v.FAIL, exc, [exc.exchange] if exc.exchange else []))
        cited = requirement_ids(item)
        if exc.requirement not in cited:
            raise AssertionError(f"{test_id(item)} raised a failure for {exc.requirement!r} but cites {cited}: "
                                 "add the ID to its requirement marker") from exc
        if _fails_the_run(item.config, graded_level(item.config, exc.requirement)):
            raise exc
        del item.stash[STOPPED]  # a warning or an observation: the test goes on to pass
        return None
    raise exc


def finalize(item: pytest.Item, ended: BaseException | None) -> list[v.Verdict]:
    """One verdict per cited requirement, from the sink and from how the test ended."""
    tid = test_id(item)
    sink = item.stash.get(SINK, None) or v.Sink()
    stopped = item.stash.get(STOPPED, None)
    cited = requirement_ids(item)
    test_exchanges = state(item.config).exchanges_of(item)
    by_requirement: dict[str, list[v.Observation]] = {}
    for o in sink.observations:
        if o.requirement in cited:  # a nested check's pass for a requirement this test does not cite
            by_requirement.setdefault(o.requirement, []).append(o)
    failed_at = next((o.requirement for o in sink.observations if o.outcome == v.FAIL and o.error is stopped), None)
    verdicts = []
    for rid in cited:
        level = graded_level(item.config, rid)
        observations = by_requirement.get(rid)
        noted = [n.message for n in item.stash.get(NOTES, []) if n.requirement == rid]
        if observations:
            verdicts.append(_from_observations(item, rid, level, observations))
        elif noted and stopped is None:
            # a requirement the test only observes (which choice a server made where both are fine)
            verdicts.append(v.Verdict(rid, level, v.INFORMATIONAL, tid, reason=noted[0],
                                      exchanges=tuple(v.Evidence.of(e, False) for e in test_exchanges[:1])))
        else:
            found = _unreached(item, rid, level, stopped, failed_at, ended, test_exchanges)
            if level not in ("MUST", "SHOULD", "MAY") and found.outcome in (v.BLOCKED, v.NOT_JUDGED):
                found = replace(found, outcome=v.INFORMATIONAL)
            verdicts.append(found)
    return verdicts


def _graded(level: str, outcome: str) -> str:
    if level not in ("MUST", "SHOULD", "MAY") and outcome in (v.PASS, v.FAIL, v.NOT_JUDGED):
        # the profile gives it no conformance weight: what the check saw is an observation
        return v.INFORMATIONAL
    if outcome != v.FAIL:
        return outcome
    if level == "MUST":
        return v.FAIL
    if level in ("SHOULD", "MAY"):
        return v.WARNING
    return v.INFORMATIONAL  # a profile made it informational (or not applicable) for this target


def _from_observations(item: pytest.Item, rid: str, level: str, observations: list[v.Observation]) -> v.Verdict:
    tid = test_id(item)
    outcome = v.aggregate(_graded(level, o.outcome) for o in observations)
    chosen = next(o for o in observations if _graded(level, o.outcome) == outcome)
    full = outcome != v.PASS
    exchanges = tuple(v.Evidence.of(e, full) for e in _unique(chosen.exchanges)[:MAX_EVIDENCE])
    error = chosen.error
    if isinstance(error, ConformanceFailure):
        return v.Verdict(rid, level, outcome, tid, expected=error.expected, received=error.received,
                         where=error.where, reason=f"expected {error.expected}; received {error.received}",
                         exchanges=exchanges)
    capability = None
    if outcome == v.UNSUPPORTED and isinstance(item.stash.get(STOPPED, None), Unsupported):
        capability = item.stash[STOPPED].capability  # type: ignore[attr-defined]
    return v.Verdict(rid, level, outcome, tid, reason=chosen.reason, capability=capability,
                     exchanges=exchanges)


def _unreached(item: pytest.Item, rid: str, level: str, stopped: BaseException | None, failed_at: str | None,
               ended: BaseException | None, exchanges: list[Any]) -> v.Verdict:
    tid = test_id(item)
    evidence = tuple(v.Evidence.of(e, False) for e in exchanges[:MAX_EVIDENCE])
    if stopped is None and ended is not None and isinstance(ended, pytest.skip.Exception):
        # a plain skip in a suite: it found nothing to judge here (the reason says why)
        return v.Verdict(rid, level, v.NOT_JUDGED, tid, reason=str(ended.msg), exchanges=evidence)
    if stopped is None:
        return v.Verdict(rid, level, v.NOT_JUDGED, tid, exchanges=evidence,
                         reason="the test ended without any check for it returning a verdict")
    if isinstance(stopped, ConformanceFailure):
        return v.Verdict(rid, level, v.BLOCKED, tid, exchanges=evidence,
                         reason=f"not reached: the test stopped at {failed_at or stopped.requirement}")
    if isinstance(stopped, NotJudged):
        return v.Verdict(rid, level, v.NOT_JUDGED, tid, exchanges=evidence,
                         reason=f"not reached: {stopped.requirement} had nothing to judge ({stopped.reason})")
    if isinstance(stopped, HarnessProblem):
        ex = (v.Evidence.of(stopped.exchange, True),)
        return v.Verdict(rid, level, v.ERROR, tid, expected=stopped.what,
                         received=stopped.exchange.excerpt(), exchanges=ex,
                         reason=f"no usable response: {stopped.exchange.problem or stopped.exchange.excerpt()}")
    if isinstance(stopped, pytest.skip.Exception):
        return v.Verdict(rid, level, v.NOT_JUDGED, tid, reason=str(stopped.msg), exchanges=evidence)
    return v.Verdict(rid, level, v.ERROR, tid, exchanges=evidence,
                     reason=f"the test broke without a verdict: {type(stopped).__name__}: {str(stopped)[:300]}")


def _unique(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


# -- informational records (the ``record`` fixture) --------------------------------------------------
def note(item: pytest.Item, requirement: str, message: str) -> None:
    item.stash.setdefault(NOTES, []).append(v.Note(requirement, message))


def support(item: pytest.Item, parameter: str, case: str, verdict: str) -> None:
    item.stash.setdefault(SUPPORT, []).append(v.SupportRow(parameter, case, verdict))
