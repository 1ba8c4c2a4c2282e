"""The Starlette application: routes under the profile's base path (/v1 for `reference`),
headers on every response, errors as envelopes.

Order of checks for a request: route and method (404/405, no key needed, like OpenAI's
"Invalid URL"), authentication (401), the profile's required headers and query parameters
(400), permission (403), rate limit (429), body size (413), JSON and schema validation (400),
model (404), then generation.

Routes, accepted auth headers, required headers, error types and vendor fields come from the
profile (`ServerConfig.profile`, specs/profiles/), read through chatconform.profiles like the suite.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatconform.profiles import load_profile
from chatconform.reference import emulation
from chatconform.reference.auth import authenticate, check_permission
from chatconform.reference.completion import completion_body, stream_chunks
from chatconform.reference.direct import DirectRoute
from chatconform.reference.config import ServerConfig
from chatconform.reference.errors import APIError, invalid_request
from chatconform.reference.generator import check_context, generate
from chatconform.reference.injection import Context, Faults
from chatconform.reference.ratelimit import RateLimiter
from chatconform.reference.store import CompletionStore
from chatconform.reference.streaming import DONE, sse_response
from chatconform.reference.validation import compile_schemas, schema_validator, validate_models, validate_request

logger = logging.getLogger("chatconform.reference")

_STATE_KEY = "chatconform_api_key"


class ResponseHeaders:
    """Adds x-request-id and the x-ratelimit-* headers to every response, errors included, and
    turns an unhandled exception into a 500 envelope (never a traceback)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, faults: Faults, request_id_header: str = "x-request-id",
                 error_types: dict[int, str] | None = None):
        self.app = app
        self.limiter = limiter
        self.faults = faults
        self.request_id_header = request_id_header
        self.error_types = error_types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + uuid.uuid4().hex
        state = scope.setdefault("state", {})
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                added = {"x-request-id": request_id}
                if self.request_id_header != "x-request-id":
                    added[self.request_id_header] = request_id  # Azure's apim-request-id as well
                added.update(self.limiter.headers(state.get(_STATE_KEY)))
                _set_headers(message, added)
                if self.faults:
                    self.faults.headers(MutableHeaders(scope=message), message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error in request %s", request_id)
            if started:
                raise  # mid-stream: the status line is gone, the connection just ends
            error = APIError(500, "The server had an error while processing your request. "
                                  f"Include the request ID {request_id} when reporting it.", code="internal_error")
            if self.error_types:
                error.types = self.error_types
            await self.faults.error_response(error)(scope, receive, send_with_headers)


def _set_headers(message: Message, headers: dict[str, str]) -> None:
    """MutableHeaders(scope=message)[name] = value for each, in order: a header already there is
    replaced in place (its duplicates dropped), a new one appended. The response's own headers
    rarely overlap these, so most names are appended without rescanning the list each time."""
    raw = message["headers"] = list(message.get("headers", ()))
    present = {name for name, _ in raw}
    for name, value in headers.items():
        key, encoded = name.lower().encode("latin-1"), value.encode("latin-1")
        if key not in present:
            raw.append((key, encoded))
            present.add(key)
            continue
        found = [i for i, (item, _) in enumerate(raw) if item == key]
        for i in reversed(found[1:]):
            del raw[i]
        raw[found[0]] = (key, encoded)


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = APIError(413, f"Request body larger than {limit} bytes.", code="request_too_large")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _has_lone_surrogate(value: object) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _parse_json(raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
        parsed = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("We could not parse the JSON body of your request. The body must be valid "
                              "JSON (UTF-8).", None, "invalid_json") from None
    # "\ud800" is legal JSON syntax but no Unicode text; echoing it back could not be encoded.
    # The UTF-8 decoder refuses encoded surrogates, so only a \u escape can make one: without
    # "\u" in the text there is none, and the walk over the whole body is not needed.
    if "\\u" in text and _has_lone_surrogate(parsed):
        raise invalid_request("The JSON body contains an unpaired UTF-16 surrogate escape, which is not valid "
                              "Unicode text.", None, "invalid_json")
    return parsed


def _query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_request(f"Invalid value for '{name}': expected an integer, got {raw!r}.", name,
                              "invalid_type") from None
    if not low <= value <= high:
        raise invalid_request(f"Invalid value for '{name}': {value} is not between {low} and {high}.", name)
    return value


_METADATA_KEY = re.compile(r"^metadata\[(.+)\]$")


def _metadata_filter(request: Request) -> dict[str, str]:
    """`metadata[k]=v` pairs of the query (OpenAI's list filter, deepObject style)."""
    out = {}
    for name, value in request.query_params.multi_items():
        m = _METADATA_KEY.match(name)
        if m:
            out[m.group(1)] = value
        elif name == "metadata" or name.startswith("metadata["):
            raise invalid_request(f"Invalid query parameter {name!r}: use metadata[key]=value.", "metadata")
    return out


def _order(request: Request) -> str:
    order = request.query_params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise invalid_request(f"Invalid value for 'order': {order!r} is not one of 'asc', 'desc'.", "order")
    return order


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The app; with a hostile behaviour in config.faults it sits behind a raw ASGI layer that
    forwards attribute access (`.state`) to it."""
    config = config or ServerConfig()
    faults = Faults(config.faults, config.variations)  # the catalogue's deviations; none by default
    limiter = RateLimiter(config.rate_limit_rpm, only_key=config.rate_limited_api_key)
    store = CompletionStore(config.store_capacity)
    profile = load_profile(config.profile)
    compile_schemas()  # a broken spec fails at startup, not per request
    routes = {op: emulation.route_path(profile, canonical) for op, canonical in emulation.OPERATIONS.items()}
    served_models: dict[str, None] = dict.fromkeys(config.models or (emulation.PROVIDER,))

    def admit(request: Request, operation: str) -> str:
        key = faults.authenticate(request.headers, lambda headers: authenticate(config, headers))
        request.state.chatconform_api_key = key  # from now on the headers describe this key's window
        for name, description in profile.required_headers.items():
            if not request.headers.get(name, "").strip():
                raise APIError(400, f"Missing required header '{name}' ({description}) "
                                    f"for profile {profile.name}.", param=name, code="missing_required_header")
        for name in routes[operation][1]:
            if not request.query_params.get(name, "").strip():
                raise APIError(400, f"Missing required query parameter '{name}' (profile {profile.name}: "
                                    f"{request.url.path}?{name}=...).", param=name, code="missing_required_parameter")
        check_permission(config, key)
        limiter.acquire(key)
        return key

    async def create_completion(request: Request) -> Response:
        key = admit(request, "create")
        parsed = faults.request(_parse_json(await _read_body(request, config.max_body_bytes)))
        if profile.model_in_path and isinstance(parsed, dict):
            # the deployment in the URL is the model; a body model is ignored, as by Azure
            parsed = {**parsed, "model": request.path_params.get("deployment", parsed.get("model"))}
        try:
            body = validate_request(parsed)
        except APIError as error:
            in_band = faults.in_band_error(error, parsed)
            if in_band is None:
                raise
            return sse_response(in_band, faults.framing)
        problem = emulation.model_id_problem(profile, body["model"])
        if problem:
            raise APIError(404, problem, param="model", code="model_not_found")
        validate_models(body, config.models)
        check_context(body, config.context_tokens)
        faults.gate()
        generation = generate(faults.generation(body))
        completion = completion_body(generation, completion_id="chatcmpl-" + uuid.uuid4().hex[:29],
                                     created=int(time.time()), model=body["model"])
        if body.get("metadata") is not None:
            completion["metadata"] = body["metadata"]
        completion = emulation.decorate_completion(profile, completion, body)
        served_models.setdefault(body["model"])
        if faults.store(body):
            store.put(completion, body["messages"])
        limiter.charge_tokens(key, completion["usage"]["total_tokens"])
        ctx = Context(body, completion)
        if body.get("stream") is True:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            chunks = emulation.decorate_chunks(profile, list(stream_chunks(generation, completion, include_usage)),
                                               completion)
            items = faults.chunks([*chunks, DONE], ctx)
            return sse_response(items, faults.framing)
        return faults.json_response(faults.completion(completion, ctx))

    def stored(request: Request, route: str):
        found = faults.lookup(store.get(request.path_params["completion_id"]), route)
        if found is None:
            raise APIError(404, f"No stored chat completion with id '{request.path_params['completion_id']}'. "
                                "Only completions created with 'store': true can be retrieved.", code="not_found")
        return found

    async def get_completion(request: Request) -> Response:
        admit(request, "completion")
        return faults.json_response(stored(request, "completion").completion)

    async def update_completion(request: Request) -> Response:
        admit(request, "completion")
        parsed = _parse_json(await _read_body(request, config.max_body_bytes))
        if not isinstance(parsed, dict) or "metadata" not in parsed:
            raise invalid_request("Missing required parameter: 'metadata'.", "metadata", "missing_required_parameter")
        unknown = sorted(set(parsed) - {"metadata"})
        if unknown:
            raise invalid_request(f"Unrecognized request argument supplied: {unknown[0]}. Only 'metadata' can be "
                                  "updated.", unknown[0], "unknown_parameter")
        metadata = parsed["metadata"]
        errors = schema_validator("Metadata").iter_errors(metadata) if metadata is not None else ()
        error = next(iter(errors), None)
        if error is not None:
            raise invalid_request(f"Invalid value for 'metadata': {error.message}", "metadata")
        found = stored(request, "completion")
        return faults.json_response(store.update_metadata(found.completion["id"], metadata))

    async def delete_completion(request: Request) -> Response:
        admit(request, "completion")
        found = stored(request, "completion")
        store.delete(found.completion["id"])
        return faults.json_response({"object": "chat.completion.deleted", "id": found.completion["id"],
                                     "deleted": True})

    async def list_completions(request: Request) -> Response:
        admit(request, "list")
        limit = _query_int(request, "limit", 20, 1, 100)
        order = _order(request)
        model = request.query_params.get("model")
        matching = store.completions(model, _metadata_filter(request))
        after = request.query_params.get("after")
        page = store.page(matching, after, limit, order)
        if page is None:
            raise invalid_request(f"Invalid value for 'after': no stored completion with id {after!r} in this "
                                  "listing.", "after")
        return faults.json_response(page)

    async def list_models(request: Request) -> Response:
        admit(request, "models")
        return faults.json_response({"object": "list", "data": [_model(m) for m in served_models]})

    async def get_model(request: Request) -> Response:
        admit(request, "model")
        model = request.path_params["model"]
        if model not in served_models:  # configured, or (with any model accepted) already served
            raise APIError(404, f"The model '{model}' does not exist or you do not have access to it.",
                           param="model", code="model_not_found")
        return faults.json_response(_model(model))

    def _model(model_id: str) -> dict:
        # created: a fixed instant, so a listing is byte-identical from run to run
        owner = model_id.split("/", 1)[0] if "/" in model_id else "chatconform"
        return {"id": model_id, "object": "model", "created": MODEL_CREATED, "owned_by": owner}

    async def get_messages(request: Request) -> Response:
        admit(request, "messages")
        found = stored(request, "messages")
        limit = _query_int(request, "limit", 20, 1, 100)
        order = _order(request)
        after = request.query_params.get("after")
        page = store.page(found.messages, after, limit, order)
        if page is None:
            raise invalid_request(f"Invalid value for 'after': no message with id {after!r} in this completion.",
                                  "after")
        return faults.json_response(faults.listing(page))

    def typed(error: APIError) -> APIError:
        if profile.error_types:
            error.types = profile.error_types
        return error

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return faults.error_response(typed(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 405:
            error = APIError(405, f"Method not allowed ({where}).", code="method_not_allowed",
                             headers=dict(exc.headers or {}))
        elif exc.status_code == 404:
            error = APIError(404, f"Invalid URL ({where}).", code="unknown_url")
        else:
            error = APIError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
        return faults.error_response(typed(error))

    route_list = _routes(routes, {
        "create": {"POST": create_completion},
        "list": {"GET": list_completions},
        "completion": {"GET": get_completion, "POST": update_completion, "DELETE": delete_completion},
        "messages": {"GET": get_messages},
        "models": {"GET": list_models},
        "model": {"GET": get_model},
    })
    handlers = {APIError: api_error, HTTPException: http_error}
    app = Starlette(
        routes=route_list,
        middleware=[Middleware(ResponseHeaders, limiter=limiter, faults=faults,
                               request_id_header=profile.request_id_header, error_types=profile.error_types or None),
                    # the completions route past Starlette's router (direct.py says why and how)
                    Middleware(DirectRoute, routes=route_list, path=routes["create"][0], method="POST",
                               exception_handlers=handlers)],
        exception_handlers=handlers,
    )
    app.router.redirect_slashes = False  # "/v1/chat/completions/" is not a route, not a redirect
    app.state.config = config
    app.state.faults = faults
    app.state.profile = profile
    return faults.wrap(app)  # type: ignore[return-value]


MODEL_CREATED = 1_700_000_000  # 2023-11-14: a fixed `created` for every listed model


def _routes(paths: dict[str, tuple[str, dict[str, str]]], handlers: dict[str, dict[str, object]]) -> list[Route]:
    """One Route per path, with every method the operations there serve (list and create share
    /chat/completions). Under a profile that routes only some operations (Azure: create alone),
    the others stay at base + path."""
    by_path: dict[str, dict[str, object]] = {}
    for operation, methods in handlers.items():
        path = paths[operation][0]
        by_path.setdefault(path, {}).update(methods)
    out = []
    for path, methods in by_path.items():
        async def endpoint(request: Request, _methods=methods) -> Response:
            handler = _methods.get(request.method) or _methods["GET"]  # HEAD is served as GET
            return await handler(request)  # type: ignore[operator]

        out.append(Route(path, endpoint, methods=list(methods)))
    return out
