"""The run record (format ``chatconform.run.v1``): one verdict for every requirement in the catalogue.

Built at the end of a pytest session from the verdict records the plugin hands over (chatconform.
verdict.TestResult) and from the catalogue, so a requirement no test reached still appears, as
"not_run". The record carries the catalogue entries it was judged against, so records from older
catalogues still compare and diff. specs/run-record.schema.json describes the format, and
reports/README.md each file of a run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..paths import specs_dir
from ..requirements import Catalogue, Requirement
from ..verdict import LABELS as OUTCOME_LABELS
from ..verdict import OUTCOMES, TestResult, Verdict, aggregate
from ..verdict import PRECEDENCE as OUTCOME_PRECEDENCE
from .sources import requirement_group, source_entries

FORMAT = "chatconform.run.v1"
SCHEMA_FILE = "run-record.schema.json"
RUN_FILE = "run.json"

# Verdict names and their order come from the one verdict record (chatconform.verdict).
VERDICTS = OUTCOMES
LABELS = OUTCOME_LABELS
PRECEDENCE = OUTCOME_PRECEDENCE

MESSAGE_LIMIT = 4000
ATTACHMENT_LIMIT = 32 * 1024


class RunRecordError(ValueError):
    """A file that is not a usable run record (missing, not JSON, wrong format, schema errors)."""


@dataclass
class SessionData:
    """What a pytest session gathered: every test's result with its verdict records, and the cost."""

    tests: list[TestResult]
    cost: Mapping[str, int]


# -- verdicts ------------------------------------------------------------------------------------
def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit * 3 // 4
    tail = limit - head
    return f"{text[:head]}\n… [{len(text) - limit} characters omitted] …\n{text[-tail:]}"


def _evidence_entry(test: TestResult, verdict: Verdict) -> dict[str, Any]:
    item: dict[str, Any] = {"test": test.nodeid, "outcome": test.outcome, "verdict": verdict.outcome,
                            "duration_seconds": round(test.duration, 4)}
    if verdict.outcome != "pass":
        item["reason"] = verdict.reason or verdict.label
    if verdict.expected:
        item["expected"] = verdict.expected
        item["received"] = _truncate(verdict.received, MESSAGE_LIMIT)
    if verdict.where:
        item["where"] = verdict.where
    if verdict.outcome not in ("pass", "unsupported") and verdict.exchanges:
        attachments = []
        for e in verdict.exchanges:
            if e.transcript:
                attachments.append({"name": "exchange", "media_type": "text/plain",
                                    "content": _truncate(e.transcript, ATTACHMENT_LIMIT)})
            attachments.append({"name": "curl", "media_type": "text/x-shellscript", "content": e.curl})
        item["attachments"] = attachments
    if test.outcome in ("failed", "error") and test.message and verdict.outcome == "error":
        item["message"] = _truncate(test.message, MESSAGE_LIMIT)
    return item


def judge_requirement(req: Requirement, tests: list[TestResult]) -> dict[str, Any]:
    evidence: list[dict[str, Any]] = []
    notes: list[str] = []
    verdicts: list[Verdict] = []
    for test in tests:
        found = test.verdict_for(req.id)
        if found is None:  # a test from before grading (or a crash before it): no verdict to read
            found = Verdict(req.id, req.level.value, "error", test.nodeid,
                            reason=f"no verdict recorded: pytest says {test.outcome}")
        verdicts.append(found)
        evidence.append(_evidence_entry(test, found))
        for n in test.notes:
            if n.requirement == req.id and n.message not in notes:
                notes.append(n.message)
    verdict = aggregate(v.outcome for v in verdicts)
    if not tests:
        reason = "no test in this run cites it"
    elif verdict == "pass":
        passed = sum(v.outcome == "pass" for v in verdicts)
        reason = f"{passed} test{'s' if passed != 1 else ''} passed"
    else:
        chosen = next(v for v in verdicts if v.outcome == verdict)
        reason = chosen.reason or chosen.label
    # the level as graded for this target (a profile may change it); the catalogue's otherwise
    level = verdicts[0].level if verdicts else req.level.value
    entry: dict[str, Any] = {
        "id": req.id,
        "level": level,
        "area": req.area,
        "group": requirement_group(req),
        "statement": req.statement,
        "capability": req.capability,
        "source": source_entries(req),
        "verdict": verdict,
        "reason": reason,
        "tests": [t.nodeid for t in tests],
        "evidence": evidence,
    }
    if level != req.level.value:
        entry["catalogue_level"] = req.level.value
    if req.note:
        entry["note"] = req.note
    if notes:
        entry["observations"] = notes
    return entry


def must_summary(requirements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """How many MUST requirements were met, of those that apply to the target.

    Unsupported (an optional capability the target lacks), informational (a profile's level) and
    not-run requirements are left out: they say nothing about conformance. Everything else counts:
    a blocked, not-judged or errored requirement has not been shown to be met.
    """
    counts = Counter(r["verdict"] for r in requirements if r["level"] == "MUST")
    judged = sum(counts[v] for v in ("pass", "fail", "error", "warning", "blocked", "not_judged"))
    return {
        "total": sum(counts.values()),
        "judged": judged,
        "met": counts["pass"],
        "failed": counts["fail"],
        "errors": counts["error"],
        "blocked": counts["blocked"],
        "not_judged": counts["not_judged"],
        "unsupported": counts["unsupported"],
        "informational": counts["informational"],
        "not_run": counts["not_run"],
        "score": round(counts["pass"] / judged, 4) if judged else None,
    }


# -- the headline ---------------------------------------------------------------------------------
# The one verdict a buyer reads (terminal, run.json summary.headline, compare page, diff). It is a
# status word and counts, never a percentage: 95 % "met" reads green even when the 5 % is every
# streaming client breaking or any key being accepted.
#
#   applicable = MUST requirements except unsupported, informational and not run
#   NOT JUDGED  the pre-flight failed, or no MUST requirement applied
#   FAIL        at least one MUST requirement failed (the count and its areas are named)
#   INCOMPLETE  none failed, but some could not be judged (error, blocked, not judged), or the
#               run was interrupted
#   PASS        every applicable MUST requirement was judged and met, in a run that finished
#
# "PARTIAL" is prefixed when the run was interrupted (Ctrl-C, SIGTERM): it judged only part.
UNJUDGED = ("error", "blocked", "not_judged")
STATUSES = ("PASS", "INCOMPLETE", "FAIL", "NOT JUDGED")


def headline(requirements: Iterable[Mapping[str, Any]], *, partial: bool = False,
             preflight: Mapping[str, Any] | None = None) -> dict[str, Any]:
    reqs = list(requirements)
    must = [r for r in reqs if r["level"] == "MUST"]
    applicable = [r for r in must if r["verdict"] not in ("unsupported", "informational", "not_run")]
    failed = [r for r in applicable if r["verdict"] == "fail"]
    unjudged = Counter(r["verdict"] for r in applicable if r["verdict"] in UNJUDGED)
    failed_areas = dict(Counter(r["area"] for r in failed).most_common())
    met = sum(r["verdict"] == "pass" for r in applicable)
    warnings = sum(r["verdict"] == "warning" for r in reqs if r["level"] != "MUST")
    unsupported = sum(r["verdict"] == "unsupported" for r in reqs)
    not_run = sum(r["verdict"] == "not_run" for r in must)
    outage = bool(preflight and preflight.get("exit_code"))
    if outage or not applicable:
        status = "NOT JUDGED"
    elif failed:
        status = "FAIL"
    elif unjudged or partial:
        status = "INCOMPLETE"
    else:
        status = "PASS"
    if outage:
        assert preflight is not None
        text = (f"NOT JUDGED: the pre-flight found the target {str(preflight.get('status')).replace('_', ' ')} "
                f"({preflight.get('message', '')}); no requirement was tested")
    elif not applicable:
        text = "NOT JUDGED: no MUST requirement was judged"
    else:
        parts = []
        if failed:
            areas = ", ".join(f"{a} {n}" for a, n in failed_areas.items())
            parts.append(f"{len(failed)} MUST requirement{'s' if len(failed) != 1 else ''} violated ({areas})")
        if unjudged:
            detail = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(unjudged.items()))
            parts.append(f"{sum(unjudged.values())} MUST not judged ({detail})")
        parts.append(f"{met} of {len(applicable)} applicable MUST met")
        parts.append(f"{warnings} SHOULD/MAY warning{'s' if warnings != 1 else ''}")
        if unsupported:
            parts.append(f"{unsupported} unsupported")
        if not_run:
            parts.append(f"{not_run} MUST not run")
        text = f"{status}: " + "; ".join(parts)
    if partial:
        text = "PARTIAL (interrupted) " + text
    return {
        "status": status, "partial": partial, "text": text,
        "must_failed": len(failed), "failed_areas": failed_areas,
        "must_met": met, "must_applicable": len(applicable),
        "must_unjudged": {k: unjudged[k] for k in UNJUDGED},
        "warnings": warnings, "unsupported": unsupported, "must_not_run": not_run,
        "preflight": (preflight or {}).get("status"),
    }


def verdict_counts(requirements: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = Counter(r["verdict"] for r in requirements)
    return {v: counts[v] for v in VERDICTS}


def build_record(data: SessionData, catalogue: Catalogue, *, run: Mapping[str, Any], target: Mapping[str, Any],
                 versions: Mapping[str, Any], artifacts: Mapping[str, Any] | None = None,
                 preflight: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run record for one session."""
    # under xdist reports arrive in completion order; sorted, two records of one suite line up
    ordered = sorted(data.tests, key=lambda t: t.nodeid)
    by_requirement: dict[str, list[TestResult]] = {}
    for test in ordered:
        for rid in test.requirements:
            by_requirement.setdefault(rid, []).append(test)
    requirements = [judge_requirement(req, by_requirement.get(req.id, [])) for req in catalogue]
    areas = []
    for name, info in catalogue.areas.items():
        members = [r for r in requirements if r["area"] == name]
        areas.append({
            "name": name,
            "description": info.get("description", ""),
            "requirements": len(members),
            "verdicts": verdict_counts(members),
            "must": must_summary(members),
        })
    outcomes = Counter(t.outcome for t in ordered)
    tests = []
    for test in ordered:
        entry: dict[str, Any] = {
            "nodeid": test.nodeid,
            "outcome": test.outcome,
            "requirements": list(test.requirements),
            "duration_seconds": round(test.duration, 4),
            "verdicts": {v.requirement: v.outcome for v in test.verdicts},
        }
        if entry["outcome"] != "passed" and test.message:
            entry["message"] = _truncate(test.message, MESSAGE_LIMIT)
        tests.append(entry)
    support = [{"parameter": r.parameter, "case": r.case, "verdict": r.verdict, "test": t.nodeid}
               for t in ordered for r in t.support]
    cost = {k: int(data.cost.get(k, 0)) for k in ("requests", "prompt_tokens", "completion_tokens")}
    cost["total_tokens"] = cost["prompt_tokens"] + cost["completion_tokens"]
    record = {
        "format": FORMAT,
        "run": dict(run),
        "target": dict(target),
        "versions": dict(versions),
        "cost": cost,
        "summary": {
            "requirements": len(requirements),
            "verdicts": verdict_counts(requirements),
            "must": must_summary(requirements),
            "tests": {
                "total": len(ordered),
                **{k: outcomes[k] for k in ("passed", "failed", "skipped", "error")},
            },
        },
        "areas": areas,
        "requirements": requirements,
        "tests": tests,
        "support": support,
        "artifacts": dict(artifacts or {}),
    }
    record["summary"]["headline"] = headline(requirements, partial=bool(run.get("partial")), preflight=preflight)
    if preflight is not None:
        record["preflight"] = dict(preflight)
    return record


def headline_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's headline; computed for records written before summary.headline existed."""
    found = record.get("summary", {}).get("headline")
    if found:
        return dict(found)
    return headline(record.get("requirements", []), partial=bool(record.get("run", {}).get("partial")),
                    preflight=record.get("preflight"))


# -- names and times -----------------------------------------------------------------------------
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")


def check_run_name(name: str) -> str:
    """A run name becomes a directory name: one path component of safe characters."""
    if not RUN_NAME.match(name) or ".." in name:
        raise ValueError(
            f"run name {name!r}: use 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit"
        )
    return name


def default_run_name(target_name: str, when: datetime) -> str:
    """``<target host>-<UTC time>``, e.g. ``api.vendor.example-20250601T120000Z``."""
    host = re.sub(r"[^A-Za-z0-9._-]+", "-", target_name).strip("-._") or "target"
    return f"{host[:80]}-{when.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- reading and validating ----------------------------------------------------------------------
@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads((specs_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))


def schema_errors(record: Any) -> list[str]:
    """Every way ``record`` departs from specs/run-record.schema.json (empty when it is valid)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors]


def resolve_path(path: str | Path) -> Path:
    """A run record given as its run.json or as the run's directory."""
    p = Path(path)
    return p / RUN_FILE if p.is_dir() else p


def load(path: str | Path) -> dict[str, Any]:
    """Read and validate a run record; RunRecordError says plainly why a file is unusable."""
    file = resolve_path(path)
    if not file.is_file():
        raise RunRecordError(f"{path}: no run record here (expected a run.json or a directory holding one)")
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunRecordError(f"{file}: not readable JSON ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise RunRecordError(f"{file}: not a {FORMAT} run record (format: {found!r})")
    problems = schema_errors(record)
    if problems:
        shown = "\n  ".join(problems[:10]) + (f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise RunRecordError(f"{file}: does not match {SCHEMA_FILE}:\n  {shown}")
    return record


def label(record: Mapping[str, Any]) -> str:
    return str(record["run"]["name"])
