"""How the reference server deviates on purpose: the catalogue's machinery and the hook points.

An entry of the catalogue (chatconform.reference.faults) is a fault (a deviation the suite must
catch), a variation (legal but unusual behaviour the suite must accept) or a hostile behaviour
(the suite must end with clear failures, within its time limits). Its implementation is a few
small functions, each registered under one hook point of the server:

    request(body) -> body                 the parsed JSON body, before validation (may raise APIError)
    generation(body) -> body              the validated request, as the generator gets to see it
    gate(state) -> APIError | None        admission of a valid request (state: per entry and server)
    completion(payload, ctx) -> payload   a non-streamed chat.completion, as sent
    chunks(items, ctx) -> items           a stream: chunk dicts, str data ("[DONE]"), raw bytes
    in_band_error(error, body) -> items   a streaming request that failed validation (None: a 4xx)
    reply(reply) -> reply                 every 2xx JSON response (completion, retrieval, listing)
    error(reply, error) -> reply          every error response
    headers(headers, status) -> None      every response's headers, errors included
    authenticate(headers, default) -> key who the caller is (default: the server's own check)
    lookup(found, route) -> found         a stored completion as GET .../{id} ("completion") or
                                          GET .../{id}/messages ("messages") finds it
    listing(page) -> page                 a page of stored messages
    store(body) -> bool                   whether a completion is kept for retrieval
    asgi(raw) -> None                     hostile: the whole raw exchange of POST /chat/completions

`framing` (streaming.Framing fields) re-frames the SSE stream. With no entry active every hook is
the identity, and the server behaves exactly as specs/openapi.yaml says.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from chatconform.reference.errors import APIError
from chatconform.reference.streaming import Framing

FAULT, VARIATION, HOSTILE = "fault", "variation", "hostile"
KINDS = (FAULT, VARIATION, HOSTILE)
HOOKS = ("request", "generation", "gate", "completion", "chunks", "in_band_error", "reply", "error", "headers",
         "authenticate", "lookup", "listing", "store", "asgi")


@dataclass(frozen=True, eq=False)
class Entry:
    name: str  # kebab-case, stable: `--fault NAME`, the matrix row
    kind: str
    description: str  # one line
    requirements: tuple[str, ...]  # specs/requirements.yaml IDs it violates (none for a variation)
    areas: tuple[str, ...]  # catalogue areas it concerns (chatconform selfcheck picks the suites)
    cite: str | None = None  # the row of the shared deviations list it reproduces (ST-01, ER-04, ...)
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    framing: dict[str, Any] = field(default_factory=dict)


CATALOGUE: dict[str, Entry] = {}


def _register(kind: str, name: str, description: str, areas: Iterable[str], requirements: Iterable[str] = (),
              cite: str | None = None, hook: str | None = None, framing: dict[str, Any] | None = None
              ) -> Callable[[Any], Any]:
    """Decorator: register the decorated function under ``hook``, or a class whose functions are
    named after their hooks (an entry that needs more than one hook point)."""

    def add(impl: Any) -> Any:
        if name in CATALOGUE:
            raise ValueError(f"fault catalogue: {name!r} registered twice")
        if impl is None:
            hooks = {}
        elif isinstance(impl, type):
            hooks = {k: v for k, v in vars(impl).items() if k in HOOKS}
        else:
            if hook not in HOOKS:
                raise ValueError(f"fault catalogue: {name!r} names no known hook ({hook!r})")
            hooks = {hook: impl}
        CATALOGUE[name] = Entry(name, kind, description, tuple(requirements), tuple(dict.fromkeys(areas)), cite, hooks,
                                dict(framing or {}))
        return impl

    return add


def fault(name: str, description: str, areas: Iterable[str], requirements: Iterable[str], *,
          cite: str | None = None, hook: str | None = None) -> Callable[[Any], Any]:
    return _register(FAULT, name, description, areas, requirements, cite, hook)


def hostile(name: str, description: str, areas: Iterable[str], requirements: Iterable[str] = (), *,
            cite: str | None = None) -> Callable[[Any], Any]:
    return _register(HOSTILE, name, description, areas, requirements, cite, "asgi")


def variation(name: str, description: str, areas: Iterable[str], *, cite: str | None = None,
              hook: str | None = None, framing: dict[str, Any] | None = None) -> Callable[[Any], Any]:
    return _register(VARIATION, name, description, areas, (), cite, hook, framing)


def declare_variation(name: str, description: str, areas: Iterable[str], *, framing: dict[str, Any],
                      cite: str | None = None) -> None:
    """A variation that is only a framing: no function to register."""
    _register(VARIATION, name, description, areas, (), cite, None, framing)(None)


def catalogue() -> dict[str, Entry]:
    from chatconform.reference import faults  # noqa: F401  (registers the entries)

    return CATALOGUE


class UnknownFault(ValueError):
    pass


def listing(kinds: Iterable[str] = KINDS, markdown: bool = False) -> str:
    """The catalogue as text, one line per entry (`chatconform serve --list-faults`), or as
    Markdown tables (`--list-faults --markdown`)."""
    if markdown:
        return _markdown(kinds)
    lines = []
    for kind in kinds:
        entries = [e for e in catalogue().values() if e.kind == kind]
        flag = "--variation" if kind == VARIATION else "--fault"
        lines.append(f"{kind}s ({len(entries)}, {flag} NAME):")
        width = max((len(e.name) for e in entries), default=0)
        for e in entries:
            cite = f" [{e.cite}]" if e.cite else ""
            violates = f"  violates: {', '.join(e.requirements)}" if e.requirements else ""
            lines.append(f"  {e.name:<{width}}  {e.description}{cite}{violates}")
    return "\n".join(lines)


def _markdown(kinds: Iterable[str]) -> str:
    out = []
    for kind in kinds:
        entries = [e for e in catalogue().values() if e.kind == kind]
        out.append(f"{kind.capitalize()}s ({len(entries)}):\n")
        violates = "" if kind == VARIATION else " violates |"
        out.append(f"| name | what the server does |{violates} areas | seen in |")
        out.append("|---|---|" + ("---|" if violates else "") + "---|---|")
        for e in entries:
            areas = ", ".join(e.areas)
            ids = f" {', '.join(f'`{r}`' for r in e.requirements)} |" if violates else ""
            text = e.description.replace("|", "\\|")
            out.append(f"| `{e.name}` | {text} |{ids} {areas} | {e.cite or ''} |")
        out.append("")
    return "\n".join(out)


def resolve(faults: Iterable[str], variations: Iterable[str]) -> list[Entry]:
    """The entries named, in catalogue order; UnknownFault names what is wrong and what exists."""
    known = catalogue()
    chosen: list[Entry] = []
    problems = []
    for flag, names, kinds in (("--fault", faults, (FAULT, HOSTILE)), ("--variation", variations, (VARIATION,))):
        for name in names:
            entry = known.get(name)
            if entry is None:
                problems.append(f"{flag} {name}: no such entry")
            elif entry.kind not in kinds:
                problems.append(f"{flag} {name}: it is a {entry.kind}; use "
                                f"{'--variation' if entry.kind == VARIATION else '--fault'}")
            else:
                chosen.append(entry)
    if problems:
        raise UnknownFault("; ".join(problems) + "\n\n" + listing())
    unique = {e.name: e for e in chosen}
    return [e for name, e in known.items() if name in unique]


# -- what hooks receive ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    body: dict  # the validated request
    completion: dict  # the completion the reference server built (before any fault)

    @property
    def usage_requested(self) -> bool:
        return (self.body.get("stream_options") or {}).get("include_usage") is True


@dataclass(frozen=True)
class Reply:
    """A response about to be sent: JSON ``payload``, unless ``raw`` bytes replace it."""

    status: int
    payload: Any
    media_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def render(self) -> Response:
        content = self.raw
        if content is None:  # serialised as JSONResponse does
            content = json.dumps(self.payload, ensure_ascii=False, allow_nan=False,
                                 separators=(",", ":")).encode("utf-8")
        return Response(content, status_code=self.status, headers=self.headers, media_type=self.media_type)

    def with_(self, **changes: Any) -> Reply:
        return replace(self, **changes)


def error_reply(error: APIError) -> Reply:
    return Reply(error.status, error.body(), headers=dict(error.headers))


# -- the active set -------------------------------------------------------------------------------
class Faults:
    """The entries a server runs with; app.py consults it at each hook point."""

    def __init__(self, faults: Iterable[str] = (), variations: Iterable[str] = ()) -> None:
        self.active = resolve(faults, variations)
        self._state: dict[str, dict[str, Any]] = {e.name: {} for e in self.active}
        framing: dict[str, Any] = {}
        for entry in self.active:
            framing.update(entry.framing)
        self.framing = Framing(**framing)

    def __bool__(self) -> bool:
        return bool(self.active)

    def _hooks(self, hook: str) -> Iterator[tuple[Entry, Callable[..., Any]]]:
        for entry in self.active:
            fn = entry.hooks.get(hook)
            if fn is not None:
                yield entry, fn

    def _chain(self, hook: str, value: Any, *args: Any) -> Any:
        for _, fn in self._hooks(hook):
            value = fn(value, *args)
        return value

    def request(self, body: Any) -> Any:
        return self._chain("request", body)

    def generation(self, body: dict) -> dict:
        return self._chain("generation", body)

    def gate(self) -> None:
        for entry, fn in self._hooks("gate"):
            refusal = fn(self._state[entry.name])
            if refusal is not None:
                raise refusal

    def completion(self, payload: dict, ctx: Context) -> dict:
        # hooks get their own copy: the original is what the store keeps and the context shows
        return self._chain("completion", copy.deepcopy(payload), ctx) if self else payload

    def chunks(self, items: list, ctx: Context) -> list:
        return self._chain("chunks", copy.deepcopy(items), ctx) if self else items

    def in_band_error(self, error: APIError, body: Any) -> list | None:
        for _, fn in self._hooks("in_band_error"):
            items = fn(error, body)
            if items is not None:
                return items
        return None

    def json_response(self, payload: Any) -> Response:
        if not self:
            return JSONResponse(payload)
        return self._chain("reply", Reply(200, payload)).render()

    def error_response(self, error: APIError) -> Response:
        if not self:
            return error.response()
        return self._chain("error", error_reply(error), error).render()

    def headers(self, headers: MutableHeaders, status: int) -> None:
        for _, fn in self._hooks("headers"):
            fn(headers, status)

    def authenticate(self, headers: Headers, default: Callable[[Headers], str]) -> str:
        check = default
        for _, fn in self._hooks("authenticate"):
            check = partial(fn, default=check)  # each hook decides, asking the check below when it wants to
        return check(headers)

    def lookup(self, found: Any, route: str) -> Any:
        return self._chain("lookup", found, route)

    def listing(self, page: Any) -> Any:
        return self._chain("listing", page)

    def store(self, body: dict) -> bool:
        keep = body.get("store") is True
        for _, fn in self._hooks("store"):
            keep = fn(keep)
        return keep

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """The app, behind the hostile behaviours' raw ASGI layer when one is active."""
        behaviours = [fn for _, fn in self._hooks("asgi")]
        if not behaviours:
            return app
        from chatconform.reference.hostile import HostileLayer

        return HostileLayer(app, behaviours)

