//! The console's daily spend figures: UTC day buckets, zero-filled, from the spend log.

use std::sync::Arc;

use app::db::budgets::{self, BudgetLimits};
use app::db::spend::{daily_totals, insert_batch, list, Charge, SpendFilter, SpendRow};
use app::model::DailySpend;
use server::startup::migrate;
use sqlx::PgPool;
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

fn row(request_id: &str, cost_micros: i64, started_at: OffsetDateTime) -> SpendRow {
    SpendRow {
        request_id: request_id.into(),
        token_hash: "hash-of-some-key".into(),
        call_type: "acompletion".into(),
        model_group: "priced".into(),
        upstream_model: "priced-model".into(),
        provider: "openai".into(),
        api_base: "http://127.0.0.1:1/v1".into(),
        prompt_tokens: 10,
        completion_tokens: 5,
        cached_tokens: 4,
        cache_write_tokens: 1,
        reasoning_tokens: 2,
        cost_micros,
        latency_ms: 3,
        http_status: 200,
        status: "success".into(),
        is_stream: false,
        usage_estimated: false,
        end_user: None,
        started_at,
        ended_at: started_at,
        model_id: "deployment-1".into(),
        attempts: None,
        team_id: None,
        user_id: None,
        project_id: None,
        request_tags: None,
        session_id: None,
        metadata: None,
        charges: Vec::new(),
        payload: None,
    }
}

fn day(day: &str, spend_micros: i64, requests: i64) -> DailySpend {
    DailySpend {
        day: day.into(),
        spend_micros,
        requests,
    }
}

#[sqlx::test(migrations = false)]
async fn days_are_utc_buckets_with_empty_days_as_zero(pool: PgPool) {
    migrate(&pool).await.unwrap();
    insert_batch(
        &pool,
        &[
            row("before-window", 999, datetime!(2026-11-19 23:59:59.999 UTC)),
            row("first-day", 1_000, datetime!(2026-11-20 00:00:00 UTC)),
            row("last-second", 250, datetime!(2026-11-22 23:59:59.999 UTC)),
            // 01:30 in UTC+02:00 is still the previous UTC day.
            row("offset", 50, datetime!(2026-11-23 01:30 +02:00)),
            row("last-day-a", 7, datetime!(2026-11-23 12:00 UTC)),
            row("last-day-b", 3, datetime!(2026-11-23 23:00 UTC)),
            row("after-window", 999, datetime!(2026-11-24 00:00 UTC)),
        ],
        Uuid::nil(),
    )
    .await
    .unwrap();

    let days = daily_totals(&pool, time::macros::date!(2026 - 11 - 23), 4)
        .await
        .unwrap();

    assert_eq!(
        days,
        vec![
            day("2026-11-20", 1_000, 1),
            day("2026-11-21", 0, 0),
            day("2026-11-22", 300, 2),
            day("2026-11-23", 10, 2),
        ]
    );
}

#[sqlx::test(migrations = false)]
async fn a_row_served_by_its_first_attempt_lists_that_attempt(pool: PgPool) {
    migrate(&pool).await.unwrap();
    let at = datetime!(2026-11-20 10:00 UTC);
    let rerouted_attempts = serde_json::json!([
        { "model_group": "priced", "deployment_id": "deployment-0", "api_base": "http://a", "outcome": "server_error", "status": 502, "latency_ms": 1 },
        { "model_group": "priced", "deployment_id": "deployment-1", "api_base": "http://127.0.0.1:1/v1", "outcome": "success", "status": 200, "latency_ms": 2 },
    ]);
    let rerouted = SpendRow {
        attempts: Some(rerouted_attempts.clone()),
        ..row("rerouted", 1, at)
    };
    insert_batch(&pool, &[row("direct", 1, at), rerouted], Uuid::nil())
        .await
        .unwrap();
    let filter = SpendFilter {
        limit: 10,
        ..SpendFilter::default()
    };
    let rows = list(&pool, &filter).await.unwrap();
    let by_id = |id: &str| rows.iter().find(|row| row.request_id == id).unwrap();
    assert_eq!(by_id("direct").attempts, None);
    assert_eq!(
        by_id("direct").attempt_list(),
        serde_json::json!([{ "model_group": "priced", "deployment_id": "deployment-1", "api_base": "http://127.0.0.1:1/v1", "outcome": "success", "status": 200, "latency_ms": 3 }])
    );
    assert_eq!(by_id("rerouted").attempt_list(), rerouted_attempts);
}

#[sqlx::test(migrations = false)]
async fn a_batch_turns_what_a_lease_paid_into_spend_once(pool: PgPool) {
    migrate(&pool).await.unwrap();
    let instance = Uuid::new_v4();
    let mut connection = pool.acquire().await.unwrap();
    let limits = BudgetLimits {
        max_micros: Some(10_000),
        ..BudgetLimits::default()
    };
    budgets::set_limits(&mut connection, "key:k", &limits)
        .await
        .unwrap();
    drop(connection);
    let lease = budgets::LeaseRequest {
        need: 1_000,
        want: 1_000,
        share: 16,
    };
    let granted = budgets::lease(&pool, "key:k", instance, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(granted.available, 10_000);
    assert_eq!(granted.granted, Some(1_000));
    let charged = |request_id: &str, cost: i64, drawn: i64| SpendRow {
        charges: vec![
            Charge {
                subject: Arc::from("key:k"),
                drawn_micros: drawn,
            },
            Charge {
                subject: Arc::from("team:t"),
                drawn_micros: 0,
            },
        ],
        team_id: Some("t".into()),
        user_id: None,
        project_id: None,
        request_tags: None,
        session_id: None,
        metadata: None,
        ..row(request_id, cost, datetime!(2026-11-20 10:00 UTC))
    };
    let batch = [charged("a", 300, 300), charged("b", 200, 200)];
    insert_batch(&pool, &batch, instance).await.unwrap();
    // The same batch again (a retry after an ambiguous failure) counts nothing twice.
    insert_batch(&pool, &batch, instance).await.unwrap();
    let key = budgets::find(&pool, "key:k").await.unwrap().unwrap();
    assert_eq!((key.spend_micros, key.leased_micros), (500, 500));
    let team = budgets::find(&pool, "team:t").await.unwrap().unwrap();
    assert_eq!((team.max_micros, team.spend_micros), (None, 500));
    // Never more than is left: 10,000 - 500 spent - 500 still leased.
    let edge = budgets::LeaseRequest {
        need: 9_100,
        want: 9_500,
        share: 16,
    };
    let refused = budgets::lease(&pool, "key:k", instance, edge)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((refused.available, refused.granted), (9_000, None));
    let edge = budgets::LeaseRequest {
        need: 8_000,
        want: 9_500,
        share: 16,
    };
    let granted = budgets::lease(&pool, "key:k", instance, edge)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(granted.granted, Some(9_000));
    budgets::release_all(&pool, instance).await.unwrap();
    let key = budgets::find(&pool, "key:k").await.unwrap().unwrap();
    assert_eq!((key.spend_micros, key.leased_micros), (500, 0));
}
