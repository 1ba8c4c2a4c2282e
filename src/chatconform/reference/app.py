"""The Starlette application: routes under /v1, headers on every response, errors as envelopes.

Order of checks for a request: route and method (404/405, no key needed, like OpenAI's
"Invalid URL"), authentication (401), permission (403), rate limit (429), body size (413),
JSON and schema validation (400), model (404), then generation.
"""

from __future__ import annotations

import json
import logging
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

from chatconform.reference.auth import authenticate, check_permission
from chatconform.reference.completion import completion_body, stream_chunks
from chatconform.reference.config import ServerConfig
from chatconform.reference.errors import APIError, invalid_request
from chatconform.reference.generator import generate
from chatconform.reference.injection import Context, Faults
from chatconform.reference.ratelimit import RateLimiter
from chatconform.reference.store import CompletionStore
from chatconform.reference.streaming import DONE, sse_response
from chatconform.reference.validation import schema_validator, validate_models, validate_request

logger = logging.getLogger("chatconform.reference")

_STATE_KEY = "chatconform_api_key"


class ResponseHeaders:
    """Adds x-request-id and the x-ratelimit-* headers to every response, errors included, and
    turns an unhandled exception into a 500 envelope (never a traceback)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, faults: Faults):
        self.app = app
        self.limiter = limiter
        self.faults = faults

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
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                for name, value in self.limiter.headers(state.get(_STATE_KEY)).items():
                    headers[name] = value
                self.faults.headers(headers, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error in request %s", request_id)
            if started:
                raise  # mid-stream: the status line is gone, the connection just ends
            error = APIError(500, "The server had an error while processing your request. "
                                  f"Include the request ID {request_id} when reporting it.", code="internal_error")
            await self.faults.error_response(error)(scope, receive, send_with_headers)


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
        parsed = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise invalid_request("We could not parse the JSON body of your request. The body must be valid "
                              "JSON (UTF-8).", None, "invalid_json") from None
    # "\ud800" is legal JSON syntax but no Unicode text; echoing it back could not be encoded
    if _has_lone_surrogate(parsed):
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


def create_app(config: ServerConfig | None = None) -> Starlette:
    """The app; with a hostile behaviour in config.faults it sits behind a raw ASGI layer that
    forwards attribute access (`.state`) to it."""
    config = config or ServerConfig()
    faults = Faults(config.faults, config.variations)  # the catalogue's deviations; none by default
    limiter = RateLimiter(config.rate_limit_rpm, only_key=config.rate_limited_api_key)
    store = CompletionStore(config.store_capacity)
    schema_validator("CreateChatCompletionRequest")  # a broken spec fails at startup, not per request

    def admit(request: Request) -> str:
        key = faults.authenticate(request.headers, lambda headers: authenticate(config, headers))
        request.state.chatconform_api_key = key  # from now on the headers describe this key's window
        check_permission(config, key)
        limiter.acquire(key)
        return key

    async def create_completion(request: Request) -> Response:
        key = admit(request)
        parsed = faults.request(_parse_json(await _read_body(request, config.max_body_bytes)))
        try:
            body = validate_request(parsed)
        except APIError as error:
            in_band = faults.in_band_error(error, parsed)
            if in_band is None:
                raise
            return sse_response(in_band, faults.framing)
        validate_models(body, config.models)
        faults.gate()
        generation = generate(faults.generation(body))
        completion = completion_body(generation, completion_id="chatcmpl-" + uuid.uuid4().hex[:29],
                                     created=int(time.time()), model=body["model"])
        if body.get("metadata") is not None:
            completion["metadata"] = body["metadata"]
        if faults.store(body):
            store.put(completion, body["messages"])
        limiter.charge_tokens(key, completion["usage"]["total_tokens"])
        ctx = Context(body, completion)
        if body.get("stream") is True:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            items = faults.chunks([*stream_chunks(generation, completion, include_usage), DONE], ctx)
            return sse_response(items, faults.framing)
        return faults.json_response(faults.completion(completion, ctx))

    def stored(request: Request, route: str):
        found = faults.lookup(store.get(request.path_params["completion_id"]), route)
        if found is None:
            raise APIError(404, f"No stored chat completion with id '{request.path_params['completion_id']}'. "
                                "Only completions created with 'store': true can be retrieved.", code="not_found")
        return found

    async def get_completion(request: Request) -> Response:
        admit(request)
        return faults.json_response(stored(request, "completion").completion)

    async def get_messages(request: Request) -> Response:
        admit(request)
        found = stored(request, "messages")
        limit = _query_int(request, "limit", 20, 1, 100)
        order = request.query_params.get("order", "asc")
        if order not in ("asc", "desc"):
            raise invalid_request(f"Invalid value for 'order': {order!r} is not one of 'asc', 'desc'.", "order")
        after = request.query_params.get("after")
        page = store.page(found.messages, after, limit, order)
        if page is None:
            raise invalid_request(f"Invalid value for 'after': no message with id {after!r} in this completion.",
                                  "after")
        return faults.json_response(faults.listing(page))

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return faults.error_response(exc)

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
        return faults.error_response(error)

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", create_completion, methods=["POST"]),
            Route("/v1/chat/completions/{completion_id}", get_completion, methods=["GET"]),
            Route("/v1/chat/completions/{completion_id}/messages", get_messages, methods=["GET"]),
        ],
        middleware=[Middleware(ResponseHeaders, limiter=limiter, faults=faults)],
        exception_handlers={APIError: api_error, HTTPException: http_error},
    )
    app.router.redirect_slashes = False  # "/v1/chat/completions/" is not a route, not a redirect
    app.state.config = config
    app.state.faults = faults
    return faults.wrap(app)  # type: ignore[return-value]
