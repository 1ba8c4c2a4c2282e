"""The official `openai` SDK against `chatconform serve` (skipped without the `sdk` extra):
the stored-completion calls against the default profile, AzureOpenAI against --profile azure."""

from __future__ import annotations

import pytest

from chatconform.embedded import EmbeddedServer

openai = pytest.importorskip("openai")
KEY = "sk-sdk"
MESSAGES = [{"role": "user", "content": "Repeat exactly: alpha beta"}]


@pytest.fixture(scope="module")
def served():
    with EmbeddedServer(KEY, models=["m"]) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def azure():
    with EmbeddedServer(KEY, profile="azure") as server:
        yield server.base_url


def test_stored_completion_calls(served):
    client = openai.OpenAI(base_url=served, api_key=KEY, max_retries=0)
    created = client.chat.completions.create(model="m", messages=MESSAGES, store=True, metadata={"run": "sdk"})
    assert client.chat.completions.retrieve(created.id).id == created.id
    assert [c.id for c in client.chat.completions.list(metadata={"run": "sdk"}, limit=5).data] == [created.id]
    assert client.chat.completions.update(created.id, metadata={"run": "sdk", "k": "v"}).metadata["k"] == "v"
    assert [m.content for m in client.chat.completions.messages.list(created.id).data] == [MESSAGES[0]["content"]]
    deleted = client.chat.completions.delete(created.id)
    assert deleted.deleted is True and deleted.id == created.id
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.retrieve(created.id)
    assert [m.id for m in client.models.list()] == ["m"] and client.models.retrieve("m").owned_by


def test_azure_client_creates_streams_and_gets_typed_errors(azure):
    client = openai.AzureOpenAI(azure_endpoint=azure, api_version="2024-10-21", api_key=KEY, max_retries=0)
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.model == "gpt-4o" and completion.choices[0].message.content
    assert completion.model_extra["prompt_filter_results"][0]["prompt_index"] == 0
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert chunks[0].choices == []  # Azure's prompt-annotation chunk
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content
    wrong = openai.AzureOpenAI(azure_endpoint=azure, api_version="2024-10-21", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=9)
