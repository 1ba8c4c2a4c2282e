"""The expectations files (peers/evidence/<peer>.yaml) and the verdicts of a run to check them on.

A file lists every requirement the suite does *not* simply pass on that peer, with the verdict
the suite gives today and a judgement of it:

    requirements:
      auth.wrong-key-401:
        verdict: fail                 # what the suite says: fail | warning | error | unsupported | not_run
        judgement: real deviation     # | false verdict | not judged
        probe: {curl: ..., status: 400, body: ...}   # real deviations: what the server really does
      stream.usage-null-otherwise:
        verdict: fail
        judgement: false verdict
        status: false-verdict-pending-fix   # the suite still has to be fixed
        expected: pass                # what the suite should say once fixed
        why: ...
        citation: ...

Requirements not listed are expected to pass (or be unsupported / not run: those are never a
failure of the server).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from peers.servers import EVIDENCE

BAD = {"fail", "warning", "error"}
PENDING = "false-verdict-pending-fix"


def load(peer: str) -> dict[str, Any]:
    return yaml.safe_load((EVIDENCE / f"{peer}.yaml").read_text())


def verdicts_from_run_record(path: Path) -> dict[str, str]:
    """requirement ID -> verdict, as the suite's run record (reports/<run>/run.json) states it."""
    record = json.loads(path.read_text())
    return {req["id"]: req["verdict"] for req in record["requirements"]}


@dataclass
class Check:
    requirement: str
    ok: bool
    pending: bool  # a known false verdict still present: documented, not a failure
    message: str


def check(expectations: dict[str, Any], observed: dict[str, str]) -> list[Check]:
    """One Check per expectation row, plus one per bad verdict that no row lists."""
    rows: dict[str, dict[str, Any]] = expectations.get("requirements") or {}
    checks = []
    for rid, row in rows.items():
        got = observed.get(rid, "not_run")
        judgement = row.get("judgement", "not judged")
        if row.get("status") == PENDING:
            fixed = row.get("expected", "pass")
            if got == row["verdict"]:
                checks.append(Check(rid, True, True, f"{rid}: still the false verdict {got!r} "
                                                    f"(should be {fixed!r}): {row.get('why', '')}"))
            elif got == fixed or got not in BAD:
                checks.append(Check(rid, True, False, f"{rid}: fixed ({got!r}); drop the {PENDING} mark"))
            else:
                checks.append(Check(rid, False, False, f"{rid}: {got!r}, neither the known false verdict "
                                                       f"{row['verdict']!r} nor {fixed!r}"))
        elif judgement == "false verdict":  # fixed and kept as a guard against its return
            expected = row.get("expected", "pass")
            checks.append(Check(rid, got == expected or got not in BAD, False,
                                f"{rid}: {got!r}, expected {expected!r} (a false verdict once: {row.get('why', '')})"))
        elif judgement == "not judged":
            checks.append(Check(rid, True, False, f"{rid}: {got!r} (recorded {row['verdict']!r}; not judged)"))
        else:  # a real deviation: the suite must keep seeing it
            checks.append(Check(rid, got == row["verdict"], False,
                                f"{rid}: {got!r}, expected {row['verdict']!r} (real deviation: "
                                f"{row.get('why', '')})"))
    for rid, got in sorted(observed.items()):
        if got in BAD and rid not in rows:
            checks.append(Check(rid, False, False, f"{rid}: {got!r} but peers/evidence has no row for it: "
                                                   "judge it (real deviation or false verdict) and add one"))
    return checks
