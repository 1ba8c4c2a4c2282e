"""The property tests' options (--fuzz-examples, --fuzz-seed, ...) and the `fuzz` fixture."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from .. import fuzz as fuzzing


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatconform-fuzz", "chatconform property-based tests (schemathesis)")
    group.addoption("--fuzz-examples", dest="cc_fuzz_examples", type=int, default=None, metavar="N",
                    help=f"examples per operation and mode (default {fuzzing.EXAMPLES}; against --base-url "
                         f"{fuzzing.REMOTE_BILLED_EXAMPLES} for the valid-request and stateful tests, whose "
                         f"examples are billed) "
                         f"[env CHATCONFORM_FUZZ_EXAMPLES]")
    group.addoption("--fuzz-seed", dest="cc_fuzz_seed", type=int, default=None, metavar="SEED",
                    help="seed the property tests: the same seed generates the same requests "
                         "[env CHATCONFORM_FUZZ_SEED]")
    group.addoption("--fuzz-derandomize", dest="cc_fuzz_derandomize", action="store_true", default=None,
                    help="generate the same cases every run (the default)")
    group.addoption("--no-fuzz-derandomize", dest="cc_fuzz_derandomize", action="store_false",
                    help="draw a fresh random seed per run (printed, so a failure can be replayed)")
    parser.addini("chatconform_fuzz_examples", "property tests: examples per operation and mode", default=None)
    parser.addini("chatconform_fuzz_seed", "property tests: seed", default=None)
    parser.addini("chatconform_fuzz_derandomize", "property tests: the same cases every run", type="bool",
                  default=True)


REEXEC = "CHATCONFORM_REEXEC"  # "0": never re-execute; "1" marks the re-executed process


def parallel(args: list[str]) -> bool:
    """Whether the command line asks xdist for workers (they get a fixed hash seed anyway)."""
    return any(a == "-n" or (a.startswith("-n") and a[2:].isdigit()) or a.startswith(("--numprocesses", "--dist="))
               or a in ("-nauto", "-n=auto") for a in args)


def should_reexec(args: list[str]) -> bool:
    """A serial pytest run whose string hashing is randomized: its negative property tests would
    generate different cases from run to run, whatever --fuzz-seed says (schemathesis iterates
    over sets of strings). Re-executing the same command with PYTHONHASHSEED=0 before anything
    is printed makes every run generate the same cases without asking the user to set it."""
    if fuzzing.HASH_SEED_FIXED or os.environ.get(REEXEC) in ("0", "1") or parallel(args):
        return False
    orig = getattr(sys, "orig_argv", None)  # Python 3.10+: the interpreter's own command line
    launched = os.path.basename(sys.argv[0]) if sys.argv else ""
    return bool(orig) and (launched.startswith(("pytest", "py.test")) or sys.argv[0].endswith(
        os.path.join("pytest", "__main__.py")))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    if should_reexec(list(args)):
        env = dict(os.environ, PYTHONHASHSEED="0", **{REEXEC: "1"})
        capture = early_config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # pytest already redirected fd 1 and 2: give the new process the real ones
            capture.stop_global_capturing()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, list(sys.orig_argv), env)


def pytest_configure(config: pytest.Config) -> None:
    fuzzing.configure(fuzzing.resolve(config))
    # schemathesis' negative mode iterates over sets of strings, whose order follows the hash
    # seed; xdist workers start after this and inherit a fixed one, so their runs repeat exactly
    os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    current = fuzzing.settings()
    if current.seed is not None:
        node.workerinput[fuzzing.WORKER_SEED] = current.seed


def pytest_report_header(config: pytest.Config) -> str:
    return fuzzing.settings().describe(parallel=bool(config.getoption("numprocesses", None)))


@pytest.fixture
def fuzz(request: pytest.FixtureRequest, client: Any, target: Any) -> Any:
    """Sends generated cases through the plugin's client and judges them with chatconform's checks."""
    from ..fuzz.runner import Runner

    return Runner(client, target, request.node)
