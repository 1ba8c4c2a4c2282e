"""Capability facts settled once per session, before anything depends on them.

A profile *claims* capabilities; some the target can only *show*. A server without stored
completions answers ``GET /chat/completions/{id}`` with its framework's ``404 {"detail": "Not
Found"}``: every test that touches those routes (the stored suite, the auth and error cases that
use them, the property tests' GET operations, the stateful test) must learn that before it sends
anything, or it would file the absent route as a MUST failure. One unbilled probe per session
settles it, on first need.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..checks.stored import route_missing

FACTS: pytest.StashKey[Facts] = pytest.StashKey()
PROBED = ("store",)  # capabilities a profile may claim that the target must also show
# never issued by anyone; fixed, so two runs with one seed send the same requests
PROBE_ID = "chatcmpl-chatconform-capability-probe"


class Facts:
    def __init__(self, client: Any, memo: Any = None) -> None:
        self.client = client
        self.memo = memo  # the session memo: under xdist one worker probes, the others read it
        self._absent: dict[str, str | None] = {}

    def absent(self, capability: str) -> str | None:
        """Why the target lacks ``capability`` although its profile claims it, or None."""
        if capability not in PROBED:
            return None
        if capability not in self._absent:
            self._absent[capability] = self._probe_store()
        return self._absent[capability]

    def _probe_store(self) -> str | None:
        send = lambda: self.client.request("GET", f"/chat/completions/{PROBE_ID}")  # noqa: E731
        exchange = self.memo.get("capability:store", send) if self.memo is not None else send()
        if exchange.status is not None and route_missing(exchange):
            return f"the stored-completion routes are not served (GET /chat/completions/{{id}}: {exchange.excerpt(120)})"
        return None


def facts(config: pytest.Config) -> Facts:
    if FACTS not in config.stash:
        from .session import state

        session = state(config)
        config.stash[FACTS] = Facts(session.client(), getattr(session, "memo", None))
    return config.stash[FACTS]
