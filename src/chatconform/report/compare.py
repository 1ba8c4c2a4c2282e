"""``chatconform report compare``: run records side by side, as one self-contained HTML page and as
Markdown for a pull-request comment or a GitHub step summary.

Rows are requirements grouped by area (in catalogue order), columns are runs. Each area opens with
the share of its MUST requirements each run met; each cell is a verdict linking to its evidence
(the failure message, the wire log, the curl line), shown without leaving the page.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from .. import __version__
from .record import LABELS, VERDICTS, headline_of, label, must_summary

ICONS = {"pass": "✓", "fail": "✗", "warning": "!", "blocked": "⊘", "not_judged": "?", "unsupported": "–",
         "informational": "i", "error": "⚠", "not_run": "·"}
EMOJI = {"pass": "✅", "fail": "❌", "warning": "⚠️", "blocked": "⛔", "not_judged": "❔", "unsupported": "➖",
         "informational": "ℹ️", "error": "💥", "not_run": "·", None: " "}
PROBLEMS = ("fail", "warning", "error", "blocked", "not_judged")
MARKDOWN_LIMIT = 60_000  # GitHub comments hold 65,536 characters


@dataclass
class Row:
    id: str
    level: str
    area: str
    statement: str
    entries: list[dict[str, Any] | None]  # one per run; None where that run's catalogue lacks the ID

    @property
    def verdicts(self) -> list[str | None]:
        return [e["verdict"] if e else None for e in self.entries]

    @property
    def differs(self) -> bool:
        return len(set(self.verdicts)) > 1

    @property
    def problem(self) -> bool:
        return any(v in PROBLEMS for v in self.verdicts)

    @property
    def ran(self) -> bool:
        return any(v not in (None, "not_run") for v in self.verdicts)


@dataclass
class Area:
    name: str
    description: str
    rows: list[Row] = field(default_factory=list)
    must: list[dict[str, Any]] = field(default_factory=list)  # one per run


@dataclass
class Comparison:
    runs: list[dict[str, Any]]
    areas: list[Area]

    @property
    def rows(self) -> list[Row]:
        return [row for area in self.areas for row in area.rows]


def build(runs: Sequence[dict[str, Any]]) -> Comparison:
    """Line the runs up: the union of their requirements, in the order the runs list them."""
    order: dict[str, dict[str, Any]] = {}
    descriptions: dict[str, str] = {}
    for run in runs:
        for area in run.get("areas", []):
            descriptions.setdefault(area["name"], area.get("description", ""))
        for req in run["requirements"]:
            order.setdefault(req["id"], req)
    by_run = [{r["id"]: r for r in run["requirements"]} for run in runs]
    areas: dict[str, Area] = {}
    for rid, first in order.items():
        latest = next((m[rid] for m in reversed(by_run) if rid in m), first)  # newest wording wins
        area = areas.setdefault(first["area"], Area(first["area"], descriptions.get(first["area"], "")))
        area.rows.append(Row(rid, latest["level"], first["area"], latest["statement"], [m.get(rid) for m in by_run]))
    for area in areas.values():
        area.must = [must_summary([e for e in (row.entries[i] for row in area.rows) if e]) for i in range(len(runs))]
    return Comparison(list(runs), list(areas.values()))


# -- shared helpers ------------------------------------------------------------------------------
def _score_text(must: Mapping[str, Any]) -> str:
    score = must.get("score")
    return "—" if score is None else f"{score * 100:.0f}%" if score in (0, 1) else f"{score * 100:.1f}%"


def _date(run: Mapping[str, Any]) -> str:
    try:
        when = datetime.fromisoformat(run["run"]["started"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return str(run["run"].get("started", ""))
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# -- HTML ----------------------------------------------------------------------------------------
def _asset(name: str) -> str:
    return resources.files("chatconform.report").joinpath("assets", name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _anchor(index: int, rid: str) -> str:
    return f"e{index}-{rid}"


def _verdict_bar(counts: Mapping[str, int]) -> str:
    total = sum(counts.get(v, 0) for v in VERDICTS) or 1
    parts = "".join(
        f'<span class="seg v-{v}" style="flex-grow:{counts[v]}" title="{counts[v]} {LABELS[v]}"></span>'
        for v in VERDICTS if counts.get(v)
    )
    legend = " · ".join(f'<span class="t-{v}">{counts[v]} {LABELS[v]}</span>' for v in VERDICTS if counts.get(v))
    return f'<div class="vbar" aria-hidden="true" data-total="{total}">{parts}</div><div class="vbar-legend">{legend}</div>'


def _score_cell(must: Mapping[str, Any], tag: str = "td", extra: str = "") -> str:
    """An area's (or run's) MUST result as counts: met of applicable, and the failures named.
    Coloured by what happened, not by share: one failure is red however much else was met."""
    judged, met, failed = must.get("judged", 0), must.get("met", 0), must.get("failed", 0)
    unjudged = must.get("errors", 0) + must.get("blocked", 0) + must.get("not_judged", 0)
    pct = round(100 * met / judged) if judged else 0
    state = "none" if not judged else "fail" if failed else "incomplete" if unjudged else "pass"
    num = "—" if not judged else f"{met}/{judged}"
    detail = ("no MUST judged" if not judged else
              ", ".join(p for p in (f"{failed} failed" if failed else "", f"{unjudged} not judged" if unjudged else "")
                        if p) or "all met")
    title = (f"{met} met, {failed} failed, {must.get('errors', 0)} errors, {must.get('blocked', 0)} blocked, "
             f"{must.get('not_judged', 0)} not judged, {must.get('unsupported', 0)} unsupported, "
             f"{must.get('not_run', 0)} not run (of {must.get('total', 0)} MUST)")
    return (f'<{tag} class="pct s-{state}{" none" if not judged else ""}{extra}" style="--p:{pct}" title="{_e(title)}">'
            f'<span class="pct-num">{num}</span><span class="pct-detail">{detail}</span>'
            f'<span class="pct-bar"><span style="width:{pct}%"></span></span></{tag}>')


STATUS_CLASS = {"PASS": "s-pass", "INCOMPLETE": "s-incomplete", "FAIL": "s-fail", "NOT JUDGED": "s-notjudged"}


def run_caption(run: Mapping[str, Any]) -> str:
    """How a run is named on the page: its run name, then profile and model (the host alone reads
    "127.0.0.1" for every local target)."""
    t = run["target"]
    return f"{label(run)} · {t.get('profile')} · {t.get('model')}"


def _headline(run: Mapping[str, Any]) -> str:
    h = headline_of(run)
    return (f'<div class="headline {STATUS_CLASS.get(h["status"], "s-notjudged")}" data-status="{_e(h["status"])}">'
            f'<span class="status">{_e(("PARTIAL " if h.get("partial") else "") + h["status"])}</span>'
            f'<span class="htext">{_e(h["text"].split(": ", 1)[-1])}</span></div>')


def _run_card(index: int, run: Mapping[str, Any]) -> str:
    t, v, c, s = run["target"], run["versions"], run["cost"], run["summary"]
    base = t.get("base_url") or "embedded reference server"
    faults = t.get("reference_faults") or []
    rows = [
        ("profile", _e(t["profile"])),
        ("model", f"<code>{_e(t.get('model'))}</code>"),
        ("target", f"{_e(t['name'])} <span class=muted>{_e(base)}</span>"),
        ("started", f"{_e(_date(run))} <span class=muted>({run['run']['duration_seconds']:.0f} s)</span>"),
        ("tests", f"{s['tests']['total']}: {s['tests']['passed']} passed, {s['tests']['failed']} failed, "
                  f"{s['tests']['skipped']} skipped, {s['tests']['error']} errors"),
        ("cost", f"{c['requests']} requests, {c['total_tokens']} tokens"),
        ("versions", f"chatconform {_e(v['chatconform'])}, spec {_e(v['spec'])}, catalogue v{_e(v['catalogue'])}"),
    ]
    pre = run.get("preflight") or {}
    if pre.get("exit_code"):
        rows.insert(0, ("pre-flight", f'<b class="t-fail">{_e(pre.get("status"))}</b> {_e(pre.get("message"))}'))
    if faults:
        rows.append(("injected faults", _e(", ".join(faults))))
    if run["run"].get("strict"):
        rows.append(("mode", "strict (SHOULD violations failed tests)"))
    if run["run"].get("ci"):
        rows.append(("CI", f'<a href="{_e(run["run"]["ci"]["url"])}">{_e(run["run"]["ci"]["url"])}</a>'))
    body = "".join(f"<tr><th>{k}</th><td>{val}</td></tr>" for k, val in rows)
    return (
        f'<article class="card"><header><span class="colno">{index + 1}</span>'
        f'<h2 title="{_e(run_caption(run))}">{_e(label(run))}</h2></header>'
        f'<div class="card-sub">{_e(t["profile"])} · <code>{_e(t.get("model"))}</code></div>'
        f'{_headline(run)}{_verdict_bar(s["verdicts"])}<table class="facts">{body}</table></article>'
    )


# -- the chart: per-area MUST results of every run, side by side -------------------------------------
CHART_SEGMENTS = (("met", "pass"), ("failed", "fail"), ("unjudged", "error"))


def _must_segments(must: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    unjudged = must.get("errors", 0) + must.get("blocked", 0) + must.get("not_judged", 0)
    counts = {"met": must.get("met", 0), "failed": must.get("failed", 0), "unjudged": unjudged}
    return [(name, css, counts[name]) for name, css in CHART_SEGMENTS]


def render_chart(comp: Comparison) -> str:
    """An SVG: one group per area with MUST requirements, one bar per run, each bar the area's MUST
    requirements met (green), failed (red) and not judged (amber) in that run. Bars share one
    scale, so a short red segment is as visible as a long one is: counts, not percentages."""
    runs = comp.runs
    areas = [a for a in comp.areas if any(m.get("judged") for m in a.must)]
    if not areas:
        return ""
    widest = max(sum(n for _, _, n in _must_segments(m)) for a in areas for m in a.must) or 1
    bar_h, gap, label_w, plot_w = 12, 3, 130, 520
    group_h = len(runs) * (bar_h + gap) + 10
    height = len(areas) * group_h + 28
    parts = [f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {label_w + plot_w + 60} {height}" '
             f'data-areas="{len(areas)}" data-runs="{len(runs)}" aria-label="MUST requirements met, failed and not '
             f'judged per area, one bar per run">']
    y = 4
    for area in areas:
        parts.append(f'<text class="area-label" x="0" y="{y + bar_h}">{_e(area.name)}</text>')
        for i, must in enumerate(area.must):
            x = label_w
            parts.append(f'<text class="run-no" x="{label_w - 14}" y="{y + bar_h - 2}">{i + 1}</text>')
            for name, css, n in _must_segments(must):
                if not n:
                    continue
                w = plot_w * n / widest
                title = f"{label(runs[i])}, {area.name}: {n} MUST {name}"
                parts.append(f'<rect class="bar v-{css}" data-run="{i}" data-area="{_e(area.name)}" data-kind="{name}" '
                             f'x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}"><title>{_e(title)}</title></rect>')
                x += w
            if not must.get("judged"):
                parts.append(f'<text class="none" x="{label_w + 4}" y="{y + bar_h - 2}">not judged</text>')
            elif must.get("failed"):
                parts.append(f'<text class="fails" x="{x + 4:.1f}" y="{y + bar_h - 2}">{must["failed"]} failed</text>')
            y += bar_h + gap
        y += 10
    legend_y = height - 8
    parts.append(f'<text class="legend" x="{label_w}" y="{legend_y}">■ met  ■ failed  ■ not judged (error, '
                 f'blocked, nothing to judge) — MUST requirements; bars numbered by run</text>')
    parts.append("</svg>")
    return "".join(parts)


def _column_header(index: int, run: Mapping[str, Any]) -> str:
    t = run["target"]
    return (f'<th class="run" scope="col" data-col="{index}"><span class="colno">{index + 1}</span>'
            f'<span class="run-name" title="{_e(label(run))}">{_e(label(run))}</span>'
            f'<span class="run-sub">{_e(t["profile"])} · {_e(t.get("model"))}</span>'
            f'<span class="run-sub">{_e(headline_of(run)["status"])} · {_e(t["name"])}</span>'
            f'{_score_cell(run["summary"]["must"], tag="span", extra=" chip")}</th>')


def _cell(index: int, row: Row, entry: Mapping[str, Any] | None, run: Mapping[str, Any]) -> str:
    if entry is None:
        return '<td class="v v-absent" title="not in this run\'s catalogue">—</td>'
    verdict = entry["verdict"]
    text = f'<span class="ic">{ICONS[verdict]}</span> {LABELS[verdict]}'
    title = f"{label(run)}: {LABELS[verdict]} — {entry.get('reason', '')}"
    if verdict == "not_run":
        return f'<td class="v v-not_run" title="{_e(title)}">{text}</td>'
    return (f'<td class="v v-{verdict}"><a href="#{_e(_anchor(index, row.id))}" title="{_e(title)}">{text}</a></td>')


def _row(row: Row, runs: Sequence[Mapping[str, Any]]) -> str:
    verdicts = " ".join(v or "absent" for v in row.verdicts)
    differs = '<span class="diff" title="verdicts differ between runs">≠</span>' if row.differs else ""
    cells = "".join(_cell(i, row, e, runs[i]) for i, e in enumerate(row.entries))
    search = f"{row.id} {row.statement}".lower()
    return (
        f'<tr class="req" id="r-{_e(row.id)}" data-level="{row.level}" data-differs="{int(row.differs)}" '
        f'data-problem="{int(row.problem)}" data-ran="{int(row.ran)}" data-verdicts="{verdicts}" '
        f'data-search="{_e(search)}"><th scope="row"><div class="rid"><span class="lvl {row.level}">{row.level}</span>'
        f'<code>{_e(row.id)}</code>{differs}'
        f'<span class="stmt" title="{_e(row.statement)}">{_e(row.statement)}</span></div></th>{cells}</tr>'
    )


def _area(area: Area, runs: Sequence[Mapping[str, Any]]) -> str:
    head = (
        f'<tr class="area-row"><th scope="rowgroup"><button type="button" class="twisty" aria-expanded="true" '
        f'title="collapse or expand this area">▾</button><span class="area-name">{_e(area.name)}</span>'
        f'<span class="area-count">{len(area.rows)} requirements</span>'
        f'<div class="area-desc">{_e(area.description)}</div></th>'
        + "".join(_score_cell(m) for m in area.must) + "</tr>"
    )
    rows = "".join(_row(row, runs) for row in area.rows)
    return f'<tbody class="area" id="area-{_e(area.name)}" data-area="{_e(area.name)}">{head}{rows}</tbody>'


def _attachment(att: Mapping[str, Any]) -> str:
    name = {"exchange": "wire log (request and response)", "curl": "curl"}.get(att["name"], att["name"])
    return f'<details class="att"><summary>{_e(name)}</summary><pre>{_e(att["content"])}</pre></details>'


def _source(source: Mapping[str, Any]) -> str:
    if source.get("url"):
        return f'<a href="{_e(source["url"])}">{_e(source["text"])}</a>'
    return _e(source["text"])


def _evidence(index: int, row: Row, entry: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> str:
    run = runs[index]
    verdict = entry["verdict"]
    sources = "".join(f"<li>{_source(s)}</li>" for s in entry.get("source", []))
    tests = []
    for ev in entry.get("evidence", []):
        parts = [f'<div class="test-head"><span class="badge v-{ev["verdict"]}">{LABELS[ev["verdict"]]}</span>'
                 f'<code>{_e(ev["test"])}</code><span class="muted">{_e(ev["outcome"])}</span></div>']
        if ev.get("reason") and not ev.get("message"):
            parts.append(f'<p class="reason">{_e(ev["reason"])}</p>')
        if ev.get("message"):
            parts.append(f'<pre class="msg">{_e(ev["message"])}</pre>')
        parts += [_attachment(a) for a in ev.get("attachments", [])]
        tests.append(f'<div class="test">{"".join(parts)}</div>')
    others = " ".join(
        f'<a class="badge v-{e["verdict"]}" href="#{_e(_anchor(i, row.id))}">{i + 1}. {_e(label(runs[i]))}: {LABELS[e["verdict"]]}</a>'
        if e["verdict"] != "not_run" else
        f'<span class="badge v-not_run">{i + 1}. {_e(label(runs[i]))}: not run</span>'
        for i, e in enumerate(row.entries) if e is not None and i != index
    )
    observations = "".join(f"<li>{_e(o)}</li>" for o in entry.get("observations", []))
    return (
        f'<section class="ev" id="{_e(_anchor(index, row.id))}" role="dialog" aria-label="{_e(row.id)} in {_e(label(run))}">'
        f'<a class="close" href="#r-{_e(row.id)}" title="close">×</a>'
        f'<div class="ev-kicker">{index + 1}. {_e(label(run))} · {_e(run["target"]["name"])} · {_e(run["target"].get("model"))}</div>'
        f'<h3><span class="badge v-{verdict}">{ICONS[verdict]} {LABELS[verdict]}</span> <code>{_e(row.id)}</code> '
        f'<span class="lvl {row.level}">{row.level}</span></h3>'
        f'<p class="statement">{_e(entry["statement"])}</p>'
        f'<p class="reason"><b>Why:</b> {_e(entry.get("reason", ""))}</p>'
        + (f'<p class="muted">Needs the optional capability <code>{_e(entry["capability"])}</code>.</p>' if entry.get("capability") else "")
        + f'<h4>Source</h4><ul class="sources">{sources}</ul>'
        + (f'<p class="note"><b>Note:</b> {_e(entry["note"])}</p>' if entry.get("note") else "")
        + (f"<h4>Observed</h4><ul>{observations}</ul>" if observations else "")
        + f'<h4>Tests ({len(tests)})</h4>{"".join(tests) or "<p class=muted>No test in this run cites it.</p>"}'
        + (f'<h4>Other runs</h4><p class="others">{others}</p>' if others else "")
        + "</section>"
    )


def _legend() -> str:
    meanings = {
        "pass": "a check judged a real response and found it right",
        "fail": "a MUST requirement was violated",
        "warning": "a SHOULD/MAY requirement was not met",
        "blocked": "the test stopped at another requirement's failure before reaching it",
        "not_judged": "the response gave the check nothing to judge (never a pass)",
        "unsupported": "the target lacks the optional capability",
        "informational": "observed only: the profile gives it no conformance weight",
        "error": "no verdict: timeout, connection failure or a broken test",
        "not_run": "no test in the run judged it",
    }
    items = "".join(
        f'<li><span class="badge v-{v}">{ICONS[v]} {LABELS[v]}</span> {meanings[v]}</li>' for v in VERDICTS
    )
    return f'<ul class="legend">{items}</ul>'


def _mini_legend() -> str:
    badges = "".join(f'<span class="badge v-{v}">{ICONS[v]} {LABELS[v]}</span>' for v in VERDICTS)
    return f'<span class="mini-legend" aria-hidden="true">{badges}</span>'


def render_html(comp: Comparison, title: str | None = None) -> str:
    runs = comp.runs
    title = title or "chatconform: " + " vs ".join(label(r) for r in runs)
    differing = sum(r.differs for r in comp.rows)
    problems = sum(r.problem for r in comp.rows)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cards = "".join(_run_card(i, r) for i, r in enumerate(runs))
    header = "".join(_column_header(i, r) for i, r in enumerate(runs))
    body = "".join(_area(a, runs) for a in comp.areas)
    panels = "".join(
        _evidence(i, row, e, runs)
        for row in comp.rows for i, e in enumerate(row.entries) if e is not None and e["verdict"] != "not_run"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="chatconform {_e(__version__)}">
<title>{_e(title)}</title>
<style>{_asset("compare.css")}</style>
</head>
<body data-runs="{len(runs)}" data-requirements="{len(comp.rows)}" style="--runs:{len(runs)}">
<header class="page">
  <h1>{_e(title)}</h1>
  <p class="sub">{len(runs)} run{"s" if len(runs) != 1 else ""} · {len(comp.rows)} requirements ·
    <b>{differing}</b> differ between runs · <b>{problems}</b> with a failure, warning or error ·
    generated {generated} by chatconform {_e(__version__)}</p>
</header>
<section class="cards">{cards}</section>
<section class="chart-box"><h2>MUST requirements by area</h2>{render_chart(comp)}</section>
<nav class="toolbar" aria-label="filters">
  <fieldset class="levels"><legend>Level</legend>
    <label><input type="checkbox" name="level" value="MUST" checked> <span class="lvl MUST">MUST</span></label>
    <label><input type="checkbox" name="level" value="SHOULD" checked> <span class="lvl SHOULD">SHOULD</span></label>
    <label><input type="checkbox" name="level" value="MAY" checked> <span class="lvl MAY">MAY</span></label>
  </fieldset>
  <fieldset><legend>Show</legend>
    <label><input type="checkbox" id="f-differs"> only rows that differ between runs</label>
    <label><input type="checkbox" id="f-problems"> only failures, warnings, errors</label>
    <label><input type="checkbox" id="f-ran" checked> hide requirements no run judged</label>
  </fieldset>
  <label class="search">Find <input type="search" id="f-search" placeholder="ID or words" autocomplete="off"></label>
  <output id="f-count" aria-live="polite">{len(comp.rows)} of {len(comp.rows)} requirements shown</output>
</nav>
<main>
<table class="matrix" id="matrix">
<thead><tr><th class="corner" scope="col"><span class="corner-title">Requirement</span>{_mini_legend()}</th>{header}</tr></thead>
{body}
</table>
<p class="empty" id="f-empty" hidden>No requirement matches these filters.</p>
</main>
<footer class="page">
  <h2>Legend</h2>{_legend()}
  <p class="muted">Each run's headline (PASS, INCOMPLETE, FAIL, NOT JUDGED) is the README's formula: FAIL names how
  many MUST requirements failed and in which areas, whatever share of the rest was met. Per area, the figure is
  the MUST requirements met of those that apply (blocked, not judged and errors count as not met);
  unsupported and not-run requirements are left out. Click a verdict for its evidence: the failure with expected and
  received values, the wire log and a curl line to reproduce it (the API key is never recorded).</p>
</footer>
<div id="evidence">{panels}</div>
<script>{_asset("compare.js")}</script>
</body>
</html>
"""


# -- Markdown ------------------------------------------------------------------------------------
def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _md_cell(entry: Mapping[str, Any] | None) -> str:
    if entry is None:
        return "—"
    return f"{EMOJI[entry['verdict']]} {LABELS[entry['verdict']]}"


def render_markdown(comp: Comparison, limit: int = MARKDOWN_LIMIT) -> str:
    runs = comp.runs
    names = [f"{i + 1}. {_md(run_caption(r))}" for i, r in enumerate(runs)]
    out = [f"## chatconform: {len(runs)} run{'s' if len(runs) != 1 else ''} compared", ""]
    facts = [
        ["target"] + [_md(r["target"]["name"]) for r in runs],
        ["model"] + [f"`{_md(r['target'].get('model'))}`" for r in runs],
        ["profile"] + [_md(r["target"]["profile"]) for r in runs],
        ["started"] + [_date(r) for r in runs],
        ["**headline**"] + [f"**{_md(headline_of(r)['text'])}**" for r in runs],
        ["verdicts"] + [" ".join(f"{EMOJI[v]}{r['summary']['verdicts'][v]}" for v in VERDICTS
                                 if r["summary"]["verdicts"][v] and v != "not_run") or "—" for r in runs],
        ["cost"] + [f"{r['cost']['requests']} req, {r['cost']['total_tokens']} tok" for r in runs],
    ]
    out += _md_table([""] + names, facts) + [""]
    out += ["### MUST requirements met, by area", ""]
    out += _md_table(["area"] + names, [
        [_md(a.name)] + [f"{_score_text(m)} ({m['met']}/{m['judged']})" if m["judged"] else "—" for m in a.must]
        for a in comp.areas if any(m["judged"] for m in a.must)
    ]) + [""]
    differing = [r for r in comp.rows if r.differs]
    if len(runs) > 1:
        if differing:
            out += [f"### {len(differing)} requirement{'s' if len(differing) != 1 else ''} differ between runs", ""]
            out += _md_table(["requirement", "level"] + names, [
                [f"`{r.id}`", r.level] + [_md_cell(e) for e in r.entries] for r in differing
            ]) + [""]
        else:
            out += ["Every requirement has the same verdict in every run.", ""]
    problems = [(i, r, e) for r in comp.rows for i, e in enumerate(r.entries) if e and e["verdict"] in PROBLEMS]
    if problems:
        out += ["<details><summary>Failures, warnings and errors, with the reason</summary>", ""]
        out += _md_table(["run", "requirement", "verdict", "why"], [
            [str(i + 1), f"`{r.id}`", _md_cell(e), _short(_md(e.get("reason", "")))] for i, r, e in problems
        ]) + ["", "</details>", ""]
    text = "\n".join(out) + "\n"
    full = ["<details><summary>Every requirement</summary>", ""]
    full += _md_table(["requirement", "level"] + names, [
        [f"`{r.id}`", r.level] + [_md_cell(e) for e in r.entries] for r in comp.rows if r.ran
    ]) + ["", "</details>", ""]
    if len(text) + len("\n".join(full)) < limit:
        text += "\n".join(full)
    elif len(text) > limit:
        text = text[: limit - 200] + "\n\n… (cut to fit; the HTML comparison has everything)\n"
    return text
