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
    derived = spec.info().get("x-derived-from", {})
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


# Where Allure finds the catalogue page (chatconform catalogue --html) when no published copy is
# configured: written beside the results directory, and Allure's report is generated beside that
# too (README: reports/allure-results -> reports/allure-report), so from the report's index.html
# the page is one directory up. A relative link works wherever the reports directory is copied.
CATALOGUE_PAGE = "catalogue.html"
RELATIVE_CATALOGUE = f"../{CATALOGUE_PAGE}"


def catalogue_url(requirement_id: str, base: str | None = None) -> str:
    """The requirement's entry in the catalogue page (``#<id>`` anchor), or, for a ``base`` that
    is a published requirements.yaml, its line there (GitHub-style ``#L<line>``)."""
    url = base or RELATIVE_CATALOGUE
    if url.endswith((".yaml", ".yml")):
        line = _catalogue_lines().get(requirement_id)
        return f"{url}#L{line}" if line else url
    return f"{url}#{requirement_id}"


@lru_cache(maxsize=1)
def document_titles() -> dict[str, str]:
    """doc id -> title, from every profile's ``documents`` (the first profile naming it wins;
    the seed documents' own titles, without a profile's flavour note, where one has it plain)."""
    from ..profiles import load_profile, profile_names

    titles: dict[str, str] = {}
    for name in sorted(profile_names()):
        for doc, title in load_profile(name).documents.items():
            if doc not in titles or len(title) < len(titles[doc]):
                titles[doc] = title
    return titles


def source_label(source: Source) -> str:
    """A source as a reader names it: the document's title, then the quote or pointer."""
    title = document_titles().get(source.doc) or ("OpenAI specification" if not source.is_seed
                                                   else f"seed {source.doc}")
    if source.is_seed:
        return f'{title}: "{source.quote}"'
    return f"{title}: {source.pointer}" + (f' ("{source.quote}")' if source.quote else "")


def source_entries(req: Requirement) -> list[dict[str, Any]]:
    """The requirement's sources as run-record entries (doc, quote, pointer, url)."""
    entries = []
    for source in req.source:
        entry: dict[str, Any] = {"doc": source.doc, "text": source.text, "title": source_label(source)}
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
