"""specs/openapi.yaml loaded by schemathesis, configured for one kind of property test.

Every kind shares the run's settings (examples per operation, seed or derandomization, shrinking)
and differs in what is generated:

- positive / streaming: valid requests to POST /chat/completions (fuzzing phase);
- negative: invalid requests to every operation (fuzzing phase);
- boundaries: schemathesis' coverage phase, deterministic: every documented bound, enum, pattern
  and required property violated once, plus the Content-Type probes; a fixed set, not sampled,
  so an out-of-range temperature is sent on every run whatever the seed;
- stateful: the links (create with store, then retrieve it and list its messages).

Nothing here runs at collection: the suites parametrize their tests with `operations(kind)`, read
from the spec chatconform has already parsed (chatconform.spec, once per process), and a test
builds its schemathesis schema when it runs (`load`, once per kind and process). schemathesis and
hypothesis are imported only then.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from .. import payloads
from . import settings

MAX_STEPS = 4  # create, retrieve, list, and one more: stateful scenarios stay short and cheap

CREATE = ("POST", "/chat/completions")
KINDS = ("positive", "streaming", "negative", "boundaries", "stateful")
STATEFUL_OPERATIONS = ("createChatCompletion", "getChatCompletion", "getChatCompletionMessages")
# their only parameter is a free string path id, or they take none: nothing to violate
NOT_NEGATIVE = ("getChatCompletion", "deleteChatCompletion", "listModels", "retrieveModel")
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")

# Coverage scenarios kept by `boundaries`: each breaks one documented constraint. Dropped:
# unexpected properties (request.unknown-parameter is MAY), unexpected methods (no requirement),
# and nested wrong types (hundreds of them; fuzzing samples those).
_BOUNDARY_SCENARIOS = frozenset({
    "value_above_maximum", "value_below_minimum", "string_above_max_length", "string_below_min_length",
    "array_above_max_items", "array_below_min_items", "object_above_max_properties",
    "object_missing_required_property", "invalid_enum_value", "invalid_pattern", "missing_parameter",
    "malformed_content_type", "unsupported_content_type", "incorrect_type",
})


def _selected(kind: str, operation_id: str, method: str, path: str) -> bool:
    if kind in ("positive", "streaming", "boundaries"):
        return (method, path) == CREATE
    if kind == "negative":
        return operation_id not in NOT_NEGATIVE
    # the links run create -> retrieve / messages; the other stored operations and the model
    # list are judged by their own suites (test_stored_completions, test_models)
    return operation_id in STATEFUL_OPERATIONS


def operations(kind: str) -> list[str]:
    """The operations ("METHOD /path", schemathesis' labels) a kind of property test covers, in
    spec order: the parameters of the suites' tests, known without schemathesis."""
    from .. import spec

    if kind not in KINDS:
        raise ValueError(f"unknown property-test kind {kind!r}; one of {KINDS}")
    labels = []
    for path, item in spec.load_openapi()["paths"].items():
        for method, op in item.items():
            if method in METHODS and _selected(kind, op.get("operationId", ""), method.upper(), path):
                labels.append(f"{method.upper()} {path}")
    return labels


VALID_KINDS = ("positive", "streaming", "stateful")  # generate valid requests, from the narrowed spec


def _config(valid: bool) -> Any:
    """One configuration per family of kinds. The runner drives hypothesis itself (examples,
    seed, derandomization, shrinking: chatconform.fuzz.settings), so what is left here is what
    schemathesis reads while generating."""
    import schemathesis

    s = settings()
    generation = {
        "mode": "positive" if valid else "negative",
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
            "coverage": {"enabled": not valid, "unexpected-methods": []},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": valid, "max-steps": MAX_STEPS},
        },
    }
    if s.seed is not None:
        data["seed"] = s.seed
    return schemathesis.Config.from_dict(data)


def _for_valid_requests(document: dict[str, Any]) -> dict[str, Any]:
    """The spec with the request schema narrowed to what shaping keeps (chatconform.fuzz.shaping):
    one fixed message (shaping replaces the conversation anyway), at most MAX_TOOLS tools and
    functions, their parameters and a json_schema's schema the fixed ones shaping sends, at most
    MAX_LOGIT_BIAS logit_bias entries, no parameter shaping always drops. Every value the narrowed schema allows is one the
    full schema allows, and every kept parameter keeps its whole range; hypothesis no longer spends
    most of each example drawing conversations that are thrown away (about 4x fewer seconds)."""
    from . import shaping

    request = document["components"]["schemas"][shaping.REQUEST_SCHEMA]
    props = request["properties"]
    for name in (*shaping.NEWER, *shaping.NEVER):
        props.pop(name, None)
    props["messages"] = {"type": "array", "minItems": 1, "maxItems": 1, "items": {
        "type": "object", "required": ["role", "content"], "additionalProperties": False,
        "properties": {"role": {"const": "user"}, "content": {"const": payloads.ECHO_PROMPT}}}}
    for name in ("tools", "functions"):
        if isinstance(props.get(name), dict):
            props[name]["maxItems"] = min(props[name].get("maxItems", shaping.MAX_TOOLS), shaping.MAX_TOOLS)
    if isinstance(props.get("logit_bias"), dict):  # maxProperties constrains objects only: null stays
        props["logit_bias"]["maxProperties"] = shaping.MAX_LOGIT_BIAS
    # the free-form objects shaping replaces: a function's parameters, a json_schema's schema
    schemas = document["components"]["schemas"]
    if "FunctionParameters" in schemas:
        schemas["FunctionParameters"] = {"const": shaping.TOOL_PARAMETERS}
    json_schema = schemas.get("ResponseFormatJsonSchema", {}).get("properties", {}).get("json_schema", {})
    if "schema" in json_schema.get("properties", {}):
        json_schema["properties"]["schema"] = {"const": shaping.ANSWER_SCHEMA}
    return document


@lru_cache(maxsize=None)
def _family(valid: bool) -> Any:
    """The whole spec as schemathesis sees it, once per process for each family of kinds: the
    narrowed request schema for valid requests, the full one for invalid ones."""
    import schemathesis

    from .. import spec

    document = copy.deepcopy(spec.load_openapi())
    if valid:
        document = _for_valid_requests(document)
    return schemathesis.openapi.from_dict(document, config=_config(valid))


@lru_cache(maxsize=None)
def load(kind: str) -> Any:
    """A schemathesis schema for one kind of property test (see the module docstring); built on
    first use, never at collection."""
    if kind not in KINDS:
        raise ValueError(f"unknown property-test kind {kind!r}; one of {KINDS}")
    schema = _family(kind in VALID_KINDS)
    if kind in ("positive", "streaming", "boundaries"):
        schema = schema.include(method=CREATE[0], path=CREATE[1])
    if kind == "negative":
        schema = schema.exclude(operation_id=list(NOT_NEGATIVE))
    if kind == "stateful":
        schema = schema.include(operation_id=list(STATEFUL_OPERATIONS))
    return schema


def operation(kind: str, label: str) -> Any:
    """The schemathesis APIOperation for one of `operations(kind)`."""
    for result in load(kind).get_all_operations():
        op = result.ok()
        if f"{op.method.upper()} {op.path}" == label:
            return op
    raise LookupError(f"specs/openapi.yaml has no operation {label!r} for the {kind} property test")


@lru_cache(maxsize=None)
def _strategy(valid: bool, label: str) -> Any:
    from schemathesis.generation import GenerationMode

    mode = GenerationMode.POSITIVE if valid else GenerationMode.NEGATIVE
    return operation("positive" if valid else "negative", label).as_strategy(generation_mode=mode)


def strategy(kind: str, label: str) -> Any:
    """The hypothesis strategy drawing cases of one operation for the fuzzing phase: one object
    per family and operation, so the positive and streamed tests share its warm-up (hypothesis
    compiles a strategy for a schema this size on its first draws, a second or so)."""
    if kind not in ("positive", "streaming", "negative"):
        raise ValueError(f"{kind!r} is not a fuzzing kind")
    return _strategy(kind != "negative", label)


def _phase_data(case: Any) -> Any:
    return getattr(getattr(case.meta, "phase", None), "data", None) if case.meta is not None else None


def is_probe(case: Any) -> bool:
    """Whether a case is one of the coverage phase's Content-Type probes (a wrong or malformed
    Content-Type, sent on purpose)."""
    from schemathesis.generation.meta import CONTENT_TYPE_PROBES, coverage_scenario

    return coverage_scenario(case) in CONTENT_TYPE_PROBES


def constraint(case: Any) -> tuple[str, str]:
    """(scenario, where) of a coverage case: the constraint it breaks."""
    data = _phase_data(case)
    location = str(getattr(data, "location", "") or "")
    return str(getattr(data, "scenario", None)), location or str(getattr(data, "description", ""))


def parameter(case: Any) -> str:
    """The top-level request parameter a coverage case breaks ("" for the body as a whole)."""
    scenario, where = constraint(case)
    found = re.search(r"/properties/([^/]+)", where)
    if found:
        return found.group(1)
    if scenario == "object_missing_required_property":
        return "missing " + str(getattr(_phase_data(case), "description", ""))
    return ""


def boundary_cases(label: str = "POST /chat/completions", *, per_parameter: bool = False) -> Iterator[Any]:
    """The coverage phase's cases for one operation, as schemathesis generates them (the
    Content-Type probes last, so a failure every request triggers is reported by an ordinary
    request): one per broken constraint (its variants only repeat the question), or with
    ``per_parameter`` one per (constraint kind, top-level parameter). A generator: the first
    cases can be sent while the others are generated. Kept between runs (chatconform.fuzz.plan_cache):
    the same spec and libraries generate the same cases, so a later run rebuilds them instead."""
    from . import plan_cache

    op = operation("boundaries", label)
    s = settings()
    digest = plan_cache.key("boundaries", label, per_parameter, s.examples, s.seed, s.derandomize)
    saved = plan_cache.load(digest)
    if saved is not None:
        yield from (plan_cache.rebuild(op, record) for record in saved)
        return
    if digest is None:  # nothing will be kept: no copies to make
        yield from _generated_boundary_cases(op, per_parameter)
        return
    kept: list[dict[str, Any]] = []
    for case in _generated_boundary_cases(op, per_parameter):
        kept.append(plan_cache.record(case))  # before the runner shapes its body
        yield case
    plan_cache.store(digest, kept)  # only a whole set: a test that stopped early stores nothing


def _generated_boundary_cases(op: Any, per_parameter: bool) -> Iterator[Any]:
    from schemathesis.generation.drivers import CoverageGenerator
    from schemathesis.generation.feedback import FeedbackSources
    from schemathesis.generation.overrides import Override

    generation = load("boundaries").config.generation_for(operation=op, phase="coverage")
    generator = CoverageGenerator(operation=op, generation_modes=generation.modes, generation_config=generation,
                                  auth_storage=None, override=Override(), feedback=FeedbackSources(), hooks=None)
    seen: set[tuple[str, str]] = set()
    probes: list[Any] = []
    for case in generator:
        if is_probe(case):
            probes.append(case)
            continue
        if getattr(_phase_data(case), "scenario", None) is None:
            yield case  # not a coverage scenario: kept as schemathesis made it
            continue
        scenario, where = constraint(case)
        if scenario not in _BOUNDARY_SCENARIOS:
            continue
        if scenario == "incorrect_type" and where.count("/properties/") != 1:
            continue  # top-level parameters only
        if scenario == "object_missing_required_property":
            # one location lists every required property: each missing one is its own constraint
            where += " " + str(getattr(_phase_data(case), "description", ""))
        key = (scenario, parameter(case)) if per_parameter else (scenario, where)
        if key not in seen:
            seen.add(key)
            yield case
    yield from probes
