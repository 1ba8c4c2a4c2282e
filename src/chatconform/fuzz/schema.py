"""specs/openapi.yaml loaded by schemathesis, configured for one kind of property test.

Every kind shares the run's settings (examples per operation, seed or derandomization, shrinking)
and differs in what is generated:

- positive / streaming: valid requests to POST /chat/completions (fuzzing phase);
- negative: invalid requests to every operation (fuzzing phase);
- boundaries: schemathesis' coverage phase, deterministic: every documented bound, enum, pattern
  and required property violated once, plus the Content-Type probes; a fixed set, not sampled,
  so an out-of-range temperature is sent on every run whatever the seed;
- stateful: the links (create with store, then retrieve it and list its messages).
"""

from __future__ import annotations

from typing import Any

from ..paths import specs_dir
from . import settings

MAX_STEPS = 4  # create, retrieve, list, and one more: stateful scenarios stay short and cheap

CREATE = ("POST", "/chat/completions")
KINDS = ("positive", "streaming", "negative", "boundaries", "stateful")
STATEFUL_OPERATIONS = ("createChatCompletion", "getChatCompletion", "getChatCompletionMessages")

# Coverage scenarios kept by `boundaries`: each breaks one documented constraint. Dropped:
# unexpected properties (request.unknown-parameter is MAY), unexpected methods (no requirement),
# and nested wrong types (hundreds of them; fuzzing samples those).
_BOUNDARY_SCENARIOS = frozenset({
    "value_above_maximum", "value_below_minimum", "string_above_max_length", "string_below_min_length",
    "array_above_max_items", "array_below_min_items", "object_above_max_properties",
    "object_missing_required_property", "invalid_enum_value", "invalid_pattern", "missing_parameter",
    "malformed_content_type", "unsupported_content_type", "incorrect_type",
})


def _config(kind: str) -> Any:
    import schemathesis

    s = settings()
    negative = kind in ("negative", "boundaries")
    generation = {
        "mode": "negative" if negative else "positive",
        "max-examples": s.examples,
        "deterministic": s.derandomize,
        "with-security-parameters": False,  # the client authenticates; generated keys would only 401
        "allow-extra-parameters": False,  # undeclared parameters are MAY (request.unknown-parameter)
        "allow-x00": False,
        "database": "none",  # no .hypothesis/ replays: a run depends on its seed alone
        "no-shrink": not s.shrink,
    }
    data: dict[str, Any] = {
        "generation": generation,
        "cache": {"enabled": False},
        "suppress-health-check": ["all"],  # every example is a network call: "too slow" is expected
        "phases": {
            "examples": {"enabled": False},
            "coverage": {"enabled": kind == "boundaries", "unexpected-methods": []},
            "fuzzing": {"enabled": kind != "boundaries"},
            "stateful": {"enabled": kind == "stateful", "max-steps": MAX_STEPS},
        },
    }
    if s.seed is not None:
        data["seed"] = s.seed
    return schemathesis.Config.from_dict(data)


def load(kind: str) -> Any:
    """A schemathesis schema for one kind of property test (see the module docstring)."""
    import schemathesis

    if kind not in KINDS:
        raise ValueError(f"unknown property-test kind {kind!r}; one of {KINDS}")
    schema = schemathesis.openapi.from_path(specs_dir() / "openapi.yaml", config=_config(kind))
    if kind in ("positive", "streaming", "boundaries"):
        schema = schema.include(method=CREATE[0], path=CREATE[1])
    if kind == "negative":
        # their only parameter is a free string path id, or they take none: nothing to violate
        schema = schema.exclude(operation_id=["getChatCompletion", "deleteChatCompletion", "listModels",
                                              "retrieveModel"])
    if kind == "stateful":
        # the links run create -> retrieve / messages; the other stored operations and the model
        # list are judged by their own suites (test_stored_completions, test_models)
        schema = schema.include(operation_id=list(STATEFUL_OPERATIONS))
    if kind == "boundaries":
        schema.hook(_boundary_filter())
    return schema


def _boundary_filter() -> Any:
    first: dict[tuple[str, str], str] = {}  # constraint -> the case kept for it (filters may run twice)

    def filter_case(context: Any, case: Any) -> bool:
        data = getattr(getattr(case.meta, "phase", None), "data", None) if case.meta is not None else None
        scenario = getattr(data, "scenario", None)
        if scenario is None:
            return True
        if str(scenario) not in _BOUNDARY_SCENARIOS:
            return False
        location = str(getattr(data, "location", "") or "")
        if str(scenario) == "incorrect_type" and location.count("/properties/") != 1:
            return False  # top-level parameters only
        key = (str(scenario), location or str(getattr(data, "description", "")))
        # one case per constraint: the variants only repeat the question
        return first.setdefault(key, case.id) == case.id

    return filter_case
