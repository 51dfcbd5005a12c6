"""OpenTelemetry traces reach a real OTLP receiver (the official protobuf definitions, over
HTTP/protobuf and over gRPC): one span per request with its stages and each upstream attempt
as children, the GenAI attributes, and the client's trace joined."""

import os
import time
import uuid

import httpx
import pytest

from conftest import until
from gatehouse_process import Gatehouse
from otlp_receiver import Receiver

MASTER = "sk-otlp-master-key"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def config():
    base = os.environ["MOCK_API_BASE"]
    return f"""model_list:
  - model_name: flaky
    litellm_params: {{ model: openai/mock-fail-500, api_base: "{base}" }}
  - model_name: steady
    litellm_params: {{ model: openai/gpt-4o-mini, api_base: "{base}" }}
general_settings:
  master_key: {MASTER}
  proxy_batch_write_at: 0.05
litellm_settings:
  callbacks: ["otel"]
router_settings:
  num_retries: 1
  retry_after: 0
  fallbacks: [{{flaky: [steady]}}]
"""


def attributes(span):
    found = {}
    for attribute in span.attributes:
        value = attribute.value
        found[attribute.key] = getattr(value, value.WhichOneof("value"))
    return found


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_retried_request_shows_its_attempts_as_spans(protocol):
    receiver = Receiver()
    address, stop_receiver = receiver.serve_http() if protocol == "http/protobuf" else receiver.serve_grpc()
    gatehouse = Gatehouse(
        config(),
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": address,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_SERVICE_NAME": "gatehouse-e2e",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
    )
    try:
        key = httpx.post(
            f"{gatehouse.url}/key/generate",
            headers={"Authorization": f"Bearer {MASTER}"},
            json={"key_alias": f"otlp-{uuid.uuid4().hex[:6]}"},
        ).json()["key"]
        response = httpx.post(
            f"{gatehouse.url}/v1/chat/completions",
            headers={
                "Authorization": f"Bearer {key}",
                "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01",
            },
            json={"model": "flaky", "messages": [{"role": "user", "content": "Hello"}]},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        spans = until("the request's spans", lambda: len(receiver.snapshot()) >= 7 and receiver.snapshot())
    finally:
        gatehouse.stop()
        stop_receiver()

    assert {span.trace_id.hex() for span in spans} == {CLIENT_TRACE}
    [root] = [span for span in spans if span.kind == span.SPAN_KIND_SERVER]
    assert root.parent_span_id.hex() == CLIENT_SPAN
    assert root.name == "chat flaky"
    root_attributes = attributes(root)
    assert root_attributes["gen_ai.operation.name"] == "chat"
    assert root_attributes["gen_ai.request.model"] == "flaky"
    assert root_attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert root_attributes["gen_ai.provider.name"] == "openai"
    assert root_attributes["gen_ai.usage.input_tokens"] == 10
    assert root_attributes["gen_ai.usage.output_tokens"] == 5
    children = [span for span in spans if span.parent_span_id == root.span_id]
    assert len(children) == len(spans) - 1
    attempts = sorted(
        (span for span in children if span.kind == span.SPAN_KIND_CLIENT),
        key=lambda span: attributes(span)["gatehouse.attempt"],
    )
    # Two tries of the flaky deployment (a retry), then the fallback that answered.
    assert [span.name for span in attempts] == ["chat mock-fail-500", "chat mock-fail-500", "chat gpt-4o-mini"]
    assert [span.status.code for span in attempts] == [2, 2, 0]
    assert [attributes(span)["gatehouse.model_group"] for span in attempts] == ["flaky", "flaky", "steady"]
    assert all(
        earlier.end_time_unix_nano <= later.start_time_unix_nano
        for earlier, later in zip(attempts, attempts[1:])
    )
    stages = {span.name for span in children if span.kind == span.SPAN_KIND_INTERNAL}
    assert {"gatehouse.auth", "gatehouse.reserve", "gatehouse.meter"} <= stages
    for span in children:
        assert root.start_time_unix_nano <= span.start_time_unix_nano <= span.end_time_unix_nano <= root.end_time_unix_nano
