"""Deterministic "model": what the reference server answers to a validated request.

Rules (the suite relies on them; real models answer the same prompts the same way):

* Echo. If the last user message's text contains a colon and words follow the LAST colon, the
  reply is exactly those words joined by single spaces ("Repeat exactly: one two three" answers
  "one two three"). Otherwise the reply is 8..16 vocabulary words picked by SHA-256 of
  (messages, seed, choice index): same request and seed, same words; another seed, other words.
* `stop`: the content is cut before the earliest occurrence of any stop string (empty stop
  strings are ignored); finish_reason "stop".
* `max_completion_tokens` (or the deprecated `max_tokens`, used only when the former is absent):
  at most that many tokens, finish_reason "length" if the reply was cut.
* `logit_bias`: -100 bans a token (echo mode drops it, vocabulary mode picks another word);
  +100 forces it (every position emits the forced token; several forced tokens take turns).
  Only tokens with known text can be forced: vocabulary words and words of the prompt. Biases
  strictly between -100 and 100 have no effect.
* `temperature`, `top_p`, `presence_penalty`, `frequency_penalty`, `reasoning_effort`, `verbosity`,
  `prediction`, `service_tier` and friends are validated by the app but have no effect here:
  there is no distribution to reshape.
* Tools: tool_choice "none" answers with text; "required" calls every declared tool (only the
  first when parallel_tool_calls is false); a named choice calls that tool; "auto" (the default
  with tools) calls the first tool when the last message is a user message and answers with
  text otherwise, i.e. after a tool result. Deprecated functions/function_call follow the same
  rule and answer with message.function_call. Arguments are an instance of the parameters schema.
* response_format json_object answers `{"answer": "<reply words>"}`; json_schema answers an
  instance of json_schema.schema.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from chatconform.reference.errors import APIError
from chatconform.reference.instances import instance_for
from chatconform.reference.tokens import (
    VOCABULARY,
    VOCABULARY_SIZE,
    Token,
    count_words,
    split_pieces,
    token_id,
    word_tokens,
)


@dataclass
class Call:
    """A tool call or a deprecated function call, already serialised."""

    id: str
    name: str
    arguments: str
    pieces: list[Token]


@dataclass
class Choice:
    index: int
    content: str | None
    tokens: list[Token] = field(default_factory=list)
    tool_calls: list[Call] = field(default_factory=list)
    function_call: Call | None = None
    finish_reason: str = "stop"
    logprobs: list[dict] | None = None  # one TokenLogprob per token, when requested

    @property
    def completion_tokens(self) -> int:
        calls = self.tool_calls + ([self.function_call] if self.function_call else [])
        return len(self.tokens) + sum(len(c.pieces) for c in calls)


@dataclass
class Generation:
    choices: list[Choice]
    prompt_tokens: int
    logprobs: bool

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)


def message_text(message: dict) -> str:
    """The plain text of a message: a string content, or its text/refusal parts joined."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text", part.get("refusal"))
                if isinstance(text, str):
                    texts.append(text)
        return " ".join(texts)
    return ""


def prompt_tokens(messages: list[dict]) -> int:
    return max(1, sum(count_words(message_text(m)) for m in messages))


def check_context(request: dict, context_tokens: int) -> None:
    """A conversation longer than the context window is refused, never silently truncated (OpenAI:
    400 context_length_exceeded, param messages)."""
    used = prompt_tokens(request["messages"])
    if used > context_tokens:
        raise APIError(400, f"This model's maximum context length is {context_tokens} tokens. However, your "
                            f"messages resulted in {used} tokens. Please reduce the length of the messages.",
                       param="messages", code="context_length_exceeded")


def _digest(*parts: Any) -> bytes:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).digest()


def _number(digest: bytes, *salt: Any) -> int:
    return int.from_bytes(_digest(digest.hex(), *salt)[:8], "big")


class _Bias:
    def __init__(self, logit_bias: dict | None, messages: list[dict]):
        bias = {int(k): v for k, v in (logit_bias or {}).items()}
        self.banned = {t for t, v in bias.items() if v <= -100}
        self.forced: list[str] = []
        if not any(v >= 100 for v in bias.values()):
            return  # nothing forced: the prompt's words need no ids (most requests)
        known = dict(enumerate(VOCABULARY))
        for message in messages:
            for word in message_text(message).split():
                known.setdefault(token_id(word), word)
        self.forced = [known[t] for t in sorted(bias) if bias[t] >= 100 and t in known]

    def apply_echo(self, words: list[str]) -> list[str]:
        if self.forced:
            return [self.forced[k % len(self.forced)] for k in range(len(words))]
        return [w for w in words if token_id(w) not in self.banned]


def _vocabulary_words(digest: bytes, bias: _Bias) -> list[str]:
    length = 8 + _number(digest, "length") % 9
    if bias.forced:
        return [bias.forced[k % len(bias.forced)] for k in range(length)]
    words = []
    for position in range(length):
        start = _number(digest, "word", position) % VOCABULARY_SIZE
        for step in range(VOCABULARY_SIZE):
            candidate = (start + step) % VOCABULARY_SIZE
            if candidate not in bias.banned:
                words.append(VOCABULARY[candidate])
                break
    return words


def _echo_words(messages: list[dict]) -> list[str] | None:
    users = [m for m in messages if m.get("role") == "user"]
    if not users:
        return None
    text = message_text(users[-1])
    if ":" not in text:
        return None
    words = text.rsplit(":", 1)[1].split()
    return words or None


def _cut(tokens: list[Token], stops: list[str], limit: int | None) -> tuple[list[Token], str]:
    """Apply stop sequences, then the token cap; returns the kept tokens and finish_reason."""
    text = "".join(t.text for t in tokens)
    positions = [text.find(s) for s in stops if s]
    positions = [p for p in positions if p >= 0]
    if positions:
        cut = min(positions)
        kept, offset = [], 0
        for token in tokens:
            end = offset + len(token.text)
            if end <= cut:
                kept.append(token)
            elif offset < cut:
                kept.append(Token.of(token.text[: cut - offset]))
            offset = end
        tokens = kept
    if limit is not None and len(tokens) > limit:
        return tokens[:limit], "length"
    return tokens, "stop"


def _logprobs(tokens: list[Token], digest: bytes, top: int, banned: set[int]) -> list[dict]:
    entries = []
    for position, token in enumerate(tokens):
        h = _number(digest, "logprob", position, token.text)
        chosen = -round((h % 1000) / 2000, 6)
        lead = token.text[: len(token.text) - len(token.text.lstrip())]
        alternatives = [{"token": token.text, "logprob": chosen, "bytes": list(token.text.encode("utf-8"))}]
        start = h % VOCABULARY_SIZE
        step = 0
        while len(alternatives) < top and step < VOCABULARY_SIZE:
            index = (start + step) % VOCABULARY_SIZE
            step += 1
            text = lead + VOCABULARY[index]
            if index in banned or any(a["token"] == text for a in alternatives):
                continue
            # strictly below the chosen token and each other: chosen is always the most likely
            jitter = _number(digest, "alternative", position, len(alternatives)) % 500 / 1000
            logprob = round(chosen - 0.75 * len(alternatives) - jitter, 6)
            alternatives.append({"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))})
        entries.append({**alternatives[0], "top_logprobs": alternatives[:top]})
    return entries


def _stops(request: dict) -> list[str]:
    stop = request.get("stop")
    if isinstance(stop, str):
        return [stop]
    return [s for s in stop or [] if isinstance(s, str)]


def _limit(request: dict) -> int | None:
    limit = request.get("max_completion_tokens")
    if limit is None:
        limit = request.get("max_tokens")
    return limit


def _planned_calls(request: dict) -> tuple[str, list[dict]]:
    """Which calls the reply makes: ("tool_calls", tools), ("function_call", [fn]) or ("text", [])."""
    messages = request["messages"]
    last_is_user = messages[-1].get("role") == "user"
    tools = [t for t in request.get("tools") or [] if isinstance(t, dict)]
    if tools:
        choice = request.get("tool_choice")
        if choice is None:
            choice = "auto"
        parallel = request.get("parallel_tool_calls", True) is not False
        if choice == "none":
            return "text", []
        if choice == "required":
            return "tool_calls", tools if parallel else tools[:1]
        if choice == "auto":
            return ("tool_calls", tools[:1]) if last_is_user else ("text", [])
        named = choice["function"]["name"]
        return "tool_calls", [t for t in tools if t["function"]["name"] == named][:1]
    functions = [f for f in request.get("functions") or [] if isinstance(f, dict)]
    if functions:
        choice = request.get("function_call", "auto")
        if choice == "auto" and last_is_user:
            return "function_call", functions[:1]
        if isinstance(choice, dict):
            return "function_call", [f for f in functions if f.get("name") == choice.get("name")][:1]
    return "text", []


def _call(spec: dict, salt: str, prefix: str) -> Call:
    function = spec.get("function", spec)  # a tool wraps the function; a deprecated function is bare
    arguments = json.dumps(instance_for(function.get("parameters"), salt))
    return Call(id=f"{prefix}{uuid.uuid4().hex[:24]}", name=function["name"], arguments=arguments,
                pieces=split_pieces(arguments))


def _truncate_calls(calls: list[Call], limit: int | None) -> tuple[list[Call], bool]:
    if limit is None:
        return calls, False
    kept, budget, cut = [], limit, False
    for call in calls:
        if len(call.pieces) > budget:
            pieces = call.pieces[:budget]
            call = Call(call.id, call.name, "".join(p.text for p in pieces), pieces)
            cut = True
        budget -= len(call.pieces)
        kept.append(call)
        if cut:
            break
    return kept, cut


def _reply_text(words: list[str], request: dict, digest: bytes) -> list[Token]:
    response_format = request.get("response_format") or {}
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return split_pieces(json.dumps({"answer": " ".join(words)}))
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema is None:
            return split_pieces(json.dumps({"answer": " ".join(words)}))
        return split_pieces(json.dumps(instance_for(schema, digest.hex())))
    return word_tokens(words)


def generate(request: dict) -> Generation:
    """The reply to a request that already passed schema and semantic validation."""
    messages = request["messages"]
    n = request.get("n") or 1
    want_logprobs = request.get("logprobs") is True
    top = request.get("top_logprobs") or 0
    bias = _Bias(request.get("logit_bias"), messages)
    echo = _echo_words(messages)
    stops = _stops(request)
    limit = _limit(request)
    mode, targets = _planned_calls(request)
    choices = []
    for index in range(n):
        digest = _digest(messages, request.get("seed"), index)
        choice = Choice(index=index, content=None)
        if mode == "text":
            words = bias.apply_echo(echo) if echo is not None else _vocabulary_words(digest, bias)
            tokens, choice.finish_reason = _cut(_reply_text(words, request, digest), stops, limit)
            choice.tokens = tokens
            choice.content = "".join(t.text for t in tokens)
            if want_logprobs:
                choice.logprobs = _logprobs(tokens, digest, top, bias.banned)
        else:
            calls = [_call(t, f"{digest.hex()}:{i}", "call_") for i, t in enumerate(targets)]
            calls, cut = _truncate_calls(calls, limit)
            if mode == "tool_calls":
                choice.tool_calls = calls
                choice.finish_reason = "length" if cut else "tool_calls"
            else:
                choice.function_call = calls[0]
                choice.finish_reason = "length" if cut else "function_call"
        choices.append(choice)
    return Generation(choices=choices, prompt_tokens=prompt_tokens(messages), logprobs=want_logprobs)
