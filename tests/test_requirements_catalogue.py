"""Self-tests of the requirement catalogue (specs/requirements.yaml) and its loader."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from chatconform.requirements import (
    ID_PATTERN,
    SEED_DOCS,
    CatalogueError,
    Level,
    UnknownRequirement,
    catalogue,
    cited_requirement_ids,
    load_catalogue,
)

REPO = Path(__file__).resolve().parents[1]

# Other modules already code against these IDs at these levels; renaming or regrading one is a
# breaking change that has to be made everywhere at once.
PINNED = {
    "response.message-refusal-key": Level.SHOULD,
    "response.choice-logprobs-key": Level.SHOULD,
    "response.message-content-key": Level.MUST,
    "stream.finish-reason-key": Level.SHOULD,
    "error.param-key": Level.SHOULD,
    "error.code-key": Level.SHOULD,
    "logprobs.bytes-key": Level.SHOULD,
    "request.unknown-parameter": Level.MAY,
}

KNOWN_CAPABILITIES = {
    "tools", "logprobs", "n", "json_schema", "json_object", "store", "seed", "stream_usage",
    "rate_limit_headers", "request_id", "api_key_header", "parallel_tool_calls", "functions",
    "stop", "logit_bias", "models", "context_overflow",
}  # fmt: skip


def test_catalogue_loads_with_enough_requirements():
    cat = catalogue()
    assert cat.version == 1
    assert len(cat) > 80
    assert catalogue() is cat, "catalogue() must be cached"


def test_ids_are_unique_and_well_formed():
    reqs = list(catalogue())
    ids = [r.id for r in reqs]
    assert len(ids) == len(set(ids))
    for r in reqs:
        assert ID_PATTERN.match(r.id), r.id
        assert r.id.split(".")[0] == catalogue().area_prefix(r.area), r.id


def test_every_area_is_used_and_every_requirement_has_a_source():
    cat = catalogue()
    for area, reqs in cat.by_area().items():
        assert reqs, f"area {area} has no requirements"
    for r in cat:
        assert r.statement and r.source
        assert r.source_text


def test_capabilities_are_the_fixed_set():
    cat = catalogue()
    assert set(cat.capabilities) == KNOWN_CAPABILITIES
    used = {r.capability for r in cat if r.capability}
    assert used <= KNOWN_CAPABILITIES
    assert used == KNOWN_CAPABILITIES, f"declared but unused: {KNOWN_CAPABILITIES - used}"


def test_pinned_ids_exist_at_their_levels():
    cat = catalogue()
    for requirement_id, level in PINNED.items():
        assert cat[requirement_id].level is level, requirement_id


def test_every_should_and_may_says_why():
    # A level below MUST is always a judgement call about how strict the documents are.
    unexplained = [r.id for r in catalogue() if r.level is not Level.MUST and not r.note]
    assert unexplained == [], "SHOULD/MAY requirements without a note: " + ", ".join(unexplained)


def test_unknown_id_lookup_suggests_near_matches():
    cat = catalogue()
    with pytest.raises(UnknownRequirement) as info:
        cat["stream.done-terminate"]
    assert isinstance(info.value, KeyError)
    assert "stream.done-terminates" in str(info.value)
    assert "stream.done-terminates" in cat
    assert "stream.done-terminate" not in cat


def test_source_text_names_the_seed_and_quotes_it():
    r = catalogue()["stream.done-terminates"]
    assert 'seed 003: "The stream ends with a [DONE] sentinel."' in r.source_text


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _seeds_dir() -> Path | None:
    configured = os.environ.get("CHATCONFORM_SEEDS_DIR")
    candidate = Path(configured) if configured else REPO.parent / "shared" / "seeds"
    return candidate if candidate.is_dir() else None


def test_every_seed_quote_occurs_in_its_seed():
    seeds_dir = _seeds_dir()
    if seeds_dir is None:
        pytest.skip("seed documents not found (set CHATCONFORM_SEEDS_DIR); quotes stay unchecked")
    seeds: dict[str, str] = {}
    for doc in SEED_DOCS:
        matches = sorted(seeds_dir.glob(f"{doc}_*.txt"))
        assert matches, f"seed {doc} missing from {seeds_dir}"
        seeds[doc] = _normalise(matches[0].read_text(encoding="utf-8"))
    missing = [
        f"{r.id}: seed {s.doc}: {s.quote!r}"
        for r in catalogue()
        for s in r.seed_quotes
        if _normalise(s.quote or "") not in seeds[s.doc]
    ]
    assert missing == [], "quotes not found in their seeds:\n" + "\n".join(missing)


# ----------------------------------------------------------------------------- loader validation

_VALID_HEAD = """\
version: 1
levels: {MUST: a, SHOULD: b, MAY: c}
areas:
  - {name: streaming, prefix: stream}
capabilities: {tools: t}
requirements:
"""


def _write(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "requirements.yaml"
    path.write_text(_VALID_HEAD + textwrap.indent(textwrap.dedent(entries), "  "), encoding="utf-8")
    return path


_ENTRY = """\
- id: {id}
  level: {level}
  area: {area}
  statement: S.
  source: {source}
  capability: {capability}
"""


def _entry(**overrides: str) -> str:
    fields = {
        "id": "stream.done-terminates",
        "level": "MUST",
        "area": "streaming",
        "source": '{doc: "003", quote: "q"}',
        "capability": "null",
    }
    fields.update(overrides)
    return _ENTRY.format(**fields)


def test_loader_accepts_a_minimal_catalogue(tmp_path):
    cat = load_catalogue(_write(tmp_path, _entry() + _entry(id="stream.other", capability="tools")))
    assert cat.ids() == {"stream.done-terminates", "stream.other"}
    assert cat["stream.other"].capability == "tools"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"id": "stream.Done"}, "ID must match"),
        ({"id": "stream"}, "ID must match"),
        ({"id": "response.x"}, "does not match area"),
        ({"level": "MUSTNT"}, "level must be"),
        ({"area": "nowhere"}, "unknown area"),
        ({"capability": "teleport"}, "unknown capability"),
        ({"source": '{doc: "007", quote: "q"}'}, "source doc must be"),
        ({"source": '{doc: "003"}'}, "needs a quote"),
        ({"source": "{doc: openai}"}, "needs a pointer"),
    ],
)
def test_loader_rejects_malformed_entries(tmp_path, overrides, complaint):
    path = _write(tmp_path, _entry(**overrides))
    with pytest.raises(CatalogueError, match=complaint):
        load_catalogue(path)


def test_loader_rejects_duplicate_ids(tmp_path):
    with pytest.raises(CatalogueError, match="duplicate ID"):
        load_catalogue(_write(tmp_path, _entry() + _entry()))


# ----------------------------------------------------------------------------- citation scanner


def test_cited_requirement_ids_finds_markers_and_calls(tmp_path):
    suite = tmp_path / "suite"
    (suite / "sub").mkdir(parents=True)
    (suite / ".hidden").mkdir()
    (suite / "test_a.py").write_text(
        textwrap.dedent(
            """\
            import pytest
            from chatconform.plugin import requirement

            pytestmark = pytest.mark.requirement("stream.content-type")

            @pytest.mark.requirement("stream.done-terminates", "stream.nothing-after-done")
            def test_done():
                pass

            class TestErrors:
                @pytest.mark.requirement(ids=["error.envelope"], note="not an id")
                def test_envelope(self):
                    requirement("error.message-string")

            def helper():
                return requirement(*("tool.choice-none",))

            def test_not_a_citation():
                other("response.schema")
            """
        ),
        encoding="utf-8",
    )
    (suite / "sub" / "test_b.py").write_text(
        '@mark.requirement("stream.done-terminates")\nasync def test_b():\n    pass\n', encoding="utf-8"
    )
    (suite / ".hidden" / "test_c.py").write_text('requirement("response.schema")\n', encoding="utf-8")

    cited = cited_requirement_ids([suite])
    a = f"{(suite / 'test_a.py').as_posix()}::"
    b = f"{(suite / 'sub' / 'test_b.py').as_posix()}::"
    assert cited == {
        "stream.content-type": [a + "<module>"],
        "stream.done-terminates": [b + "test_b", a + "test_done"],  # files in sorted path order
        "stream.nothing-after-done": [a + "test_done"],
        "error.envelope": [a + "TestErrors::test_envelope"],
        "error.message-string": [a + "TestErrors::test_envelope"],
        "tool.choice-none": [a + "helper"],
    }


def test_cited_requirement_ids_accepts_a_single_path(tmp_path):
    (tmp_path / "t.py").write_text('requirement("header.request-id")\n', encoding="utf-8")
    assert cited_requirement_ids(tmp_path) == {"header.request-id": [f"{(tmp_path / 't.py').as_posix()}::<module>"]}
