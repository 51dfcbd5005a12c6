//! Health: `/health` probes each deployment (LiteLLM's shape, the error of each failing one),
//! at most once per ten seconds; background checks take a failing deployment out of rotation
//! before a user's request meets it; the load balancer's probes answer without a key.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn health(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/health{query}"), MASTER_KEY).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn models_of(list: &Value) -> Vec<&str> {
    let mut models: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["model"].as_str().unwrap())
        .collect();
    models.sort_unstable();
    models
}

#[sqlx::test(migrations = false)]
async fn health_probes_each_deployment_and_names_the_failing_ones(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["gpt-4o-mini", "fail-500", "embed", "dall-e"]),
    )
    .await;
    let before = mock.record.requests();
    let report = health(&app, "").await;
    assert_eq!(
        models_of(&report["healthy_endpoints"]),
        ["embed", "gpt-4o-mini"]
    );
    assert_eq!(models_of(&report["unhealthy_endpoints"]), ["fail-500"]);
    assert_eq!(models_of(&report["unchecked_endpoints"]), ["dall-e"]);
    assert_eq!(
        (
            report["healthy_count"].clone(),
            report["unhealthy_count"].clone()
        ),
        (json!(2), json!(1))
    );
    let failing = &report["unhealthy_endpoints"][0];
    assert_eq!(failing["exception_status"], 502);
    assert!(
        failing["error"].as_str().unwrap().contains("500"),
        "{failing}"
    );
    assert_eq!(failing["custom_llm_provider"], "openai");
    assert!(failing["api_base"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1"));
    // Three probes (the image deployment is not sent one).
    assert_eq!(mock.record.requests() - before, 3);

    // Within ten seconds the same round answers again: no new probe.
    let again = health(&app, "?model=fail-500").await;
    assert_eq!(mock.record.requests() - before, 3);
    assert_eq!(again["checked_at"], report["checked_at"]);
    assert_eq!(models_of(&again["unhealthy_endpoints"]), ["fail-500"]);
    assert_eq!(again["healthy_count"], 0);

    // Probing costs upstream calls: only those who read everything may ask.
    let key = app.new_key(json!({})).await;
    assert_openai_error(app.get("/health", &key).await, 403).await;
    assert_openai_error(app.get("/health", "").await, 401).await;
    // The load balancer's probes need no key.
    for path in ["/health/liveliness", "/health/liveness"] {
        let response = app.get(path, "").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), json!("I'm alive!"));
    }
    let ready: Value = app.get("/health/readiness", "").await.json().await.unwrap();
    assert_eq!(ready["status"], "healthy");
    assert_eq!(ready["db"], "connected");
    assert_eq!(ready["redis"], Value::Null);
    assert_eq!(ready["spend_queue"]["depth"], 0);
    app.shutdown().await;
}

fn pair_config(mock: &mock_upstream::MockUpstream, background: bool) -> String {
    let base = mock.api_base();
    format!(
        "model_list:\n  - model_name: pair\n    litellm_params: {{ model: openai/gpt-4o-mini, api_base: \"{base}\" }}\n  - model_name: pair\n    litellm_params: {{ model: openai/mock-fail-500, api_base: \"{base}\" }}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\n  background_health_checks: {background}\n  health_check_interval: 1\nrouter_settings:\n  num_retries: 1\n  disable_cooldowns: true\n"
    )
}

/// Requests to the pair that needed a retry (their first deployment failed).
async fn retried(app: &TestApp, key: &str) -> usize {
    let mut retried = 0;
    for _ in 0..20 {
        let response = app.chat(key, &hello("pair")).await;
        assert_eq!(response.status(), 200);
        if header(&response, "x-litellm-attempted-retries") != "0" {
            retried += 1;
        }
    }
    retried
}

#[sqlx::test(migrations = false)]
async fn background_checks_take_a_failing_deployment_out_before_a_request_meets_it(pool: PgPool) {
    let mock = mock().await;
    // Without them, half the requests meet the failing deployment first (no cooldowns here).
    let app = spawn_app_from_yaml(pool.clone(), &pair_config(&mock, false)).await;
    let key = app.new_key(json!({})).await;
    assert!(retried(&app, &key).await > 0);
    app.shutdown().await;

    let app = spawn_app_from_yaml(pool, &pair_config(&mock, true)).await;
    let key = app.new_key(json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while health(&app, "").await["unhealthy_count"] != 1 {
        assert!(Instant::now() < deadline, "no background round within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(retried(&app, &key).await, 0);
    // Rounds keep running: a second one renews the hold.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(retried(&app, &key).await, 0);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn readiness_reports_redis_and_stays_up_without_it(pool: PgPool) {
    let mut redis = crate::common::redis::OwnRedis::new();
    redis.start().await;
    let mock = mock().await;
    let yaml = format!(
        "{}router_settings:\n  redis_url: redis://127.0.0.1:{}/\n",
        config_yaml(&mock, 0.05),
        redis.port
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let (status, body) = ready(&app).await;
    assert_eq!(
        (status, &body["status"], &body["redis"]),
        (200, &json!("healthy"), &json!("connected"))
    );
    redis.stop();
    // Every instance shares Redis: this one stays in the pool, degraded.
    let (status, body) = ready(&app).await;
    assert_eq!(
        (status, &body["status"], &body["redis"]),
        (200, &json!("degraded"), &json!("disconnected"))
    );
    app.shutdown().await;
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let response = app.get("/health/readiness", "").await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[sqlx::test(migrations = false)]
async fn the_capability_table_shows_what_each_deployment_did(pool: PgPool) {
    let mock = mock().await;
    let base = mock.api_base();
    let yaml = format!(
        "model_list:\n  - model_name: pair\n    litellm_params: {{ model: openai/gpt-4o-mini, api_base: \"{base}\", rpm: 600 }}\n    model_info: {{ input_cost_per_token: 0.000002, output_cost_per_token: 0.000008 }}\n  - model_name: pair\n    litellm_params: {{ model: openai/mock-fail-500, api_base: \"{base}\", rpm: 300 }}\n  - model_name: other\n    litellm_params: {{ model: openai/gpt-4o-mini, api_base: \"{base}\" }}\ngeneral_settings:\n  master_key: {MASTER_KEY}\n  proxy_batch_write_at: 0.05\nrouter_settings:\n  num_retries: 1\n  disable_cooldowns: true\n"
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let key = app.new_key(json!({ "models": ["pair"] })).await;
    // The failing deployment takes a third of the first attempts (by rpm); each retry goes to
    // the other.
    for _ in 0..24 {
        assert_eq!(app.chat(&key, &hello("pair")).await.status(), 200);
    }
    let table: Value = app
        .get("/model_group/info", MASTER_KEY)
        .await
        .json()
        .await
        .unwrap();
    let groups: Vec<&str> = table["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|group| group["model_group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["other", "pair"]);
    let pair = &table["data"][1];
    assert_eq!(pair["providers"], json!(["openai"]));
    assert_eq!(pair["rpm"], 900);
    assert!(pair["supported_openai_params"]
        .as_array()
        .unwrap()
        .contains(&json!("max_tokens")));
    let deployments = pair["deployments"].as_array().unwrap();
    let healthy = deployments
        .iter()
        .find(|d| d["model"] == "gpt-4o-mini")
        .unwrap();
    let failing = deployments
        .iter()
        .find(|d| d["model"] == "mock-fail-500")
        .unwrap();
    let measured = &healthy["measured"];
    assert_eq!(measured["successes"], 24);
    assert_eq!(measured["failure_rate"], 0.0);
    assert!(measured["p50_latency_ms"].as_f64().unwrap() > 0.0);
    assert!(
        measured["p95_latency_ms"].as_f64().unwrap()
            >= measured["p50_latency_ms"].as_f64().unwrap()
    );
    assert_eq!(
        (
            measured["input_tokens"].clone(),
            measured["output_tokens"].clone()
        ),
        (json!(240), json!(120))
    );
    // 24 × (10 × $2 + 5 × $8) per million tokens.
    assert!(
        (measured["spend_usd"].as_f64().unwrap() - 0.00144).abs() < 1e-9,
        "{measured}"
    );
    assert!((measured["observed_usd_per_1m_tokens"].as_f64().unwrap() - 4.0).abs() < 1e-9);
    assert_eq!(healthy["declared"]["input_usd_per_1m_tokens"], 2.0);
    let minutes = measured["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 15);
    let recent: u64 = minutes
        .iter()
        .rev()
        .take(2)
        .map(|m| m["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(recent, 24);
    let failed = &failing["measured"];
    assert!(
        failed["failures"]["server_error"].as_u64().unwrap_or(0) > 0,
        "{failing}"
    );
    assert_eq!(failed["failure_rate"], 1.0);
    assert_eq!(failing["cooldown"]["state"], "failing");
    assert!(healthy["api_base"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1"));

    // A key sees the groups it may use, without the address its credentials go to.
    let seen: Value = app
        .get("/model_group/info", &key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["data"].as_array().unwrap().len(), 1);
    assert_eq!(seen["data"][0]["deployments"][0]["api_base"], Value::Null);
    // Nor what every tenant's traffic did there: that is for those who read everything.
    assert_eq!(seen["data"][0]["deployments"][0]["measured"], Value::Null);
    assert!(seen["data"][0]["deployments"][0]["cooldown"].is_object());
    let one: Value = app
        .get("/model_group/info?model_group=other&minutes=1", MASTER_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["data"][0]["deployments"][0]["measured"]["minutes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_openai_error(
        app.get("/model_group/info?minutes=99", MASTER_KEY).await,
        400,
    )
    .await;
    assert_openai_error(app.get("/model_group/info", "").await, 401).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_health_round_outlives_a_caller_that_leaves(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["gpt-4o-mini", "hang"]),
    )
    .await;
    // The caller gives up while the hanging deployment's probe (1 s) is still out.
    let impatient = app
        .http
        .get(format!("{}/health", app.base))
        .bearer_auth(MASTER_KEY)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(impatient.is_err());
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let probes = mock.record.requests();
    assert_eq!(probes, 2);
    // The round finished anyway: the next caller gets it without new probes.
    let report = health(&app, "").await;
    assert_eq!(mock.record.requests(), probes);
    assert_eq!(models_of(&report["unhealthy_endpoints"]), ["hang"]);
    assert_eq!(models_of(&report["healthy_endpoints"]), ["gpt-4o-mini"]);
    app.shutdown().await;
}
