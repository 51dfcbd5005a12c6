//! `/metrics`: LiteLLM's metric and label names count what the gateway did (requests, failures,
//! spend and tokens equal to the spend log's), who may read them, and the labels a deployment
//! keeps.

use std::collections::BTreeMap;

use crate::common::*;
use serde_json::json;
use sqlx::PgPool;

const METRICS_TOKEN: &str = "metrics-scraper-token";

/// One sample of the exposition: its name, labels and value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (label, value) = pair.split_once("=\"").unwrap();
                    (label.to_string(), value.trim_end_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include `wanted`.
fn total(text: &str, name: &str, wanted: &[(&str, &str)]) -> f64 {
    samples(text)
        .iter()
        .filter(|sample| sample.name == name)
        .filter(|sample| {
            wanted
                .iter()
                .all(|(label, value)| sample.labels.get(*label).map(String::as_str) == Some(*value))
        })
        .map(|sample| sample.value)
        .sum()
}

/// The label names `name`'s samples carry.
fn label_names(text: &str, name: &str) -> Vec<String> {
    let mut names: Vec<String> = samples(text)
        .into_iter()
        .filter(|sample| sample.name == name)
        .flat_map(|sample| sample.labels.into_keys())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn with_prometheus(
    mock: &mock_upstream::MockUpstream,
    models: &[&'static str],
    extra: &str,
) -> String {
    format!(
        "{}  metrics_token: {METRICS_TOKEN}\nlitellm_settings:\n  callbacks: [\"prometheus\"]\n{extra}",
        TestConfig::new(mock).models(models).yaml()
    )
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics", MASTER_KEY).await;
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("text/plain; version=0.0.4"));
    response.text().await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn metrics_count_what_the_spend_log_records_under_litellm_names(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app_from_yaml(pool.clone(), &with_prometheus(&mock, &["priced"], "")).await;
    let team: serde_json::Value = app
        .manage("/team/new", json!({ "team_alias": "research" }))
        .await
        .json()
        .await
        .unwrap();
    let team_id = team["team_id"].as_str().unwrap();
    let key = app
        .new_key(json!({ "key_alias": "observed", "team_id": team_id, "max_budget": 10 }))
        .await;
    let hash = app::secrets::hash_key(&key);
    for _ in 0..3 {
        assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    }
    // Refused before any upstream: an unknown model, and no key at all.
    let made_up = format!("nowhere-{}", "x".repeat(10_000));
    assert_eq!(app.chat(&key, &hello(&made_up)).await.status(), 404);
    assert_eq!(app.chat("", &hello("priced")).await.status(), 401);
    let rows = wait_for_rows(&pool, &key, 3).await;

    let text = scrape(&app).await;
    let key_labels = [
        ("hashed_api_key", hash.as_str()),
        ("api_key_alias", "observed"),
        ("team", team_id),
        ("team_alias", "research"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut labels = key_labels.to_vec();
        labels.extend_from_slice(extra);
        labels
    };
    assert_eq!(
        total(
            &text,
            "litellm_proxy_total_requests_metric_total",
            &with(&[
                ("requested_model", "priced"),
                ("status_code", "200"),
                ("route", "/v1/chat/completions")
            ])
        ),
        3.0
    );
    assert_eq!(
        total(
            &text,
            "litellm_proxy_failed_requests_metric_total",
            &with(&[
                // A model it does not serve is not a label: clients could make up millions.
                ("requested_model", ""),
                ("exception_status", "404"),
                ("exception_class", "NotFoundError")
            ])
        ),
        1.0
    );
    assert_eq!(
        total(
            &text,
            "litellm_proxy_total_requests_metric_total",
            &[("hashed_api_key", ""), ("status_code", "401")]
        ),
        1.0
    );
    // Spend and tokens are the spend log's, to the micro-dollar.
    let spent: i64 = rows.iter().map(|row| row.0).sum();
    let prompt: i64 = rows.iter().map(|row| row.1).sum();
    let completion: i64 = rows.iter().map(|row| row.2).sum();
    assert!(spent > 0);
    let spend = total(
        &text,
        "litellm_spend_metric_total",
        &with(&[("model", "priced-model")]),
    );
    assert!(
        (spend - spent as f64 / 1e6).abs() < 1e-9,
        "{spend} vs {spent} micro-dollars"
    );
    assert_eq!(
        total(&text, "litellm_input_tokens_metric_total", &key_labels),
        prompt as f64
    );
    assert_eq!(
        total(&text, "litellm_output_tokens_metric_total", &key_labels),
        completion as f64
    );
    assert_eq!(
        total(&text, "litellm_total_tokens_metric_total", &key_labels),
        (prompt + completion) as f64
    );
    // Latency histograms count each answered call once.
    for histogram in [
        "litellm_request_total_latency_metric_count",
        "litellm_llm_api_latency_metric_count",
    ] {
        assert_eq!(total(&text, histogram, &key_labels), 3.0, "{histogram}");
    }
    assert_eq!(
        total(
            &text,
            "litellm_overhead_latency_metric_count",
            &[("model_group", "priced"), ("api_provider", "openai")]
        ),
        3.0
    );
    assert_eq!(
        total(
            &text,
            "litellm_deployment_success_responses_total",
            &with(&[("litellm_model_name", "priced-model")])
        ),
        3.0
    );
    // OpenTelemetry's GenAI names too.
    assert_eq!(
        total(
            &text,
            "gen_ai_client_token_usage_sum",
            &[
                ("gen_ai_token_type", "input"),
                ("gen_ai_request_model", "priced"),
                ("gen_ai_provider_name", "openai"),
                ("gen_ai_operation_name", "chat")
            ]
        ),
        prompt as f64
    );
    assert_eq!(
        total(
            &text,
            "gen_ai_client_operation_duration_seconds_count",
            &[("gen_ai_response_model", "priced-model")]
        ),
        3.0
    );
    // States read at scrape time.
    assert_eq!(
        total(
            &text,
            "litellm_deployment_state",
            &[("litellm_model_name", "priced-model")]
        ),
        0.0
    );
    assert_eq!(
        label_names(&text, "litellm_deployment_state"),
        ["api_base", "api_provider", "litellm_model_name", "model_id"]
    );
    let left = total(
        &text,
        "litellm_remaining_api_key_budget_metric",
        &[
            ("hashed_api_key", hash.as_str()),
            ("api_key_alias", "observed"),
        ],
    );
    assert!((left - (10.0 - spent as f64 / 1e6)).abs() < 1e-6, "{left}");
    assert_eq!(total(&text, "litellm_in_flight_requests", &[]), 0.0);
    assert!(total(&text, "gatehouse_key_cache_entries", &[]) >= 1.0);
    assert_eq!(
        total(&text, "gatehouse_spend_flush_failures_total", &[]),
        0.0
    );
    assert!(total(&text, "gatehouse_spend_flush_seconds_count", &[]) >= 1.0);
    assert!(!text.contains("nowhere"));
    // People and clients are not labels unless configured.
    for name in ["end_user", "user_email", "client_ip", "user_agent"] {
        assert!(
            !text.contains(&format!("{name}=\"")),
            "`{name}` is a label by default"
        );
    }
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn only_the_master_key_or_the_metrics_token_reads_metrics(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app_from_yaml(pool.clone(), &with_prometheus(&mock, &["priced"], "")).await;
    let key = app.new_key(json!({})).await;
    assert_openai_error(app.get("/metrics", "").await, 401).await;
    assert_openai_error(app.get("/metrics", &key).await, 401).await;
    let response = app.get("/metrics", METRICS_TOKEN).await;
    assert_eq!(response.status(), 200);
    // The metrics token opens nothing else.
    assert_openai_error(app.get("/key/list", METRICS_TOKEN).await, 401).await;
    assert_openai_error(app.chat(METRICS_TOKEN, &hello("priced")).await, 401).await;
    app.shutdown().await;

    // Open on request; absent without the callback.
    let open = with_prometheus(
        &mock,
        &["priced"],
        "  require_auth_for_metrics_endpoint: false\n",
    );
    let app = spawn_app_from_yaml(pool.clone(), &open).await;
    assert_eq!(app.get("/metrics", "").await.status(), 200);
    app.shutdown().await;
    let app = spawn_config(pool, TestConfig::new(&mock).models(&["priced"])).await;
    let body = assert_openai_error(app.get("/metrics", MASTER_KEY).await, 404).await;
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("prometheus"));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn the_metrics_config_keeps_only_the_listed_metrics_and_labels(pool: PgPool) {
    let mock = mock().await;
    let listed = "  prometheus_metrics_config:\n    - group: traffic\n      metrics: [litellm_proxy_total_requests_metric]\n      include_labels: [requested_model, status_code, user_agent]\n";
    let app = spawn_app_from_yaml(pool, &with_prometheus(&mock, &["priced"], listed)).await;
    let key = app.new_key(json!({})).await;
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("user-agent", "observability-test/1")
        .json(&hello("priced"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = scrape(&app).await;
    assert_eq!(
        label_names(&text, "litellm_proxy_total_requests_metric_total"),
        ["requested_model", "status_code", "user_agent"]
    );
    assert_eq!(
        total(
            &text,
            "litellm_proxy_total_requests_metric_total",
            &[
                ("user_agent", "observability-test/1"),
                ("requested_model", "priced")
            ]
        ),
        1.0
    );
    assert!(!text.contains("litellm_spend_metric_total"));
    assert!(!text.contains("litellm_request_total_latency_metric"));
    // Fixed metrics stay.
    assert!(text.contains("gen_ai_client_operation_duration_seconds"));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn failed_attempts_and_fallbacks_are_counted_per_deployment(pool: PgPool) {
    let mock = mock().await;
    let yaml = format!(
        "{}router_settings:\n  num_retries: 0\n  fallbacks: [{{fail-500: [gpt-4o-mini]}}]\n",
        with_prometheus(&mock, &["fail-500", "gpt-4o-mini"], "")
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let key = app.new_key(json!({})).await;
    // The upstream's 500 is the gateway's 502 (an upstream failed), in every label.
    let response = app.chat(&key, &hello("fail-500")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-litellm-attempted-fallbacks"), "1");
    let text = scrape(&app).await;
    assert_eq!(
        total(
            &text,
            "litellm_deployment_failure_responses_total",
            &[
                ("requested_model", "fail-500"),
                ("litellm_model_name", "mock-fail-500"),
                ("exception_status", "502"),
                ("exception_class", "InternalServerError")
            ]
        ),
        1.0
    );
    assert_eq!(
        total(
            &text,
            "litellm_deployment_successful_fallbacks_total",
            &[
                ("requested_model", "fail-500"),
                ("fallback_model", "gpt-4o-mini"),
                ("exception_status", "502")
            ]
        ),
        1.0
    );
    assert_eq!(
        total(
            &text,
            "litellm_deployment_success_responses_total",
            &[
                ("requested_model", "fail-500"),
                ("litellm_model_name", "gpt-4o-mini")
            ]
        ),
        1.0
    );
    assert_eq!(
        total(
            &text,
            "litellm_proxy_total_requests_metric_total",
            &[("requested_model", "fail-500"), ("status_code", "200")]
        ),
        1.0
    );
    app.shutdown().await;
}

/// A loopback OTLP/HTTP receiver: every span it was sent, decoded with the official types.
async fn otlp_receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<opentelemetry_proto::tonic::trace::v1::Span>>>,
) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    let request = ExportTraceServiceRequest::decode(body).unwrap();
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            kept.lock().unwrap().extend(scope.spans);
                        }
                    }
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), spans)
}

fn attribute(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let value = span
        .attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(|attribute| attribute.value.clone()?.value);
    match value {
        Some(Value::StringValue(text)) => text,
        Some(Value::IntValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn traced(mock: &mock_upstream::MockUpstream, collector: &str, sampler: &str) -> String {
    format!(
        "{}environment_variables:\n  OTEL_EXPORTER_OTLP_ENDPOINT: \"{collector}\"\n  OTEL_BSP_SCHEDULE_DELAY: \"20\"\n  OTEL_TRACES_SAMPLER: {sampler}\nlitellm_settings:\n  callbacks: [\"otel\"]\nrouter_settings:\n  num_retries: 0\n  fallbacks: [{{fail-500: [gpt-4o-mini]}}]\n",
        TestConfig::new(mock).models(&["fail-500", "gpt-4o-mini"]).yaml()
    )
}

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

#[sqlx::test(migrations = false)]
async fn a_traced_request_shows_each_attempt_as_a_span_of_the_clients_trace(pool: PgPool) {
    let mock = mock().await;
    let (collector, spans) = otlp_receiver().await;
    let app = spawn_app_from_yaml(pool, &traced(&mock, &collector, "parentbased_always_on")).await;
    let key = app.new_key(json!({ "key_alias": "traced" })).await;
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"))
        .json(&hello("fail-500"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while spans.lock().unwrap().len() < 6 {
        assert!(
            std::time::Instant::now() < deadline,
            "spans: {:?}",
            spans.lock().unwrap().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let spans = spans.lock().unwrap().clone();
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    assert!(spans.iter().all(|span| hex(&span.trace_id) == CLIENT_TRACE));
    let root = spans.iter().find(|span| span.kind == 2).unwrap();
    assert_eq!(root.name, "chat fail-500");
    assert_eq!(hex(&root.parent_span_id), CLIENT_SPAN);
    for (key, value) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "fail-500"),
        ("gen_ai.response.model", "gpt-4o-mini"),
        ("gen_ai.usage.input_tokens", "10"),
        ("gen_ai.usage.output_tokens", "5"),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(attribute(root, key), value, "{key}");
    }
    let children: Vec<&str> = spans
        .iter()
        .filter(|span| span.parent_span_id == root.span_id)
        .map(|span| span.name.as_str())
        .collect();
    for name in [
        "gatehouse.auth",
        "gatehouse.reserve",
        "gatehouse.meter",
        "chat mock-fail-500",
        "chat gpt-4o-mini",
    ] {
        assert!(children.contains(&name), "{name} in {children:?}");
    }
    // The fallback is visible: a failed attempt, then the one that answered.
    let failed = spans
        .iter()
        .find(|span| span.name == "chat mock-fail-500")
        .unwrap();
    assert_eq!((failed.kind, failed.status.as_ref().unwrap().code), (3, 2));
    assert_eq!(attribute(failed, "error.type"), "server_error");
    assert_eq!(attribute(failed, "gatehouse.attempt"), "0");
    let answered = spans
        .iter()
        .find(|span| span.name == "chat gpt-4o-mini")
        .unwrap();
    assert_eq!(attribute(answered, "gatehouse.attempt"), "1");
    assert!(answered.start_time_unix_nano >= failed.end_time_unix_nano);
    assert!(root.end_time_unix_nano >= answered.end_time_unix_nano);
    // The upstream was called as a child of the attempt's span.
    assert_eq!(
        mock.record.last_header("traceparent").unwrap(),
        format!("00-{CLIENT_TRACE}-{}-01", hex(&answered.span_id))
    );
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn an_untraced_request_passes_the_clients_traceparent_on(pool: PgPool) {
    let mock = mock().await;
    let (collector, spans) = otlp_receiver().await;
    let app = spawn_app_from_yaml(pool, &traced(&mock, &collector, "parentbased_always_on")).await;
    let key = app.new_key(json!({})).await;
    let unsampled = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-00");
    let response = app
        .http
        .post(format!("{}/v1/chat/completions", app.base))
        .bearer_auth(&key)
        .header("traceparent", &unsampled)
        .json(&hello("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(mock.record.last_header("traceparent").unwrap(), unsampled);
    // A request without one is a new trace's root (always on without a parent).
    assert_eq!(app.chat(&key, &hello("gpt-4o-mini")).await.status(), 200);
    let traceparent = mock.record.last_header("traceparent").unwrap();
    assert!(
        traceparent.starts_with("00-") && !traceparent.contains(CLIENT_TRACE),
        "{traceparent}"
    );
    app.shutdown().await;
    // Only the second request was traced, and shutdown sent its spans.
    let spans = spans.lock().unwrap();
    assert!(!spans.is_empty());
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    assert!(spans.iter().all(|span| hex(&span.trace_id) != CLIENT_TRACE));
    assert!(traceparent.contains(&hex(&spans[0].trace_id)));
}
