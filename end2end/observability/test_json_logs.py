"""`json_logs: true`: every line Gatehouse logs is JSON, one per request with its id, key alias,
team, model, deployment, status and latency; no secret appears in any."""

import json
import os

import httpx

from gatehouse_process import Gatehouse

MASTER = "sk-json-logs-master-key"


def test_each_request_logs_one_json_line_without_secrets():
    base = os.environ["MOCK_API_BASE"]
    gatehouse = Gatehouse(
        f"""model_list:
  - model_name: steady
    litellm_params: {{ model: openai/gpt-4o-mini, api_base: "{base}", api_key: sk-upstream-secret-value }}
general_settings:
  master_key: {MASTER}
litellm_settings:
  json_logs: true
""",
        {"RUST_LOG": "info"},
    )
    try:
        headers = {"Authorization": f"Bearer {MASTER}"}
        team = httpx.post(f"{gatehouse.url}/team/new", headers=headers, json={"team_alias": "logs-team"}).json()
        key = httpx.post(
            f"{gatehouse.url}/key/generate",
            headers=headers,
            json={"key_alias": "logs-key", "team_id": team["team_id"]},
        ).json()["key"]
        chat = {"model": "steady", "messages": [{"role": "user", "content": "a private prompt"}]}
        answered = httpx.post(f"{gatehouse.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=chat)
        assert answered.status_code == 200
        refused = httpx.post(f"{gatehouse.url}/v1/chat/completions", headers={"Authorization": "Bearer sk-wrong"}, json=chat)
        assert refused.status_code == 401
    finally:
        logged = gatehouse.stop()

    lines = [json.loads(line) for line in logged.splitlines() if line.strip()]
    assert lines, logged
    requests = [line for line in lines if line.get("target") == "gatehouse::request"]
    [served] = [line for line in requests if line["status"] == 200]
    assert served["request_id"] == answered.headers["x-litellm-call-id"]
    assert served["key_alias"] == "logs-key"
    assert served["team"] == team["team_id"]
    assert served["model"] == "steady"
    assert served["deployment"]
    assert served["route"] == "/v1/chat/completions"
    assert served["latency_ms"] > 0
    assert any(line["status"] == 401 for line in requests)
    for secret in [MASTER, key, "sk-wrong", "sk-upstream-secret-value", "a private prompt"]:
        assert secret not in logged, secret
