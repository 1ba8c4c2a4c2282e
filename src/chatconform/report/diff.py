"""``chatconform report diff BASELINE CURRENT``: what changed between two runs of one target.

A regression is a requirement that passed (or only warned) in the baseline and fails now; it is
what makes the command exit 1, so a nightly job against the last good run goes red exactly when a
provider breaks something that used to work. Everything else that moved is listed, none of it
fatal: fixes, capabilities that disappeared or appeared, new and resolved warnings, requirements
that could not be judged this time (harness errors), and the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .compare import EMOJI, _date, _md, _short
from .record import LABELS, headline_of, label

JUDGED = ("pass", "warning", "fail", "error")
EXIT_NOT_JUDGED = 3  # 1 is a regression, 2 an unusable record
MOSTLY = 0.5  # share of judged MUST requirements that are harness errors above which a run judged nothing


def could_not_judge(run: Mapping[str, Any]) -> str | None:
    pre = run.get("preflight") or {}
    if pre.get("exit_code"):
        return f"its pre-flight found the target {str(pre.get('status')).replace('_', ' ')}: {pre.get('message', '')}"
    musts = [r for r in run.get("requirements", []) if r.get("level") == "MUST"
             and r.get("verdict") not in ("unsupported", "informational", "not_run")]
    errors = sum(r.get("verdict") == "error" for r in musts)
    if musts and errors / len(musts) > MOSTLY:
        return f"{errors} of its {len(musts)} judged MUST requirements are harness errors (no usable response)"
    return None

SECTIONS = (
    # (attribute, title, what it means)
    ("regressions", "Regressions", "passed before, fail now"),
    ("fixes", "Fixes", "failed before, pass now"),
    ("newly_unsupported", "Newly unsupported", "judged before, the capability is missing now"),
    ("newly_supported", "Newly supported", "unsupported before, judged now"),
    ("new_warnings", "New warnings", "passed before, a SHOULD/MAY warning now"),
    ("resolved_warnings", "Resolved warnings", "a warning before, pass now"),
    ("new_errors", "Could not be judged now",
     "judged before; now a timeout, connection failure, broken test, an earlier failure (blocked) or nothing to judge"),
    ("other", "Other changes", "not run, no longer in the catalogue, or back from an error"),
)


@dataclass
class Change:
    id: str
    level: str
    area: str
    statement: str
    before: str | None  # None: not in that run's catalogue
    after: str | None
    reason: str  # the current reason (or the baseline's, when the requirement is gone)


@dataclass
class Diff:
    baseline: Mapping[str, Any]
    current: Mapping[str, Any]
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    newly_unsupported: list[Change] = field(default_factory=list)
    newly_supported: list[Change] = field(default_factory=list)
    new_warnings: list[Change] = field(default_factory=list)
    resolved_warnings: list[Change] = field(default_factory=list)
    new_errors: list[Change] = field(default_factory=list)
    other: list[Change] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)

    @property
    def could_not_judge(self) -> str | None:
        """Why the current run says nothing about the target, or None: its pre-flight found an
        outage, or most of the MUST requirements it judged are harness errors. A night like that
        is not "no regression": the nightly must go red."""
        return could_not_judge(self.current)

    @property
    def exit_code(self) -> int:
        if self.could_not_judge:
            return EXIT_NOT_JUDGED
        return 1 if self.regressions else 0

    @property
    def changed(self) -> int:
        return sum(len(getattr(self, name)) for name, _, _ in SECTIONS)


def _section(before: str | None, after: str | None) -> str:
    if after == "fail" and before in ("pass", "warning"):
        return "regressions"
    if before == "fail" and after in ("pass", "warning"):
        return "fixes"
    if after == "unsupported" and before in JUDGED:
        return "newly_unsupported"
    if before == "unsupported" and after in JUDGED:
        return "newly_supported"
    if before == "pass" and after == "warning":
        return "new_warnings"
    if before == "warning" and after == "pass":
        return "resolved_warnings"
    if after in ("error", "blocked", "not_judged") and before in JUDGED:
        return "new_errors"
    return "other"


def diff(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> Diff:
    result = Diff(baseline, current)
    old = {r["id"]: r for r in baseline["requirements"]}
    new = {r["id"]: r for r in current["requirements"]}
    for rid in list(new) + [i for i in old if i not in new]:
        b, a = old.get(rid), new.get(rid)
        before, after = (b["verdict"] if b else None), (a["verdict"] if a else None)
        if before == after:
            continue
        ref = a or b
        assert ref is not None
        change = Change(rid, ref["level"], ref["area"], ref["statement"], before, after, ref.get("reason", ""))
        getattr(result, _section(before, after)).append(change)
    bt, ct = baseline["target"], current["target"]
    for key in ("name", "model", "profile"):
        if bt.get(key) != ct.get(key):
            result.caveats.append(f"the runs differ in {key}: {bt.get(key)!r} then {ct.get(key)!r}")
    bv, cv = baseline["versions"], current["versions"]
    for key in ("chatconform", "catalogue"):
        if bv.get(key) != cv.get(key):
            result.caveats.append(f"{key} version changed: {bv.get(key)} then {cv.get(key)}")
    return result


def _describe(run: Mapping[str, Any]) -> str:
    t = run["target"]
    return (f"{label(run)} ({t['name']}, model {t.get('model')}, profile {t['profile']}, {_date(run)}): "
            f"{headline_of(run)['text']}")


def _verdict(v: str | None) -> str:
    return "absent" if v is None else LABELS[v]


def render_text(d: Diff) -> str:
    lines = ["chatconform diff", f"  baseline: {_describe(d.baseline)}", f"  current:  {_describe(d.current)}"]
    lines += [f"  note: {c}" for c in d.caveats]
    outage = bool((d.current.get("preflight") or {}).get("exit_code"))
    for name, title, meaning in SECTIONS:
        changes: list[Change] = getattr(d, name)
        if not changes or outage:  # after a pre-flight outage every change is "not run": one line says it
            continue
        lines += ["", f"{title.upper()} ({len(changes)}): {meaning}"]
        for c in changes:
            lines.append(f"  {c.id} [{c.level}, {c.area}]: {_verdict(c.before)} -> {_verdict(c.after)}")
            lines.append(f"      {c.statement}")
            if c.reason and c.after not in ("pass", None):
                lines.append(f"      now: {c.reason}")
    counts = ", ".join(f"{t.lower()}: {len(getattr(d, n))}" for n, t, _ in SECTIONS if getattr(d, n))
    lines += ["", f"Result: {counts or 'no verdict changed'}."]
    if d.could_not_judge:
        lines.append(f"NOT JUDGED: the current run could not judge the target: {d.could_not_judge} "
                     f"(exit {EXIT_NOT_JUDGED}).")
    elif d.regressions:
        lines.append(f"FAILED: {len(d.regressions)} regression{'s' if len(d.regressions) != 1 else ''} "
                     f"({', '.join(c.id for c in d.regressions)}).")
    return "\n".join(lines) + "\n"


def render_markdown(d: Diff) -> str:
    head = ("⛔ the current run could not judge the target" if d.could_not_judge
            else "❌ regressions" if d.regressions else "✅ no regression")
    out = [f"## chatconform diff: {head}", "",
           f"- baseline: {_md(_describe(d.baseline))}", f"- current: {_md(_describe(d.current))}"]
    out += [f"- note: {_md(c)}" for c in d.caveats]
    if d.could_not_judge:
        out.append(f"- **not judged**: {_md(d.could_not_judge)}")
    out.append("")
    for name, title, meaning in SECTIONS:
        changes: list[Change] = getattr(d, name)
        if not changes:
            continue
        out += [f"### {title} ({len(changes)})", "", f"_{meaning}_", "",
                "| requirement | level | before | now | why |", "| --- | --- | --- | --- | --- |"]
        for c in changes:
            out.append(f"| `{c.id}` | {c.level} | {EMOJI.get(c.before, '')} {_verdict(c.before)} | "
                       f"{EMOJI.get(c.after, '')} {_verdict(c.after)} | {_short(_md(c.reason))} |")
        out.append("")
    if not d.changed:
        out += ["No verdict changed.", ""]
    return "\n".join(out)
