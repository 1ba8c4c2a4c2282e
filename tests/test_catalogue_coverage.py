"""The catalogue and the suites keep each other honest."""

from pathlib import Path

from chatconform.checks import REGISTRY
from chatconform.requirements import Level, catalogue, cited_requirement_ids

REPO = Path(__file__).resolve().parents[1]


def _import_all_checks():
    import importlib
    import pkgutil

    import chatconform.checks as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"chatconform.checks.{module.name}")


def test_every_cited_requirement_exists():
    cited = cited_requirement_ids([REPO / "suites", REPO / "tests"])
    unknown = {rid: sites for rid, sites in cited.items() if rid not in catalogue()}
    assert not unknown, f"cited but not in specs/requirements.yaml: {unknown}"


def test_every_must_requirement_is_enforced_by_a_suite_test():
    cited = cited_requirement_ids([REPO / "suites"])
    missing = sorted(r.id for r in catalogue() if r.level is Level.MUST and r.id not in cited)
    assert not missing, f"MUST requirements no test in suites/ enforces: {missing}"


def test_every_registered_check_names_known_requirements():
    _import_all_checks()
    unknown = {name: c.requirements for name, c in REGISTRY.items() if not set(c.requirements) <= catalogue().ids()}
    assert not unknown, unknown


def test_each_check_enforces_exactly_one_requirement():
    _import_all_checks()
    multi = {name: c.requirements for name, c in REGISTRY.items() if len(c.requirements) != 1}
    assert not multi, f"one requirement per check, so a failure names one ID: {multi}"
