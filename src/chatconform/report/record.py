"""The run record (format ``chatconform.run.v1``): one verdict for every requirement in the catalogue.

Built at the end of a pytest session from what the plugin gathered (each test's outcome and cited
requirements, the verdict records, the cost) and from the catalogue, so a requirement no test
reached still appears, as "not_run". The record carries the catalogue entries it was judged
against, so records from older catalogues still compare and diff. specs/run-record.schema.json
describes the format; docs/reports.md explains each field.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..paths import specs_dir
from ..requirements import Catalogue, Level, Requirement
from .sources import requirement_group, source_entries

FORMAT = "chatconform.run.v1"
SCHEMA_FILE = "run-record.schema.json"
RUN_FILE = "run.json"

VERDICTS = ("pass", "fail", "warning", "unsupported", "error", "not_run")
LABELS = {
    "pass": "pass",
    "fail": "fail",
    "warning": "warning",
    "unsupported": "unsupported",
    "error": "error",
    "not_run": "not run",
}
# When several tests judge one requirement, the requirement takes the first of these that occurs:
# one failing test is enough to fail it; an error means it could not be fully judged.
PRECEDENCE = ("fail", "error", "warning", "pass", "unsupported", "not_run")

MESSAGE_LIMIT = 4000
ATTACHMENT_LIMIT = 32 * 1024


class RunRecordError(ValueError):
    """A file that is not a usable run record (missing, not JSON, wrong format, schema errors)."""


@dataclass
class SessionData:
    """What a pytest session gathered, as the plugin's RunState holds it on the controller."""

    tests: list[dict[str, Any]]
    records: list[dict[str, Any]]
    cost: Mapping[str, int]
    attachments: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # nodeid -> attachments
    durations: dict[str, float] = field(default_factory=dict)  # nodeid -> seconds (all phases)


# -- verdicts ------------------------------------------------------------------------------------
def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _field(message: str, name: str) -> str | None:
    for line in message.splitlines():
        stripped = line.strip()
        if stripped.startswith(f"{name}:"):
            return stripped[len(name) + 1 :].strip()
    return None


def summarise_failure(message: str) -> str:
    """One line out of a failure message: what was expected and what came instead."""
    expected, received = _field(message, "expected"), _field(message, "received")
    if expected or received:
        return f"expected {expected or '?'}; received {received or '?'}"
    return _first_line(message)


def _test_verdict(test: Mapping[str, Any], rid: str, level: Level,
                  records: list[Mapping[str, Any]]) -> tuple[str, str | None, str]:
    """(verdict, message, reason) for one requirement as judged by one test."""
    outcome = test.get("outcome", "passed")
    own = [r for r in records if r.get("requirement") == rid and r["kind"] in ("fail", "warning")]
    if own:
        record = own[0]
        message = str(record.get("message", ""))
        # The verdict says how badly the requirement was violated, independent of --strict
        # (which only decides whether a SHOULD violation fails the pytest run).
        verdict = "fail" if level is Level.MUST else "warning"
        return verdict, message, summarise_failure(message)
    unsupported = [r for r in records if r["kind"] == "unsupported"]
    harness = [r for r in records if r["kind"] == "harness"]
    if outcome == "passed":
        return "pass", None, "passed"
    if outcome == "skipped":
        if unsupported:
            u = unsupported[0]
            reason = f"capability {u.get('capability')!r} unsupported: {u.get('reason', '')}".rstrip(": ")
            return "unsupported", None, reason
        return "not_run", None, f"skipped: {test.get('message', '')}".strip()
    if harness:
        message = str(harness[0].get("message", ""))
        return "error", message, _first_line(message)
    others = [r.get("requirement") for r in records if r["kind"] in ("fail", "warning") and r.get("requirement")]
    if others:
        return "not_run", None, f"not reached: the test stopped at {others[0]}"
    message = str(test.get("message", ""))
    return "error", message, "the test broke without a verdict: " + _exception_line(message)


def _exception_line(longrepr: str) -> str:
    """The exception out of a pytest traceback: its first ``E   `` line, else its last line."""
    for line in longrepr.splitlines():
        if line.startswith("E "):
            return line[1:].strip()
    return _first_line(longrepr.splitlines()[-1]) if longrepr.strip() else "(no message)"


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit * 3 // 4
    tail = limit - head
    return f"{text[:head]}\n… [{len(text) - limit} characters omitted] …\n{text[-tail:]}"


def _aggregate(verdicts: Iterable[str]) -> str:
    present = set(verdicts)
    for verdict in PRECEDENCE:
        if verdict in present:
            return verdict
    return "not_run"


def judge_requirement(req: Requirement, data: SessionData, by_requirement: Mapping[str, list[Mapping[str, Any]]],
                      records_by_test: Mapping[str, list[Mapping[str, Any]]]) -> dict[str, Any]:
    tests = by_requirement.get(req.id, [])
    evidence: list[dict[str, Any]] = []
    notes: list[str] = []
    verdicts: list[str] = []
    reasons: dict[str, str] = {}
    for test in tests:
        nodeid = test["nodeid"]
        records = records_by_test.get(nodeid, [])
        verdict, message, reason = _test_verdict(test, req.id, req.level, records)
        verdicts.append(verdict)
        reasons.setdefault(verdict, reason)
        item: dict[str, Any] = {"test": nodeid, "outcome": test.get("outcome", "passed"), "verdict": verdict}
        if nodeid in data.durations:
            item["duration_seconds"] = round(data.durations[nodeid], 4)
        if message:
            item["message"] = _truncate(message, MESSAGE_LIMIT)
        if verdict in ("fail", "warning", "error") and data.attachments.get(nodeid):
            item["attachments"] = [
                dict(a, content=_truncate(a["content"], ATTACHMENT_LIMIT)) for a in data.attachments[nodeid]
            ]
        if verdict != "pass":
            item["reason"] = reason
        evidence.append(item)
        for record in records:
            if record["kind"] == "info" and record.get("requirement") == req.id:
                note = str(record.get("message", ""))
                if note not in notes:
                    notes.append(note)
    verdict = _aggregate(verdicts)
    if not tests:
        reason = "no test in this run cites it"
    elif verdict == "pass":
        reason = f"{verdicts.count('pass')} test{'s' if verdicts.count('pass') != 1 else ''} passed"
    else:
        reason = reasons[verdict]
    entry: dict[str, Any] = {
        "id": req.id,
        "level": req.level.value,
        "area": req.area,
        "group": requirement_group(req),
        "statement": req.statement,
        "capability": req.capability,
        "source": source_entries(req),
        "verdict": verdict,
        "reason": reason,
        "tests": [t["nodeid"] for t in tests],
        "evidence": evidence,
    }
    if req.note:
        entry["note"] = req.note
    if notes:
        entry["observations"] = notes
    return entry


def must_summary(requirements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """How many MUST requirements were met, of those that could be judged.

    Unsupported (an optional capability the target lacks) and not-run requirements are left out of
    the score: they say nothing about conformance. Errors count against it: a requirement the
    suite could not judge has not been shown to be met.
    """
    counts = Counter(r["verdict"] for r in requirements if r["level"] == "MUST")
    judged = counts["pass"] + counts["fail"] + counts["error"] + counts["warning"]
    return {
        "total": sum(counts.values()),
        "judged": judged,
        "met": counts["pass"],
        "failed": counts["fail"],
        "errors": counts["error"],
        "unsupported": counts["unsupported"],
        "not_run": counts["not_run"],
        "score": round(counts["pass"] / judged, 4) if judged else None,
    }


def verdict_counts(requirements: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = Counter(r["verdict"] for r in requirements)
    return {v: counts[v] for v in VERDICTS}


def build_record(data: SessionData, catalogue: Catalogue, *, run: Mapping[str, Any], target: Mapping[str, Any],
                 versions: Mapping[str, Any], artifacts: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The run record for one session."""
    # under xdist reports arrive in completion order; sorted, two records of one suite line up
    ordered = sorted(data.tests, key=lambda t: t["nodeid"])
    by_requirement: dict[str, list[Mapping[str, Any]]] = {}
    for test in ordered:
        for rid in test.get("requirements") or []:
            by_requirement.setdefault(rid, []).append(test)
    records_by_test: dict[str, list[Mapping[str, Any]]] = {}
    for record in data.records:
        records_by_test.setdefault(record.get("nodeid", ""), []).append(record)

    requirements = [judge_requirement(req, data, by_requirement, records_by_test) for req in catalogue]
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
    outcomes = Counter(t.get("outcome", "passed") for t in ordered)
    tests = []
    for test in ordered:
        entry: dict[str, Any] = {
            "nodeid": test["nodeid"],
            "outcome": test.get("outcome", "passed"),
            "requirements": list(test.get("requirements") or []),
        }
        if test["nodeid"] in data.durations:
            entry["duration_seconds"] = round(data.durations[test["nodeid"]], 4)
        if entry["outcome"] != "passed" and test.get("message"):
            entry["message"] = _truncate(str(test["message"]), MESSAGE_LIMIT)
        tests.append(entry)
    support = [
        {"parameter": r["parameter"], "case": r["case"], "verdict": r["verdict"], "test": r.get("nodeid", "")}
        for r in data.records if r["kind"] == "support"
    ]
    cost = {k: int(data.cost.get(k, 0)) for k in ("requests", "prompt_tokens", "completion_tokens")}
    cost["total_tokens"] = cost["prompt_tokens"] + cost["completion_tokens"]
    return {
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


def requirement_map(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in record["requirements"]}


def label(record: Mapping[str, Any]) -> str:
    return str(record["run"]["name"])
