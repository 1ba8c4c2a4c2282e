"""The official OpenAI Python SDK as the client: what most programs run against an endpoint.

Every call goes through ``openai.OpenAI`` (``openai.AzureOpenAI`` under the azure profile) with an
``httpx.Client`` from chatconform.checks.sdk: the run's timeouts, body cap, give-up rule and
429/503 retries, every exchange recorded, redacted, counted in the cost and attached to its test.
Whatever the SDK raises where a call should succeed (a response it cannot parse, a stream its
helper crashes on) fails the test's own sdk.* requirement with the exception as what was received.

Skipped as a whole when ``openai`` is not installed (the ``sdk`` extra).
"""

from __future__ import annotations

import functools
import importlib.util
import secrets
import time

import pytest

for _needed in ("openai", "pydantic"):
    if importlib.util.find_spec(_needed) is None:
        pytest.skip(f"{_needed} is not installed (the sdk extra)", allow_module_level=True)

from chatconform.payloads import features as fp  # noqa: E402
from chatconform import payloads  # noqa: E402
from chatconform.checks import sdk as checks  # noqa: E402
from chatconform.checks.sdk import Recorder, outcome_of, result_of, sdk_call  # noqa: E402
from chatconform.checks.stored import route_missing  # noqa: E402
from chatconform.failures import ConformanceFailure, NotJudged, Unsupported  # noqa: E402


def openai_module():
    """The openai package, imported on first use: its types cost about a second of every collection.
    (Not a module-level name: pytest's fixture discovery reads every attribute of a test module.)"""
    import openai

    return openai

requirement = pytest.mark.requirement
capability = pytest.mark.capability

ECHO = [{"role": "user", "content": payloads.ECHO_PROMPT}]
TOKENS = payloads.MAX_TOKENS
WRONG_KEY = "sk-chatconform-deliberately-wrong-0000"
POLL_WAITS = (1.0, 2.0, 4.0)  # a hosted store may show a completion only shortly after it was created
DECLARED = {t["function"]["name"] for t in fp.TOOLS}


@functools.cache
def capital():
    """The Capital model (pydantic), built when first asked for."""
    import pydantic

    class Capital(pydantic.BaseModel):
        """The structured answer to fp.JSON_SCHEMA_PROMPT."""

        city: str
        country: str

    return Capital


@functools.cache
def get_weather():
    """The GetWeather model (pydantic), built when first asked for."""
    import pydantic

    class GetWeather(pydantic.BaseModel):
        """Current weather in a city."""

        city: str

    return GetWeather


# -- the SDK client ---------------------------------------------------------------------------------
class SDK:
    """One SDK client for the session, the recorder of its exchanges, and the chatconform client
    whose settings, redactor and cost it shares."""

    def __init__(self, target, client):
        self.target, self.cc = target, client
        self.recorder = Recorder()
        self.azure = target.profile.name == "azure"
        self.openai = self.make()

    def make(self, api_key=None):
        if self.azure:
            return _azure_client(self.target, self.cc, self.recorder, api_key=api_key)
        return checks.openai_client(self.target, self.cc, self.recorder, api_key=api_key)

    @property
    def completions(self):
        return self.openai.chat.completions

    def call(self, req, expected, where, **kwargs):
        return sdk_call(req, expected, self.recorder, self.cc, where=where, **kwargs)

    def helper(self, name):
        """chat.completions.<name> (stream, parse), or beta.chat.completions.<name> on older SDKs."""
        if hasattr(self.openai.chat.completions, name):  # asked first: ``beta`` imports a second SDK tree (~1 s)
            return getattr(self.openai.chat.completions, name)
        owner = getattr(getattr(getattr(self.openai, "beta", None), "chat", None), "completions", None)
        if owner is not None and hasattr(owner, name):
            return getattr(owner, name)
        pytest.skip(f"the installed openai {openai_module().__version__} has no chat.completions.{name}()")

    def method(self, owner, name):
        if not hasattr(owner, name):
            pytest.skip(f"the installed openai {openai_module().__version__} has no chat.completions.{name}()")
        return getattr(owner, name)


def _azure_client(target, chatconform, recorder, api_key=None):
    params = dict(getattr(target, "url_parameters", None) or {})
    key = target.api_key if api_key is None else api_key
    return openai_module().AzureOpenAI(
        azure_endpoint=target.base_url, azure_deployment=params.get("deployment") or target.model,
        api_version=params.get("api_version") or "2024-10-21", api_key=key or "chatconform-no-key",
        max_retries=0, timeout=checks.sdk_timeout(chatconform), default_headers=checks.extra_headers(target),
        http_client=checks.http_client(chatconform, recorder, {"api-key": key} if key else {}))


@pytest.fixture(scope="session")
def sdk(target, client):
    if target.profile.name != "azure" and hasattr(target, "url_for"):
        routed = target.url_for("/chat/completions")
        if routed.split("?")[0] != target.base_url.rstrip("/") + "/chat/completions":
            pytest.skip(f"profile {target.profile.name} routes /chat/completions to {routed}, "
                        "which openai.OpenAI(base_url=...) cannot address")
    made = SDK(target, client)
    yield made
    made.openai.close()


def _create(sdk, req, where="client.chat.completions.create()", unsupported=(), **params):
    body = {"model": sdk.target.model, "messages": ECHO, "max_completion_tokens": TOKENS, **params}
    with sdk.call(req, "a ChatCompletion", where, unsupported=unsupported):
        return sdk.completions.create(**body)


# -- one call, several aspects -------------------------------------------------------------------
# create() parsing, n, logprobs and the raw response's request id are aspects of one call, so they
# share one: with_raw_response.create() with n=2 and logprobs added when those tests will run. A
# test whose aspect does not pass on the shared call (it raised, or the check failed) is judged
# again on a call of its own, with only its own parameter: a failure is never caused by another
# test's parameter.
SHARED_TESTS = {"test_n_gives_that_many_choices": {"n": 2},
                "test_logprobs_come_typed": {"logprobs": True, "top_logprobs": fp.TOP_LOGPROBS}}


def _shared_params(request, target) -> dict:
    from chatconform.plugin.concurrency import will_run

    params: dict = {}
    for item in request.session.items:
        extra = SHARED_TESTS.get(getattr(item, "originalname", None) or "")
        if extra and item.module is request.module and will_run(item, target):
            params.update(extra)
    return params


@pytest.fixture
def shared_call(request, sdk, shared, pytestconfig):
    """judge(raw) on the session's shared raw create() call (the exchange attached to this test too),
    falling back to judge(raw) on ``own()`` (a raw call of this test's own) when it does not pass."""
    from chatconform.plugin.session import state

    params = _shared_params(request, sdk.target)
    body = {"model": sdk.target.model, "messages": ECHO, "max_completion_tokens": 8, **params}
    key = "sdk.shared-raw:" + ",".join(sorted(params))

    def made():
        outcome = outcome_of(lambda: sdk.completions.with_raw_response.create(**body), sdk.recorder)
        return outcome, sdk.recorder.last

    def run(judge, own):
        outcome, exchange = shared(key, made)
        if not isinstance(outcome, Exception):
            if exchange is not None:
                state(pytestconfig).used(exchange)  # the evidence of this test too
                sdk.recorder.exchanges.append(exchange)  # what a failure names (recorder.last)
            try:
                return judge(outcome)
            except ConformanceFailure:
                if not params:  # the shared call was this test's own request already
                    raise
        return judge(own())

    return run


def _raw(sdk, req, where, unsupported=(), **params):
    body = {"model": sdk.target.model, "messages": ECHO, "max_completion_tokens": 8, **params}
    with sdk.call(req, "a raw response", where, unsupported=unsupported):
        return sdk.completions.with_raw_response.create(**body)


def _parsed(sdk, raw, req, where):
    with sdk.call(req, "a ChatCompletion", where):
        return raw.parse()


# -- create and stream ------------------------------------------------------------------------
@requirement("sdk.create-parses")
def test_create_returns_a_chat_completion(sdk, shared_call):
    where = "client.chat.completions.with_raw_response.create().parse()"

    def judge(raw):
        checks.completion_readable(_parsed(sdk, raw, "sdk.create-parses", where), sdk.recorder, where)

    shared_call(judge, lambda: _raw(sdk, "sdk.create-parses", where))


@requirement("sdk.stream-iterator-consumes")
def test_the_stream_iterator_reads_every_chunk(sdk):
    where = "for chunk in client.chat.completions.create(stream=True)"
    with sdk.call("sdk.stream-iterator-consumes", "ChatCompletionChunk objects to the end of the stream", where):
        with sdk.completions.create(model=sdk.target.model, messages=ECHO, max_completion_tokens=TOKENS,
                                    stream=True) as stream:  # closed on any exit, so the exchange is complete
            chunks = list(stream)
    checks.chunks_readable(chunks, sdk.recorder, where)


def _helper_run(sdk, **params):
    """The streaming helper consumed to its end: its final completion (whatever it raises, raised)."""
    stream = sdk.helper("stream")
    body = {"model": sdk.target.model, "messages": ECHO, "max_completion_tokens": TOKENS, **params}
    with stream(**body) as events:
        for _ in events:
            pass
        return events.get_final_completion()


TOOL_REFUSALS = (("tools", "tools"), ("tools", "tool_choice"))


@requirement("sdk.stream-helper-consumes")
def test_the_stream_helper_assembles_the_answer(sdk):
    where = "with client.chat.completions.stream() as s: ...; s.get_final_completion()"
    with sdk.call("sdk.stream-helper-consumes", "the helper to consume the stream and assemble the completion", where):
        final = _helper_run(sdk)
    checks.final_completion_readable(final, sdk.recorder, where)


def _helper_tools(sdk, shared):
    """One streamed tool-call exchange for both helper tests: its final completion, or what the helper raised."""
    where = "with client.chat.completions.stream(tools=..., tool_choice='required') as s: ..."
    outcome = shared("sdk.helper-tools", lambda: outcome_of(lambda: _helper_run(
        sdk, messages=[{"role": "user", "content": fp.WEATHER_PROMPT}], tools=fp.TOOLS, tool_choice="required",
        max_completion_tokens=fp.TOOL_TOKENS), sdk.recorder))
    return outcome, where


@requirement("sdk.stream-helper-consumes")
@capability("tools")
def test_the_stream_helper_consumes_streamed_tool_calls(sdk, shared):
    outcome, where = _helper_tools(sdk, shared)
    with sdk.call("sdk.stream-helper-consumes", "the helper to consume a stream of tool-call deltas", where,
                  unsupported=TOOL_REFUSALS):
        final = result_of(outcome)
    checks.final_completion_readable(final, sdk.recorder, where, tools=True)


@requirement("sdk.stream-helper-tool-calls")
@capability("tools")
def test_the_stream_helper_assembles_the_tool_calls(sdk, shared):
    outcome, where = _helper_tools(sdk, shared)
    with sdk.call("sdk.stream-helper-tool-calls", "the helper to assemble the streamed tool calls", where,
                  unsupported=TOOL_REFUSALS):
        final = result_of(outcome)
    checks.assembled_tool_calls(final, DECLARED, sdk.recorder, where)


# -- tools and parse() -----------------------------------------------------------------------------
@requirement("sdk.tool-round-trip")
@capability("tools")
def test_a_tool_call_can_be_answered_through_the_sdk(sdk):
    req = "sdk.tool-round-trip"
    asked = [{"role": "user", "content": fp.WEATHER_PROMPT}]
    first = _create(sdk, req, "client.chat.completions.create(tools=..., tool_choice='required')",
                    unsupported=TOOL_REFUSALS, messages=asked, tools=fp.TOOLS,
                    tool_choice="required", max_completion_tokens=fp.TOOL_TOKENS)
    with sdk.call(req, "a message with tool calls", "completion.choices[0].message.tool_calls"):
        message = first.choices[0].message
        calls = message.tool_calls
    if not calls:
        pytest.skip("tool_choice=required gave no tool call to answer (see tool.choice-required)")
    checks.tool_arguments(calls, sdk.recorder, "json.loads(call.function.arguments)")
    # the SDK idiom: the returned message object goes back into the conversation as it is
    conversation = [*asked, message, *({"role": "tool", "tool_call_id": c.id, "content": fp.TOOL_RESULT} for c in calls)]
    answer = _create(sdk, req, "client.chat.completions.create(messages=[..., message, tool results])",
                     messages=conversation, tools=fp.TOOLS, max_completion_tokens=fp.REPLY_TOKENS)
    with sdk.call(req, "an answer to the tool results", "the completion after the tool messages"):
        content = answer.choices[0].message.content
    if not isinstance(content, str) or not content:
        raise ConformanceFailure(req, "a text answer after the tool results", repr(content),
                                        sdk.recorder.last, where="the completion after the tool messages")


@requirement("sdk.parse-structured")
@capability("json_schema")
def test_parse_returns_the_pydantic_model(sdk):
    parse = sdk.helper("parse")
    where = "client.chat.completions.parse(response_format=Capital)"
    with sdk.call("sdk.parse-structured", "a ParsedChatCompletion with message.parsed", where,
                  unsupported=(("json_schema", "response_format"),)):
        completion = parse(model=sdk.target.model, messages=[{"role": "user", "content": fp.JSON_SCHEMA_PROMPT}],
                           response_format=capital(), max_completion_tokens=fp.JSON_TOKENS)
    checks.parsed_instance(completion, capital(), sdk.recorder, where)


@requirement("sdk.parse-tool-arguments")
@capability("tools")
def test_parse_returns_tool_arguments_as_the_pydantic_model(sdk):
    parse = sdk.helper("parse")
    where = "client.chat.completions.parse(tools=[openai.pydantic_function_tool(GetWeather)], tool_choice='required')"
    tool = openai_module().pydantic_function_tool(get_weather(), name="get_weather", description="Current weather in a city.")
    with sdk.call("sdk.parse-tool-arguments", "a ParsedChatCompletion with parsed tool arguments", where,
                  unsupported=TOOL_REFUSALS):
        completion = parse(model=sdk.target.model, messages=[{"role": "user", "content": fp.WEATHER_PROMPT}],
                           tools=[tool], tool_choice="required", max_completion_tokens=fp.TOOL_TOKENS)
    checks.parsed_arguments(completion, get_weather(), sdk.recorder, where)


# -- n, logprobs, headers ---------------------------------------------------------------------
@requirement("sdk.n-choices")
@capability("n")
def test_n_gives_that_many_choices(sdk, shared_call):
    where = "client.chat.completions.create(n=2)"

    def judge(raw):
        checks.n_choices(_parsed(sdk, raw, "sdk.n-choices", where), 2, sdk.recorder, where)

    shared_call(judge, lambda: _raw(sdk, "sdk.n-choices", where, unsupported=(("n", "n"),), n=2))


@requirement("sdk.logprobs-typed")
@capability("logprobs")
def test_logprobs_come_typed(sdk, shared_call):
    where = "client.chat.completions.create(logprobs=True, top_logprobs=2)"

    def judge(raw):
        completion = _parsed(sdk, raw, "sdk.logprobs-typed", where)
        with sdk.call("sdk.logprobs-typed", "choices[0].logprobs.content", where):
            checks.logprobs_typed(completion, fp.TOP_LOGPROBS, sdk.recorder, where)

    shared_call(judge, lambda: _raw(sdk, "sdk.logprobs-typed", where,
                                    unsupported=(("logprobs", "logprobs"), ("logprobs", "top_logprobs")),
                                    logprobs=True, top_logprobs=fp.TOP_LOGPROBS))


@requirement("sdk.raw-response-headers")
@capability("request_id")
def test_the_raw_response_exposes_the_request_id(sdk, shared_call):
    where = "client.chat.completions.with_raw_response.create()"
    header = getattr(sdk.target.profile, "request_id_header", None) or "x-request-id"

    def judge(raw):
        with sdk.call("sdk.raw-response-headers", "a raw response whose parse() is the ChatCompletion", where):
            checks.raw_request_id(raw, sdk.recorder, where, header)

    shared_call(judge, lambda: _raw(sdk, "sdk.raw-response-headers", where))


# -- stored completions ------------------------------------------------------------------------
STORED_UNSUPPORTED = (("store", "store"), ("store", "metadata"))


def _stored(sdk, shared, req):
    """The session's stored completion, created with a metadata mark of its own (so a listing
    filtered by it finds this completion among an account's others)."""
    mark = shared("sdk.stored-mark", lambda: secrets.token_hex(6))
    outcome = shared("sdk.stored", lambda: outcome_of(lambda: sdk.completions.create(
        model=sdk.target.model, messages=fp.STORED_MESSAGES, max_completion_tokens=TOKENS, store=True,
        metadata={"chatconform": mark}), sdk.recorder))
    with sdk.call(req, "a ChatCompletion created with store true", "client.chat.completions.create(store=True)",
                  unsupported=STORED_UNSUPPORTED):
        created = result_of(outcome)
        if not getattr(created, "id", None):
            pytest.skip("the store: true completion has no id (see response.id-present)")
    return created, {"chatconform": mark}


def _polled(call):
    """call(), retried a few times while it raises NotFoundError (a store that lags behind)."""
    for wait in POLL_WAITS:
        try:
            return call()
        except openai_module().NotFoundError:
            time.sleep(wait)
    return call()


@requirement("sdk.stored-retrieve")
@capability("store")
def test_retrieve_returns_the_stored_completion(sdk, shared):
    created, _ = _stored(sdk, shared, "sdk.stored-retrieve")
    where = "client.chat.completions.retrieve(id)"
    with sdk.call("sdk.stored-retrieve", "the stored ChatCompletion", where,
                  route="GET /chat/completions/{completion_id}"):
        retrieved = _polled(lambda: sdk.completions.retrieve(created.id))
    checks.retrieved_same(retrieved, created, sdk.recorder, where)


@requirement("sdk.stored-messages")
@capability("store")
def test_messages_list_gives_the_requests_messages(sdk, shared):
    created, _ = _stored(sdk, shared, "sdk.stored-messages")
    where = "client.chat.completions.messages.list(id)"
    messages = sdk.method(sdk.completions, "messages")
    with sdk.call("sdk.stored-messages", "a page of the stored messages", where,
                  route="GET /chat/completions/{completion_id}/messages"):
        page = _polled(lambda: messages.list(created.id))
        checks.listed_messages(page, fp.STORED_MESSAGES, sdk.recorder, where)


@requirement("sdk.stored-list")
@capability("store")
def test_list_finds_the_stored_completion_by_metadata(sdk, shared):
    created, metadata = _stored(sdk, shared, "sdk.stored-list")
    where = "client.chat.completions.list(metadata={'chatconform': mark})"
    listing = sdk.method(sdk.completions, "list")
    with sdk.call("sdk.stored-list", "a page holding the stored completion", where, route="GET /chat/completions"):
        page = listing(metadata=metadata, limit=5)
        for wait in POLL_WAITS:  # a hosted store may list a new completion only after a moment
            if created.id in [getattr(c, "id", None) for c in getattr(page, "data", None) or []]:
                break
            time.sleep(wait)
            page = listing(metadata=metadata, limit=5)
        checks.listed_completion(page, created.id, sdk.recorder, where)


@requirement("sdk.stored-update")
@capability("store")
def test_update_sets_the_metadata(sdk, shared):
    created, metadata = _stored(sdk, shared, "sdk.stored-update")
    where = "client.chat.completions.update(id, metadata=...)"
    update = sdk.method(sdk.completions, "update")
    new = {**metadata, "updated": "yes"}
    with sdk.call("sdk.stored-update", "the ChatCompletion with its new metadata", where,
                  route="POST /chat/completions/{completion_id}"):
        updated = _polled(lambda: update(created.id, metadata=new))
        checks.updated_metadata(updated, new, sdk.recorder, where)


@requirement("sdk.stored-delete")
@capability("store")
def test_delete_removes_the_stored_completion(sdk):
    req = "sdk.stored-delete"
    delete = sdk.method(sdk.completions, "delete")
    where = "client.chat.completions.delete(id)"
    # a completion of its own: the shared one may still be read by tests running after this one
    with sdk.call(req, "a ChatCompletion created with store true", "client.chat.completions.create(store=True)",
                  unsupported=STORED_UNSUPPORTED):
        created = sdk.completions.create(model=sdk.target.model, messages=ECHO, max_completion_tokens=4, store=True)
    with sdk.call(req, "a ChatCompletionDeleted", where, route="DELETE /chat/completions/{completion_id}"):
        result = _polled(lambda: delete(created.id))
    after = outcome_of(lambda: sdk.completions.retrieve(created.id), sdk.recorder)
    with sdk.call(req, "ChatCompletionDeleted, then NotFoundError", where):
        checks.deleted(result, created.id, after, sdk.recorder, where)


# -- errors as typed exceptions -----------------------------------------------------------------
@requirement("sdk.error-authentication")
def test_a_wrong_key_raises_authentication_error(sdk):
    if not sdk.target.api_key:
        pytest.skip("the target is used without a key, so a wrong one proves nothing")
    sdk.cc.redactor.add_public(WRONG_KEY)
    wrong = sdk.make(api_key=WRONG_KEY)
    try:
        outcome = outcome_of(lambda: wrong.chat.completions.create(
            model=sdk.target.model, messages=ECHO, max_completion_tokens=4), sdk.recorder)
    finally:
        wrong.close()
    sent = getattr(outcome, "chatconform_exchange", None) or sdk.recorder.last
    if sent is not None and sent.problem_kind == "budget":  # a run limit kept it from being sent
        raise NotJudged("sdk.error-authentication", str(sent.problem), sent)
    checks.authentication_error(outcome, sdk.recorder, "OpenAI(api_key=<wrong>).chat.completions.create()")


def _temperature_3(sdk, shared, mode):
    body = {"model": sdk.target.model, "messages": ECHO, "max_completion_tokens": 4, "temperature": 3}
    if mode == "stream":
        body["stream"] = True
    return shared(f"sdk.temperature-3.{mode}", lambda: outcome_of(lambda: sdk.completions.create(**body),
                                                                   sdk.recorder))


@requirement("sdk.error-bad-request")
@pytest.mark.parametrize("mode", ["create", "stream"])
def test_an_invalid_request_raises_bad_request_error(sdk, shared, mode):
    where = f"client.chat.completions.create(temperature=3{', stream=True' if mode == 'stream' else ''})"
    checks.bad_request_error(_temperature_3(sdk, shared, mode), sdk.recorder, where)


@requirement("sdk.error-param")
def test_the_bad_request_error_names_the_parameter(sdk, shared):
    outcome = _temperature_3(sdk, shared, "create")
    if not isinstance(outcome, openai_module().APIStatusError):
        pytest.skip("temperature 3 raised no status error (see sdk.error-bad-request)")
    checks.error_param(outcome, "temperature", sdk.recorder, "client.chat.completions.create(temperature=3)")


@requirement("sdk.error-not-found")
@capability("store")
def test_an_unknown_stored_id_raises_not_found_error(sdk):
    where = f"client.chat.completions.retrieve({fp.NEVER_ISSUED_ID!r})"
    outcome = outcome_of(lambda: sdk.completions.retrieve(fp.NEVER_ISSUED_ID), sdk.recorder)
    exchange = sdk.recorder.last
    if exchange is not None and exchange.status is not None and route_missing(exchange):
        raise Unsupported("store", f"GET /chat/completions/{{completion_id}} is not served: "
                                          f"{exchange.excerpt(200)}")
    checks.not_found_error(outcome, sdk.recorder, where)


# -- Azure ----------------------------------------------------------------------------------------
@requirement("sdk.create-parses")
def test_azure_openai_reaches_the_deployment(sdk):
    """Under the azure profile every test here runs through openai.AzureOpenAI; this one says so
    by name: the client, the deployment route it builds, and a parsed answer from it."""
    if not sdk.azure:
        pytest.skip(f"AzureOpenAI is used only under the azure profile (this run: profile {sdk.target.profile.name}); "
                    "sdk.create-parses is judged through openai.OpenAI by test_create_returns_a_chat_completion")
    assert isinstance(sdk.openai, openai_module().AzureOpenAI)
    where = "AzureOpenAI(azure_endpoint, azure_deployment, api_version).chat.completions.create()"
    completion = _create(sdk, "sdk.create-parses", where)
    url = sdk.recorder.last.url if sdk.recorder.last else ""
    assert "/openai/deployments/" in url and "api-version=" in url, url  # the SDK's own routing, not the target's
    checks.completion_readable(completion, sdk.recorder, where)
