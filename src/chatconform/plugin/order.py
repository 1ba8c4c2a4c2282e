"""The order tests run in when the run has a budget: what matters most is judged first.

A budget (``--max-requests``, ``--max-billed``, ``--max-tokens``; on by default against
``--base-url``) can run out before the last test; the tests after that point are NOT JUDGED.
Files run alphabetically by default, which would leave the core suites starting with ``s``
(sdk, seed, stateful, stored, streaming, tools) to the end. So, only when a budget is in force,
the collected tests are sorted, stably, by

1. generated or not: ``test_stateful.py`` and ``test_property_based.py`` always last (dozens of
   requests each, and their requirements are judged by hand-written tests as well);
2. level: a test citing a MUST requirement (at the target's level: the profile's, else the
   catalogue's) before one whose best is SHOULD, and that before MAY or none;
3. tier: one or a few exchanges per test before the broad sweeps of ``test_parameters.py``, one
   row per parameter value (``test_valid_value_is_accepted``, ``test_invalid_value_is_refused_with_400``,
   ``test_refusal_names_the_parameter``, ``test_newer_parameter_is_honoured_or_refused_by_name``);
4. pytest's order.

So the run judges MUST requirements first, the cheap ones before the sweeps. The suites are
written to run in any order (``-k`` selections, xdist), and their fixtures are function or
session scoped, so moving a test never runs a fixture twice.

Without a budget (the embedded reference server, or every limit at 0) the order is pytest's.
The sort is deterministic, so every xdist worker collects the same order.
"""

from __future__ import annotations

import pytest

from . import budget

SWEEPS = {
    "test_parameters.py": ("test_valid_value_is_accepted", "test_invalid_value_is_refused_with_400",
                           "test_refusal_names_the_parameter", "test_newer_parameter_is_honoured_or_refused_by_name"),
}
GENERATED = ("test_stateful.py", "test_property_based.py")
LIMITS = ("max_requests", "max_billed", "max_tokens")


def tier(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    file = path.rsplit("/", 1)[-1]
    if file in GENERATED:
        return 2
    function = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
    if function in SWEEPS.get(file, ()):
        return 1
    return 0


LEVELS = {"MUST": 0, "SHOULD": 1, "MAY": 2}


def level_rank(config: pytest.Config, item: pytest.Item) -> int:
    """0 for a test citing a MUST requirement, 1 for SHOULD, 2 for MAY or none."""
    from .grading import graded_level
    from .markers import requirement_ids

    ranks = [LEVELS.get(graded_level(config, rid), 2) for rid in requirement_ids(item)]
    return min(ranks, default=2)


def budgeted(config: pytest.Config) -> bool:
    """Whether a limit that can run out before the last test is in force."""
    from .session import configured_target

    try:
        embedded = configured_target(config).embedded
    except pytest.UsageError:
        return False  # reported once elsewhere
    found = budget.limits(config, embedded)
    return any(found[name] is not None for name in LIMITS)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if len(items) < 2 or not budgeted(config):
        return
    tiers = [tier(item) for item in items]
    keys = [(tiers[i] == 2, level_rank(config, item), tiers[i], i) for i, item in enumerate(items)]
    ranked = [k[-1] for k in sorted(keys)]
    if ranked != list(range(len(items))):
        items[:] = [items[i] for i in ranked]
