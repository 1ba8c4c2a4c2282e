"""`chatconform probe`: measure a new vendor in a handful of cheap requests and draft its profile.

At most 12 requests, of which at most 3 are billed completions (16 tokens each at most):

1. ``GET /models`` under each path layout the profiles know (``/v1``, ``/v2/openai``, the root ...)
   with Bearer auth, and with the ``api-key`` header where Bearer is refused (unbilled): which
   path and auth style answer, and whether the model list exists;
2. the minimal completion with the auth style that worked (billed 1; a second style is tried only
   when the first was refused, billed 2);
3. the same request streamed with ``stream_options.include_usage`` (billed 3): SSE and a usage chunk;
4. ``GET /chat/completions/<an id that was never issued>`` (unbilled): are the stored-completion
   routes served at all.

A URL with a path is taken as it is. What is written is a draft:
the measured facts (path, auth, capabilities seen, vendor fields seen) with a source note saying
they were measured, and every capability the probe could not see left out, for the user to add
after reading their vendor's documents. The draft validates against specs/profile.schema.json.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from .client import Auth, Client, ClientSettings, Exchange
from .redaction import Redactor

MAX_BILLED = 3
PROMPT = "Reply with one word: ok"
PROBE_ID = "chatcmpl-chatconform-probe-never-issued"


@dataclass
class Findings:
    base_url: str
    base_path: str
    auth_style: str | None = None
    accepted: list[str] = field(default_factory=list)
    capabilities: set[str] = field(default_factory=set)
    vendor_fields: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    billed: int = 0


def _is_api(exchange: Exchange) -> bool:
    try:
        return isinstance(exchange.json(), dict)
    except ValueError:
        return False


def _bases(base_url: str) -> list[tuple[str, str]]:
    """(base URL, the base_path a profile would add to a bare host) candidates, best first: the
    path given, or for a bare host every layout a known profile uses."""
    from .profiles import load_profile, profile_names

    parts = urlsplit(base_url.rstrip("/"))
    if parts.path not in ("", "/"):
        return [(base_url.rstrip("/"), parts.path)]
    root = base_url.rstrip("/")
    layouts = ["/v1"] + sorted({load_profile(n).base_path for n in profile_names()} - {"/v1"})
    return [(root + layout, layout) for layout in layouts]


class Probe:
    def __init__(self, base_url: str, api_key: str | None, model: str, timeout: float = 30.0) -> None:
        self.base_url, self.api_key, self.model = base_url, api_key, model
        self.settings = ClientSettings(read_timeout=timeout, total_timeout=2 * timeout, max_retries=1,
                                       max_billed=MAX_BILLED, give_up_after=3)
        self.requests = 0
        self.redactor = Redactor([api_key])

    def _client(self, base: str, style: str | None) -> Client:
        auth = Auth(style, self.api_key) if (style and self.api_key) else None
        return Client(base, auth, self.settings, self.redactor)

    def _completion(self, stream: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": PROMPT}],
                                "max_completion_tokens": 16}
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
        return body

    def run(self) -> Findings:
        found: Findings | None = None
        for base, base_path in _bases(self.base_url):
            candidate = Findings(base, base_path)
            answered = self._models(candidate)
            if answered:
                found = candidate
                break
        if found is None:  # no model list anywhere: the completion decides, at the first layout
            found = Findings(*_bases(self.base_url)[0])
            found.notes.append("no layout served GET /models; the completion was tried at the first one")
        self._complete(found)
        found.requests = self.requests
        return found

    def _send(self, client: Client, method: str, path: str, **kwargs: Any) -> Exchange:
        exchange = client.request(method, path, **kwargs)
        self.requests += exchange.attempts
        return exchange

    def _models(self, f: Findings) -> bool:
        for style in ("bearer", "api-key"):
            exchange = self._send(self._client(f.base_url, style), "GET", "/models")
            if exchange.status == 200 and _is_api(exchange):
                f.capabilities.add("models")
                f.accepted.append(style)
                f.auth_style = f.auth_style or style
                data = exchange.json().get("data")
                ids = [m.get("id") for m in data if isinstance(m, dict)] if isinstance(data, list) else []
                if self.model not in ids:
                    f.notes.append(f"the model list does not name {self.model!r} ({len(ids)} models listed)")
                return True
            if exchange.status not in (401, 403):
                return False  # not a refusal of the key: another auth style would not help
        return False

    def _complete(self, f: Findings) -> None:
        styles = [f.auth_style] if f.auth_style else ["bearer", "api-key"]
        answer: Exchange | None = None
        for style in styles:
            if f.billed >= MAX_BILLED - 1:
                break
            exchange = self._send(self._client(f.base_url, style), "POST", "/chat/completions",
                                  json_body=self._completion())
            if exchange.status in (401, 403):
                f.notes.append(f"{style} auth refused: HTTP {exchange.status}")
                continue
            if exchange.status is not None and 200 <= exchange.status < 300 and _is_api(exchange):
                f.billed += 1
                f.auth_style = style
                if style not in f.accepted:
                    f.accepted.append(style)
                answer = exchange
                break
            f.notes.append(f"the minimal completion got {exchange.excerpt(160)}")
            return
        if answer is None:
            return
        self._observe_completion(f, answer)
        client = self._client(f.base_url, f.auth_style)
        streamed = self._send(client, "POST", "/chat/completions", json_body=self._completion(stream=True))
        if streamed.status == 200 and streamed.media_type == "text/event-stream":
            f.billed += 1
            if any(isinstance(c, dict) and c.get("usage") for c in streamed.chunks()):
                f.capabilities.add("stream_usage")
        else:
            f.notes.append(f"the streamed completion got {streamed.excerpt(160)}")
        stored = self._send(client, "GET", f"/chat/completions/{PROBE_ID}")
        if stored.status == 404 and _is_api(stored) and isinstance(stored.json().get("error"), dict):
            f.capabilities.add("store")  # the route answers like an API: an unknown id, not an unknown path

    def _observe_completion(self, f: Findings, exchange: Exchange) -> None:
        from .checks.extensions import vendor_fields

        headers = {k.lower() for k in exchange.headers}
        if "x-request-id" in headers:
            f.capabilities.add("request_id")
        if any(h.startswith("x-ratelimit-") for h in headers):
            f.capabilities.add("rate_limit_headers")
        seen = vendor_fields(exchange.json())
        f.vendor_fields = seen["documented"] + seen["unknown"]
        usage = exchange.json().get("usage") or {}
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int) and usage["completion_tokens"] > 16:
            f.notes.append(f"max_completion_tokens 16 was not respected ({usage['completion_tokens']} completion tokens)")


def draft(f: Findings, name: str, model: str, when: datetime | None = None) -> dict[str, Any]:
    """A profile document from what the probe measured (validates against specs/profile.schema.json)."""
    when = when or datetime.now(timezone.utc)
    measured = {"doc": "probe", "note": f"measured by chatconform probe against {f.base_url} "
                                        f"(model {model}) on {when:%Y-%m-%d}"}
    profile: dict[str, Any] = {
        "name": name,
        "description": f"drafted by chatconform probe from {f.base_url}; complete it from the vendor's documents",
        "documents": {"probe": {"title": f"chatconform probe of {f.base_url}, {when:%Y-%m-%d}"}},
        "base_path": f.base_path,
        "auth": {"style": f.auth_style or "bearer", "accepted": f.accepted or ["bearer"], "source": measured},
        "capabilities": sorted(f.capabilities),
    }
    return profile


def render(profile: Mapping[str, Any], f: Findings) -> str:
    import yaml

    head = [f"# chatconform probe: {f.requests} requests, {f.billed} billed completions.",
            "# Capabilities the probe could not see (tools, logprobs, n, json_schema, seed, ...) are left",
            "# out: add those the vendor documents. Vendor fields seen in its completion:"]
    head += [f"#   {name}" for name in f.vendor_fields] or ["#   (none)"]
    head += [f"# note: {n}" for n in f.notes]
    return "\n".join(head) + "\n" + yaml.safe_dump(dict(profile), sort_keys=False, width=110)


def probe(base_url: str, api_key: str | None, model: str, name: str) -> tuple[str, Findings]:
    from .profiles import validate_profile

    f = Probe(base_url, api_key, model).run()
    profile = draft(f, name, model)
    problems = validate_profile(json.loads(json.dumps(profile)))
    if problems:  # a bug in the draft, not in the vendor: say so rather than write a broken file
        raise RuntimeError(f"the drafted profile does not validate: {problems[:3]}")
    return render(profile, f), f
