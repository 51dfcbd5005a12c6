//! Virtual keys through the management API: budgets, deletion across instances, validation,
//! expiry, who may read what.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn a_key_over_budget_is_refused(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    // Each `priced` call costs 250 µ$ but may cost up to 1,170 µ$ (its 69-byte body as prompt
    // tokens at 10 µ$, 16 output tokens at 30 µ$, at the least): the budget has room for that
    // four times, and the fifth call would risk overspending it.
    let generated = app.generate_key(json!({ "max_budget": 0.002 })).await;
    assert_eq!(generated["max_budget"], 0.002);
    let key = generated["key"].as_str().unwrap().to_string();
    for _ in 0..4 {
        assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    }
    let refused = app.chat(&key, &hello("priced")).await;
    let body = assert_openai_error(refused, 400).await;
    assert_eq!(body["error"]["type"], "budget_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("$0.002"),
        "{body}"
    );
    assert_eq!(
        mock.record.requests(),
        4,
        "the refused call never reached the upstream"
    );
    wait_for_rows(&pool, &key, 4).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_deleted_key_is_refused_here_at_once_and_on_other_instances_within_a_second(
    pool: PgPool,
) {
    let mock = mock().await;
    let first = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let second = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let key = first.new_key(json!({ "key_alias": "doomed" })).await;
    // A key created on one instance works on the other straight away.
    assert_eq!(second.chat(&key, &hello("priced")).await.status(), 200);
    assert_eq!(first.chat(&key, &hello("priced")).await.status(), 200);

    let deleted: Value = first
        .http
        .post(format!("{}/key/delete", first.base))
        .bearer_auth(MASTER_KEY)
        .json(&json!({ "keys": [key] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["deleted_keys"], json!([key]));
    let deleted_at = Instant::now();
    assert_openai_error(first.chat(&key, &hello("priced")).await, 401).await;

    loop {
        let status = second.chat(&key, &hello("priced")).await.status();
        if status == 401 {
            break;
        }
        assert!(
            deleted_at.elapsed() < Duration::from_secs(1),
            "still accepted after a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(deleted_at.elapsed() < Duration::from_secs(1));

    let info = first.get(&format!("/key/info?key={key}"), MASTER_KEY).await;
    assert_openai_error(info, 404).await;
    let again = first
        .http
        .post(format!("{}/key/delete", first.base))
        .bearer_auth(MASTER_KEY)
        .json(&json!({ "key_aliases": ["doomed"] }))
        .send()
        .await
        .unwrap();
    assert_openai_error(again, 404).await;
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn keys_are_stored_hashed(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let key = app.new_key(json!({})).await;
    assert!(key.starts_with("sk-") && key.len() >= 60);
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', token_hash, key_name, key_alias, metadata::text) FROM virtual_keys",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].contains(&key[3..]), "the secret is not stored");
    assert!(stored[0].starts_with(&app::secrets::hash_key(&key)));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn key_generation_validates_its_input_and_requires_the_master_key(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let url = format!("{}/key/generate", app.base);
    let post = |body: Value, bearer: &'static str| {
        app.http.post(&url).bearer_auth(bearer).json(&body).send()
    };
    assert_openai_error(
        post(json!({ "duration": "5y" }), MASTER_KEY).await.unwrap(),
        400,
    )
    .await;
    assert_openai_error(
        post(json!({ "max_budget": -1 }), MASTER_KEY).await.unwrap(),
        400,
    )
    .await;
    assert_openai_error(
        post(json!({ "allowed_routes": ["models"] }), MASTER_KEY)
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_openai_error(
        post(json!({ "metadata": [1] }), MASTER_KEY).await.unwrap(),
        400,
    )
    .await;
    assert_openai_error(
        post(json!({ "key": "short" }), MASTER_KEY).await.unwrap(),
        400,
    )
    .await;
    let not_json = app
        .http
        .post(&url)
        .bearer_auth(MASTER_KEY)
        .body("nope")
        .send()
        .await
        .unwrap();
    assert_openai_error(not_json, 400).await;
    assert_openai_error(
        post(json!({}), "sk-wrong-master-key-123").await.unwrap(),
        401,
    )
    .await;

    let custom = app
        .generate_key(json!({ "key": "sk-my-custom-key-0123456789", "key_alias": "custom", "metadata": { "team": "search" } }))
        .await;
    assert_eq!(custom["key"], "sk-my-custom-key-0123456789");
    assert_eq!(custom["metadata"]["team"], "search");
    let duplicate = post(json!({ "key_alias": "custom" }), MASTER_KEY)
        .await
        .unwrap();
    assert_openai_error(duplicate, 400).await;

    let key = app.new_key(json!({})).await;
    let by_key = app
        .http
        .post(&url)
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_openai_error(by_key, 403).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn an_expired_key_is_refused(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let generated = app.generate_key(json!({ "duration": "1s" })).await;
    assert!(generated["expires"].is_string());
    let key = generated["key"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let body = assert_openai_error(app.chat(key, &hello("priced")).await, 401).await;
    assert_eq!(body["error"]["code"], "expired_api_key");
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_key_reads_only_its_own_info_and_spend(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let mine = app.new_key(json!({})).await;
    let theirs = app.new_key(json!({})).await;
    assert_eq!(app.chat(&mine, &hello("priced")).await.status(), 200);
    wait_for_rows(&pool, &mine, 1).await;

    let own_info: Value = app.get("/key/info", &mine).await.json().await.unwrap();
    assert_eq!(own_info["info"]["spend_micros"], 250);
    let other_info = app.get(&format!("/key/info?key={theirs}"), &mine).await;
    assert_openai_error(other_info, 403).await;

    let own_logs: Vec<Value> = app.get("/spend/logs", &mine).await.json().await.unwrap();
    assert_eq!(own_logs.len(), 1);
    let other_logs = app
        .get(&format!("/spend/logs?api_key={mine}"), &theirs)
        .await;
    assert_openai_error(other_logs, 403).await;
    let bad_date = app
        .get("/spend/logs?start_date=yesterday", MASTER_KEY)
        .await;
    assert_openai_error(bad_date, 400).await;
    let bad_limit = app.get("/spend/logs?limit=lots", MASTER_KEY).await;
    assert_openai_error(bad_limit, 400).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_rotated_key_keeps_its_identity_and_the_old_secret_works_for_its_grace_period(
    pool: PgPool,
) {
    let mock = mock().await;
    let first = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let second = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let created = first
        .generate_key(json!({ "key_alias": "rotating", "max_budget": 1.0 }))
        .await;
    let old = created["key"].as_str().unwrap().to_string();
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(second.chat(&old, &hello("priced")).await.status(), 200);
    wait_for_rows(&pool, &old, 1).await;

    let rotated = first
        .manage(
            &format!("/key/{old}/regenerate"),
            json!({ "grace_period": "2s" }),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["key"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated["token"], token, "the key keeps its identity");
    assert_eq!(rotated["max_budget"], 1.0);
    assert_eq!(rotated["spend_micros"], 250, "and its spend");
    let rotated_at = Instant::now();
    // Both secrets work on both instances during the grace period.
    for app in [&first, &second] {
        app.until_status(&new, 200, "the new secret").await;
        assert_eq!(app.chat(&old, &hello("priced")).await.status(), 200);
    }
    let info = first.key_info(&new).await;
    assert_eq!(info["info"]["token"], token);
    // After it, only the new one.
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(rotated_at.elapsed())).await;
    for app in [&first, &second] {
        app.until_status(&old, 401, "the old secret after its grace period")
            .await;
        assert_eq!(app.chat(&new, &hello("priced")).await.status(), 200);
    }

    // Without a grace period the secret it replaces stops at once, everywhere.
    let again: Value = first
        .manage("/key/regenerate", json!({ "key": new }))
        .await
        .json()
        .await
        .unwrap();
    let newest = again["key"].as_str().unwrap().to_string();
    assert_openai_error(first.chat(&new, &hello("priced")).await, 401).await;
    second
        .until_status(&new, 401, "a secret rotated without grace")
        .await;
    assert_eq!(second.chat(&newest, &hello("priced")).await.status(), 200);
    // Every row of the key, under any of its secrets, is the key's: at least one per secret
    // and instance above.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM spend_logs WHERE token_hash = $1")
            .bind(&token)
            .fetch_one(&pool)
            .await
            .unwrap();
        if rows >= 8 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{rows} rows under the key's token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for refused in [
        json!({ "key": newest, "grace_period": "forever" }),
        json!({ "key": newest, "max_budget": 5 }),
        json!({ "key": "sk-never-issued-0000000000" }),
    ] {
        let status = first
            .manage("/key/regenerate", refused.clone())
            .await
            .status();
        assert!(status == 400 || status == 404, "{refused}: {status}");
    }
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn keys_are_blocked_updated_and_listed(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let second = spawn_config(
        pool.clone(),
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    let key = first.new_key(json!({ "key_alias": "worker" })).await;
    assert_eq!(second.chat(&key, &hello("priced")).await.status(), 200);

    let blocked: Value = first
        .manage("/key/block", json!({ "key": key }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(blocked["blocked"], true);
    let body = assert_openai_error(first.chat(&key, &hello("priced")).await, 401).await;
    assert_eq!(body["error"]["code"], "blocked_api_key");
    second
        .until_status(&key, 401, "a blocked key elsewhere")
        .await;
    first.manage("/key/unblock", json!({ "key": key })).await;
    second
        .until_status(&key, 200, "an unblocked key elsewhere")
        .await;

    // Narrowing its models binds on the other instance within a second.
    let updated = first.manage("/key/update",
        json!({ "key": key, "models": ["gpt-4o-mini"], "max_budget": 2.5, "key_alias": "worker-2" }),
    )
    .await;
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["models"], json!(["gpt-4o-mini"]));
    assert_eq!(updated["max_budget"], 2.5);
    assert_eq!(updated["key_alias"], "worker-2");
    second
        .until_status(&key, 401, "a model the key may no longer use")
        .await;
    assert_eq!(second.chat(&key, &hello("gpt-4o-mini")).await.status(), 200);
    for (body, status) in [
        (json!({ "key": key, "allowed_routes": ["v1/models"] }), 400),
        (
            json!({ "key": key, "model_max_budget": { "gpt-4o-mini": 1 } }),
            400,
        ),
        (json!({ "key": key, "project_id": "p" }), 400),
        (json!({ "key": key, "team_id": "elsewhere" }), 400),
        (json!({ "key": key, "duration": "soon" }), 400),
        (json!({ "key": "sk-not-a-key-000000000000" }), 404),
    ] {
        let response = first.manage("/key/update", body.clone()).await;
        assert_openai_error(response, status).await;
    }

    for index in 0..3 {
        first
            .new_key(json!({ "key_alias": format!("listed-{index}") }))
            .await;
    }
    let page: Value = first
        .get(
            "/key/list?page=2&size=2&return_full_object=true",
            MASTER_KEY,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total_count"], 4);
    assert_eq!(page["total_pages"], 2);
    assert_eq!(page["keys"].as_array().unwrap().len(), 2);
    assert!(page["keys"][0]["token"].is_string());
    let by_alias: Value = first
        .get("/key/list?key_alias=listed-1", MASTER_KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_alias["total_count"], 1);
    assert_openai_error(first.get("/key/list?size=1000", MASTER_KEY).await, 400).await;
    assert_openai_error(first.get("/key/list", &key).await, 403).await;
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn an_access_group_in_models_allows_the_models_that_list_it(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_config(
        pool,
        TestConfig::new(&mock).models(&["priced", "gpt-4o-mini"]),
    )
    .await;
    // `priced` lists `beta-models` in its model_info.access_groups; `gpt-4o-mini` does not.
    let key = app.new_key(json!({ "models": ["beta-models"] })).await;
    assert_eq!(app.chat(&key, &hello("priced")).await.status(), 200);
    assert_eq!(app.chat(&key, &hello("gpt-4o-mini")).await.status(), 401);
    let listed: Value = app.get("/v1/models", &key).await.json().await.unwrap();
    let names: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["priced"]);
    // The same through a team's models.
    let created = app
        .manage(
            "/team/new",
            json!({ "team_id": "beta", "models": ["beta-models"] }),
        )
        .await;
    assert_eq!(created.status(), 200);
    let member = app.new_key(json!({ "team_id": "beta" })).await;
    assert_eq!(app.chat(&member, &hello("priced")).await.status(), 200);
    assert_eq!(app.chat(&member, &hello("gpt-4o-mini")).await.status(), 401);
    app.shutdown().await;
}
