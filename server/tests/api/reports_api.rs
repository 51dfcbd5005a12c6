//! The reports API over real traffic (loopback mock upstream, real Postgres): LiteLLM's report
//! shapes add up to the spend rows, CSV says what the JSON says, keyset pages return every row
//! once, the reconciliation finds nothing amiss, and payloads are stored redacted only when
//! asked.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use time::OffsetDateTime;

struct Traffic {
    app: TestApp,
    team_key: String,
    team_hash: String,
    plain_key: String,
    today: String,
}

/// Team `fin-a` ("Finance A") with project `proj-1`; a key in it (4 requests, two tagged
/// `nightly` by header) and a key in no team (2 requests).
async fn traffic(pool: PgPool, yaml_extra: &str) -> Traffic {
    let mock = mock().await;
    let yaml = config_yaml(&mock, 0.05).replace(
        "  proxy_batch_write_at: 0.05\n",
        &format!("  proxy_batch_write_at: 0.05\n{yaml_extra}"),
    );
    let app = spawn_app_from_yaml(pool, &yaml).await;
    let team = app
        .manage(
            "/team/new",
            json!({ "team_id": "fin-a", "team_alias": "Finance A" }),
        )
        .await;
    assert_eq!(team.status(), 200);
    let project = app
        .manage(
            "/project/new",
            json!({ "project_id": "proj-1", "team_id": "fin-a" }),
        )
        .await;
    assert_eq!(project.status(), 200, "{}", project.text().await.unwrap());
    let team_key = app
        .new_key(
            json!({ "team_id": "fin-a", "project_id": "proj-1", "key_alias": "fin-a-app",
                         "metadata": { "tags": ["batch"] } }),
        )
        .await;
    let plain_key = app.new_key(json!({ "key_alias": "loner" })).await;
    for turn in 0..4 {
        let mut request = app
            .http
            .post(format!("{}/v1/chat/completions", app.base))
            .bearer_auth(&team_key)
            .json(&hello("priced"));
        if turn < 2 {
            request = request.header("x-litellm-tags", "nightly");
        }
        assert_eq!(request.send().await.unwrap().status(), 200);
    }
    for _ in 0..2 {
        assert_eq!(
            app.chat(&plain_key, &hello("gpt-4o-mini")).await.status(),
            200
        );
    }
    wait_for_rows(&app.pool, &team_key, 4).await;
    wait_for_rows(&app.pool, &plain_key, 2).await;
    let team_hash = app::secrets::hash_key(&team_key);
    let today = OffsetDateTime::now_utc().date().to_string();
    Traffic {
        app,
        team_key,
        team_hash,
        plain_key,
        today,
    }
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, MASTER_KEY).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// (requests, cost) per team id ('' for none), straight from the spend rows.
async fn raw_by_team(pool: &PgPool) -> BTreeMap<String, (i64, i64)> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT coalesce(team_id, ''), count(*), sum(cost_micros)::bigint FROM spend_logs GROUP BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(team, requests, cost)| (team, (requests, cost)))
        .collect()
}

/// Splits one CSV line (the cells this report writes: quoted only when they must be).
fn csv_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

#[sqlx::test(migrations = false)]
async fn reports_add_up_to_the_spend_rows_and_csv_matches_json(pool: PgPool) {
    let traffic = traffic(pool.clone(), "").await;
    let app = &traffic.app;
    let today = &traffic.today;
    let raw = raw_by_team(&pool).await;
    assert_eq!(raw.len(), 2);

    // Gatehouse's flat report, JSON and CSV.
    let path = format!("/spend/report?group_by=team&start_date={today}&end_date={today}");
    let report = get_json(app, &path).await;
    let rows = report["rows"].as_array().unwrap();
    let reported: BTreeMap<String, (i64, i64)> = rows
        .iter()
        .map(|row| {
            (
                row["group"].as_str().unwrap().to_string(),
                (
                    row["requests"].as_i64().unwrap(),
                    row["spend_micros"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(reported, raw);
    let labels: BTreeSet<&str> = rows
        .iter()
        .map(|row| row["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, BTreeSet::from(["Finance A", "No team"]));
    assert_eq!(
        report["total_spend_micros"].as_i64().unwrap(),
        raw.values().map(|(_, cost)| cost).sum::<i64>()
    );
    let csv_response = app.get(&format!("{path}&format=csv"), MASTER_KEY).await;
    assert_eq!(csv_response.status(), 200);
    assert_eq!(
        header(&csv_response, "content-type"),
        "text/csv; charset=utf-8"
    );
    assert!(header(&csv_response, "content-disposition")
        .starts_with("attachment; filename=\"gatehouse-spend-"));
    let csv = csv_response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|line| !line.is_empty()).collect();
    assert_eq!(lines[0], app::model::reports::REPORT_CSV_HEADER);
    assert_eq!(lines.len(), rows.len() + 1);
    for (line, row) in lines[1..].iter().zip(rows) {
        let cells = csv_cells(line);
        assert_eq!(cells[0], row["period"].as_str().unwrap());
        assert_eq!(cells[1], row["group"].as_str().unwrap());
        assert_eq!(cells[2], row["label"].as_str().unwrap());
        assert_eq!(cells[3], row["requests"].to_string());
        assert_eq!(cells[4], row["failed_requests"].to_string());
        assert_eq!(cells[5], row["prompt_tokens"].to_string());
        assert_eq!(cells[6], row["completion_tokens"].to_string());
        assert_eq!(cells[9], row["spend_micros"].to_string());
        assert_eq!(cells[10], row["avg_latency_ms"].to_string());
    }

    // LiteLLM's global report, per team and per key.
    let per_team = get_json(
        app,
        &format!("/global/spend/report?start_date={today}&end_date={today}&group_by=team"),
    )
    .await;
    let teams = per_team[0]["teams"].as_array().unwrap();
    assert_eq!(
        per_team[0]["group_by_day"],
        format!("{today}T00:00:00+00:00")
    );
    let finance = teams
        .iter()
        .find(|team| team["team_name"] == "Finance A")
        .unwrap();
    assert_eq!(
        finance["total_spend_micros"].as_i64().unwrap(),
        raw["fin-a"].1
    );
    assert_eq!(finance["metadata"][0]["model"], "priced");
    assert!(teams
        .iter()
        .any(|team| team["team_name"] == "Unassigned Team"));
    let per_key = get_json(
        app,
        &format!("/global/spend/report?start_date={today}&end_date={today}&group_by=api_key"),
    )
    .await;
    let entry = per_key
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["api_key"] == traffic.team_hash.as_str())
        .unwrap();
    assert_eq!(entry["total_cost_micros"].as_i64().unwrap(), raw["fin-a"].1);
    assert_eq!(entry["model_details"][0]["model"], "priced");
    for (bad, param) in [
        ("/global/spend/report?end_date=2026-11-30", "start_date"),
        (
            "/global/spend/report?start_date=2026-11-30&end_date=2026-11-01",
            "start_date",
        ),
        (
            "/global/spend/report?start_date=2026-11-01&end_date=2026-11-30&group_by=customer",
            "group_by",
        ),
        (
            "/global/spend/report?start_date=2026-11-01&end_date=2026-11-30&group_by=planet",
            "group_by",
        ),
        ("/spend/report?format=xml", "format"),
        ("/spend/report?granularity=hourly", "granularity"),
        ("/spend/report?start_date=30.11.2026", "start_date"),
    ] {
        let body = assert_openai_error(app.get(bad, MASTER_KEY).await, 400).await;
        assert_eq!(body["error"]["param"], param, "{bad}: {body}");
    }

    // Tags: the key's own and the header's.
    let tags = get_json(app, "/spend/tags").await;
    let tag = |name: &str| {
        tags.as_array()
            .unwrap()
            .iter()
            .find(|tag| tag["individual_request_tag"] == name)
            .unwrap()["log_count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((tag("batch"), tag("nightly")), (4, 2));
    let nightly = get_json(app, "/global/spend/tags?tags=nightly").await;
    assert_eq!(nightly["spend_per_tag"].as_array().unwrap().len(), 1);
    assert_eq!(nightly["spend_per_tag"][0]["log_count"], 2);

    // Daily activity, per user (all, as an admin) and per team.
    let activity = get_json(
        app,
        &format!("/user/daily/activity?start_date={today}&end_date={today}"),
    )
    .await;
    assert_eq!(activity["metadata"]["total_api_requests"], 6);
    assert_eq!(activity["metadata"]["total_successful_requests"], 6);
    assert_eq!(activity["metadata"]["has_more"], false);
    // A page far past the end is empty, not an overflow.
    let beyond = get_json(
        app,
        &format!(
            "/user/daily/activity?start_date={today}&end_date={today}&page=9223372036854775807"
        ),
    )
    .await;
    assert_eq!(beyond["results"].as_array().unwrap().len(), 0);
    assert_eq!(activity["results"][0]["date"], today.as_str());
    let key_entry = &activity["results"][0]["breakdown"]["api_keys"][&traffic.team_hash];
    assert_eq!(key_entry["metadata"]["key_alias"], "fin-a-app");
    assert_eq!(key_entry["metadata"]["team_id"], "fin-a");
    assert_eq!(key_entry["metrics"]["api_requests"], 4);
    // Every bucket lists its keys' figures with their metadata; models and model groups
    // agree; keys of no user are "Unassigned".
    let breakdown = &activity["results"][0]["breakdown"];
    assert_eq!(breakdown["models"], breakdown["model_groups"]);
    for buckets in ["models", "providers", "entities"] {
        let mut requests_per_key = BTreeMap::<String, i64>::new();
        for bucket in breakdown[buckets].as_object().unwrap().values() {
            for (hash, entry) in bucket["api_key_breakdown"].as_object().unwrap() {
                *requests_per_key.entry(hash.clone()).or_default() +=
                    entry["metrics"]["api_requests"].as_i64().unwrap();
                assert_eq!(entry["metadata"], breakdown["api_keys"][hash]["metadata"]);
            }
        }
        assert_eq!(requests_per_key[&traffic.team_hash], 4, "{buckets}");
        assert_eq!(requests_per_key.values().sum::<i64>(), 6, "{buckets}");
    }
    assert_eq!(
        breakdown["entities"]["Unassigned"]["metrics"]["api_requests"],
        6
    );
    assert_eq!(
        breakdown["entities"]["Unassigned"]["metadata"],
        json!({ "user_alias": null })
    );
    let team_activity = get_json(
        app,
        &format!("/team/daily/activity?team_ids=fin-a&start_date={today}&end_date={today}"),
    )
    .await;
    assert_eq!(team_activity["metadata"]["total_api_requests"], 4);
    assert_eq!(
        team_activity["metadata"]["total_spend_micros"]
            .as_i64()
            .unwrap(),
        raw["fin-a"].1
    );
    let entity = &team_activity["results"][0]["breakdown"]["entities"]["fin-a"];
    assert_eq!(entity["metadata"]["team_alias"], "Finance A");
    assert_eq!(
        team_activity["results"][0]["breakdown"]["models"]["priced"]["metrics"]["api_requests"],
        4
    );

    // LiteLLM's /spend/logs: with both dates it summarizes per day unless told not to.
    let summary = get_json(
        app,
        &format!("/spend/logs?start_date={today}&end_date={today}"),
    )
    .await;
    assert_eq!(summary.as_array().unwrap().len(), 1);
    assert_eq!(summary[0]["startTime"], today.as_str());
    let total_dollars: f64 = raw.values().map(|(_, cost)| *cost as f64 / 1e6).sum();
    assert!((summary[0]["spend"].as_f64().unwrap() - total_dollars).abs() < 1e-9);
    assert!(summary[0][&traffic.team_hash].as_f64().unwrap() > 0.0);
    let listed = get_json(
        app,
        &format!("/spend/logs?start_date={today}&end_date={today}&summarize=false"),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 6);
    let failures = get_json(app, "/spend/logs?status=failure").await;
    assert_eq!(failures.as_array().unwrap().len(), 0);
    let team_rows = get_json(app, "/spend/logs?team_id=fin-a&tag=nightly").await;
    assert_eq!(team_rows.as_array().unwrap().len(), 2);
    assert_eq!(team_rows[0]["project_id"], "proj-1");

    let check = get_json(app, "/spend/reconcile").await;
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["raw_rows"], 6);
    assert!(check["counters_checked"].as_i64().unwrap() >= 3, "{check}");
    traffic.app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn keyset_pages_over_the_api_return_every_row_once(pool: PgPool) {
    let traffic = traffic(pool, "").await;
    let app = &traffic.app;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/spend/logs/page?page_size=4&cursor={cursor}"),
            None => "/spend/logs/page?page_size=4".to_string(),
        };
        let page = get_json(app, &path).await;
        pages += 1;
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row["request_id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 6);
    let body = assert_openai_error(
        app.get("/spend/logs/page?cursor=not-a-cursor", MASTER_KEY)
            .await,
        400,
    )
    .await;
    assert_eq!(body["error"]["param"], "cursor");
    // A key without a user reads only its own rows.
    let own = app.get("/spend/logs/page", &traffic.plain_key).await;
    let own: Value = own.json().await.unwrap();
    assert_eq!(own["data"].as_array().unwrap().len(), 2);
    let theirs = app
        .get(
            &format!("/spend/logs/page?api_key={}", traffic.team_key),
            &traffic.plain_key,
        )
        .await;
    assert_eq!(theirs.status(), 403);
    traffic.app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn payloads_are_stored_redacted_only_when_asked(pool: PgPool) {
    let quiet = traffic(pool.clone(), "").await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM spend_payloads")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 0, "payload logging is off by default");
    quiet.app.shutdown().await;

    let mock = mock().await;
    let yaml = config_yaml(&mock, 0.05).replace(
        "  proxy_batch_write_at: 0.05\n",
        "  proxy_batch_write_at: 0.05\n  store_prompts_in_spend_logs: true\n",
    );
    let app = spawn_app_from_yaml(pool.clone(), &yaml).await;
    let key = app.new_key(json!({ "key_alias": "talkative" })).await;
    let secret_prompt = json!({
        "model": "priced",
        "messages": [{ "role": "user",
            "content": "I am ada@example.org, my key is sk-live-0123456789abcdefghij" }],
    });
    let response = app.chat(&key, &secret_prompt).await;
    assert_eq!(response.status(), 200);
    let request_id = header(&response, "x-litellm-call-id");
    wait_for_rows(&pool, &key, 1).await;
    let (request, reply): (Value, Value) =
        sqlx::query_as("SELECT request, response FROM spend_payloads WHERE request_id = $1")
            .bind(&request_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    let content = request["messages"][0]["content"].as_str().unwrap();
    assert!(
        !content.contains("ada@example.org") && !content.contains("sk-live"),
        "{content}"
    );
    assert!(
        content.contains("[REDACTED_EMAIL]") && content.contains("[REDACTED_KEY]"),
        "{content}"
    );
    assert_eq!(request["model"], "priced");
    assert!(
        reply["choices"][0]["message"]["content"].is_string(),
        "{reply}"
    );
    app.shutdown().await;
}
