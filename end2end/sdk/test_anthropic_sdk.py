"""The official `anthropic` Python SDK against a running Gatehouse's `/v1/messages` (started by
scripts/test.sh), served by an Anthropic backend and by an OpenAI backend."""

import os

import anthropic
import httpx
import pytest

BASE = os.environ["GATEHOUSE_URL"]
MASTER = os.environ["GATEHOUSE_MASTER_KEY"]
REPLY = "Hello from the mock upstream."
# The same Anthropic-SDK calls reach Anthropic's Messages API and OpenAI's chat API.
BACKENDS = ["claude", "gpt-4o-mini"]

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city now",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]


def new_key():
    response = httpx.post(
        f"{BASE}/key/generate", headers={"Authorization": f"Bearer {MASTER}"}, json={}
    )
    response.raise_for_status()
    return response.json()["key"]


def client(key):
    return anthropic.Anthropic(base_url=BASE, api_key=key, max_retries=0)


@pytest.mark.parametrize("model", BACKENDS)
def test_text_message(model):
    message = client(new_key()).messages.create(
        model=model,
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == REPLY
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 5
    assert message.usage.input_tokens > 0


@pytest.mark.parametrize("model", BACKENDS)
def test_streamed_message(model):
    with client(new_key()).messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "Hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == REPLY
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5


@pytest.mark.parametrize("model", BACKENDS)
def test_tool_use_round_trip(model):
    sdk = client(new_key())
    message = sdk.messages.create(
        model=model, max_tokens=200, tools=[WEATHER_TOOL], messages=QUESTION
    )
    assert message.stop_reason == "tool_use"
    tool_use = next(block for block in message.content if block.type == "tool_use")
    assert tool_use.name == "get_weather"
    assert tool_use.input == {"city": "Paris"}

    answered = sdk.messages.create(
        model=model,
        max_tokens=200,
        tools=[WEATHER_TOOL],
        messages=QUESTION
        + [
            {"role": "assistant", "content": [block.model_dump() for block in message.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool_use.id, "content": "18°C"}
                ],
            },
        ],
    )
    assert answered.stop_reason == "end_turn"
    assert answered.content[0].text == REPLY


@pytest.mark.parametrize("model", BACKENDS)
def test_streamed_tool_use(model):
    with client(new_key()).messages.stream(
        model=model, max_tokens=200, tools=[WEATHER_TOOL], messages=QUESTION
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    tool_use = next(block for block in final.content if block.type == "tool_use")
    assert tool_use.input == {"city": "Paris"}


def test_extended_thinking_round_trip_keeps_the_signed_thinking():
    """To an Anthropic backend the request and reply are relayed as they are, so a thinking
    block comes back with its signature and goes back up with the tool result (the mock, like
    Anthropic, refuses an unsigned one)."""
    sdk = client(new_key())
    thinking = {"type": "enabled", "budget_tokens": 1024}
    message = sdk.messages.create(
        model="claude", max_tokens=2048, thinking=thinking, tools=[WEATHER_TOOL], messages=QUESTION
    )
    assert message.content[0].type == "thinking"
    assert message.content[0].signature
    tool_use = next(block for block in message.content if block.type == "tool_use")
    answered = sdk.messages.create(
        model="claude",
        max_tokens=2048,
        thinking=thinking,
        tools=[WEATHER_TOOL],
        messages=QUESTION
        + [
            {"role": "assistant", "content": [block.model_dump() for block in message.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool_use.id, "content": "18°C"}
                ],
            },
        ],
    )
    assert answered.stop_reason == "end_turn"
    assert answered.content[0].type == "thinking"


def test_errors_have_anthropics_shape():
    with pytest.raises(anthropic.AuthenticationError) as raised:
        client("sk-not-a-real-key-0000000000").messages.create(
            model="claude", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert raised.value.status_code == 401
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.NotFoundError):
        client(new_key()).messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )


def test_count_tokens_as_claude_code_calls_it():
    """`messages.count_tokens`: Anthropic counts for its deployments (the mock: 10 a message);
    an OpenAI model is counted here, exactly."""
    sdk = client(new_key())
    counted = sdk.messages.count_tokens(
        model="claude", system="Be brief.", messages=[{"role": "user", "content": "Hi"}]
    )
    assert counted.input_tokens == 10
    counted = sdk.messages.count_tokens(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello world"}]
    )
    assert counted.input_tokens == 3 + 1 + 2 + 3
