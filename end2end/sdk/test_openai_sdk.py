"""The official `openai` Python SDK against a running Gatehouse (started by scripts/test.sh)."""

import json
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


# The same OpenAI-SDK calls against four wire formats behind the gateway: OpenAI, Anthropic
# Messages, Gemini generateContent and Bedrock Converse (each a loopback mock of that
# provider's API; Bedrock's checks every SigV4 signature).
BACKENDS = ["gpt-4o-mini", "claude", "gemini", "bedrock"]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city now",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.mark.parametrize("model", BACKENDS)
def test_chat_with_tools_round_trip(model):
    sdk = client(new_key())
    reply = sdk.chat.completions.create(
        model=model, messages=WEATHER_QUESTION, tools=[WEATHER_TOOL]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    answered = sdk.chat.completions.create(
        model=model,
        tools=[WEATHER_TOOL],
        messages=WEATHER_QUESTION
        + [
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "18°C and sunny"},
        ],
    )
    assert answered.choices[0].finish_reason == "stop"
    assert answered.choices[0].message.content == REPLY


@pytest.mark.parametrize("model", BACKENDS)
def test_stream_with_tools(model):
    stream = client(new_key()).chat.completions.create(
        model=model,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    calls = {}
    finish = None
    for chunk in chunks:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"name": "", "arguments": ""})
            if call.function.name:
                entry["name"] = call.function.name
            entry["arguments"] += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}
    assert chunks[-1].usage.prompt_tokens > 0


@pytest.mark.parametrize("model", BACKENDS)
def test_plain_stream_and_usage(model):
    chunks = list(
        client(new_key()).chat.completions.create(
            model=model,
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == REPLY
    assert chunks[-1].usage.completion_tokens == 5


def test_a_capability_the_model_lacks_is_a_bad_request():
    with pytest.raises(openai.BadRequestError) as raised:
        client(new_key()).chat.completions.create(
            model="no-tools", messages=WEATHER_QUESTION, tools=[WEATHER_TOOL]
        )
    assert raised.value.body["param"] == "tools"
    assert "tools (function calling)" in raised.value.body["message"]


def test_embeddings():
    result = client(new_key()).embeddings.create(
        model="embed", input=["a cat", "a dog", "a bird"], dimensions=16
    )
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(len(item.embedding) == 16 for item in result.data)
    assert result.usage.prompt_tokens == 30
    with pytest.raises(openai.BadRequestError) as raised:
        client(new_key()).embeddings.create(model="gpt-4o-mini", input="x")
    assert raised.value.body["code"] == "unsupported_capability"
