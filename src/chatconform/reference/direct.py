"""A direct path to the endpoint of the one hot route, POST .../chat/completions.

Starlette's routing costs a request more than the reference server's own work does: the
exception middleware, the router trying each route's regex, the route's method check and
request_response, each with its own wrapper around `send`. DirectRoute sits where those begin
and, for a request the router would hand to that same endpoint, calls it itself, handling
exceptions exactly as Starlette's wrap_app_handling_exceptions does (the app's handler for the
exception's class; a handled exception after the response started is a RuntimeError). Every
other request goes down the Starlette stack unchanged.

Whether the router would pick that endpoint is decided once, at start-up, by asking the router's
own routes; a path with parameters (Azure's /deployments/{deployment}/...) is left to the router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Exception], Awaitable[Response]]


def routed_endpoint(routes: list[BaseRoute], path: str, method: str) -> Endpoint | None:
    """The endpoint Starlette's router would serve `method path` with: the first route that
    matches the path, if it takes the method. None for a path with parameters (left to it)."""
    if "{" in path:
        return None
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return getattr(route, "endpoint", None) if match is Match.FULL else None
    return None


class DirectRoute:
    def __init__(self, app: ASGIApp, routes: list[BaseRoute], path: str, method: str,
                 exception_handlers: Mapping[type[Exception], Handler]):
        self.app = app
        self.endpoint = routed_endpoint(routes, path, method)
        self.path = path if self.endpoint is not None else None  # None: every request is routed
        self.method = method
        self.handlers = dict(exception_handlers)

    def _handler(self, exc: Exception) -> Handler | None:
        for cls in type(exc).__mro__:  # as Starlette looks a handler up
            if cls in self.handlers:
                return self.handlers[cls]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != self.path or scope["method"] != self.method
                or scope.get("root_path")):
            await self.app(scope, receive, send)
            return
        # what the router and the route put in the scope (a route without path parameters)
        scope["endpoint"], scope["path_params"] = self.endpoint, {}
        request = Request(scope, receive, send)
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            response = await self.endpoint(request)
            await response(scope, receive, sender)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            if started:
                raise RuntimeError("Caught handled exception, but response already started.") from exc
            response = await handler(request, exc)
            await response(scope, receive, sender)
            exc.__traceback__ = None  # as Starlette does: a reused exception must not pile up tracebacks

