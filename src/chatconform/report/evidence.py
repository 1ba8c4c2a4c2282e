"""The wire log of a failed (or warned) test, carried from the process that ran it to the run record.

The plugin hands the exchange a failure names to :func:`keep`; the report plugin moves it onto the
test report, which pytest-xdist ships to the controller with the rest of the report.
"""

from __future__ import annotations

from typing import Any

import pytest

ATTACHMENTS: pytest.StashKey[list[dict[str, str]]] = pytest.StashKey()
REPORT_ATTRIBUTE = "chatconform_attachments"


def exchange_attachments(exchange: Any) -> list[dict[str, str]]:
    """An exchange as run-record attachments: the full transcript (raw SSE for a stream) and curl."""
    return [
        {"name": "exchange", "media_type": "text/plain", "content": exchange.transcript()},
        {"name": "curl", "media_type": "text/x-shellscript", "content": exchange.curl()},
    ]


def keep(item: pytest.Item, failure: BaseException | None) -> None:
    """Remember the exchange behind a failure, warning or harness problem of this test."""
    exchange = getattr(failure, "exchange", None)
    if exchange is not None:
        item.stash[ATTACHMENTS] = exchange_attachments(exchange)
