"""A run's directory under reports/: never silently replaced, old unnamed runs pruned, an interrupted
run still recorded (as partial), and the next commands to type printed with the run's own paths.

- ``--run-name NAME`` that already holds a run record is a usage error at start-up (before any
  request), unless ``--replace-run`` says to overwrite it: a nightly job that reuses its name
  passes it on purpose; a person who reuses one by mistake keeps yesterday's evidence.
- Runs without ``--run-name`` get ``<target host>-<UTC time>`` and pile up; after each run only
  the newest ``KEEP_UNNAMED`` of them are kept (named runs are never pruned).
- SIGTERM (a CI timeout, ``kill``) is turned into the KeyboardInterrupt pytest already handles
  like Ctrl-C, so the session finishes, the record is written and marked ``partial``.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..report import record

KEEP_UNNAMED = 20
UNNAMED = re.compile(r"^.+-\d{8}T\d{6}Z$")  # record.default_run_name's shape
INTERRUPTED: pytest.StashKey[str] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("chatconform").addoption(
        "--replace-run", dest="cc_replace_run", action="store_true", default=False,
        help="with --run-name: overwrite an existing run record of that name (otherwise a usage error)")


def reports_dir(config: pytest.Config) -> Path:
    option = config.getoption("cc_reports_dir")
    if option:
        return config.invocation_params.dir / option
    return config.rootpath / (config.getini("chatconform_reports_dir") or "reports")


def check_reuse(config: pytest.Config, name: str) -> None:
    """A --run-name that already holds a record: a usage error unless --replace-run."""
    existing = reports_dir(config) / name / record.RUN_FILE
    if existing.is_file() and not config.getoption("cc_replace_run"):
        when = ""
        try:
            when = f" (started {json.loads(existing.read_text(encoding='utf-8'))['run']['started']})"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        raise pytest.UsageError(f"--run-name {name}: {existing} already holds a run{when}; "
                                "choose another name, or add --replace-run to overwrite it")


def prune(directory: Path, keep: int = KEEP_UNNAMED, spare: Sequence[Path] = ()) -> list[Path]:
    """Delete all but the newest ``keep`` unnamed run directories (by their name's UTC time)."""
    if not directory.is_dir():
        return []
    unnamed = [d for d in directory.iterdir()
               if d.is_dir() and UNNAMED.match(d.name) and (d / record.RUN_FILE).is_file() and d not in spare]
    unnamed.sort(key=lambda d: d.name.rsplit("-", 1)[1])
    doomed = unnamed[: max(len(unnamed) - keep, 0)]
    for d in doomed:
        shutil.rmtree(d, ignore_errors=True)
    return doomed


# -- interruption ----------------------------------------------------------------------------------
_terminating: dict[str, bool] = {}


def _on_sigterm(signum: int, frame: Any) -> None:
    _terminating["sigterm"] = True
    raise KeyboardInterrupt("SIGTERM")


def stop_if_terminating() -> None:
    """Raise the SIGTERM's KeyboardInterrupt again if one arrived: code that may catch it (hypothesis,
    interrupted mid-draw, can turn it into an internal error) asks at its next safe point."""
    if _terminating:
        raise KeyboardInterrupt("SIGTERM")


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    # the interruption was swallowed inside the test: raise it again between tests, where pytest
    # turns it into the end of the run
    stop_if_terminating()


def pytest_configure(config: pytest.Config) -> None:
    _interrupted_by.clear()
    _terminating.clear()
    if hasattr(config, "workerinput"):
        return  # a worker stops when the controller tells it
    name = config.getoption("cc_run_name")
    if name and not config.option.collectonly:
        check_reuse(config, name)
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (pytest run in-process by a harness)
        return
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, previous))


def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    # pytest.exit (the pre-flight) arrives here too; only a real interruption makes a run partial
    if isinstance(excinfo.value, KeyboardInterrupt):
        _interrupted_by["why"] = "SIGTERM" if str(excinfo.value) == "SIGTERM" else "KeyboardInterrupt"


_interrupted_by: dict[str, str] = {}


def interrupted() -> str | None:
    return _interrupted_by.get("why")


# -- what to do next -----------------------------------------------------------------------------------
def next_steps(run_dir: Path, shown: Path, alluredir: str | None, failed_preflight: bool) -> list[str]:
    """The commands a person types after this run, with this run's paths."""
    parent = shown.parent
    # the baseline to diff against: the most recent other run in the same reports directory
    siblings = sorted((p for p in run_dir.parent.iterdir() if p.is_dir() and p != run_dir
                       and (p / record.RUN_FILE).is_file()), key=lambda p: (p / record.RUN_FILE).stat().st_mtime)
    baseline = parent / siblings[-1].name if siblings else parent / "<earlier-run>"
    lines = [f"  compare: chatconform report compare {shown} --html {shown / 'compare.html'}",
             f"  diff:    chatconform report diff {baseline} {shown}"]
    if alluredir and not failed_preflight:
        lines.append(f"  allure:  npx --yes allure@3 generate --config {alluredir}/allurerc.json {alluredir} "
                     f"--output {Path(alluredir).parent / 'allure-report'} && "
                     f"npx --yes allure@3 open {Path(alluredir).parent / 'allure-report'}")
    return lines
