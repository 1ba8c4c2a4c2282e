"""Running the conformance suite as a user would (a pytest subprocess) and reading its verdicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatconform.verdict import TestResult, Verdict, aggregate, failing_requirements

REPO = Path(__file__).resolve().parents[1]
API_KEY = "sk-selftest-canary-4242424242"


@dataclass
class SuiteRun:
    returncode: int
    output: str
    tests: list[TestResult] = field(default_factory=list)
    cost: dict[str, int] = field(default_factory=dict)

    def outcome(self, outcome: str) -> list[TestResult]:
        return [t for t in self.tests if t.outcome == outcome]

    @property
    def failed(self) -> list[TestResult]:
        return self.outcome("failed") + self.outcome("error")

    @property
    def verdicts(self) -> list[Verdict]:
        return [v for t in self.tests for v in t.verdicts]

    def requirements_with(self, outcome: str) -> set[str]:
        return {v.requirement for v in self.verdicts if v.outcome == outcome}

    def failed_requirements(self) -> set[str]:
        return failing_requirements(self.tests)

    def warned_requirements(self) -> set[str]:
        return self.requirements_with("warning")

    def unsupported(self) -> set[str]:
        return {v.capability for v in self.verdicts if v.outcome == "unsupported" and v.capability}

    def notes(self) -> dict[str, str]:
        """requirement -> its informational observations, joined."""
        found: dict[str, list[str]] = {}
        for t in self.tests:
            for n in t.notes:
                found.setdefault(n.requirement, []).append(n.message)
        return {k: "\n".join(v) for k, v in found.items()}

    def verdict_of(self, requirement: str) -> str:
        """The requirement's verdict over the whole run, aggregated as the run record does."""
        return aggregate(v.outcome for v in self.verdicts if v.requirement == requirement)

    def assert_fails(self, failing: set[str] = frozenset(), warned: set[str] = frozenset()) -> None:
        """The run failed, with (at least) these requirements failed and these warned."""
        assert self.returncode == 1, self.summary()
        assert failing <= self.failed_requirements(), (failing - self.failed_requirements(), self.summary())
        assert warned <= self.warned_requirements(), (warned - self.warned_requirements(), self.summary())

    def assert_clean(self) -> None:
        """The run passed with no failure and no warning: what a legal variation must give."""
        assert self.returncode == 0 and not self.failed and not self.warned_requirements(), self.summary()

    def summary(self) -> str:
        lines = [f"exit {self.returncode}"]
        lines += [f"  {t.outcome}: {t.nodeid}\n" + "\n".join(f"    {v.headline()}" for v in t.verdicts
                                                           if v.outcome != "pass")
                  + (f"\n{t.message[-1500:]}" if not t.verdicts else "") for t in self.failed]
        return "\n".join(lines) + "\n" + self.output[-3000:]


def run_suite(*selection: str, base_url: str | None = None, against: Any = None, model: str = "fake-model",
              args: tuple[str, ...] = (), timeout: float = 300, preflight: bool = False) -> SuiteRun:
    """Run ``pytest <selection>`` (paths under suites/, -k expressions in args) against base_url,
    against a FakeServer serving the handler ``against``, or else the embedded reference server.

    The pre-flight is off unless ``preflight``: most fakes answer only the requests their suite
    sends, and a self-test of a check wants that check's verdict, not an early end of the run."""
    if against is not None:
        from tests.fakes import FakeServer

        with FakeServer(against) as url:
            return run_suite(*selection, base_url=url, model=model, args=args, timeout=timeout, preflight=preflight)
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        # a fake on loopback bills nothing: no budget, unless a test sets one (its later flags win)
        unbilled = ["--max-requests=0", "--max-billed=0", "--max-tokens=0"] if base_url else []
        cmd = [sys.executable, "-m", "pytest", *selection, "-p", "no:cacheprovider", "-q",
               f"--results-json={results}", f"--reports-dir={tmp}", *unbilled, *args]
        if not preflight:
            cmd.append("--no-preflight")
        if base_url:
            cmd += [f"--base-url={base_url}", f"--api-key={API_KEY}", f"--model={model}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CHATCONFORM_", "PYTEST_"))}
        # as the README advises for reproducible property tests (see chatconform.fuzz.HASH_SEED_FIXED)
        env["PYTHONHASHSEED"] = "0"
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
        run = SuiteRun(proc.returncode, proc.stdout + proc.stderr)
        if results.exists():
            data = json.loads(results.read_text())
            run.tests = [TestResult.from_dict(t) for t in data["tests"]]
            run.cost = data["cost"]
        return run
