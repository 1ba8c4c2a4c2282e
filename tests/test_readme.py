"""The README stays true to what it documents."""

from pathlib import Path

from chatconform.reference.injection import listing

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_fault_catalogue_tables_match_the_registry():
    assert listing(markdown=True).strip() in README, "regenerate with `chatconform serve --list-faults --markdown`"


def test_ci_runs_exactly_the_readme_self_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    command = [line for line in ci.splitlines() if line.startswith("python3 -m venv")][0]
    assert command in README
