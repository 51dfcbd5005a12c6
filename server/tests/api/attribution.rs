//! Projects, tags, per-model key budgets and allowed routes: each budget binds exactly (a burst
//! at its edge on two instances sharing the database: spent ≤ budget, counter = Σ spend rows),
//! spend rows carry the project and tags, and a key limited to some routes is refused the
//! others on every instance.

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

/// A chat request for `priced` of at most 20 output tokens (costs 250 µ$ at most).
fn bounded(extra: Value) -> Value {
    let mut body = json!({ "model": "priced",
        "messages": [{ "role": "user", "content": "Say hello" }], "max_tokens": 20 });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// Waits (up to a second) until `body` sent with `key` to `app` answers `status`.
async fn until_chat(app: &TestApp, key: &str, body: &Value, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        if app.chat(key, body).await.status() == status {
            return;
        }
        assert!(Instant::now() < deadline, "not {status} within a second");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn a_project_budget_binds_its_keys_and_its_rows_name_it(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    ok(first
        .manage(
            "/team/new",
            json!({ "team_id": "t-p", "team_alias": "Projects" }),
        )
        .await)
    .await;
    let project = ok(first
        .manage(
            "/project/new",
            json!({ "project_id": "p-1", "project_alias": "Chatbot", "team_id": "t-p",
                    "max_budget": 0.005, "models": ["priced", "gpt-4o-mini"] }),
        )
        .await)
    .await;
    assert_eq!(project["max_budget"], 0.005);
    let keys = [
        first
            .new_key(json!({ "team_id": "t-p", "project_id": "p-1" }))
            .await,
        first
            .new_key(json!({ "team_id": "t-p", "project_id": "p-1" }))
            .await,
    ];
    mock.record.set_latency(Duration::from_millis(100));
    let admitted = burst(&[&first, &second], &keys, 32, |_| bounded(json!({}))).await;
    mock.record.set_latency(Duration::ZERO);
    assert!((3..32).contains(&admitted), "{admitted} admitted");
    let spent = settled_cost(
        &pool,
        "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
         WHERE project_id = $1",
        "p-1",
        admitted,
    )
    .await;
    assert!(spent <= 5_000, "the project spent {spent} µ$ of 5,000");
    let info = ok(first.get("/project/info?project_id=p-1", MASTER_KEY).await).await;
    assert_eq!(info["spend_micros"], spent, "the counter equals the rows");
    assert_eq!(info["keys"], 2);
    assert_eq!(first.key_info(&keys[0]).await["info"]["project_id"], "p-1");

    // The project's models bound its keys, everywhere within a second of a change.
    let other = hello("demo");
    assert_eq!(first.chat(&keys[0], &other).await.status(), 401);
    ok(first
        .manage(
            "/project/update",
            json!({ "project_id": "p-1", "models": ["demo"] }),
        )
        .await)
    .await;
    let deadline = Instant::now() + Duration::from_secs(1);
    while second.chat(&keys[1], &hello("gpt-4o-mini")).await.status() != 401 {
        assert!(
            Instant::now() < deadline,
            "the project's models did not reach instance B"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A key in a project of another team, or in no project that exists, is refused.
    ok(first.manage("/team/new", json!({ "team_id": "t-q" })).await).await;
    let outside = first
        .manage(
            "/key/generate",
            json!({ "team_id": "t-q", "project_id": "p-1" }),
        )
        .await;
    assert_openai_error(outside, 400).await;
    let unknown = first
        .manage("/key/generate", json!({ "project_id": "p-none" }))
        .await;
    assert_openai_error(unknown, 400).await;
    // A project with live keys is not deleted; once they are gone, it is.
    let refused = first
        .manage("/project/delete", json!({ "project_ids": ["p-1"] }))
        .await;
    assert_openai_error(refused, 400).await;
    ok(first.manage("/key/delete", json!({ "keys": keys })).await).await;
    let deleted = ok(first
        .manage("/project/delete", json!({ "project_ids": ["p-1"] }))
        .await)
    .await;
    assert_eq!(deleted["deleted_projects"], json!(["p-1"]));
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_team_admin_keeps_projects_within_its_team(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    ok(app
        .manage(
            "/team/new",
            json!({ "team_id": "t-a", "max_budget": 1.0, "models": ["priced"] }),
        )
        .await)
    .await;
    ok(app
        .manage(
            "/user/new",
            json!({ "user_id": "lead", "user_role": "internal_user",
        "auto_create_key": false }),
        )
        .await)
    .await;
    ok(app
        .manage(
            "/team/member_add",
            json!({ "team_id": "t-a",
        "member": { "user_id": "lead", "role": "admin" } }),
        )
        .await)
    .await;
    let lead = app.new_key(json!({ "user_id": "lead" })).await;
    let within = app
        .post(
            "/project/new",
            &lead,
            &json!({ "project_id": "p-a", "team_id": "t-a",
            "max_budget": 0.5, "models": ["priced"] }),
        )
        .await;
    assert_eq!(within.status(), 200, "{}", within.text().await.unwrap());
    for (field, body) in [
        (
            "max_budget",
            json!({ "project_id": "p-b", "team_id": "t-a", "max_budget": 2.0 }),
        ),
        (
            "models",
            json!({ "project_id": "p-c", "team_id": "t-a", "models": ["demo"] }),
        ),
        ("team", json!({ "project_id": "p-d" })),
    ] {
        let refused = app.post("/project/new", &lead, &body).await;
        let body = assert_openai_error(refused, 403).await;
        assert!(body["error"]["message"].is_string(), "{field}: {body}");
    }
    let raise = app
        .post(
            "/project/update",
            &lead,
            &json!({ "project_id": "p-a", "max_budget": 5.0 }),
        )
        .await;
    assert_openai_error(raise, 403).await;
    let delete = app
        .post("/project/delete", &lead, &json!({ "project_ids": ["p-a"] }))
        .await;
    assert_openai_error(delete, 403).await;
    let listed = ok(app.get("/project/list", &lead).await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // Fields Gatehouse does not enforce on projects are refused, not ignored.
    let unknown = app
        .manage(
            "/project/new",
            json!({ "project_id": "p-e", "rpm_limit": 5 }),
        )
        .await;
    assert_openai_error(unknown, 400).await;
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_tag_budget_binds_every_request_carrying_the_tag(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let created = ok(first
        .manage(
            "/tag/new",
            json!({ "name": "feature-chat", "description": "Chat feature", "max_budget": 0.005 }),
        )
        .await)
    .await;
    assert_eq!(created["tag"]["max_budget"], 0.005);
    let plain = first.new_key(json!({})).await;
    let tagged = first
        .new_key(json!({ "metadata": { "tags": ["feature-chat", "from-key"] } }))
        .await;
    // The key's own tags go on its rows (one request first: in the burst, requests carrying
    // the tag in their body may spend the budget before the key gets one in).
    assert_eq!(first.chat(&tagged, &bounded(json!({}))).await.status(), 200);
    let keys = [plain.clone(), tagged.clone()];
    mock.record.set_latency(Duration::from_millis(100));
    // The tag arrives three ways: body `tags`, body `metadata.tags`, and the key's own tags.
    let admitted = burst(&[&first, &second], &keys, 32, |index| match index % 4 {
        0 => bounded(json!({ "tags": ["feature-chat"] })),
        2 => bounded(json!({ "metadata": { "tags": ["feature-chat"] } })),
        _ => bounded(json!({})),
    })
    .await;
    mock.record.set_latency(Duration::ZERO);
    assert!((2..32).contains(&admitted), "{admitted} admitted");
    let spent = settled_cost(
        &pool,
        "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
         WHERE $1 = ANY(request_tags)",
        "feature-chat",
        admitted + 1,
    )
    .await;
    assert!(spent <= 5_000, "the tag spent {spent} µ$ of 5,000");
    let info = ok(first
        .post(
            "/tag/info",
            MASTER_KEY,
            &json!({ "names": ["feature-chat"] }),
        )
        .await)
    .await;
    assert_eq!(
        info["feature-chat"]["spend_micros"], spent,
        "counter = rows"
    );
    let key_tags: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT unnest(request_tags) FROM spend_logs WHERE token_hash = $1 ORDER BY 1",
    )
    .bind(app::secrets::hash_key(&tagged))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(key_tags, ["feature-chat", "from-key"]);
    // Untagged requests are not bound by it; header tags land on the row.
    assert_eq!(first.chat(&plain, &bounded(json!({}))).await.status(), 200);
    let via_header = first
        .http
        .post(format!("{}/v1/chat/completions", first.base))
        .bearer_auth(&plain)
        .header("x-litellm-tags", "audit-x, audit-y")
        .json(&bounded(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(via_header.status(), 200);
    let cost = settled_cost(
        &pool,
        "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
         WHERE request_tags = ARRAY['audit-x', $1]",
        "audit-y",
        1,
    )
    .await;
    assert!(cost > 0);
    // Its budget lowered to nothing, then the tag deleted: refused, then free, on B.
    ok(first
        .manage(
            "/tag/update",
            json!({ "name": "feature-chat", "max_budget": 0.0 }),
        )
        .await)
    .await;
    let tagged_body = bounded(json!({ "tags": ["feature-chat"] }));
    until_chat(&second, &plain, &tagged_body, 400).await;
    ok(first
        .manage("/tag/delete", json!({ "name": "feature-chat" }))
        .await)
    .await;
    until_chat(&second, &plain, &tagged_body, 200).await;
    // Tags must be text.
    for bad in [
        json!({ "tags": "feature-chat" }),
        json!({ "tags": [1] }),
        json!({ "metadata": { "tags": [""] } }),
    ] {
        assert_openai_error(first.chat(&plain, &bounded(bad)).await, 400).await;
    }
    let many: Vec<String> = (0..40).map(|index| format!("t{index}")).collect();
    let too_many = first
        .http
        .post(format!("{}/v1/chat/completions", first.base))
        .bearer_auth(&plain)
        .header("x-litellm-tags", many.join(","))
        .json(&bounded(json!({})))
        .send()
        .await
        .unwrap();
    assert_openai_error(too_many, 400).await;
    let listed = ok(first.get("/tag/list", MASTER_KEY).await).await;
    assert_eq!(listed, json!([]));
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_key_budget_for_one_model_binds_only_that_model(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let generated = first
        .generate_key(json!({ "model_max_budget": {
            "priced": { "budget_limit": 0.005, "time_period": "1d" } } }))
        .await;
    assert_eq!(
        generated["model_max_budget"]["priced"],
        json!({ "budget_limit": 0.005, "time_period": "1d" })
    );
    let key = generated["key"].as_str().unwrap().to_string();
    mock.record.set_latency(Duration::from_millis(100));
    let admitted = burst(&[&first, &second], std::slice::from_ref(&key), 32, |_| {
        bounded(json!({}))
    })
    .await;
    mock.record.set_latency(Duration::ZERO);
    assert!((3..32).contains(&admitted), "{admitted} admitted");
    let spent = settled_cost(
        &pool,
        "SELECT count(*), COALESCE(sum(cost_micros), 0)::bigint FROM spend_logs \
         WHERE token_hash = $1 AND model_group = 'priced'",
        &app::secrets::hash_key(&key),
        admitted,
    )
    .await;
    assert!(
        spent <= 5_000,
        "the key spent {spent} µ$ of 5,000 on `priced`"
    );
    let subject = format!("key:{}:model:priced", app::secrets::hash_key(&key));
    let (counted, resets): (i64, bool) = sqlx::query_as(
        "SELECT spend_micros, resets_at IS NOT NULL FROM budget_counters WHERE subject = $1",
    )
    .bind(&subject)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(counted, spent, "the counter equals the rows");
    assert!(resets, "a 1d window");
    // Other models are not bound by it.
    assert_eq!(first.chat(&key, &hello("gpt-4o-mini")).await.status(), 200);
    // Lowered to nothing, the model is refused; its budget dropped, it is free again: on
    // every instance within a second.
    ok(first
        .manage(
            "/key/update",
            json!({ "key": key,
            "model_max_budget": { "priced": { "max_budget": 0 } } }),
        )
        .await)
    .await;
    until_chat(&second, &key, &bounded(json!({})), 400).await;
    assert_eq!(second.chat(&key, &hello("gpt-4o-mini")).await.status(), 200);
    ok(first
        .manage("/key/update", json!({ "key": key, "model_max_budget": {} }))
        .await)
    .await;
    until_chat(&second, &key, &bounded(json!({})), 200).await;
    // LiteLLM's shapes only.
    for bad in [
        json!({ "priced": 0.5 }),
        json!({ "priced": { "time_period": "1d" } }),
        json!({ "priced": { "budget_limit": -1 } }),
        json!({ "priced": { "budget_limit": 1, "time_period": "often" } }),
    ] {
        let refused = first
            .manage("/key/generate", json!({ "model_max_budget": bad }))
            .await;
        assert_openai_error(refused, 400).await;
    }
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_key_calls_only_its_allowed_routes_on_every_instance(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let key = first
        .new_key(json!({ "allowed_routes": ["/chat/completions"] }))
        .await;
    assert_eq!(first.chat(&key, &hello("priced")).await.status(), 200);
    let embeddings = post_json(
        &second,
        "/v1/embeddings",
        &key,
        &json!({ "model": "embed",
        "input": "hello" }),
    )
    .await;
    let body = assert_openai_error(embeddings, 403).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/embeddings"),
        "{body}"
    );
    assert_openai_error(first.get(&format!("/key/info?key={key}"), &key).await, 403).await;
    // Changed to read-only routes: chat is refused on the other instance within a second.
    ok(first
        .manage(
            "/key/update",
            json!({ "key": key, "allowed_routes": ["info_routes"] }),
        )
        .await)
    .await;
    second
        .until_status(&key, 403, "chat after allowed_routes = info_routes")
        .await;
    let info = second.get(&format!("/key/info?key={key}"), &key).await;
    assert_eq!(info.status(), 200);
    assert_eq!(
        info.json::<Value>().await.unwrap()["info"]["allowed_routes"],
        json!(["info_routes"])
    );
    let llm = first
        .new_key(json!({ "allowed_routes": ["llm_api_routes"] }))
        .await;
    assert_eq!(first.chat(&llm, &hello("priced")).await.status(), 200);
    assert_eq!(
        post_json(
            &first,
            "/embeddings",
            &llm,
            &json!({ "model": "embed", "input": "x" })
        )
        .await
        .status(),
        200
    );
    let own_info = first.get(&format!("/key/info?key={llm}"), &llm).await;
    assert_openai_error(own_info, 403).await;
    let bad = first
        .manage("/key/generate", json!({ "allowed_routes": ["chat"] }))
        .await;
    assert_openai_error(bad, 400).await;
    first.shutdown().await;
    second.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn a_named_budget_sets_the_limits_of_everything_linked_to_it(pool: PgPool) {
    let mock = mock().await;
    let first = spawn_app(pool.clone(), &mock).await;
    let second = spawn_app(pool.clone(), &mock).await;
    let created = ok(first
        .manage(
            "/budget/new",
            json!({ "budget_id": "tier-free", "max_budget": 1.0, "budget_duration": "1d" }),
        )
        .await)
    .await;
    assert_eq!(created["max_budget"], 1.0);
    let customer = ok(first
        .manage(
            "/customer/new",
            json!({ "user_id": "c-free", "budget_id": "tier-free" }),
        )
        .await)
    .await;
    assert_eq!(
        (
            &customer["max_budget"],
            &customer["budget_duration"],
            &customer["budget_id"]
        ),
        (&json!(1.0), &json!("1d"), &json!("tier-free"))
    );
    let organization = ok(first
        .manage(
            "/organization/new",
            json!({ "organization_id": "o-free", "organization_alias": "Free",
                    "budget_id": "tier-free" }),
        )
        .await)
    .await;
    assert_eq!(organization["max_budget"], 1.0);
    for bad in [
        json!({ "user_id": "c-x", "budget_id": "tier-free", "max_budget": 2.0 }),
        json!({ "user_id": "c-y", "budget_id": "no-such-tier" }),
    ] {
        assert_openai_error(first.manage("/customer/new", bad).await, 400).await;
    }
    let key = first.new_key(json!({})).await;
    let from_customer = bounded(json!({ "user": "c-free" }));
    assert_eq!(second.chat(&key, &from_customer).await.status(), 200);
    // Lowered to nothing: every linked entity at once, enforced on B within a second.
    ok(first
        .manage(
            "/budget/update",
            json!({ "budget_id": "tier-free", "max_budget": 0.0 }),
        )
        .await)
    .await;
    until_chat(&second, &key, &from_customer, 400).await;
    let organization = ok(first
        .get("/organization/info?organization_id=o-free", MASTER_KEY)
        .await)
    .await;
    assert_eq!(
        (
            &organization["max_budget"],
            &organization["budget_duration"]
        ),
        (&json!(0.0), &Value::Null)
    );
    let info = ok(first
        .post(
            "/budget/info",
            MASTER_KEY,
            &json!({ "budgets": ["tier-free"] }),
        )
        .await)
    .await;
    assert_eq!(info[0]["linked"], 2, "{info}");
    let settings = ok(first
        .get("/budget/settings?budget_id=tier-free", MASTER_KEY)
        .await)
    .await;
    assert_eq!(settings[0]["field_name"], "max_budget");
    assert_eq!(settings[0]["field_value"], 0.0);
    // Linked, it is not deleted; given its own budget, the end user lets go of it.
    let refused = first
        .manage("/budget/delete", json!({ "id": "tier-free" }))
        .await;
    assert_openai_error(refused, 400).await;
    let own = ok(first
        .manage(
            "/customer/update",
            json!({ "user_id": "c-free", "max_budget": 5.0 }),
        )
        .await)
    .await;
    assert_eq!(
        (&own["budget_id"], &own["max_budget"]),
        (&Value::Null, &json!(5.0))
    );
    until_chat(&second, &key, &from_customer, 200).await;
    ok(first
        .manage(
            "/organization/delete",
            json!({ "organization_ids": ["o-free"] }),
        )
        .await)
    .await;
    ok(first
        .manage("/budget/delete", json!({ "id": "tier-free" }))
        .await)
    .await;
    assert_eq!(
        ok(first.get("/budget/list", MASTER_KEY).await).await,
        json!([])
    );
    // Limits Gatehouse does not enforce on named budgets are refused, not ignored.
    let unknown = first
        .manage("/budget/new", json!({ "budget_id": "t2", "rpm_limit": 5 }))
        .await;
    assert_openai_error(unknown, 400).await;
    first.shutdown().await;
    second.shutdown().await;
}
