//! Stored deployments through LiteLLM's management API (`/model/new`, `/model/update`,
//! `/model/delete`): credentials sealed at rest, served at once by the instance that stored
//! them and, through NOTIFY, by every other instance on the same database.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

const UPSTREAM_KEY: &str = "sk-stored-upstream-credential";

async fn post_master(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    post_json(app, path, MASTER_KEY, body).await
}

#[sqlx::test(migrations = false)]
async fn stored_deployments_are_sealed_served_updated_and_deleted(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    let created = post_master(
        &app,
        "/model/new",
        &json!({
            "model_name": "stored",
            "litellm_params": {
                "model": "openai/stored-model",
                "api_base": mock.api_base(),
                "api_key": UPSTREAM_KEY,
            },
            "model_info": { "input_cost_per_token": 0.00001, "output_cost_per_token": 0.00003 },
        }),
    )
    .await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    let id = created["model_id"].as_str().unwrap().to_string();
    assert_eq!(created["model_info"]["id"], id.as_str());
    assert_eq!(created["model_info"]["db_model"], true);
    assert!(
        created["litellm_params"].get("api_key").is_none(),
        "{created}"
    );
    assert!(!created.to_string().contains(UPSTREAM_KEY));

    // At rest: no credential in the clear; the sealed value is version 1 and opens only with
    // the secrets key, for this row.
    let (params, sealed): (Value, Vec<u8>) = sqlx::query_as(
        "SELECT litellm_params, sealed_secrets FROM deployments WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(params.get("api_key").is_none());
    assert_eq!(sealed[0], 1);
    assert!(!sealed
        .windows(UPSTREAM_KEY.len())
        .any(|window| window == UPSTREAM_KEY.as_bytes()));
    let sealer = app::sealing::Sealer::new(SECRETS_KEY, None).unwrap();
    let row_id = uuid::Uuid::parse_str(&id).unwrap();
    let opened: Value =
        serde_json::from_slice(&sealer.open(&sealed, row_id.as_bytes()).unwrap()).unwrap();
    assert_eq!(opened, json!({ "api_key": UPSTREAM_KEY }));

    // Served at once, with the stored credential and prices.
    let reply = app.chat(&key, &hello("stored")).await;
    assert_eq!(reply.status(), 200);
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        format!("Bearer {UPSTREAM_KEY}")
    );
    assert_eq!(mock.record.last_request().unwrap()["model"], "stored-model");
    let rows = call_rows(&pool, &key, 1).await;
    let (_, cost, prompt, completion) = rows[0].clone();
    assert_eq!(cost, prompt * 10 + completion * 30);

    let info = app.get("/model/info", MASTER_KEY).await;
    let info: Value = info.json().await.unwrap();
    let listed = info["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["model_info"]["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed["model_name"], "stored");
    assert_eq!(listed["model_info"]["db_model"], true);

    // An update replaces only what it names: the credential stays.
    let updated = post_master(
        &app,
        "/model/update",
        &json!({ "model_info": { "id": id, "input_cost_per_token": 0.00002 } }),
    )
    .await;
    assert_eq!(updated.status(), 200);
    assert_eq!(app.chat(&key, &hello("stored")).await.status(), 200);
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        format!("Bearer {UPSTREAM_KEY}")
    );
    let rows = call_rows(&pool, &key, 2).await;
    let (_, cost, prompt, completion) = rows[1].clone();
    assert_eq!(cost, prompt * 20 + completion * 30);

    let renamed = app
        .http
        .patch(format!("{}/model/{id}/update", app.base))
        .bearer_auth(MASTER_KEY)
        .json(&json!({ "model_name": "stored-renamed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert_openai_error(app.chat(&key, &hello("stored")).await, 404).await;
    assert_eq!(app.chat(&key, &hello("stored-renamed")).await.status(), 200);

    let deleted = post_master(&app, "/model/delete", &json!({ "id": id })).await;
    assert_eq!(deleted.status(), 200);
    assert_openai_error(app.chat(&key, &hello("stored-renamed")).await, 404).await;
    let again = post_master(&app, "/model/delete", &json!({ "id": id })).await;
    assert_openai_error(again, 404).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn bad_deployments_and_callers_are_refused(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;
    let good = json!({
        "model_name": "x",
        "litellm_params": { "model": "openai/x", "api_base": mock.api_base() },
    });
    assert_openai_error(post_json(&app, "/model/new", &key, &good).await, 403).await;

    let cases = [
        (
            json!({ "model_name": "x", "litellm_params": { "model": "nowhere/x" } }),
            "litellm_params.model",
        ),
        (
            json!({ "model_name": "x", "litellm_params": { "model": "openai/x", "api_base": "ftp://h" } }),
            "litellm_params.api_base",
        ),
        (
            json!({ "model_name": " ", "litellm_params": { "model": "openai/x" } }),
            "model_name",
        ),
        (
            json!({ "model_name": "x", "litellm_params": { "model": "openai/x", "timeout": -1 } }),
            "litellm_params.timeout",
        ),
        (json!({ "model_name": "x" }), "litellm_params"),
        (
            json!({ "model_name": "x", "litellm_params": { "model": "openai/x" }, "model_info": { "id": "not-a-uuid" } }),
            "UUID",
        ),
    ];
    for (body, named) in cases {
        let refused = assert_openai_error(post_master(&app, "/model/new", &body).await, 400).await;
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{body}: {message}");
    }
    // A caller-chosen id is kept; choosing it twice is the caller's error, not the server's.
    let chosen = uuid::Uuid::new_v4();
    let with_id = json!({ "model_name": "x",
        "litellm_params": { "model": "openai/x", "api_base": mock.api_base() },
        "model_info": { "id": chosen } });
    let created: Value = post_master(&app, "/model/new", &with_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created["model_id"], chosen.to_string());
    let twice = assert_openai_error(post_master(&app, "/model/new", &with_id).await, 400).await;
    assert!(twice["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    post_master(&app, "/model/delete", &json!({ "id": chosen })).await;

    let unknown = post_master(
        &app,
        "/model/update",
        &json!({ "model_info": { "id": uuid::Uuid::new_v4() } }),
    )
    .await;
    assert_openai_error(unknown, 404).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM deployments")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn every_instance_serves_a_deployment_another_stored(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let key = first.new_key(json!({})).await;
    let created = post_master(
        &first,
        "/model/new",
        &json!({
            "model_name": "shared",
            "litellm_params": { "model": "openai/shared-model", "api_base": mock.api_base(), "api_key": UPSTREAM_KEY },
        }),
    )
    .await;
    assert_eq!(created.status(), 200);
    // NOTIFY reaches the other instance well before its 5-second poll would.
    let started = Instant::now();
    loop {
        let status = second.chat(&key, &hello("shared")).await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 404);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the second instance never served the stored deployment"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        format!("Bearer {UPSTREAM_KEY}")
    );
    first.shutdown().await;
    second.shutdown().await;
}
