"""Allure results that map to the catalogue: labels, links, attachments and the report-wide files.

Every result carries epic = area, feature = requirement group, story = requirement ID, severity
from the level (MUST critical, SHOULD normal, MAY minor), links to the requirement's sources, and
the target, model and profile as parameters. The labels are set as markers at collection time, so
skipped tests carry them too and allure-pytest's own selection works on them
(``--allure-epics=streaming``, ``--allure-stories=stream.done-terminates``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ..requirements import Level, Requirement
from .ci import github_run
from ..verdict import Verdict
from .sources import catalogue_url, requirement_group, source_label, source_url

SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}
LEVEL_ORDER = (Level.MUST, Level.SHOULD, Level.MAY)
CATALOGUE_URL_INI = "chatconform_catalogue_url"

# Allure 2 matches a whole message, Allure 3 searches it: [\s\S]* on both sides works for both
# (and unlike a (?s) flag, JavaScript understands it).
CATEGORIES: list[dict[str, Any]] = [
    {
        "name": "MUST violations",
        "description": "A MUST requirement was violated: clients relying on documented behaviour break.",
        "matchedStatuses": ["failed"],
        "messageRegex": r"[\s\S]*\] MUST: [\s\S]*",
    },
    {
        "name": "SHOULD / MAY warnings",
        "description": "A SHOULD or MAY requirement was not met (a failure only under --strict).",
        "matchedStatuses": ["passed", "failed"],
        "messageRegex": r"[\s\S]*\] (SHOULD|MAY): [\s\S]*",
    },
    {
        "name": "Unsupported capabilities",
        "description": "The target lacks an optional capability (per its profile, or it refused the parameter).",
        "matchedStatuses": ["skipped"],
        "messageRegex": r"[\s\S]*UNSUPPORTED capability[\s\S]*",
    },
    {
        "name": "Not judged",
        "description": "The response gave the check nothing to judge (absent endpoint, reply cut by the cap, "
                       "text the model never wrote). Never a pass.",
        "matchedStatuses": ["skipped"],
        "messageRegex": r"[\s\S]*NOT JUDGED[\s\S]*",
    },
    {
        "name": "Harness problems (timeouts, connection errors)",
        "description": "No usable response arrived; the cause may be the network rather than the endpoint.",
        "matchedStatuses": ["failed", "broken"],
        "messageRegex": r"[\s\S]*(\[harness\]|[Tt]imeout|[Cc]onnect(ion)? ?[Ee]rror|ConnectError)[\s\S]*",
    },
    {
        "name": "Suite errors",
        "description": "A test broke without reaching a verdict: a bug in chatconform or its configuration.",
        "matchedStatuses": ["broken"],
    },
]


def enabled(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "allure_report_dir", None))


# -- labels (collection time) --------------------------------------------------------------------
def description(doc: str | None, reqs: list[Requirement]) -> str:
    """Markdown: what the test does, then each requirement with its sources."""
    parts = []
    if doc:
        parts.append(doc.strip())
    for req in reqs:
        lines = [f"**{req.id}** ({req.level.value}): {req.statement}", ""]
        lines += [f"- {source_label(source)}" for source in req.source]
        if req.note:
            lines += ["", f"_Note:_ {req.note}"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def label_markers(reqs: list[Requirement], doc: str | None, base: str | None) -> list[pytest.MarkDecorator]:
    """allure-pytest's own markers for the requirements a test cites (``base``: the published
    catalogue's URL, for requirement links)."""
    if not reqs:
        return []
    mark = pytest.mark
    markers = []
    for values, label_type in (
        (dict.fromkeys(r.area for r in reqs), "epic"),
        (dict.fromkeys(requirement_group(r) for r in reqs), "feature"),
        (dict.fromkeys(r.id for r in reqs), "story"),
    ):
        markers.append(mark.allure_label(*values, label_type=label_type))
    strongest = min((r.level for r in reqs), key=LEVEL_ORDER.index)
    markers.append(mark.allure_label(SEVERITY[strongest.value], label_type="severity"))
    markers.append(mark.allure_label(*(r.level.value for r in reqs), label_type="tag"))
    seen: set[str] = set()
    for req in reqs:
        markers.append(mark.allure_link(catalogue_url(req.id, base), name=f"requirement {req.id}", link_type="tms"))
        for source in req.source:
            url = source_url(source)
            name = f"{req.id}: {source_label(source)}"
            if url and name not in seen:
                seen.add(name)
                markers.append(mark.allure_link(url, name=name[:200], link_type="link"))
    markers.append(mark.allure_description(description(doc, reqs)))
    return markers


def dynamic_parameters(allure: Any, target: Any) -> None:
    if target is not None:
        allure.dynamic.parameter("target", target.name)
        allure.dynamic.parameter("model", target.model)
        allure.dynamic.parameter("profile", target.profile.name)


# -- verdicts and attachments (when a test ends) -----------------------------------------------
def _allure() -> Any:
    import allure

    return allure


def file_verdicts(verdicts: list[Verdict], target: Any, exchanges: list[Any], failure: BaseException | None) -> None:
    """Give the current Allure result its verdicts: a tag per requirement that is not a pass
    (``blocked: request.n-range``), the verdicts as a JSON attachment, the target as parameters,
    and the exchanges the test relied on."""
    allure = _allure()
    dynamic_parameters(allure, target)
    for v in verdicts:
        if v.outcome != "pass":
            allure.dynamic.tag(f"{v.label}: {v.requirement}")
    if verdicts:
        allure.attach(json.dumps([v.as_dict() for v in verdicts], indent=1, ensure_ascii=False),
                      name="verdicts", attachment_type=allure.attachment_type.JSON)
    attach_exchanges(allure, exchanges, failure)


def attach_exchanges(allure: Any, exchanges: list[Any], failure: BaseException | None) -> None:
    """Each exchange of the test: request, response (raw SSE for a stream), transcript, curl.

    The exchange a failure names comes first, so a reader opening the result sees the evidence.
    """
    seen = list(exchanges)
    failed_exchange = getattr(failure, "exchange", None)
    if failed_exchange is not None:
        if failed_exchange in seen:
            seen.remove(failed_exchange)
        seen.insert(0, failed_exchange)
    types = allure.attachment_type
    for n, exchange in enumerate(seen, 1):
        marker = " (the failure's)" if exchange is failed_exchange else ""
        label = f"{n}. {exchange.method} {exchange.url.split('?')[0]} -> {exchange.status}{marker}"
        if exchange.request_body:
            allure.attach(exchange.request_body.decode("utf-8", "replace"), name=f"{label}: request",
                          attachment_type=types.JSON if _is_json(exchange.request_body) else types.TEXT)
        if exchange.streamed and exchange.status is not None and 200 <= exchange.status < 300:
            allure.attach(exchange.text, name=f"{label}: response (raw SSE transcript)",
                          attachment_type="text/plain", extension="sse.txt")
        elif exchange.body:
            allure.attach(exchange.text, name=f"{label}: response",
                          attachment_type=types.JSON if exchange.media_type.endswith("json") else types.TEXT)
        allure.attach(exchange.transcript(), name=f"{label}: exchange (headers and bodies)", attachment_type=types.TEXT)
        allure.attach(exchange.curl(), name=f"{label}: curl", attachment_type=types.TEXT)


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


# -- warnings (teardown) -------------------------------------------------------------------------
def mark_warning(listener: Any, warnings: list[Verdict]) -> None:
    """A SHOULD/MAY violation leaves the test passed; give its Allure result the message anyway,
    so the result shows it and categories.json files it under the warnings."""
    if listener is None or not warnings:
        return
    try:
        from allure_commons.model2 import Status, StatusDetails

        result = listener.allure_logger.get_test(None)
    except Exception:  # allure-pytest internals moved: the warning stays in the labels and description
        return
    if result is not None and result.status == Status.PASSED and result.statusDetails is None:
        result.statusDetails = StatusDetails(message="\n\n".join(
            f"[{w.requirement}] {w.level}: expected {w.expected}; received {w.received}" for w in warnings))


# -- filing (teardown) ----------------------------------------------------------------------------
FILED_BY = ("epic", "feature", "story")


def refile(listener: Any, verdicts: list[Verdict], test_id: str, nodeid: str) -> None:
    """File a failed result under the requirements it violated, not every requirement the test
    cites: a test that stopped at error.envelope is not a failure of request.n-range (that one is
    blocked, and says so in a tag). And give each property-test operation its own identity:
    schemathesis gives them one node ID, which Allure would show as retries of one test."""
    if listener is None:
        return
    try:
        from allure_commons.model2 import Label

        result = listener.allure_logger.get_test(None)
    except Exception:  # allure-pytest internals moved: the collection-time labels stay
        return
    if result is None:
        return
    violated = [v.requirement for v in verdicts if v.outcome in ("fail", "error")]
    if violated:
        from ..requirements import catalogue

        cat = catalogue()
        reqs = [cat[rid] for rid in dict.fromkeys(violated) if rid in cat]
        if reqs:
            result.labels = [lb for lb in result.labels if lb.name not in FILED_BY]
            for name, values in (("epic", [r.area for r in reqs]), ("feature", [requirement_group(r) for r in reqs]),
                                 ("story", [r.id for r in reqs])):
                result.labels += [Label(name=name, value=v) for v in dict.fromkeys(values)]
    if test_id != nodeid:
        import hashlib

        digest = hashlib.md5(test_id.encode("utf-8")).hexdigest()
        result.historyId = result.testCaseId = digest
        suffix = test_id[len(nodeid):]
        if result.name and not result.name.endswith(suffix):
            result.name += suffix
        result.fullName = (result.fullName or nodeid) + suffix


# -- report-wide files ---------------------------------------------------------------------------
def _properties_escape(value: str) -> str:
    value = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return re.sub(r"([=:#!])", r"\\\1", value)


def environment_properties(info: Mapping[str, Any]) -> str:
    lines = []
    for key, value in info.items():
        if value is None or value == "" or value == [] or value == ():
            continue
        text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        lines.append(f"{_properties_escape(key)}={_properties_escape(text)}")
    return "\n".join(lines) + "\n"


def executor(run_name: str, report_name: str) -> dict[str, Any]:
    info: dict[str, Any] = {"name": "chatconform", "type": "pytest", "buildName": run_name, "reportName": report_name}
    found = github_run()
    if found:
        url, run_id = found
        info.update(type="github", name="GitHub Actions", buildUrl=url,
                    buildOrder=int(run_id) if run_id.isdigit() else None)
    return {k: v for k, v in info.items() if v is not None}


ALLURE3_CONFIG = "allurerc.json"


def write_extras(alluredir: str | Path, environment: Mapping[str, Any], run_name: str, report_name: str) -> None:
    """environment.properties, executor.json and categories.json in the Allure results directory,
    plus allurerc.json: Allure 3 takes its categories from a configuration file rather than from
    categories.json (``npx allure generate --config <dir>/allurerc.json <dir>``)."""
    directory = Path(alluredir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "environment.properties").write_text(environment_properties(environment), encoding="utf-8")
    (directory / "executor.json").write_text(json.dumps(executor(run_name, report_name), indent=1), encoding="utf-8")
    (directory / "categories.json").write_text(json.dumps(CATEGORIES, indent=1), encoding="utf-8")
    rules = [{k: v for k, v in c.items() if k != "description"} for c in CATEGORIES]
    config = {
        "name": report_name,
        "categories": rules,
        # the tree follows the catalogue: area, then requirement group, then requirement ID
        "plugins": {"awesome": {"options": {"reportName": report_name, "groupBy": ["epic", "feature", "story"]}}},
    }
    (directory / ALLURE3_CONFIG).write_text(json.dumps(config, indent=1), encoding="utf-8")
