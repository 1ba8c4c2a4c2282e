"""The deliberately wrong requests that the errors, headers and auth suites judge.

Each case is sent at most once per session (through the suites' ``shared`` memo) and judged by
many tests: its status by the test of the requirement that names it, its body, content type and
request id by the tests that apply to every error. Keys the suite makes up are registered as
public so reproduction lines show them; keys the user supplies stay secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from .. import payloads
from ..client import Auth, Client, Exchange
from ..failures import Unsupported
from ..target import Target

BURST = 10  # most requests a rate-limit probe sends; the probe key's limit must be below this per minute
_SUFFIX = secrets.token_hex(4)  # per process: names that cannot exist on the target
UNKNOWN_MODEL = f"chatconform-no-such-model-{_SUFFIX}"
UNKNOWN_COMPLETION = f"chatcmpl-chatconform-no-such-completion-{_SUFFIX}"
UNKNOWN_PATH = f"/chatconform-no-such-endpoint-{_SUFFIX}"
TRUNCATED_JSON = b'{"model": "m", "messages": [{"role": "user", "content": '

# option dest (pytest) -> (the capability reported when it is absent, why the suite needs it)
OPTIONS = {
    "restricted_api_key": ("restricted_key", "403 needs a key that authenticates but lacks permission: "
                                             "give one with --restricted-api-key"),
    "rate_limit_probe": ("rate_limit_probe", "429 is provoked only with a key meant for it (--rate-limit-probe); "
                                             "the suite never bursts requests at an ordinary key"),
}


Memo = Callable[[str, Callable[[], Any]], Any]


@dataclass(frozen=True)
class Context:
    client: Client
    target: Target
    shared: Memo  # the session memo: each case is sent once
    options: Mapping[str, str | None]

    def wrong_key(self) -> str:
        key = "sk-chatconform-wrong-" + secrets.token_hex(12)
        self.client.redactor.add_public(key)
        return key

    def option(self, name: str) -> str:
        value = self.options.get(name)
        capability, why = OPTIONS[name]
        if not value:
            raise Unsupported(capability, why)
        self.client.redactor.add(value)
        return value

    def key(self) -> str:
        if not self.target.api_key:
            raise Unsupported("api_key", "no API key configured, so there is no valid key to present")
        return self.target.api_key


def context(config: pytest.Config, client: Client, target: Target, shared: Memo) -> Context:
    """The target carries the keys the plugin resolved (the embedded server's own, or the user's
    option, environment or ini value); a bare command-line option is the fallback."""
    options = {name: getattr(target, name, None) or config.getoption(f"cc_{name}", None) for name in OPTIONS}
    return Context(client, target, shared, options)


def _chat(ctx: Context, **kwargs: Any) -> Exchange:
    overrides = dict(kwargs.pop("overrides", {}))
    model = overrides.pop("model", ctx.target.model)
    return ctx.client.chat(payloads.minimal(model, **overrides), **kwargs)


def burst(ctx: Context) -> list[Exchange]:
    """Up to BURST small requests with the probe key, stopping at the first that is not a 2xx."""
    auth = Auth(ctx.target.auth_style, ctx.option("rate_limit_probe"))
    sent: list[Exchange] = []
    for _ in range(BURST):
        exchange = _chat(ctx, auth=auth, retry=False, overrides={"max_completion_tokens": payloads.CAPPED_TOKENS})
        sent.append(exchange)
        if exchange.status is None or not 200 <= exchange.status < 300:
            break
    return sent


def probe(ctx: Context) -> list[Exchange]:
    """The rate-limit burst, sent once per session; its last exchange is the "rate-limited" case."""
    return ctx.shared("error-case:rate-limit-burst", lambda: burst(ctx))


def _stored(suffix: str, *, with_key: bool) -> Callable[[Context], Exchange]:
    def send(ctx: Context) -> Exchange:
        path = f"/chat/completions/{UNKNOWN_COMPLETION}{suffix}"
        return ctx.client.request("GET", path) if with_key else ctx.client.request("GET", path, auth=None)

    return send


@dataclass(frozen=True)
class ErrorCase:
    name: str
    send: Callable[[Context], Exchange]
    capability: str | None = None  # a profile capability the case needs
    client_error: bool = True  # False: the request was fine, only too many (a 503 there is no verdict on it)


CASES = {case.name: case for case in [
    ErrorCase("invalid-value", lambda ctx: _chat(ctx, overrides={"temperature": 3})),
    ErrorCase("invalid-value-streamed", lambda ctx: _chat(ctx, overrides={"temperature": 3, "stream": True})),
    ErrorCase("invalid-json", lambda ctx: ctx.client.request(
        "POST", "/chat/completions", raw_body=TRUNCATED_JSON, headers={"Content-Type": "application/json"})),
    ErrorCase("missing-key", lambda ctx: _chat(ctx, auth=None)),
    ErrorCase("missing-key-retrieve", _stored("", with_key=False), "store"),
    ErrorCase("missing-key-messages", _stored("/messages", with_key=False), "store"),
    ErrorCase("wrong-key", lambda ctx: _chat(ctx, auth=Auth("bearer", ctx.wrong_key()))),
    ErrorCase("wrong-api-key", lambda ctx: _chat(ctx, auth=Auth("api-key", ctx.wrong_key())), "api_key_header"),
    ErrorCase("other-scheme", lambda ctx: _chat(ctx, auth=None, headers={"Authorization": f"Token {_any_key(ctx)}"})),
    ErrorCase("bearer-without-token", lambda ctx: _bearer_without_token(ctx)),
    ErrorCase("unknown-model", lambda ctx: _chat(ctx, overrides={"model": UNKNOWN_MODEL})),
    ErrorCase("unknown-completion", _stored("", with_key=True), "store"),
    ErrorCase("restricted-key", lambda ctx: _chat(ctx, auth=Auth(ctx.target.auth_style,
                                                                  ctx.option("restricted_api_key")))),
    ErrorCase("rate-limited", lambda ctx: probe(ctx)[-1], client_error=False),
]}


def _any_key(ctx: Context) -> str:
    """The real key where there is one: a malformed header must be refused even when its key is right."""
    return ctx.target.api_key or ctx.wrong_key()


def _bearer_without_token(ctx: Context) -> Exchange:
    ctx.client.redactor.add_public("Bearer")  # nothing secret in it; unmasked so the curl line is exact
    return _chat(ctx, auth=None, headers={"Authorization": "Bearer"})


def exchange(ctx: Context, name: str) -> Exchange:
    return ctx.shared(f"error-case:{name}", lambda: CASES[name].send(ctx))


def error_response(exchange: Exchange) -> Exchange:
    """Tests of the error body apply to error responses only; a 2xx is judged by the status tests."""
    if exchange.status is not None and exchange.status < 400:
        pytest.skip(f"HTTP {exchange.status}: not an error response, so no error body to judge "
                    "(the case's status test reports it)")
    return exchange


def params(*capabilities: str, client_errors_only: bool = False) -> list[Any]:
    """Every case as a pytest parameter, marked with the capabilities it (and the test) needs."""
    out = []
    for case in CASES.values():
        if client_errors_only and not case.client_error:
            continue
        needs = [c for c in (case.capability, *capabilities) if c]
        marks = [pytest.mark.capability(*needs)] if needs else []
        out.append(pytest.param(case.name, marks=marks, id=case.name))
    return out
