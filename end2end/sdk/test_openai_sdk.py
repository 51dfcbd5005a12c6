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


def spend_logs(key, rows):
    """The key's spend rows, once `rows` of them have landed."""
    headers = {"Authorization": f"Bearer {MASTER}"}
    deadline = time.time() + 10
    while True:
        logs = httpx.get(f"{BASE}/spend/logs", params={"api_key": key}, headers=headers).json()
        if len(logs) >= rows or time.time() > deadline:
            return logs
        time.sleep(0.1)


def test_litellm_fields_in_extra_body_reach_gatehouse_only():
    """A LiteLLM client's own fields, sent through `extra_body`, are taken off before the call
    (the mock's OpenAI model refuses unknown arguments exactly as OpenAI does) and land where
    they belong: tags, session, trace and custom metadata on the spend row."""
    key = new_key(models=["gpt-4o-mini"], key_alias="sdk-litellm-fields")
    extra = {
        "metadata": {
            "tags": ["sdk-migrated"],
            "trace_id": "trace-sdk",
            "session_id": "s-1",
            "generation_name": "gen-sdk",
            "spend_logs_metadata": {"ticket": "T-7"},
        },
        "fallbacks": ["gpt-4o-mini"],
        "num_retries": 1,
        "timeout": 30,
        "context_window_fallback_dict": {"gpt-4o-mini": "gpt-4o-mini"},
        "mock_response": "not from the upstream",
        "cache": {"no-cache": True},
        "guardrails": ["pii"],
        "drop_params": True,
        "additional_drop_params": ["seed"],
        "allowed_openai_params": ["seed"],
    }
    reply = client(key).chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, temperature=0.5, seed=3, extra_body=extra
    )
    assert reply.choices[0].message.content == REPLY, "a plain key's mock_response is ignored"
    sent = httpx.get(f"{os.environ['MOCK_ROOT']}/mock/last-request").json()["last"]
    assert sorted(sent) == ["messages", "model", "temperature"]
    [row] = spend_logs(key, 1)
    assert row["request_tags"] == ["sdk-migrated"]
    assert row["session_id"] == "s-1"
    assert row["metadata"]["trace_id"] == "trace-sdk"
    assert row["metadata"]["generation_name"] == "gen-sdk"
    assert row["metadata"]["spend_logs_metadata"] == {"ticket": "T-7"}


def test_litellm_headers_authenticate_and_tag():
    """`x-litellm-api-key` carries the key (Authorization may carry something else), and
    `x-litellm-tags` tags the call; neither reaches the upstream."""
    key = new_key(models=["gpt-4o-mini"])
    sdk = openai.OpenAI(
        base_url=f"{BASE}/v1",
        api_key="sk-meant-for-someone-else",
        max_retries=0,
        default_headers={"x-litellm-api-key": key, "x-litellm-tags": "from-header"},
    )
    assert sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO).choices
    [row] = spend_logs(key, 1)
    assert row["request_tags"] == ["from-header"]


def test_drop_params_for_a_provider_that_lacks_a_parameter():
    """`logit_bias` to an Anthropic deployment: a 400 naming it, unless dropped."""
    key = new_key(models=["claude"])
    with pytest.raises(openai.BadRequestError) as refused:
        client(key).chat.completions.create(
            model="claude", messages=HELLO, logit_bias={"50256": -100}
        )
    assert refused.value.body["param"] == "logit_bias"
    assert "does not support parameters: ['logit_bias']" in refused.value.body["message"]
    reply = client(key).chat.completions.create(
        model="claude", messages=HELLO, logit_bias={"50256": -100}, extra_body={"drop_params": True}
    )
    assert reply.choices[0].message.content


def test_per_request_routing_stays_within_the_keys_models():
    """A request's `fallbacks` may not reach a model its key may not use."""
    key = new_key(models=["fail-500"])
    with pytest.raises(openai.AuthenticationError):
        client(key).chat.completions.create(
            model="fail-500", messages=HELLO, extra_body={"fallbacks": ["gpt-4o-mini"]}
        )
    key = new_key(models=["fail-500", "gpt-4o-mini"])
    raw = client(key).chat.completions.with_raw_response.create(
        model="fail-500", messages=HELLO, extra_body={"fallbacks": ["gpt-4o-mini"], "num_retries": 0}
    )
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert raw.parse().choices[0].message.content == REPLY


def test_token_counter_counts_an_openai_model_exactly():
    key = new_key(models=["gpt-4o-mini"])
    counted = httpx.post(
        f"{BASE}/utils/token_counter",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "gpt-4o-mini", "prompt": "hello world"},
    ).json()
    assert counted["total_tokens"] == 2
    assert counted["tokenizer_type"] == "openai_tokenizer"


def test_a_client_side_api_base_is_refused():
    key = new_key(models=["gpt-4o-mini"])
    with pytest.raises(openai.BadRequestError) as refused:
        client(key).chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, extra_body={"api_base": "http://169.254.169.254/"}
        )
    assert refused.value.body["param"] == "api_base"


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
BACKENDS = ["gpt-4o-mini", "azure", "claude", "gemini", "vertex", "bedrock"]

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


# OpenAI itself, and Gemini, Vertex AI and Bedrock Titan embeddings translated from their own
# formats (Titan embeds one text per call); each reports 10 prompt tokens per input but Gemini,
# which reports none and is billed the gateway's estimate.
EMBEDDING_BACKENDS = [("embed", 30), ("gemini-embed", 6), ("vertex-embed", 30), ("titan-embed", 30)]


@pytest.mark.parametrize("model,prompt_tokens", EMBEDDING_BACKENDS)
def test_embeddings(model, prompt_tokens):
    dimensions = 256 if model == "titan-embed" else 16
    result = client(new_key()).embeddings.create(
        model=model, input=["a cat", "a dog", "a bird"], dimensions=dimensions
    )
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(len(item.embedding) == dimensions for item in result.data)
    assert len({tuple(item.embedding) for item in result.data}) == 3
    assert result.usage.prompt_tokens == prompt_tokens


def test_embeddings_need_an_embedding_model():
    with pytest.raises(openai.BadRequestError) as raised:
        client(new_key()).embeddings.create(model="gpt-4o-mini", input="x")
    assert raised.value.body["code"] == "unsupported_capability"


RESPONSES_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city now",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.mark.parametrize("model", BACKENDS)
def test_responses_text_and_streamed_text(model):
    sdk = client(new_key())
    response = sdk.responses.create(model=model, input="Hello", instructions="Be brief.")
    assert response.status == "completed"
    assert response.output_text == REPLY
    assert response.usage.input_tokens > 0
    assert response.usage.output_tokens == 5

    deltas = []
    with sdk.responses.stream(model=model, input="Hello") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert "".join(deltas) == REPLY
    assert final.output_text == REPLY
    assert final.usage.output_tokens == 5


@pytest.mark.parametrize("model", BACKENDS)
def test_responses_function_call_round_trip_streamed(model):
    sdk = client(new_key())
    with sdk.responses.stream(
        model=model, input="What is the weather in Paris?", tools=[RESPONSES_TOOL]
    ) as stream:
        argument_deltas = [
            event.delta
            for event in stream
            if event.type == "response.function_call_arguments.delta"
        ]
        final = stream.get_final_response()
    call = next(item for item in final.output if item.type == "function_call")
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert "".join(argument_deltas) == call.arguments

    answered = sdk.responses.create(
        model=model,
        tools=[RESPONSES_TOOL],
        input=[
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "18°C"},
        ],
    )
    assert answered.output_text == REPLY


@pytest.mark.parametrize("model", ["instruct", "claude"])
def test_completions_whole_and_streamed(model):
    sdk = client(new_key())
    completion = sdk.completions.create(model=model, prompt="Say hello", max_tokens=20)
    assert completion.choices[0].text == REPLY
    assert completion.usage.completion_tokens == 5
    chunks = list(
        sdk.completions.create(
            model=model,
            prompt="Say hello",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(chunk.choices[0].text for chunk in chunks if chunk.choices) == REPLY
    assert chunks[-1].usage.completion_tokens == 5


@pytest.mark.parametrize("model", ["dall-e", "azure-dall-e"])
def test_images(model):
    result = client(new_key()).images.generate(model=model, prompt="a lighthouse", n=2)
    assert len(result.data) == 2
    assert result.data[0].url.startswith("https://")


def test_speech_streams_and_transcription_uploads():
    sdk = client(new_key())
    text = "Hello there"
    with sdk.audio.speech.with_streaming_response.create(
        model="tts", voice="alloy", input=text
    ) as response:
        audio = b"".join(response.iter_bytes())
        assert response.headers["content-type"] == "audio/mpeg"
    assert audio == b"ID3" + text.encode() * 1000

    transcription = sdk.audio.transcriptions.create(
        model="whisper", file=("hello.wav", b"\x00" * 64_000, "audio/wav")
    )
    assert transcription.text == REPLY


def test_moderations_and_rerank():
    key = new_key()
    moderation = client(key).moderations.create(input=["hello", "I will kill it"])
    assert [result.flagged for result in moderation.results] == [False, True]

    rerank = httpx.post(
        f"{BASE}/v1/rerank",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "model": "rerank",
            "query": "capital of France",
            "documents": ["Berlin is in Germany", "Paris is the capital of France"],
        },
    )
    rerank.raise_for_status()
    assert rerank.json()["results"][0]["index"] == 1
