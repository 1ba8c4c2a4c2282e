"""Where a requirement comes from, as something a reader can click: links and a group name.

OpenAI-spec sources point into the public OpenAPI description at the commit specs/openapi.yaml was
cross-checked against; seed quotes have no public address, so they point at the requirement's
entry in the catalogue (a local file unless ``chatconform_catalogue_url`` names a published copy).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .. import spec
from ..paths import specs_dir
from ..requirements import CATALOGUE_FILE, Requirement, Source

OPENAI_REPO = "openai/openai-openapi"


@lru_cache(maxsize=1)
def _openai_blob() -> str | None:
    derived = spec.load_openapi().get("info", {}).get("x-derived-from", {})
    for entry in derived.get("cross-checked-against", []) or []:
        if isinstance(entry, dict) and entry.get("repo") == OPENAI_REPO and entry.get("commit"):
            return f"https://github.com/{OPENAI_REPO}/blob/{entry['commit']}/{entry.get('path', 'openapi.yaml')}"
    return None


def source_url(source: Source) -> str | None:
    """A public address for one source, where there is one (OpenAI spec pointers)."""
    if source.is_seed:
        return None
    return _openai_blob()


@lru_cache(maxsize=1)
def _catalogue_lines() -> dict[str, int]:
    text = (specs_dir() / CATALOGUE_FILE).read_text(encoding="utf-8")
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"\s*-\s+id:\s*([a-z0-9.-]+)\s*$", line)
        if match:
            found[match.group(1)] = number
    return found


def catalogue_url(requirement_id: str, base: str | None = None) -> str:
    """The requirement's entry in requirements.yaml (GitHub-style ``#L<line>`` anchor)."""
    url = base or (specs_dir() / CATALOGUE_FILE).resolve().as_uri()
    line = _catalogue_lines().get(requirement_id)
    return f"{url}#L{line}" if line else url


def source_entries(req: Requirement) -> list[dict[str, Any]]:
    """The requirement's sources as run-record entries (doc, quote, pointer, url)."""
    entries = []
    for source in req.source:
        entry: dict[str, Any] = {"doc": source.doc, "text": source.text}
        if source.quote:
            entry["quote"] = source.quote
        if source.pointer:
            entry["pointer"] = source.pointer
        url = source_url(source)
        if url:
            entry["url"] = url
        entries.append(entry)
    return entries


def requirement_group(req: Requirement) -> str:
    """The group a requirement belongs to within its area (Allure's "feature").

    A catalogue entry may name its group; otherwise requirements are grouped by the optional
    capability they depend on, so "what every endpoint must do" stays apart from each option.
    """
    named = getattr(req, "group", None)
    if named:
        return str(named)
    return f"capability: {req.capability}" if req.capability else "core"
