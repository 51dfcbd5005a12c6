//! The spend log's storage on a real Postgres: rollups advanced by the batch writer equal the
//! raw rows to the micro-dollar (every dimension, tags, latency), partitions take rows of any
//! month, pruning keeps rollups, the reconciliation finds tampering, and keyset pages return
//! every row exactly once.

use std::collections::{BTreeMap, BTreeSet};

use app::db::reconcile::reconcile;
use app::db::reports::{self, ReportSpec};
use app::db::spend::{self, insert_batch, SpendFilter, SpendRow};
use app::model::reports::{Dimension, Granularity, ReportFilters, ReportRow};
use server::startup::migrate;
use sqlx::PgPool;
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Seed(u64);

impl Seed {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.next(options.len() as u64) as usize]
    }
}

fn generated_row(seed: &mut Seed, index: usize, first: OffsetDateTime, days: i64) -> SpendRow {
    let at = first + Duration::seconds(seed.next((days * 86_400) as u64) as i64);
    let team = seed.pick(&["", "team-a", "team-b", "team-c"]);
    let project = if team.is_empty() {
        ""
    } else {
        seed.pick(&["", "proj-x", "proj-y"])
    };
    let tags: Vec<String> = ["alpha", "beta", "gamma"]
        .into_iter()
        .filter(|_| seed.next(3) == 0)
        .map(str::to_string)
        .collect();
    let failed = seed.next(10) == 0;
    let prompt_tokens = seed.next(5_000) as i64;
    let completion_tokens = if failed { 0 } else { seed.next(2_000) as i64 };
    let optional = |text: &str| (!text.is_empty()).then(|| text.to_string());
    SpendRow {
        request_id: format!("req-{index:06}"),
        token_hash: seed
            .pick(&["hash-1", "hash-2", "hash-3", "hash-4", "hash-5"])
            .into(),
        call_type: "acompletion".into(),
        model_group: seed.pick(&["gpt-4o", "claude", "mistral", "embed"]).into(),
        upstream_model: "upstream".into(),
        provider: seed.pick(&["openai", "anthropic"]).into(),
        api_base: "http://127.0.0.1:1".into(),
        prompt_tokens,
        completion_tokens,
        cached_tokens: prompt_tokens / 4,
        cache_write_tokens: prompt_tokens / 10,
        reasoning_tokens: completion_tokens / 3,
        cost_micros: seed.next(50_000) as i64,
        latency_ms: seed.next(30_000) as i32,
        http_status: if failed { 502 } else { 200 },
        status: if failed { "failure" } else { "success" }.into(),
        is_stream: seed.next(2) == 0,
        usage_estimated: false,
        end_user: None,
        started_at: at,
        ended_at: at + Duration::milliseconds(5),
        model_id: "deployment-1".into(),
        attempts: None,
        team_id: optional(team),
        user_id: optional(seed.pick(&["", "user-1", "user-2"])),
        project_id: optional(project),
        request_tags: (!tags.is_empty()).then_some(tags),
        session_id: None,
        metadata: None,
        charges: Vec::new(),
        payload: None,
    }
}

/// Rows over 70 days from mid-October 2026: three months, one without a partition at first.
fn generated_rows(count: usize) -> Vec<SpendRow> {
    let mut seed = Seed(0x9E37_79B9_7F4A_7C15);
    (0..count)
        .map(|index| generated_row(&mut seed, index, datetime!(2026-10-15 00:00 UTC), 70))
        .collect()
}

/// What a report grouped by `dimension` per day must say, computed here from the rows.
fn expected(
    rows: &[SpendRow],
    dimension: Dimension,
) -> BTreeMap<(String, String), (i64, i64, i64, i64)> {
    let mut sums: BTreeMap<(String, String), (i64, i64, i64, i64)> = BTreeMap::new();
    for row in rows {
        let day = row
            .started_at
            .to_offset(time::UtcOffset::UTC)
            .date()
            .to_string();
        let groups: Vec<String> = match dimension {
            Dimension::Team => vec![row.team_id.clone().unwrap_or_default()],
            Dimension::Project => vec![row.project_id.clone().unwrap_or_default()],
            Dimension::Key => vec![row.token_hash.clone()],
            Dimension::User => vec![row.user_id.clone().unwrap_or_default()],
            Dimension::Model => vec![row.model_group.clone()],
            Dimension::Provider => vec![row.provider.clone()],
            Dimension::Tag => row.request_tags.clone().unwrap_or_default(),
            Dimension::Organization => vec![String::new()],
        };
        for group in groups {
            let entry = sums.entry((day.clone(), group)).or_default();
            entry.0 += 1;
            entry.1 += i64::from(row.status == "failure");
            entry.2 += row.prompt_tokens + row.completion_tokens;
            entry.3 += row.cost_micros;
        }
    }
    sums
}

fn as_map(rows: &[ReportRow]) -> BTreeMap<(String, String), (i64, i64, i64, i64)> {
    rows.iter()
        .map(|row| {
            (
                (row.period.clone(), row.group_key.clone()),
                (
                    row.requests,
                    row.failed_requests,
                    row.prompt_tokens + row.completion_tokens,
                    row.cost_micros,
                ),
            )
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn rollups_equal_the_raw_rows_exactly(pool: PgPool) {
    migrate(&pool).await.unwrap();
    let rows = generated_rows(3_000);
    // Batches of uneven sizes, one of them written twice (a retry after an ambiguous
    // failure): it must count once.
    let mut start = 0;
    for (turn, size) in [1usize, 7, 500, 999, 2, 1_491].into_iter().enumerate() {
        let batch = &rows[start..start + size];
        insert_batch(&pool, batch, Uuid::nil()).await.unwrap();
        if turn == 3 {
            insert_batch(&pool, batch, Uuid::nil()).await.unwrap();
        }
        start += size;
    }
    assert_eq!(start, rows.len());

    let none = ReportFilters::default();
    for dimension in [
        Dimension::Team,
        Dimension::Project,
        Dimension::Key,
        Dimension::User,
        Dimension::Model,
        Dimension::Provider,
        Dimension::Tag,
    ] {
        let spec = ReportSpec {
            start: date!(2026 - 10 - 01),
            end: date!(2026 - 12 - 31),
            group_by: Some(dimension),
            granularity: Some(Granularity::Day),
            filters: &none,
        };
        let report = reports::report(&pool, &spec).await.unwrap();
        assert_eq!(as_map(&report), expected(&rows, dimension), "{dimension:?}");
    }

    // Totals by month with filters, against the same rows filtered here.
    let filters = ReportFilters {
        project_id: Some("proj-x".into()),
        model: Some("claude".into()),
        ..ReportFilters::default()
    };
    let spec = ReportSpec {
        start: date!(2026 - 11 - 01),
        end: date!(2026 - 11 - 30),
        group_by: None,
        granularity: Some(Granularity::Month),
        filters: &filters,
    };
    let november = reports::report(&pool, &spec).await.unwrap();
    let wanted: Vec<&SpendRow> = rows
        .iter()
        .filter(|row| {
            row.project_id.as_deref() == Some("proj-x")
                && row.model_group == "claude"
                && row.started_at.month() == time::Month::November
        })
        .collect();
    assert!(!wanted.is_empty());
    assert_eq!(november.len(), 1);
    assert_eq!(november[0].period, "2026-11-01");
    assert_eq!(november[0].requests, wanted.len() as i64);
    assert_eq!(
        november[0].cost_micros,
        wanted.iter().map(|row| row.cost_micros).sum::<i64>()
    );

    let check = reconcile(&pool).await.unwrap();
    assert_eq!(check.drifts, vec![], "{check:?}");
    assert_eq!(check.raw_rows, rows.len() as i64);
    assert_eq!(check.rollup_requests, rows.len() as i64);
    assert_eq!(
        check.raw_cost_micros,
        rows.iter().map(|row| row.cost_micros).sum::<i64>()
    );
    assert_eq!(check.rollup_cost_micros, check.raw_cost_micros);

    // The latency histogram holds every row, and its percentiles bound the real ones.
    let histogram = reports::latency_histogram(&pool, date!(2026 - 10 - 01), date!(2026 - 12 - 31))
        .await
        .unwrap();
    assert_eq!(
        histogram.iter().map(|(_, count)| count).sum::<i64>(),
        rows.len() as i64
    );
    let mut latencies: Vec<i64> = rows.iter().map(|row| i64::from(row.latency_ms)).collect();
    latencies.sort_unstable();
    let true_p95 = latencies[(latencies.len() * 95).div_ceil(100) - 1];
    let p95 = reports::percentile_ms(&histogram, 95.0).unwrap();
    assert!(
        p95 >= true_p95 && p95 as f64 <= true_p95 as f64 * 1.19 + 1.0,
        "{p95} vs {true_p95}"
    );
}

#[sqlx::test(migrations = false)]
async fn partitions_take_any_month_and_pruning_keeps_rollups(pool: PgPool) {
    migrate(&pool).await.unwrap();
    let partition_of = |request_id: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT tableoid::regclass::text FROM spend_logs WHERE request_id = $1",
            )
            .bind(request_id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let mut seed = Seed(7);
    let old = SpendRow {
        request_id: "from-2025".into(),
        started_at: datetime!(2025-03-10 12:00 UTC),
        ..generated_row(&mut seed, 0, datetime!(2025-03-10 12:00 UTC), 1)
    };
    // This month has a partition from the migration (and from every instance's upkeep).
    let now = OffsetDateTime::now_utc();
    let recent = SpendRow {
        request_id: "from-2026".into(),
        started_at: now,
        ..generated_row(&mut seed, 1, now, 1)
    };
    insert_batch(&pool, &[old.clone(), recent.clone()], Uuid::nil())
        .await
        .unwrap();
    // No partition for March 2025: the row waits in the default one until it gets its own.
    assert_eq!(partition_of("from-2025").await, "spend_logs_default");
    assert_eq!(
        partition_of("from-2026").await,
        format!("spend_logs_{}_{:02}", now.year(), u8::from(now.month()))
    );
    let made = spend::ensure_partitions(&pool, date!(2025 - 03 - 01), date!(2025 - 04 - 30))
        .await
        .unwrap();
    assert_eq!(made, 2);
    assert_eq!(partition_of("from-2025").await, "spend_logs_2025_03");
    assert_eq!(
        spend::ensure_partitions(&pool, date!(2025 - 03 - 01), date!(2025 - 04 - 30))
            .await
            .unwrap(),
        0
    );

    let rollup_before: (i64, i64) =
        sqlx::query_as("SELECT sum(requests)::bigint, sum(cost_micros)::bigint FROM spend_daily")
            .fetch_one(&pool)
            .await
            .unwrap();
    let dropped = spend::prune(&pool, datetime!(2026-01-01 00:00 UTC))
        .await
        .unwrap();
    assert_eq!(
        dropped, 2,
        "March and April 2025 are whole months before the cutoff"
    );
    let left: Vec<String> = sqlx::query_scalar("SELECT request_id FROM spend_logs")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, ["from-2026"]);
    let rollup_after: (i64, i64) =
        sqlx::query_as("SELECT sum(requests)::bigint, sum(cost_micros)::bigint FROM spend_daily")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rollup_after, rollup_before);
    assert_eq!(rollup_after, (2, old.cost_micros + recent.cost_micros));
    let check = reconcile(&pool).await.unwrap();
    assert_eq!(check.from_day.as_deref(), Some("2026-01-01"));
    assert_eq!(check.drifts, vec![]);
    assert_eq!(check.raw_rows, 1);
}

#[sqlx::test(migrations = false)]
async fn reconciliation_reports_tampered_rollups_and_counters(pool: PgPool) {
    migrate(&pool).await.unwrap();
    let rows = generated_rows(200);
    insert_batch(&pool, &rows, Uuid::nil()).await.unwrap();
    sqlx::query("INSERT INTO budget_counters (subject, spend_micros) VALUES ('team:team-a', $1)")
        .bind(
            rows.iter()
                .filter(|row| row.team_id.as_deref() == Some("team-a"))
                .map(|row| row.cost_micros)
                .sum::<i64>(),
        )
        .execute(&pool)
        .await
        .unwrap();
    let clean = reconcile(&pool).await.unwrap();
    assert_eq!(clean.drifts, vec![]);
    assert_eq!(clean.counters_checked, 1);

    sqlx::query(
        "UPDATE spend_daily SET cost_micros = cost_micros + 1 \
         WHERE ctid = (SELECT ctid FROM spend_daily WHERE team_id = 'team-b' LIMIT 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE budget_counters SET spend_micros = spend_micros + 5 WHERE subject = 'team:team-a'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let tampered = reconcile(&pool).await.unwrap();
    let whats: Vec<&str> = tampered
        .drifts
        .iter()
        .map(|drift| drift.what.as_str())
        .collect();
    assert_eq!(tampered.drifts.len(), 2, "{whats:?}");
    assert!(
        whats[0].starts_with("rollup ")
            && whats[0].contains("team team-b")
            && whats[0].ends_with(": cost_micros"),
        "{whats:?}"
    );
    assert_eq!(tampered.drifts[0].found, tampered.drifts[0].expected + 1);
    assert_eq!(whats[1], "counter team:team-a: spend_micros");
    assert_eq!(tampered.drifts[1].found, tampered.drifts[1].expected + 5);
}

#[sqlx::test(migrations = false)]
async fn keyset_pages_return_every_row_once(pool: PgPool) {
    migrate(&pool).await.unwrap();
    let mut rows = generated_rows(300);
    // Many rows share a start time: the request id breaks the tie.
    let tied = datetime!(2026-11-05 08:00 UTC);
    for row in rows.iter_mut().take(40) {
        row.started_at = tied;
    }
    insert_batch(&pool, &rows, Uuid::nil()).await.unwrap();

    let filter = SpendFilter {
        limit: 7,
        ..SpendFilter::default()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = spend::list(
            &pool,
            &SpendFilter {
                before: before.clone(),
                ..filter.clone()
            },
        )
        .await
        .unwrap();
        pages += 1;
        if pages == 3 {
            // Rows arriving meanwhile (newer) do not disturb the pages still to come.
            let mut seed = Seed(99);
            let newer = SpendRow {
                request_id: "arrived-meanwhile".into(),
                started_at: datetime!(2026-12-30 00:00 UTC),
                ..generated_row(&mut seed, 0, datetime!(2026-12-30 00:00 UTC), 1)
            };
            insert_batch(&pool, &[newer], Uuid::nil()).await.unwrap();
        }
        let Some(last) = page.last() else { break };
        let cursor = spend::cursor_of(last.started_at, &last.request_id);
        before = Some(spend::parse_cursor(&cursor).unwrap());
        seen.extend(page.iter().map(|row| row.request_id.clone()));
    }
    assert_eq!(seen.len(), rows.len(), "every row once");
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), rows.len());
    let mut expected: Vec<(OffsetDateTime, String)> = rows
        .iter()
        .map(|row| (row.started_at, row.request_id.clone()))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
    assert_eq!(seen, expected, "newest first, ties by request id");

    // Filters narrow the pages the same way.
    let failures = spend::list(
        &pool,
        &SpendFilter {
            status: Some("failure".into()),
            team_id: Some("team-a".into()),
            tag: Some("alpha".into()),
            limit: 1_000,
            ..SpendFilter::default()
        },
    )
    .await
    .unwrap();
    let wanted = rows
        .iter()
        .filter(|row| {
            row.status == "failure"
                && row.team_id.as_deref() == Some("team-a")
                && row
                    .request_tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|tag| tag == "alpha"))
        })
        .count();
    assert_eq!(failures.len(), wanted);
}
