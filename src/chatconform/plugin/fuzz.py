"""The property tests' options (--fuzz-examples, --fuzz-seed, ...) and the `fuzz` fixture."""

from __future__ import annotations

from typing import Any

import os

import pytest

from .. import fuzz as fuzzing


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chatconform-fuzz", "chatconform property-based tests (schemathesis)")
    group.addoption("--fuzz-examples", dest="cc_fuzz_examples", type=int, default=None, metavar="N",
                    help=f"examples per operation and mode (default {fuzzing.EMBEDDED_EXAMPLES} against the embedded "
                         f"server, {fuzzing.REMOTE_EXAMPLES} against --base-url) [env CHATCONFORM_FUZZ_EXAMPLES]")
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
    return fuzzing.settings().describe()


@pytest.fixture
def fuzz(request: pytest.FixtureRequest, client: Any, target: Any) -> Any:
    """Sends generated cases through the plugin's client and judges them with chatconform's checks."""
    from ..fuzz.runner import Runner

    return Runner(client, target, request.node)
