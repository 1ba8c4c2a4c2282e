"""The catalogue and the suites keep each other honest."""

from pathlib import Path

from chatconform.checks import REGISTRY
from chatconform.requirements import catalogue, cited_requirement_ids

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


def test_every_requirement_is_enforced_by_a_suite_test():
    """Every level, not only MUST: a SHOULD no test cites is a promise the suite never checks."""
    cited = cited_requirement_ids([REPO / "suites"])
    missing = sorted(r.id for r in catalogue() if r.id not in cited)
    assert not missing, f"requirements no test in suites/ enforces: {missing}"


def test_every_registered_check_is_called_by_a_suite_or_the_property_tests():
    """A check nothing runs can never fail: every registered function is called somewhere."""
    import importlib
    import pkgutil
    import re

    import chatconform.checks as package

    _import_all_checks()
    names: dict[str, set[str]] = {}  # registry name -> the names it is bound to in its module
    for module in pkgutil.iter_modules(package.__path__):
        namespace = vars(importlib.import_module(f"chatconform.checks.{module.name}"))
        for attr, value in namespace.items():
            for name, c in REGISTRY.items():
                if value is c.func:
                    names.setdefault(name, set()).add(attr)
    sources = "\n".join(p.read_text(encoding="utf-8") for p in
                        [*(REPO / "suites").glob("*.py"), *(REPO / "src/chatconform/fuzz").glob("*.py"),
                         *(REPO / "src/chatconform/checks").glob("*.py")])
    sources = re.sub(r"def \w+\(", "", sources)  # a definition is not a call
    unused = sorted(name for name in REGISTRY
                    if not any(re.search(rf"\b{re.escape(a)}\(", sources) for a in names.get(name, ())))
    assert not unused, f"registered checks nothing calls: {unused}"


def test_every_registered_check_names_known_requirements():
    _import_all_checks()
    unknown = {name: c.requirements for name, c in REGISTRY.items() if not set(c.requirements) <= catalogue().ids()}
    assert not unknown, unknown


def test_each_check_enforces_exactly_one_requirement():
    _import_all_checks()
    multi = {name: c.requirements for name, c in REGISTRY.items() if len(c.requirements) != 1}
    assert not multi, f"one requirement per check, so a failure names one ID: {multi}"
