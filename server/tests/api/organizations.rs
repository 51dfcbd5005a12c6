//! Organizations: their budget binds every key of every team in them, on two instances sharing
//! the database; their model list bounds their teams'; moving a team into an organization binds
//! its keys everywhere within a second; an organization with live teams is not deleted.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn ok(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// What one call with this body to `priced` costs, and the body (at most 20 output tokens).
const CALL_COST: i64 = 250;
fn bounded() -> Value {
    json!({ "model": "priced", "messages": [{ "role": "user", "content": "Say hello" }], "max_tokens": 20 })
}

#[sqlx::test(migrations = false)]
async fn an_organization_budget_binds_the_keys_of_all_its_teams_on_two_instances(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini", "fail-500"]),
    )
    .await;
    let second = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini", "fail-500"]),
    )
    .await;
    let organization = ok(first
        .manage(
            "/organization/new",
            json!({ "organization_id": "acme", "organization_alias": "Acme", "max_budget": 0.005 }),
        )
        .await)
    .await;
    assert_eq!(organization["max_budget"], 0.005);
    let mut keys = Vec::new();
    for team_id in ["acme-search", "acme-chat"] {
        ok(first
            .manage(
                "/team/new",
                json!({ "team_id": team_id, "organization_id": "acme", "max_budget": 1.0 }),
            )
            .await)
        .await;
        for _ in 0..2 {
            keys.push(first.new_key(json!({ "team_id": team_id })).await);
        }
    }
    // 32 requests released together over both instances and all four keys.
    mock.record.set_latency(Duration::from_millis(100));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(32));
    let mut tasks = Vec::new();
    for index in 0..32 {
        let app = if index % 2 == 0 { &first } else { &second };
        let (http, url) = (
            app.http.clone(),
            format!("{}/v1/chat/completions", app.base),
        );
        let (key, barrier) = (keys[index % keys.len()].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            http.post(url)
                .bearer_auth(key)
                .json(&bounded())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut admitted = 0;
    for task in tasks {
        match task.await.unwrap() {
            200 => admitted += 1,
            400 => {}
            other => panic!("status {other}"),
        }
    }
    mock.record.set_latency(Duration::ZERO);
    assert!((3..32).contains(&admitted), "{admitted} admitted");
    let deadline = Instant::now() + Duration::from_secs(10);
    let spent = loop {
        let (rows, spent): (i64, i64) = sqlx::query_as(
            "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
             WHERE team_id IN ('acme-search', 'acme-chat')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if rows == admitted as i64 {
            break spent;
        }
        assert!(Instant::now() < deadline, "{rows} rows of {admitted}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(spent, admitted as i64 * CALL_COST);
    assert!(spent <= 5_000, "the organization spent {spent} µ$ of 5,000");
    let info = ok(first
        .get("/organization/info?organization_id=acme", MASTER_KEY)
        .await)
    .await;
    assert_eq!(info["spend_micros"], spent, "the counter equals the rows");
    assert_eq!(info["teams"], 2);
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn an_organization_bounds_its_teams_and_moving_a_team_binds_its_keys_everywhere(
    pool: PgPool,
) {
    let mock = mock().await;
    let first = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini", "fail-500"]),
    )
    .await;
    let second = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini", "fail-500"]),
    )
    .await;
    ok(first
        .manage(
            "/organization/new",
            json!({ "organization_id": "small", "organization_alias": "Small",
                    "models": ["priced", "gpt-4o-mini"], "max_budget": 0.0 }),
        )
        .await)
    .await;
    // Teams in it use only its models, and must list them.
    for (body, param) in [
        (json!({ "organization_id": "small" }), "models"),
        (
            json!({ "organization_id": "small", "models": ["priced", "fail-500"] }),
            "models",
        ),
        (json!({ "organization_id": "nowhere" }), "organization_id"),
    ] {
        let refused = assert_openai_error(first.manage("/team/new", body).await, 400).await;
        assert_eq!(refused["error"]["param"], param, "{refused}");
    }
    // A team outside any organization works until it is moved into one with nothing left.
    ok(first
        .manage("/team/new", json!({ "team_id": "mover" }))
        .await)
    .await;
    let key = first.new_key(json!({ "team_id": "mover" })).await;
    assert_eq!(second.chat(&key, &bounded()).await.status(), 200);
    let moved = first
        .manage(
            "/team/update",
            json!({ "team_id": "mover", "organization_id": "small" }),
        )
        .await;
    assert_openai_error(moved, 400).await; // it does not list the organization's models yet
    ok(first
        .manage(
            "/team/update",
            json!({ "team_id": "mover", "organization_id": "small", "models": ["priced"] }),
        )
        .await)
    .await;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let response = second.chat(&key, &bounded()).await;
        if response.status() == 400 {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["type"], "budget_exceeded", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("org `small`"),
                "{body}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the move did not reach the other instance"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It has a live team: not deleted. Once the team is gone, it is.
    let kept = first
        .manage(
            "/organization/delete",
            json!({ "organization_ids": ["small"] }),
        )
        .await;
    assert_openai_error(kept, 400).await;
    ok(first
        .manage("/team/delete", json!({ "team_ids": ["mover"] }))
        .await)
    .await;
    let deleted = ok(first
        .manage(
            "/organization/delete",
            json!({ "organization_ids": ["small"] }),
        )
        .await)
    .await;
    assert_eq!(deleted["deleted_organizations"], json!(["small"]));
    let listed = ok(first.get("/organization/list", MASTER_KEY).await).await;
    assert_eq!(listed, json!([]));
    first.shutdown().await;
    second.shutdown().await;
}
