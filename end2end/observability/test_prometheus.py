"""A real Prometheus scrapes Gatehouse: PromQL over what it scraped returns the requests and
the spend the test sent, under LiteLLM's metric names."""

import hashlib
import uuid

import httpx

from conftest import BASE, MASTER, new_key, until

HELLO = [{"role": "user", "content": "Hello"}]


def scalar(result):
    """The value of a single-series PromQL result (0 when empty)."""
    return float(result[0]["value"][1]) if result else 0.0


def test_promql_returns_the_requests_and_spend_sent(prometheus):
    alias = f"prom-{uuid.uuid4().hex[:8]}"
    key = new_key(key_alias=alias)
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(5):
        response = httpx.post(
            f"{BASE}/v1/chat/completions",
            headers=headers,
            json={"model": "gpt-4o-mini", "messages": HELLO},
        )
        assert response.status_code == 200, response.text
    failed = httpx.post(
        f"{BASE}/v1/chat/completions", headers=headers, json={"model": "fail-500", "messages": HELLO}
    )
    assert failed.status_code >= 500

    token_hash = hashlib.sha256(key.encode()).hexdigest()
    logs = until(
        "six spend rows",
        lambda: (
            rows := httpx.get(
                f"{BASE}/spend/logs",
                params={"api_key": token_hash},
                headers={"Authorization": f"Bearer {MASTER}"},
            ).json()
        )
        and len(rows) == 6
        and rows,
    )
    spent = sum(row["spend"] for row in logs)
    assert spent > 0

    # Scraped with the metrics token.
    until("Prometheus scraped Gatehouse", lambda: scalar(prometheus('up{job="gatehouse"}')) == 1.0)
    answered = f'sum(litellm_proxy_total_requests_metric_total{{api_key_alias="{alias}",status_code="200"}})'
    until("Prometheus scraped the five answered requests", lambda: scalar(prometheus(answered)) == 5.0)
    spend = scalar(prometheus(f'sum(litellm_spend_metric_total{{api_key_alias="{alias}"}})'))
    assert abs(spend - spent) < 1e-9, (spend, spent)
    failures = f'sum(litellm_proxy_failed_requests_metric_total{{api_key_alias="{alias}"}})'
    assert scalar(prometheus(failures)) == 1.0
    tokens = scalar(prometheus(f'sum(litellm_total_tokens_metric_total{{api_key_alias="{alias}"}})'))
    assert tokens == sum(row["total_tokens"] for row in logs)
    # A histogram quantile over LiteLLM's latency buckets: a finite latency.
    p95 = scalar(
        prometheus(
            f'histogram_quantile(0.95, sum by (le) (litellm_request_total_latency_metric_bucket{{api_key_alias="{alias}"}}))'
        )
    )
    assert 0 < p95 < 60


def test_every_dashboard_query_is_valid_promql(prometheus):
    """The Grafana dashboard in docs/ runs against the real Prometheus."""
    import json
    import pathlib

    dashboard = json.loads((pathlib.Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert len(expressions) > 10
    for expression in expressions:
        query = expression.replace("$team", ".*").replace("$model", ".*")
        response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": query})
        assert response.status_code == 200 and response.json()["status"] == "success", (query, response.text)
