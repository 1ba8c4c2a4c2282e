"""The plugin's hand-off to chatconform.report: ``--run-name`` / ``--reports-dir``, the run record
and JUnit file of reports/<run>/, and the Allure labels, attachments and report-wide files.

The report package never imports the plugin: this module gives it verdict records and plain
data. The run record is written on the controller only (under pytest-xdist it holds every
worker's results and, once the workers are down, their cost), and only for a session that ran
conformance tests (or was given --run-name), so chatconform's own self-tests leave reports/ alone.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Generator, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from .. import __version__, spec
from ..redaction import Redactor
from ..report import allure as allure_report
from ..report import junit, record
from ..report.ci import github_run
from ..requirements import catalogue
from ..verdict import Verdict
from .grading import STOPPED, VERDICTS
from .markers import requirement_ids, test_id
from . import preflight, runs
from .results import Results, results
from .session import Session, configured_target, state

REPORTS_DIR_INI = "chatconform_reports_dir"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatconform")
    group.addoption("--run-name", dest="cc_run_name", default=None, metavar="NAME",
                    help="name of this run: its record goes to <reports-dir>/<NAME>/run.json "
                         "(default: <target host>-<UTC time>)")
    group.addoption("--reports-dir", dest="cc_reports_dir", default=None, metavar="DIR",
                    help="where run records are written (default: reports, or ini chatconform_reports_dir)")
    parser.addini(REPORTS_DIR_INI, default="reports", help="directory for run records (relative to the rootdir)")
    parser.addini(allure_report.CATALOGUE_URL_INI, default="",
                  help="URL of a published specs/requirements.yaml; Allure links each requirement to its line there")


def pytest_configure(config: pytest.Config) -> None:
    name = config.getoption("cc_run_name")
    if name:
        try:
            record.check_run_name(name)
        except ValueError as exc:
            raise pytest.UsageError(f"--run-name: {exc}") from None
    config.pluginmanager.register(ReportCollector(config), "chatconform-report")


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def target_info(config: pytest.Config, session: Session) -> dict[str, Any]:
    """The target as the record describes it, without starting anything.

    Under xdist the controller never resolves the target (each worker does), so it falls back to
    what the options describe (plugin.configured_target).
    """
    faults = list(config.getoption("cc_reference_faults") or [])
    variations = list(config.getoption("cc_reference_variations") or [])
    try:
        t = session.resolved_target or configured_target(config)
    except pytest.UsageError:
        return {"name": "unknown", "base_url": None, "embedded": False, "model": None, "profile": None,
                "auth_style": None, "capabilities": [], "reference_faults": faults, "reference_variations": variations}
    return {
        "name": t.name, "base_url": None if t.embedded else _strip_userinfo(t.base_url), "embedded": t.embedded,
        "model": t.model, "profile": t.profile.name, "auth_style": t.auth_style,
        "capabilities": sorted(t.capabilities), "reference_faults": faults, "reference_variations": variations,
    }


def should_record(tests: Iterable[Any], named: bool) -> bool:
    """A session is recorded when it was named, or when a test in it cited a requirement;
    chatconform's own self-tests cite none, so they leave reports/ alone."""
    return named or any(t.requirements for t in tests)


def _ci() -> dict[str, str] | None:
    found = github_run()
    return {"provider": "github", "url": found[0]} if found else None


class ReportCollector:
    """Per-process: durations and failure evidence per test; on the controller, the record."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.started = datetime.now(timezone.utc)
        self._t0 = time.monotonic()
        self.written: Path | None = None
        self.headline: dict[str, Any] = {}
        self.outage = False

    # -- Allure ----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)  # before allure-pytest's selection by label (--allure-epics ...)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not config.pluginmanager.has_plugin("allure_pytest"):
            return
        cat = catalogue()
        base = config.getini(allure_report.CATALOGUE_URL_INI) or None
        # the parametrized cases of one test cite the same requirements and share a docstring:
        # their markers (immutable) are built once
        made: dict[tuple[tuple[str, ...], str | None], list[pytest.MarkDecorator]] = {}
        for item in items:
            rids = tuple(rid for rid in requirement_ids(item) if rid in cat)
            if not rids:
                continue
            doc = getattr(getattr(item, "function", None), "__doc__", None)
            markers = made.get((rids, doc))
            if markers is None:
                markers = made[(rids, doc)] = allure_report.label_markers([cat[rid] for rid in rids], doc, base)
            for marker in markers:
                item.add_marker(marker)

    @pytest.hookimpl(wrapper=True, trylast=True)  # after grading has attached the verdicts
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        if not allure_report.enabled(item.config):
            return report
        graded = next((value for key, value in reversed(item.user_properties) if key == VERDICTS), None)
        if call.when in ("call", "setup") and graded is not None and not getattr(item, "_cc_allured", False):
            item._cc_allured = True  # type: ignore[attr-defined]
            allure_report.file_verdicts([Verdict.from_dict(v) for v in graded["verdicts"]],
                                        state(item.config).resolved_target,
                                        state(item.config).exchanges_of(item), item.stash.get(STOPPED, None))
        elif call.when == "teardown" and graded is not None:
            verdicts = [Verdict.from_dict(v) for v in graded["verdicts"]]
            listener = item.config.pluginmanager.getplugin("allure_listener")
            allure_report.mark_warning(listener, [v for v in verdicts if v.outcome == "warning"])
            allure_report.refile(listener, verdicts, test_id(item), item.nodeid)
        return report

    # -- the record -----------------------------------------------------------------------
    def _reports_dir(self) -> Path:
        return runs.reports_dir(self.config)

    @pytest.hookimpl(trylast=True)  # after Results has added the controller's own cost
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker or self.config.option.collectonly:
            return
        session = state(self.config)
        collected: Results = results(self.config)
        tests = collected.tests
        named = self.config.getoption("cc_run_name")
        checked = preflight.outcome_of(self.config)
        outage = checked is not None and checked.failed
        if not (should_record(tests, named=bool(named)) or outage):
            return
        interrupted = runs.interrupted()
        partial = bool(interrupted) or int(exitstatus) == int(pytest.ExitCode.INTERRUPTED) and not outage
        finished = datetime.now(timezone.utc)
        target = target_info(self.config, session)
        name = named or record.default_run_name(target["name"], self.started)
        run_dir = self._reports_dir() / name
        run_dir.mkdir(parents=True, exist_ok=True)
        alluredir = getattr(self.config.option, "allure_report_dir", None)
        cat = catalogue()
        versions = {
            "chatconform": __version__, "spec": spec.version(), "catalogue": cat.version,
            "python": platform.python_version(), "pytest": pytest.__version__,
        }
        run = {
            "name": name,
            "started": record.iso(self.started),
            "finished": record.iso(finished),
            "duration_seconds": round(time.monotonic() - self._t0, 3),
            "exit_status": int(exitstatus),
            "strict": bool(session.strict),
            "selection": {
                "args": [str(a) for a in self.config.args],
                "keyword": self.config.option.keyword or "",
                "markers": self.config.option.markexpr or "",
            },
            "ci": _ci(),
            "named": bool(named),
            "partial": partial,
            "interrupted": interrupted if partial else None,
        }
        data = record.SessionData(tests=tests, cost=dict(collected.cost))
        artifacts = {
            "junit": "junit.xml",
            "allure_results": os.path.relpath(alluredir, run_dir) if alluredir else None,
        }
        result = record.build_record(data, cat, run=run, target=target, versions=versions, artifacts=artifacts,
                                     preflight=preflight.record_field(self.config))
        redactor = Redactor(session.secrets())
        text = redactor.text(json.dumps(result, indent=1, ensure_ascii=False))
        (run_dir / record.RUN_FILE).write_text(text + "\n", encoding="utf-8")
        clean = json.loads(text)
        (run_dir / "junit.xml").write_bytes(junit.render(clean))
        if alluredir:
            environment = {
                "target": target["name"], "base_url": target["base_url"] or "embedded reference server",
                "model": target["model"], "profile": target["profile"], "capabilities": target["capabilities"],
                "reference_faults": target["reference_faults"], "run_name": name, "strict": run["strict"],
                "chatconform": versions["chatconform"], "spec": versions["spec"],
                "catalogue": versions["catalogue"], "python": versions["python"],
            }
            report_name = f"chatconform: {target['name']} / {target['model']} ({target['profile']})"
            allure_report.write_extras(alluredir, {k: redactor.text(str(v)) if isinstance(v, str) else v
                                                   for k, v in environment.items()}, name, report_name)
            # the page Allure's requirement links point at (../catalogue.html#<id> from the report)
            from ..report import catalogue as catalogue_page

            Path(alluredir).resolve().parent.joinpath("catalogue.html").write_text(
                catalogue_page.render_html(cat), encoding="utf-8")
        self.written = run_dir / record.RUN_FILE
        self.headline = clean["summary"]["headline"]
        self.outage = outage
        if not named:
            runs.prune(self._reports_dir(), spare=[run_dir])
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if outage and reporter is not None:  # pytest prints no terminal summary after pytest.exit
            for line, markup in self.closing_lines():
                reporter.write_line(line, **markup)

    def closing_lines(self) -> list[tuple[str, dict[str, bool]]]:
        """The end of the chatconform summary: the headline, where the record is, what to run next
        (printed by chatconform.plugin.summary, last, so it is what a person sees)."""
        if self.written is None:
            return []
        try:
            shown = self.written.relative_to(self.config.invocation_params.dir)
        except ValueError:
            shown = self.written
        status = self.headline["status"]
        colour = {"PASS": {"green": True}, "INCOMPLETE": {"yellow": True}}.get(status, {"red": True})
        lines = [(f"chatconform: {self.headline['text']}", {"bold": True, **colour}),
                 (f"chatconform run record: {shown}; next:", {})]
        alluredir = getattr(self.config.option, "allure_report_dir", None)
        lines += [(line, {}) for line in runs.next_steps(self.written.parent, shown.parent, alluredir, self.outage)]
        return lines
