"""Completions created with `store: true`, kept in memory (bounded, oldest dropped first).

The store holds the exact response dict that was sent, so a GET returns identical JSON, and the
request messages, which GET .../messages lists with ids `<completion_id>-<index>`. Insertion
order is creation order: the list endpoint pages over it (asc = oldest first, as OpenAI).
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

    def update_metadata(self, completion_id: str, metadata: dict | None) -> dict | None:
        """The stored completion with its metadata replaced (OpenAI's only modification)."""
        found = self._items.get(completion_id)
        if found is None:
            return None
        found.completion["metadata"] = copy.deepcopy(metadata)
        return found.completion

    def delete(self, completion_id: str) -> bool:
        return self._items.pop(completion_id, None) is not None

    def completions(self, model: str | None, metadata: dict[str, str]) -> list[dict]:
        """Stored completions (oldest first) of `model` whose metadata holds every given pair."""
        out = []
        for item in self._items.values():
            c = item.completion
            held = c.get("metadata") or {}
            if model is not None and c.get("model") != model:
                continue
            if all(held.get(k) == v for k, v in metadata.items()):
                out.append(c)
        return out

    @staticmethod
    def page(messages: list[dict], after: str | None, limit: int, order: str) -> dict | None:
        """One page of a list (a completion's messages, or completions); None when `after`
        names no item."""
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
