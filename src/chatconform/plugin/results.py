"""The controller's collection: every test's result and verdict records, and the run's cost.

Under pytest-xdist each worker grades its own tests; the verdicts travel to the controller inside
the test reports (user properties, as plain data) and the workers' cost in their workeroutput.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ..verdict import Note, SupportRow, TestResult, Verdict
from .grading import VERDICTS
from .markers import requirement_ids, test_id
from .session import state

RESULTS: pytest.StashKey[Results] = pytest.StashKey()
COST_KEYS = ("requests", "prompt_tokens", "completion_tokens", "billed", "not_sent")
TEST_ID = "chatconform-test-id"


class Results:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self._tests: dict[str, dict[str, Any]] = {}
        self.cost = dict.fromkeys(COST_KEYS, 0)
        self._made: list[TestResult] | None = None  # ``tests``, until the next report arrives

    @property
    def tests(self) -> list[TestResult]:
        # a test whose setup passed but whose call never reported was cut short (Ctrl-C, SIGTERM):
        # it judged nothing, so it is left out rather than counted as an error of what it cites
        if self._made is None:
            self._made = [self._result(t) for t in self._tests.values() if t.get("graded")
                          or t["outcome"] != "passed" or "call" in t.get("phases", ())]
        return list(self._made)

    @staticmethod
    def _result(t: dict[str, Any]) -> TestResult:
        graded = t.get("graded") or {}
        return TestResult(
            nodeid=t["nodeid"], outcome=t["outcome"], requirements=tuple(t["requirements"]),
            verdicts=tuple(Verdict.from_dict(x) for x in graded.get("verdicts", ())),
            message=t.get("message", ""), duration=t["duration"],
            notes=tuple(Note(**n) for n in graded.get("notes", ())),
            support=tuple(SupportRow(**s) for s in graded.get("support", ())),
        )

    def verdicts(self) -> list[Verdict]:
        return [x for t in self.tests for x in t.verdicts]

    # -- hooks -------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        self._made = None
        key = next((value for k, value in report.user_properties if k == TEST_ID), report.nodeid)
        entry = self._tests.setdefault(key, {"nodeid": key, "outcome": "passed", "requirements": [],
                                             "duration": 0.0})
        entry["duration"] += report.duration
        entry.setdefault("phases", []).append(report.when)
        for key, value in report.user_properties:
            if key == "chatconform-requirements":
                entry["requirements"] = list(value)
            elif key == VERDICTS:
                entry["graded"] = value
        if report.failed:
            entry["outcome"] = "failed" if report.when == "call" else "error"
            entry.setdefault("message", str(report.longrepr)[-4000:])
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"] = "skipped"
            entry["message"] = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        session = state(self.config)
        for cost in (session.cost, session.preflight_cost):
            if cost is not None:
                for key in COST_KEYS:
                    self.cost[key] += getattr(cost, key)
        if self.is_worker:
            self.config.workeroutput["chatconform_cost"] = self.cost  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        cost = getattr(node, "workeroutput", {}).get("chatconform_cost")
        if cost:
            for key in COST_KEYS:
                self.cost[key] += cost.get(key, 0)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        path = config.getoption("cc_results_json")
        if not path or self.is_worker:
            return
        payload = {"tests": [t.as_dict() for t in self.tests], "cost": self.cost}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=1)


def results(config: pytest.Config) -> Results:
    return config.stash[RESULTS]


def pytest_configure(config: pytest.Config) -> None:
    collected = Results(config)
    config.stash[RESULTS] = collected
    config.pluginmanager.register(collected, "chatconform-results")


def pytest_runtest_setup(item: pytest.Item) -> None:
    item.user_properties.append((TEST_ID, test_id(item)))
    item.user_properties.append(("chatconform-requirements", requirement_ids(item)))
