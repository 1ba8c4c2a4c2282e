"""The requirement catalogue (specs/requirements.yaml) as objects.

Tests cite requirements by ID; everything that grades or reports a result looks the ID up here,
so a typo in an ID is an error at load or lookup time, never a silently uncited test.
"""

from __future__ import annotations

import ast
import difflib
import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from chatconform.paths import specs_dir

__all__ = [
    "ID_PATTERN",
    "SEED_DOCS",
    "Catalogue",
    "CatalogueError",
    "Level",
    "Requirement",
    "Source",
    "UnknownRequirement",
    "catalogue",
    "cited_requirement_ids",
    "load_catalogue",
]

ID_PATTERN = re.compile(r"^[a-z]+\.[a-z0-9]+(-[a-z0-9]+)*$")
SEED_DOCS = frozenset({"000", "001", "002", "003", "004"})
OPENAI_DOC = "openai"

CATALOGUE_FILE = "requirements.yaml"


class Level(str, enum.Enum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"

    def __str__(self) -> str:
        return self.value


class CatalogueError(ValueError):
    """requirements.yaml is malformed; the message names every problem found."""


class UnknownRequirement(KeyError):
    """An ID that is not in the catalogue."""

    def __init__(self, requirement_id: str, near: Iterable[str] = ()) -> None:
        self.requirement_id = requirement_id
        self.near = tuple(near)
        super().__init__(requirement_id)

    def __str__(self) -> str:
        message = f"unknown requirement ID {self.requirement_id!r}"
        if self.near:
            message += "; did you mean " + ", ".join(repr(n) for n in self.near) + "?"
        return message


@dataclass(frozen=True)
class Source:
    """One document a requirement rests on: a seed with a verbatim quote, or a spot in the OpenAI spec."""

    doc: str
    quote: str | None = None
    pointer: str | None = None

    @property
    def is_seed(self) -> bool:
        return self.doc in SEED_DOCS

    @property
    def text(self) -> str:
        if self.is_seed:
            return f'seed {self.doc}: "{self.quote}"'
        text = f"OpenAI spec: {self.pointer}"
        if self.quote:
            text += f' ("{self.quote}")'
        return text


@dataclass(frozen=True)
class Requirement:
    id: str
    level: Level
    area: str
    statement: str
    source: tuple[Source, ...]
    capability: str | None = None
    note: str | None = None

    @property
    def source_text(self) -> str:
        return "; ".join(s.text for s in self.source)

    @property
    def seed_quotes(self) -> tuple[Source, ...]:
        return tuple(s for s in self.source if s.is_seed)


class Catalogue:
    """Requirements by ID, in catalogue order, plus the levels, areas and capabilities they use.

    `catalogue()[id]` looks one up (UnknownRequirement, with near matches, if absent); iterating
    yields the Requirement objects in catalogue order.
    """

    def __init__(
        self,
        requirements: Iterable[Requirement],
        *,
        version: int,
        levels: Mapping[str, str],
        areas: Mapping[str, Mapping[str, str]],
        capabilities: Mapping[str, str],
    ) -> None:
        self._by_id: dict[str, Requirement] = {r.id: r for r in requirements}
        self.version = version
        self.levels = dict(levels)
        self.areas = {name: dict(info) for name, info in areas.items()}
        self.capabilities = dict(capabilities)

    def __getitem__(self, requirement_id: str) -> Requirement:
        try:
            return self._by_id[requirement_id]
        except (KeyError, TypeError):
            raise UnknownRequirement(requirement_id, self.near_matches(str(requirement_id))) from None

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self._by_id

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __repr__(self) -> str:
        return f"<Catalogue v{self.version}: {len(self)} requirements>"

    def ids(self) -> set[str]:
        return set(self._by_id)

    def get(self, requirement_id: str, default: Requirement | None = None) -> Requirement | None:
        return self._by_id.get(requirement_id, default)

    def near_matches(self, requirement_id: str, n: int = 5) -> list[str]:
        near = difflib.get_close_matches(requirement_id, self._by_id, n=n, cutoff=0.75)
        if not near and "." in requirement_id:
            # A wrong behaviour name in the right area still deserves a hint.
            prefix = requirement_id.split(".", 1)[0] + "."
            near = difflib.get_close_matches(
                requirement_id, [i for i in self._by_id if i.startswith(prefix)], n=n, cutoff=0.5
            )
        return near

    def by_area(self) -> dict[str, list[Requirement]]:
        grouped: dict[str, list[Requirement]] = {area: [] for area in self.areas}
        for requirement in self._by_id.values():
            grouped[requirement.area].append(requirement)
        return grouped

    def by_level(self) -> dict[Level, list[Requirement]]:
        grouped: dict[Level, list[Requirement]] = {level: [] for level in Level}
        for requirement in self._by_id.values():
            grouped[requirement.level].append(requirement)
        return grouped

    def area_prefix(self, area: str) -> str:
        return self.areas[area]["prefix"]


def load_catalogue(path: Path | str) -> Catalogue:
    """Parse and validate a catalogue file; raises CatalogueError listing every problem."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        # libyaml's loader where PyYAML has it: the pure-Python one takes most of a second here
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return _build(data, where=str(path))


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The project's catalogue, loaded once."""
    return load_catalogue(specs_dir() / CATALOGUE_FILE)


def _build(data: Any, where: str) -> Catalogue:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CatalogueError(f"{where}: top level must be a mapping")

    version = data.get("version")
    if version != 1:
        problems.append(f"version must be 1, got {version!r}")

    levels = data.get("levels") or {}
    if set(levels) != {level.value for level in Level}:
        problems.append(f"levels must describe exactly MUST, SHOULD, MAY; got {sorted(levels)}")

    areas: dict[str, dict[str, str]] = {}
    for entry in data.get("areas") or []:
        if not isinstance(entry, dict) or not {"name", "prefix"} <= set(entry):
            problems.append(f"area entry needs name and prefix: {entry!r}")
            continue
        if entry["name"] in areas:
            problems.append(f"area {entry['name']!r} listed twice")
        areas[entry["name"]] = {"prefix": entry["prefix"], "description": entry.get("description", "")}
    if not areas:
        problems.append("no areas declared")

    capabilities = data.get("capabilities") or {}
    if not isinstance(capabilities, dict) or not capabilities:
        problems.append("capabilities must be a non-empty mapping of name to description")
        capabilities = {}

    requirements: list[Requirement] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("requirements") or []):
        label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
        try:
            requirement = _requirement(raw, areas, capabilities)
        except ValueError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if requirement.id in seen:
            problems.append(f"{requirement.id}: duplicate ID")
            continue
        seen.add(requirement.id)
        requirements.append(requirement)
    if not requirements and not problems:
        problems.append("no requirements")

    if problems:
        raise CatalogueError(f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return Catalogue(requirements, version=version, levels=levels, areas=areas, capabilities=capabilities)


_REQUIRED_KEYS = {"id", "level", "area", "statement", "source", "capability"}
_ALLOWED_KEYS = _REQUIRED_KEYS | {"note"}


def _requirement(raw: Any, areas: Mapping[str, Mapping[str, str]], capabilities: Mapping[str, str]) -> Requirement:
    if not isinstance(raw, dict):
        raise ValueError("entry must be a mapping")
    missing = _REQUIRED_KEYS - set(raw)
    if missing:
        raise ValueError(f"missing {sorted(missing)}")
    extra = set(raw) - _ALLOWED_KEYS
    if extra:
        raise ValueError(f"unknown keys {sorted(extra)}")

    requirement_id = raw["id"]
    if not isinstance(requirement_id, str) or not ID_PATTERN.match(requirement_id):
        raise ValueError(f"ID must match {ID_PATTERN.pattern}")

    try:
        level = Level(raw["level"])
    except ValueError:
        raise ValueError(f"level must be MUST, SHOULD or MAY, got {raw['level']!r}") from None

    area = raw["area"]
    if area not in areas:
        raise ValueError(f"unknown area {area!r}")
    prefix = requirement_id.split(".", 1)[0]
    if prefix != areas[area]["prefix"]:
        raise ValueError(f"ID prefix {prefix!r} does not match area {area!r} (prefix {areas[area]['prefix']!r})")

    statement = raw["statement"]
    if not isinstance(statement, str) or not statement.strip():
        raise ValueError("statement must be a non-empty string")

    capability = raw["capability"]
    if capability is not None and capability not in capabilities:
        raise ValueError(f"unknown capability {capability!r}; known: {', '.join(sorted(capabilities))}")

    note = raw.get("note")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        raise ValueError("note, when given, must be a non-empty string")

    return Requirement(
        id=requirement_id,
        level=level,
        area=area,
        statement=statement.strip(),
        source=_sources(raw["source"]),
        capability=capability,
        note=note.strip() if note else None,
    )


def _sources(raw: Any) -> tuple[Source, ...]:
    entries = raw if isinstance(raw, list) else [raw]
    if not entries:
        raise ValueError("source must not be empty")
    sources = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) - {"doc", "quote", "pointer"}:
            raise ValueError(f"source entries take doc, quote, pointer: {entry!r}")
        doc = str(entry.get("doc"))
        quote, pointer = entry.get("quote"), entry.get("pointer")
        if doc in SEED_DOCS:
            if not isinstance(quote, str) or not quote.strip():
                raise ValueError(f"seed {doc} source needs a quote")
            if pointer is not None:
                raise ValueError(f"seed {doc} source takes no pointer")
        elif doc == OPENAI_DOC:
            if not isinstance(pointer, str) or not pointer or pointer.startswith("/"):
                raise ValueError("openai source needs a pointer like components/schemas/Name")
        else:
            raise ValueError(f"source doc must be one of {sorted(SEED_DOCS)} or {OPENAI_DOC!r}, got {doc!r}")
        sources.append(Source(doc=doc, quote=quote, pointer=pointer))
    return tuple(sources)


# --------------------------------------------------------------------------- citations in test code


def cited_requirement_ids(paths: Iterable[Path | str] | Path | str) -> dict[str, list[str]]:
    """Requirement IDs cited in Python files under `paths`, found statically.

    A citation is any string literal that looks like an ID anywhere inside a call to something named
    `requirement` (`requirement("a.b")`, `@pytest.mark.requirement("a.b", "c.d")`, `mark.requirement(
    ids=["a.b"])`). Returns ID -> ["file::function" sites]; module-level citations (pytestmark) use
    "<module>", and methods are written "file::Class::method" like pytest node IDs.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    cited: dict[str, list[str]] = {}
    for file in _python_files(paths):
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        for requirement_id, scope in _citations(tree):
            site = f"{file.as_posix()}::{scope}"
            sites = cited.setdefault(requirement_id, [])
            if site not in sites:
                sites.append(site)
    return cited


_SKIPPED_DIRS = {"__pycache__", "node_modules"}


def _python_files(paths: Iterable[Path | str]) -> list[Path]:
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_file() and path.suffix == ".py":
            files.append(path)
        elif path.is_dir():
            for file in sorted(path.rglob("*.py")):
                relative = file.relative_to(path).parts[:-1]
                if any(part.startswith(".") or part in _SKIPPED_DIRS for part in relative):
                    continue
                files.append(file)
    return files


def _is_requirement_call(node: ast.AST) -> TypeGuard[ast.Call]:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name == "requirement"


def _id_literals(call: ast.Call) -> Iterator[str]:
    for argument in [*call.args, *(keyword.value for keyword in call.keywords)]:
        for node in ast.walk(argument):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and ID_PATTERN.match(node.value):
                yield node.value


def _citations(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(ID, scope) for every citation, the scope being the enclosing class/function chain."""

    def visit(node: ast.AST, scope: tuple[str, ...]) -> Iterator[tuple[str, str]]:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = (*scope, node.name)
            # Decorators belong to the thing they decorate, not to the enclosing scope.
            for decorator in node.decorator_list:
                yield from visit(decorator, inner)
            body: list[ast.AST] = list(node.body)
            if not isinstance(node, ast.ClassDef):
                body += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            for child in body:
                yield from visit(child, inner)
            return
        if _is_requirement_call(node):
            label = "::".join(scope) if scope else "<module>"
            for requirement_id in _id_literals(node):
                yield requirement_id, label
        for child in ast.iter_child_nodes(node):
            yield from visit(child, scope)

    yield from visit(tree, ())
