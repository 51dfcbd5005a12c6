"""The official `openai` Python SDK against a running Gatehouse (started by scripts/test.sh)."""

import os
import time

import httpx
import openai
import pytest

BASE = os.environ["GATEHOUSE_URL"]
MASTER = os.environ["GATEHOUSE_MASTER_KEY"]
REPLY = "Hello from the mock upstream."


def new_key(**body):
    response = httpx.post(
        f"{BASE}/key/generate", headers={"Authorization": f"Bearer {MASTER}"}, json=body
    )
    response.raise_for_status()
    return response.json()["key"]


def client(key):
    return openai.OpenAI(base_url=f"{BASE}/v1", api_key=key, max_retries=0)


HELLO = [{"role": "user", "content": "Hello"}]


def test_chat_completion_with_a_generated_key():
    key = new_key(models=["gpt-4o-mini"], key_alias="sdk-chat")
    reply = client(key).chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert reply.choices[0].message.content == REPLY
    assert reply.usage.prompt_tokens == 10
    assert reply.usage.completion_tokens == 5


def test_streaming_chat_completion():
    key = new_key()
    chunks = list(
        client(key).chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True)
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == REPLY
    assert all(chunk.usage is None for chunk in chunks)

    with_usage = list(
        client(key).chat.completions.create(
            model="gpt-4o-mini",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert with_usage[-1].usage.completion_tokens == 5


def test_a_wrong_key_is_an_authentication_error():
    with pytest.raises(openai.AuthenticationError) as raised:
        client("sk-this-key-does-not-exist-000000").chat.completions.create(
            model="gpt-4o-mini", messages=HELLO
        )
    assert raised.value.status_code == 401
    assert raised.value.body["type"] == "authentication_error"


def test_an_unknown_model_is_not_found():
    with pytest.raises(openai.NotFoundError):
        client(new_key()).chat.completions.create(model="no-such-model", messages=HELLO)


def test_an_upstream_failure_is_a_server_error():
    with pytest.raises(openai.InternalServerError) as raised:
        client(new_key()).chat.completions.create(model="fail-500", messages=HELLO)
    assert raised.value.status_code == 502


def test_models_lists_the_keys_models():
    models = client(new_key(models=["gpt-4o-mini"])).models.list()
    assert [model.id for model in models.data] == ["gpt-4o-mini"]


def test_n_requests_give_n_spend_rows_adding_up_to_the_key_spend():
    key = new_key()
    for index in range(5):
        if index % 2 == 0:
            stream = client(key).chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, stream=True
            )
            assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == REPLY
        else:
            client(key).chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    headers = {"Authorization": f"Bearer {MASTER}"}
    deadline = time.time() + 10
    while True:
        logs = httpx.get(f"{BASE}/spend/logs", params={"api_key": key}, headers=headers).json()
        if len(logs) >= 5 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert len(logs) == 5
    info = httpx.get(f"{BASE}/key/info", params={"key": key}, headers=headers).json()["info"]
    assert sum(row["spend_micros"] for row in logs) == info["spend_micros"]
    assert info["spend_micros"] > 0
