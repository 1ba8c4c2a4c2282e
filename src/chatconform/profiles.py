"""Provider profiles (specs/profiles/*.yaml): how one vendor's endpoint is reached and graded.

A profile is a URL template (how the OpenAI-canonical paths the suites use map to the vendor's
URLs), authentication, required headers, capabilities, extension schemas and per-requirement
levels, each citing the documents it rests on. Like chatconform.spec this is the "spec layer":
the reference server and the suite both read it, so it imports nothing from either.

YAML shape (validated by specs/profile.schema.json, see tests/test_profiles.py):

    name, description
    documents: {doc-id: title}                 every doc-id a `source` below names
    base_path: /v1                             added to a bare-host --base-url ("" = root-mounted)
    auth: {style, accepted: [...], source}
    url:
      routes: {canonical path: template}       e.g. "/chat/completions":
                                               "{base}/openai/deployments/{deployment}/chat/completions?api-version={api_version}"
      parameters: {name: {default, description, source}}
      model_in_path: bool
    headers: {required: {Name: {description, example, source}}, optional: {...}}
    capabilities: [...]
    extensions:
      request:  {field: {schema, source, description, example}}
      response: {"choices[].content_filter_results": {schema, source, description}}
    levels: {requirement-id: {level, reason, source}}
    errors: {types: {status: type}, source}    the error `type` vocabulary the vendor uses
    request_id_header: x-request-id            what the vendor calls it (Azure adds apim-request-id)
    conventions: {...}                         free-form (developer_message, model_vendor, ...)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .paths import specs_dir
from .spec import SPEC_URI, load_yaml, registry

if TYPE_CHECKING:  # jsonschema is imported when a vendor field is first validated
    from jsonschema import Draft202012Validator

AUTH_STYLES = ("bearer", "api-key")
LEVELS = ("MUST", "SHOULD", "MAY", "informational", "not-applicable")
SCHEMA_FILE = "profile.schema.json"


class Level(str):
    """A level string ("MUST", ...) that also carries why the profile chose it and from where."""

    reason: str
    source: tuple[Mapping[str, Any], ...]

    def __new__(cls, level: str, reason: str = "", source: Any = ()) -> Level:
        obj = super().__new__(cls, level)
        obj.reason = reason
        obj.source = tuple(source if isinstance(source, list) else [source] if source else [])
        return obj


@dataclass(frozen=True)
class Extension:
    """One vendor field: a request body field, or a response field at a dotted path such as
    `choices[].content_filter_results` (`[]` = every element; applies to chunks as well)."""

    name: str
    side: str  # "request" | "response"
    schema: Mapping[str, Any]
    source: tuple[Mapping[str, Any], ...] = ()
    description: str = ""
    example: Any = None  # a value the suite may send (request side)

    def validator(self) -> Draft202012Validator:
        return _validator(json.dumps(self.schema, sort_keys=True))

    def errors(self, value: Any) -> list[str]:
        """Why `value` does not fit the schema (empty when it does), as short readable lines."""
        out = []
        for err in sorted(self.validator().iter_errors(value), key=lambda e: list(e.absolute_path)):
            where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
            out.append(f"{self.name}{where}: {err.message}")
        return out

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style access kept for callers of the old `{source, type}` entries."""
        return getattr(self, key, default)


@lru_cache(maxsize=None)
def _validator(schema_json: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_json)
    # "#/components/..." in a profile means specs/openapi.yaml's components
    return Draft202012Validator(_rebase(schema), registry=registry())


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else _rebase(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


class Extensions(Mapping[str, Extension]):
    """A profile's extensions. As a mapping it holds the request fields (so `"top_k" in
    profile.extensions` asks whether the profile may be sent top_k); `.response` holds the
    response fields by path."""

    def __init__(self, request: Mapping[str, Extension], response: Mapping[str, Extension]):
        self.request = dict(request)
        self.response = dict(response)

    def __getitem__(self, key: str) -> Extension:
        return self.request[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.request)

    def __len__(self) -> int:
        return len(self.request)

    def __repr__(self) -> str:
        return f"Extensions(request={sorted(self.request)}, response={sorted(self.response)})"


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _route_pattern(canonical: str) -> re.Pattern[str]:
    """`/chat/completions/{id}` -> a regex capturing `id` (one path segment)."""
    out, pos = "", 0
    for m in _PLACEHOLDER.finditer(canonical):
        out += re.escape(canonical[pos:m.start()]) + f"(?P<{m.group(1)}>[^/]+)"
        pos = m.end()
    return re.compile("^" + out + re.escape(canonical[pos:]) + "$")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str = ""
    base_path: str = "/v1"
    auth_style: str = "bearer"
    auth_styles: tuple[str, ...] = ("bearer",)
    capabilities: frozenset[str] = frozenset()
    extensions: Extensions = field(default_factory=lambda: Extensions({}, {}))
    conventions: dict[str, Any] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)  # doc id -> title
    routes: dict[str, str] = field(default_factory=dict)  # canonical path -> URL template
    url_parameters: dict[str, Any] = field(default_factory=dict)  # name -> default (None: the model id)
    model_in_path: bool = False
    required_headers: dict[str, str] = field(default_factory=dict)  # name -> description
    optional_headers: dict[str, str] = field(default_factory=dict)
    header_examples: dict[str, str] = field(default_factory=dict)  # name -> an example value
    levels: dict[str, Level] = field(default_factory=dict)
    error_types: dict[int, str] = field(default_factory=dict)  # status -> error.type the vendor sends
    request_id_header: str = "x-request-id"

    # -- URLs --------------------------------------------------------------------------------
    def route(self, path: str) -> tuple[str, dict[str, str]] | None:
        """(canonical template, captured path values) for a canonical path, or None if unrouted."""
        bare = path.split("?", 1)[0]
        for canonical in self.routes:
            m = _route_pattern(canonical).match(bare)
            if m:
                return canonical, m.groupdict()
        return None

    def parameters(self, params: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """The URL parameters with defaults filled in; `deployment` defaults to the model id."""
        given = {k: v for k, v in (params or {}).items() if v is not None}
        out: dict[str, str] = {}
        for name, default in self.url_parameters.items():
            value = given.get(name, default)
            if value is None and name == "deployment":
                value = given.get("model")
            if value is not None:
                out[name] = str(value)
        for name, value in given.items():
            out.setdefault(name, str(value))
        return out

    def url(self, base_url: str, path: str, params: Mapping[str, str | None] | None = None) -> str:
        """The vendor URL for an OpenAI-canonical `path` (`/chat/completions`, `/models/{id}`,
        optionally with a query) under `base_url`.

        A query string in base_url survives (merged with the template's and the path's own); a
        base URL that already ends with the template's prefix (an Azure base typed with
        `/openai/deployments/x`) is not given it twice. Unrouted paths go to base + path."""
        base = urlsplit(base_url)
        base_path = base.path.rstrip("/")
        canonical_path, _, path_query = path.partition("?")
        routed = self.route(canonical_path)
        if routed is None:
            rel, template_query = canonical_path, ""
        else:
            canonical, captured = routed
            values = {k: quote(v, safe="") for k, v in self.parameters(params).items()}
            values.update(captured)  # already encoded by the caller, as in the canonical path
            template = self.routes[canonical]
            try:
                rendered = template.replace("{base}", "").format(**values)
            except KeyError as exc:
                raise ValueError(f"profile {self.name}: URL parameter {exc.args[0]!r} has no value "
                                 f"for {canonical}") from None
            rel, _, template_query = rendered.partition("?")
            rel = _without_overlap(base_path, rel, template.replace("{base}", "").partition("?")[0])
        query = parse_qsl(base.query, keep_blank_values=True)
        seen = {k for k, _ in query}
        for extra in (template_query, path_query):
            for k, v in parse_qsl(extra, keep_blank_values=True):
                if k in seen and extra is template_query:
                    continue  # the user's own api-version in --base-url wins over the default
                query.append((k, v))
        return urlunsplit((base.scheme, base.netloc, base_path + rel, urlencode(query, safe="[]/:"), ""))

    # -- levels ------------------------------------------------------------------------------
    def level(self, requirement_id: str, default: str) -> str:
        return self.levels.get(requirement_id, default)


def _without_overlap(base_path: str, rel: str, template: str) -> str:
    """rel minus the leading segments base_path already ends with, compared against the
    template (placeholders match any segment): an Azure base URL typed with
    `/openai/deployments/gpt-4o` keeps its own deployment and gets only `/chat/completions`."""
    segments, pattern = rel.split("/"), template.split("/")  # both start with "": a leading "/"
    if len(segments) != len(pattern):
        return rel
    for k in range(len(pattern) - 1, 1, -1):  # longest prefix first, never the whole path
        prefix = "/".join(_route_pattern(seg).pattern[1:-1] for seg in pattern[1:k])
        if re.search("/" + prefix + "$", base_path):
            return "/" + "/".join(segments[k:])
    return rel


def profile_names() -> list[str]:
    return sorted(p.stem for p in (specs_dir() / "profiles").glob("*.yaml"))


def _sources(raw: Any) -> tuple[Mapping[str, Any], ...]:
    if not raw:
        return ()
    return tuple(raw if isinstance(raw, list) else [raw])


def _extensions(raw: Mapping[str, Any]) -> Extensions:
    sides = {}
    for side in ("request", "response"):
        entries = {}
        for name, entry in (raw.get(side) or {}).items():
            entries[name] = Extension(name=name, side=side, schema=entry.get("schema") or {},
                                      source=_sources(entry.get("source")),
                                      description=entry.get("description", ""), example=entry.get("example"))
        sides[side] = entries
    return Extensions(sides["request"], sides["response"])


def profile_from_dict(raw: Mapping[str, Any]) -> Profile:
    auth = raw.get("auth") or {}
    url = raw.get("url") or {}
    headers = raw.get("headers") or {}
    style = auth.get("style", "bearer")
    required = headers.get("required") or {}
    optional = headers.get("optional") or {}
    return Profile(
        name=raw["name"],
        description=raw.get("description", ""),
        base_path=raw.get("base_path", "/v1"),
        auth_style=style,
        auth_styles=tuple(auth.get("accepted") or [style]),
        capabilities=frozenset(raw.get("capabilities") or ()),
        extensions=_extensions(raw.get("extensions") or {}),
        conventions=dict(raw.get("conventions") or {}),
        documents={k: (v["title"] if isinstance(v, dict) else str(v)) for k, v in (raw.get("documents") or {}).items()},
        routes=dict(url.get("routes") or {}),
        url_parameters={k: (v or {}).get("default") for k, v in (url.get("parameters") or {}).items()},
        model_in_path=bool(url.get("model_in_path", False)),
        required_headers={k: v.get("description", "") for k, v in required.items()},
        optional_headers={k: v.get("description", "") for k, v in optional.items()},
        header_examples={k: str(v["example"]) for k, v in {**optional, **required}.items() if "example" in v},
        levels={rid: Level(e["level"], e.get("reason", ""), e.get("source")) for rid, e in
                (raw.get("levels") or {}).items()},
        error_types={int(k): v for k, v in ((raw.get("errors") or {}).get("types") or {}).items()},
        request_id_header=raw.get("request_id_header", "x-request-id"),
    )


@lru_cache(maxsize=None)
def load_profile(name: str) -> Profile:
    path = specs_dir() / "profiles" / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown profile {name!r}; known profiles: {', '.join(profile_names())}")
    return profile_from_dict(load_yaml(f"profiles/{name}.yaml"))


@lru_cache(maxsize=1)
def profile_schema() -> dict[str, Any]:
    with open(specs_dir() / SCHEMA_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def validate_profile(raw: Any) -> list[str]:
    """Problems with a profile document: schema violations, then cross-field rules."""
    from jsonschema import Draft202012Validator

    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in Draft202012Validator(profile_schema()).iter_errors(raw)]
    if problems or not isinstance(raw, dict):
        return problems
    docs = set(raw.get("documents") or {})

    def cited(where: str, source: Any) -> None:
        for s in _sources(source):
            if s.get("doc") not in docs:
                problems.append(f"{where}: cites {s.get('doc')!r}, not in documents")

    cited("auth", (raw.get("auth") or {}).get("source"))
    for name, p in ((raw.get("url") or {}).get("parameters") or {}).items():
        cited(f"url.parameters.{name}", p.get("source"))
    for kind in ("required", "optional"):
        for name, h in ((raw.get("headers") or {}).get(kind) or {}).items():
            cited(f"headers.{kind}.{name}", h.get("source"))
    for side in ("request", "response"):
        for name, e in ((raw.get("extensions") or {}).get(side) or {}).items():
            cited(f"extensions.{side}.{name}", e.get("source"))
            try:
                Draft202012Validator.check_schema(e.get("schema") or {})
                _validator(json.dumps(e.get("schema") or {}, sort_keys=True))
            except Exception as exc:  # a broken schema or an unresolvable $ref
                problems.append(f"extensions.{side}.{name}.schema: {exc}")
    for rid, entry in (raw.get("levels") or {}).items():
        cited(f"levels.{rid}", entry.get("source"))
    cited("errors", (raw.get("errors") or {}).get("source"))
    params = set(((raw.get("url") or {}).get("parameters") or {}))
    for canonical, template in ((raw.get("url") or {}).get("routes") or {}).items():
        used = set(_PLACEHOLDER.findall(template)) - {"base"} - set(_PLACEHOLDER.findall(canonical))
        if used - params - {"model"}:
            problems.append(f"url.routes.{canonical}: template uses undeclared {sorted(used - params)}")
    style = (raw.get("auth") or {}).get("style")
    if style not in ((raw.get("auth") or {}).get("accepted") or [style]):
        problems.append("auth.style must be one of auth.accepted")
    return problems
