"""Completions created with `store: true`, kept in memory (bounded, oldest dropped first).

The store holds the exact response dict that was sent, so a GET returns identical JSON, and the
request messages, which GET .../messages lists with ids `<completion_id>-<index>`.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass

from chatconform.reference.generator import message_text


@dataclass
class Stored:
    completion: dict
    messages: list[dict]


def _listed_message(completion_id: str, index: int, message: dict) -> dict:
    content = message.get("content")
    entry = {
        "id": f"{completion_id}-{index}",
        "role": message["role"],
        "content": content if isinstance(content, str) or content is None else message_text(message),
        "refusal": message.get("refusal") if isinstance(message.get("refusal"), str) else None,
    }
    if isinstance(content, list):
        # the listing schema knows text and image parts; audio and file parts are not echoed back
        entry["content_parts"] = [copy.deepcopy(p) for p in content if p.get("type") in ("text", "image_url")]
    for key in ("name", "tool_calls", "tool_call_id", "function_call"):
        if key in message and message[key] is not None:
            entry[key] = copy.deepcopy(message[key])
    return entry


class CompletionStore:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[str, Stored] = OrderedDict()

    def put(self, completion: dict, messages: list[dict]) -> None:
        cid = completion["id"]
        listed = [_listed_message(cid, i, m) for i, m in enumerate(messages)]
        self._items[cid] = Stored(copy.deepcopy(completion), listed)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def get(self, completion_id: str) -> Stored | None:
        return self._items.get(completion_id)

    @staticmethod
    def page(messages: list[dict], after: str | None, limit: int, order: str) -> dict | None:
        """One page of a stored completion's messages; None when `after` names no message."""
        ordered = messages if order == "asc" else list(reversed(messages))
        start = 0
        if after is not None:
            ids = [m["id"] for m in ordered]
            if after not in ids:
                return None
            start = ids.index(after) + 1
        data = ordered[start:start + limit]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": start + limit < len(ordered),
        }
