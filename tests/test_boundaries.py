"""The boundaries the layout promises, checked on the source: the reference server and the suite
share only the spec layer (specs/ and its loaders); the report package never imports the plugin."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "chatconform"
SPEC_LAYER = {"chatconform.paths", "chatconform.spec", "chatconform.profiles"}


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    package = ".".join(("chatconform", *path.relative_to(PACKAGE).parent.parts))
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("chatconform")}


def _modules(subpackage: str) -> list[Path]:
    return sorted((PACKAGE / subpackage).rglob("*.py"))


def test_the_reference_server_imports_only_itself_and_the_spec_layer():
    for path in _modules("reference"):
        foreign = {m for m in _imports(path) if not m.startswith("chatconform.reference")}
        # "chatconform" alone is the package (for __version__); a spec-layer module and its names
        foreign = {m for m in foreign if m not in ("chatconform", "chatconform.__version__") and not any(
            m == s or m.startswith(s + ".") for s in SPEC_LAYER)}
        assert not foreign, f"{path.relative_to(PACKAGE)} imports {sorted(foreign)}"


def test_the_report_package_never_imports_the_plugin():
    for path in _modules("report"):
        plugin = {m for m in _imports(path) if m.startswith("chatconform.plugin")}
        assert not plugin, f"{path.relative_to(PACKAGE)} imports {sorted(plugin)}"


def test_the_spec_layer_imports_no_suite_code():
    for name in ("paths.py", "spec.py", "profiles.py"):
        foreign = {m for m in _imports(PACKAGE / name) if m != "chatconform" and not any(
            m == s or m.startswith(s + ".") for s in SPEC_LAYER)}
        assert not foreign, f"{name} imports {sorted(foreign)}"
