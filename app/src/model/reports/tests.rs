//! Tests of `reports`.

use super::*;

#[test]
fn query_string_round_trips() {
    let mut query = SpendQuery {
        start: "2026-10-01".into(),
        end: "2026-10-31".into(),
        group_by: Some(Dimension::Model),
        granularity: Granularity::Day,
        filters: ReportFilters::default(),
    };
    query.filters.project_id = Some("proj a&b".into());
    let back = SpendQuery::from_query_string(&query.to_query_string());
    assert_eq!(back, query);
    let filters = LogFilters {
        key: Some("k 1".into()),
        status: Some("failure".into()),
        cursor: Some("123.abc".into()),
        ..LogFilters::default()
    };
    assert_eq!(
        LogFilters::from_query_string(&filters.to_query_string()),
        filters
    );
}

#[test]
fn csv_quotes_and_defuses_formulas() {
    let rows = vec![ReportRow {
        period: "2026-11-01".into(),
        group_key: "t1".into(),
        label: "=HYPERLINK(\"x\"),y".into(),
        requests: 3,
        cost_micros: 1_500_001,
        latency_ms_sum: 30,
        ..ReportRow::default()
    }];
    let csv = report_csv(&rows);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], REPORT_CSV_HEADER);
    assert_eq!(
        lines[1],
        "2026-11-01,t1,\"'=HYPERLINK(\"\"x\"\"),y\",3,0,0,0,0,1.500001,1500001,10"
    );
}

#[test]
fn small_groups_fold_into_other_per_period() {
    let row = |period: &str, group: &str, cost| ReportRow {
        period: period.into(),
        group_key: group.into(),
        label: group.into(),
        requests: 1,
        cost_micros: cost,
        ..ReportRow::default()
    };
    let rows = vec![
        row("d1", "a", 10),
        row("d1", "b", 5),
        row("d1", "c", 1),
        row("d2", "b", 1),
        row("d2", "c", 2),
    ];
    let folded = top_groups(rows, 1);
    let summary: Vec<(&str, &str, i64, i64)> = folded
        .iter()
        .map(|r| {
            (
                r.period.as_str(),
                r.group_key.as_str(),
                r.cost_micros,
                r.requests,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("d1", "a", 10, 1),
            ("d1", OTHER_GROUP, 6, 2),
            ("d2", OTHER_GROUP, 3, 2)
        ]
    );
}

#[test]
fn error_rate_is_rounded() {
    let totals = Totals {
        requests: 3,
        failed_requests: 1,
        ..Totals::default()
    };
    assert_eq!(totals.error_rate_percent(), Some(33.3));
    assert_eq!(Totals::default().error_rate_percent(), None);
}
