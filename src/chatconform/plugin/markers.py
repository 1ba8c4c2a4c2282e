"""The ``requirement`` and ``capability`` markers: IDs checked against the catalogue at collection,
and made selectable, so ``-k stream.done-terminates`` (the ID a failure shows) or ``-k streaming``
(an area) picks the tests that enforce it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ..failures import NotApplicable, Unsupported
from ..requirements import catalogue


REQUIREMENT_IDS: pytest.StashKey[tuple[str, ...]] = pytest.StashKey()


def requirement_ids(item: pytest.Item) -> list[str]:
    """The IDs the item's ``requirement`` markers cite, in order, each once. Read from the markers
    once per item (every hook of every phase asks; nothing adds a requirement marker after
    collection)."""
    found = item.stash.get(REQUIREMENT_IDS, None)
    if found is None:
        ids: list[str] = []
        for marker in item.iter_markers("requirement"):
            ids += [a for a in marker.args if a not in ids]
        found = item.stash[REQUIREMENT_IDS] = tuple(ids)
    return list(found)


def test_id(item: pytest.Item) -> str:
    """The test's own ID. schemathesis gives each operation of one property test the same node ID;
    its operation label tells them apart (so the run record keeps one entry per operation)."""
    label = getattr(item, "operation_label", None)
    if label and not item.nodeid.endswith("]"):
        return f"{item.nodeid}[{label}]"
    return item.nodeid


CAPABILITIES: pytest.StashKey[tuple[str, ...]] = pytest.StashKey()


def capabilities(item: pytest.Item) -> list[str]:
    found = item.stash.get(CAPABILITIES, None)
    if found is None:
        found = item.stash[CAPABILITIES] = tuple(cap for marker in item.iter_markers("capability")
                                                 for cap in marker.args)
    return list(found)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requirement(*ids): the requirement IDs (specs/requirements.yaml) a test enforces")
    config.addinivalue_line("markers", "capability(name): the optional capability a test depends on")


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so requirement IDs can be selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cat = catalogue()
    unknown = []
    for item in items:
        ids = requirement_ids(item)
        for rid in ids:
            if rid not in cat:
                unknown.append(f"{item.nodeid}: {rid!r}")
            else:
                item.extra_keyword_matches.update((rid, cat[rid].area))
    if unknown:
        raise pytest.UsageError("unknown requirement IDs (not in specs/requirements.yaml):\n  " + "\n  ".join(unknown))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A missing capability, or a requirement the profile says does not apply, skips the test
    before its fixtures spend a request (graded unsupported / informational)."""
    needed = capabilities(item)
    levels = _profile_levels(item)
    for rid in requirement_ids(item):
        if levels.get(rid) == "not-applicable":
            reason = getattr(levels[rid], "reason", "") or "the profile says it does not apply"
            raise NotApplicable(rid, reason)
    if needed:
        from .session import state

        from .facts import facts

        target = state(item.config).target()
        for cap in needed:
            if not target.has(cap):
                raise Unsupported(cap, f"not declared by profile {target.profile.name} / --capabilities")
            absent = facts(item.config).absent(cap)
            if absent:
                raise Unsupported(cap, absent)


def _profile_levels(item: pytest.Item) -> Mapping[str, str]:
    from .session import state

    profile = state(item.config).profile
    return profile.levels if profile is not None else {}
