"""Property-based tests driven by specs/openapi.yaml (schemathesis): their settings.

The options and the `fuzz` fixture are the plugin's (chatconform.plugin.fuzz). Importing this
module costs nothing: schemathesis and hypothesis are imported only when a property test runs
(chatconform.fuzz.schema builds everything at run time, never at collection).

The target (base URL, auth, key, model, capabilities) is never configured here: requests go
through the plugin's own `client` to the plugin's `target`, so there is one source of truth.
"""

from __future__ import annotations

import os
import random
import sys
from dataclasses import dataclass
from typing import Any

import pytest

# Examples per operation and generation mode, the same against the embedded server and a vendor.
# The embedded server answers in milliseconds, but drawing and shaping an example costs the harness
# about as much CPU as a hand-written test's whole exchange: 10 embedded examples made the property
# tests half of a local run (issue 12: 9 s, 7 s at 5). The depth that proves the suite's teeth is
# the self-tests' (tests/test_property_suite.py draws 10 with a seed; the fault catalogue runs the
# defaults). A vendor bills every accepted example, so the kinds whose examples are valid requests
# (the positive and streamed tests and the stateful scenarios) draw fewer still there.
EXAMPLES = 5
REMOTE_BILLED_EXAMPLES = 3
BILLED_KINDS = ("positive", "streaming", "stateful")
WORKER_SEED = "chatconform_fuzz_seed"


@dataclass(frozen=True)
class FuzzSettings:
    examples: int
    seed: int | None  # explicit (--fuzz-seed) or drawn for a randomized run; None when derandomized
    seed_is_explicit: bool
    derandomize: bool
    embedded: bool
    billed_examples: int | None = None  # for BILLED_KINDS when not given explicitly; None: `examples`

    def examples_for(self, kind: str) -> int:
        if kind in BILLED_KINDS and self.billed_examples is not None:
            return self.billed_examples
        return self.examples

    @property
    def shrink(self) -> bool:
        # shrinking replays a failing request dozens of times: free locally, billed by a vendor
        return self.embedded

    def describe(self, parallel: bool = False) -> str:
        if self.seed is not None and self.seed_is_explicit:
            how = f"seed {self.seed}"
        elif self.seed is not None:
            how = f"random seed {self.seed} (reproduce with --fuzz-seed {self.seed})"
        else:
            how = "derandomized (the same cases every run)"
        count = str(self.examples)
        if self.billed_examples is not None and self.billed_examples != self.examples:
            count += f" ({self.billed_examples} for valid requests and stateful scenarios)"
        text = (f"chatconform property tests: {count} examples per operation, {how}, "
                f"{'shrinking' if self.shrink else 'no shrinking'}")
        # under xdist the workers generate, and they inherit PYTHONHASHSEED=0 (plugin.fuzz); a serial
        # run re-executes itself with it (plugin.fuzz.reexec): only an opted-out run can get here
        if not HASH_SEED_FIXED and not parallel:
            text += ("\nchatconform property tests: PYTHONHASHSEED is not set (CHATCONFORM_REEXEC=0), so "
                     "invalid-request generation (which iterates over sets of strings) may differ between runs")
        return text


def _hash_seed_fixed() -> bool:
    """Whether str hashing, and so set iteration order, is the same in every run of this process."""
    return os.environ.get("PYTHONHASHSEED", "random") != "random" or not sys.flags.hash_randomization


HASH_SEED_FIXED = _hash_seed_fixed()  # read at import, before pytest_configure sets it for workers


_settings: FuzzSettings | None = None


def settings() -> FuzzSettings:
    """The run's settings; outside a pytest run (a module imported by hand), the embedded defaults."""
    if _settings is not None:
        return _settings
    return FuzzSettings(EXAMPLES, None, False, True, True)


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "")), None)


def resolve(config: pytest.Config) -> FuzzSettings:
    embedded = not (config.getoption("base_url", None) or os.environ.get("OPENAI_BASE_URL"))
    raw_examples = _first(config.getoption("cc_fuzz_examples"), os.environ.get("CHATCONFORM_FUZZ_EXAMPLES"),
                          config.getini("chatconform_fuzz_examples"))
    examples = int(raw_examples) if raw_examples is not None else EXAMPLES
    billed = None if raw_examples is not None or embedded else min(examples, REMOTE_BILLED_EXAMPLES)
    if examples < 1:
        raise pytest.UsageError("--fuzz-examples must be at least 1")
    raw_seed = _first(config.getoption("cc_fuzz_seed"), os.environ.get("CHATCONFORM_FUZZ_SEED"),
                      config.getini("chatconform_fuzz_seed"))
    derandomize = config.getoption("cc_fuzz_derandomize")
    if derandomize is None:
        derandomize = bool(config.getini("chatconform_fuzz_derandomize"))
    seed = int(raw_seed) if raw_seed is not None else None
    explicit = seed is not None
    if seed is None and not derandomize:
        # one seed for the whole run: xdist workers receive the controller's (pytest_configure_node)
        worker_input = getattr(config, "workerinput", None)
        seed = worker_input.get(WORKER_SEED) if worker_input else None
        if seed is None:
            seed = random.SystemRandom().getrandbits(32)
    return FuzzSettings(examples, seed, explicit, derandomize, embedded, billed)


def configure(settings_: FuzzSettings) -> None:
    global _settings
    _settings = settings_
