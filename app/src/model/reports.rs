//! Spend reports shared by the console, the reports API and CSV export: what a report groups
//! and filters by (also as a shareable query string), the rows it returns, and their CSV.

use serde::{Deserialize, Serialize};

/// What a report groups spend by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Organization,
    Team,
    Project,
    Key,
    User,
    Model,
    Provider,
    Tag,
}

impl Dimension {
    pub const ALL: [Dimension; 8] = [
        Dimension::Organization,
        Dimension::Team,
        Dimension::Project,
        Dimension::Key,
        Dimension::User,
        Dimension::Model,
        Dimension::Provider,
        Dimension::Tag,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Organization => "organization",
            Dimension::Team => "team",
            Dimension::Project => "project",
            Dimension::Key => "key",
            Dimension::User => "user",
            Dimension::Model => "model",
            Dimension::Provider => "provider",
            Dimension::Tag => "tag",
        }
    }

    /// Also takes LiteLLM's names (`api_key`, `internal_user`, `org`).
    pub fn parse(text: &str) -> Option<Dimension> {
        match text {
            "organization" | "org" | "organization_id" => Some(Dimension::Organization),
            "team" | "team_id" => Some(Dimension::Team),
            "project" | "project_id" => Some(Dimension::Project),
            "key" | "api_key" => Some(Dimension::Key),
            "user" | "user_id" | "internal_user" => Some(Dimension::User),
            "model" | "model_group" => Some(Dimension::Model),
            "provider" | "custom_llm_provider" => Some(Dimension::Provider),
            "tag" | "tags" | "request_tag" => Some(Dimension::Tag),
            _ => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Dimension::Organization => "Organization",
            Dimension::Team => "Team",
            Dimension::Project => "Project",
            Dimension::Key => "Key",
            Dimension::User => "User",
            Dimension::Model => "Model",
            Dimension::Provider => "Provider",
            Dimension::Tag => "Tag",
        }
    }
}

/// How a report's time axis is cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    #[default]
    Day,
    Week,
    Month,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    pub fn parse(text: &str) -> Option<Granularity> {
        match text {
            "day" | "daily" => Some(Granularity::Day),
            "week" | "weekly" => Some(Granularity::Week),
            "month" | "monthly" => Some(Granularity::Month),
            _ => None,
        }
    }
}

/// Narrows a report to one organization, team, project, key, user, model, provider or tag
/// (each optional; all given must match).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFilters {
    pub organization_id: Option<String>,
    pub team_id: Option<String>,
    pub project_id: Option<String>,
    /// The key's token hash.
    pub token_hash: Option<String>,
    pub user_id: Option<String>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub tag: Option<String>,
}

impl ReportFilters {
    /// Each filter with its query-string name.
    pub fn pairs(&self) -> [(&'static str, Option<&str>); 8] {
        [
            ("organization_id", self.organization_id.as_deref()),
            ("team_id", self.team_id.as_deref()),
            ("project_id", self.project_id.as_deref()),
            ("key", self.token_hash.as_deref()),
            ("user_id", self.user_id.as_deref()),
            ("model", self.model.as_deref()),
            ("provider", self.provider.as_deref()),
            ("tag", self.tag.as_deref()),
        ]
    }

    /// Sets the filter named `name` (a query-string name); false for a name that is no filter.
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        let value = Some(value.trim().to_string()).filter(|value| !value.is_empty());
        let slot = match name {
            "organization_id" => &mut self.organization_id,
            "team_id" => &mut self.team_id,
            "project_id" => &mut self.project_id,
            "key" | "api_key" => &mut self.token_hash,
            "user_id" => &mut self.user_id,
            "model" => &mut self.model,
            "provider" => &mut self.provider,
            "tag" => &mut self.tag,
            _ => return false,
        };
        *slot = value;
        true
    }
}

/// A spend report's question: a range of UTC days (inclusive), a grouping, a granularity and
/// filters. Written to and read from the Spend page's query string, so a URL shares it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendQuery {
    /// `YYYY-MM-DD`; empty for the default (the month so far).
    pub start: String,
    /// `YYYY-MM-DD`; empty for the default (today).
    pub end: String,
    pub group_by: Option<Dimension>,
    pub granularity: Granularity,
    pub filters: ReportFilters,
}

impl SpendQuery {
    /// Reads the query string's pairs; unknown names and bad values are ignored.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> SpendQuery {
        let mut query = SpendQuery::default();
        for (name, value) in pairs {
            match name {
                "start" | "start_date" => query.start = value.trim().to_string(),
                "end" | "end_date" => query.end = value.trim().to_string(),
                "group_by" => query.group_by = Dimension::parse(value),
                "granularity" => {
                    query.granularity = Granularity::parse(value).unwrap_or_default();
                }
                _ => {
                    query.filters.set(name, value);
                }
            }
        }
        query
    }

    /// Reads a query string (without `?`).
    pub fn from_query_string(text: &str) -> SpendQuery {
        let pairs = decode_pairs(text);
        SpendQuery::from_pairs(
            pairs
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
    }

    /// The query string (without `?`) that [`SpendQuery::from_pairs`] reads back.
    pub fn to_query_string(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        if !self.start.is_empty() {
            out.append_pair("start", &self.start);
        }
        if !self.end.is_empty() {
            out.append_pair("end", &self.end);
        }
        if let Some(dimension) = self.group_by {
            out.append_pair("group_by", dimension.as_str());
        }
        out.append_pair("granularity", self.granularity.as_str());
        for (name, value) in self.filters.pairs() {
            if let Some(value) = value {
                out.append_pair(name, value);
            }
        }
        out.finish()
    }
}

fn decode_pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.trim_start_matches('?').as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// What a period (or a period × group) adds up to. Money in micro-dollars.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ReportRow {
    /// The period's first day, `YYYY-MM-DD`.
    pub period: String,
    /// The group's id (team id, token hash, model …); empty for "none" or an ungrouped report.
    pub group_key: String,
    /// A readable name for the group (alias), or the id.
    #[cfg_attr(feature = "ssr", sqlx(default))]
    pub label: String,
    pub requests: i64,
    pub failed_requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cached_tokens: i64,
    pub cost_micros: i64,
    pub latency_ms_sum: i64,
}

impl ReportRow {
    pub fn average_latency_ms(&self) -> i64 {
        if self.requests == 0 {
            0
        } else {
            self.latency_ms_sum / self.requests
        }
    }

    /// Adds another row's figures to this one's.
    pub fn add(&mut self, other: &ReportRow) {
        self.requests += other.requests;
        self.failed_requests += other.failed_requests;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.cached_tokens += other.cached_tokens;
        self.cost_micros += other.cost_micros;
        self.latency_ms_sum += other.latency_ms_sum;
    }
}

/// Keeps the `keep` groups with the most spend over all periods and folds the rest, period by
/// period, into one "Other" group (`group_key` `*other*`), for charts with few series.
pub fn top_groups(rows: Vec<ReportRow>, keep: usize) -> Vec<ReportRow> {
    let mut spend: Vec<(String, i64)> = Vec::new();
    for row in &rows {
        match spend.iter_mut().find(|(key, _)| *key == row.group_key) {
            Some((_, total)) => *total += row.cost_micros,
            None => spend.push((row.group_key.clone(), row.cost_micros)),
        }
    }
    if spend.len() <= keep {
        return rows;
    }
    spend.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let kept: Vec<String> = spend.into_iter().take(keep).map(|(key, _)| key).collect();
    let mut out: Vec<ReportRow> = Vec::with_capacity(rows.len());
    for row in rows {
        if kept.contains(&row.group_key) {
            out.push(row);
            continue;
        }
        match out
            .iter_mut()
            .find(|other| other.group_key == OTHER_GROUP && other.period == row.period)
        {
            Some(other) => other.add(&row),
            None => out.push(ReportRow {
                group_key: OTHER_GROUP.into(),
                label: "Other".into(),
                ..row
            }),
        }
    }
    out
}

/// The group that [`top_groups`] folds the smaller groups into.
pub const OTHER_GROUP: &str = "*other*";

/// The columns of a report's CSV, in order.
pub const REPORT_CSV_HEADER: &str = "period,group,label,requests,failed_requests,prompt_tokens,completion_tokens,cached_tokens,spend_usd,spend_micros,avg_latency_ms";

/// A report as CSV (RFC 4180, `\r\n` line ends). Text cells that a spreadsheet would run as a
/// formula are prefixed with `'`.
pub fn report_csv(rows: &[ReportRow]) -> String {
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    out.push_str(REPORT_CSV_HEADER);
    out.push_str("\r\n");
    for row in rows {
        let cells = [
            csv_text(&row.period),
            csv_text(&row.group_key),
            csv_text(&row.label),
            row.requests.to_string(),
            row.failed_requests.to_string(),
            row.prompt_tokens.to_string(),
            row.completion_tokens.to_string(),
            row.cached_tokens.to_string(),
            dollars_text(row.cost_micros),
            row.cost_micros.to_string(),
            row.average_latency_ms().to_string(),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Micro-dollars as an exact decimal dollar amount (`12.000345`).
pub fn dollars_text(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

fn csv_text(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// Totals of a span of time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub requests: i64,
    pub failed_requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
}

impl Totals {
    /// Failed requests per hundred, to one decimal; `None` without requests.
    pub fn error_rate_percent(&self) -> Option<f64> {
        (self.requests > 0)
            .then(|| (self.failed_requests as f64 * 1000.0 / self.requests as f64).round() / 10.0)
    }
}

impl From<&ReportRow> for Totals {
    fn from(row: &ReportRow) -> Self {
        Totals {
            requests: row.requests,
            failed_requests: row.failed_requests,
            prompt_tokens: row.prompt_tokens,
            completion_tokens: row.completion_tokens,
            cost_micros: row.cost_micros,
        }
    }
}

/// The Overview page's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// `YYYY-MM-DD` (UTC).
    pub today: String,
    pub today_totals: Totals,
    pub yesterday_totals: Totals,
    pub month_totals: Totals,
    /// Last month up to the same day of the month.
    pub last_month_to_date: Totals,
    pub last_month_totals: Totals,
    /// Latency percentiles over the last 7 days (upper bounds of histogram buckets, ±19 %).
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    /// The last 30 days, oldest first (`YYYY-MM-DD`).
    pub days: Vec<String>,
    /// Per day × team over the last 30 days.
    pub daily_by_team: Vec<ReportRow>,
    /// Per day × model over the last 30 days.
    pub daily_by_model: Vec<ReportRow>,
    /// This month per provider.
    pub providers: Vec<ReportRow>,
    /// This month's biggest teams and models.
    pub top_teams: Vec<ReportRow>,
    pub top_models: Vec<ReportRow>,
}

/// A budget shown against a report's spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLine {
    pub subject: String,
    pub label: String,
    pub max_micros: i64,
    /// Spend of the budget's current window.
    pub spend_micros: i64,
    /// LiteLLM duration of the window (`30d`), if it resets.
    pub duration: Option<String>,
}

/// Spend of the month so far projected to its end at the month's daily run rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    pub month: String,
    pub month_to_date_micros: i64,
    pub days_elapsed: i64,
    pub days_in_month: i64,
    pub projected_micros: i64,
}

/// The Spend page: the report asked for (with defaults filled in), its rows and totals, the
/// budgets of the groups or filtered entity, and the month-end forecast for the same filters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendReport {
    pub query: SpendQuery,
    /// Every period of the range, oldest first (so empty periods show).
    pub periods: Vec<String>,
    pub rows: Vec<ReportRow>,
    pub totals: Totals,
    pub budgets: Vec<BudgetLine>,
    pub forecast: Forecast,
    /// Ready-made ranges: (label, start, end).
    pub presets: Vec<(String, String, String)>,
}

/// Filters of the Logs page (all optional), also its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFilters {
    /// Token hash or key alias.
    pub key: Option<String>,
    pub team_id: Option<String>,
    pub model: Option<String>,
    /// `success` or `failure`.
    pub status: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD` (inclusive start).
    pub start: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD` (a date includes that day).
    pub end: Option<String>,
    pub request_id: Option<String>,
    /// Where the previous page ended (from [`LogPage::next_cursor`]).
    pub cursor: Option<String>,
}

impl LogFilters {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LogFilters {
        let mut filters = LogFilters::default();
        for (name, value) in pairs {
            let value = Some(value.trim().to_string()).filter(|value| !value.is_empty());
            match name {
                "key" => filters.key = value,
                "team_id" => filters.team_id = value,
                "model" => filters.model = value,
                "status" => filters.status = value,
                "start" => filters.start = value,
                "end" => filters.end = value,
                "request_id" => filters.request_id = value,
                "cursor" => filters.cursor = value,
                _ => {}
            }
        }
        filters
    }

    /// Reads a query string (without `?`).
    pub fn from_query_string(text: &str) -> LogFilters {
        let pairs = decode_pairs(text);
        LogFilters::from_pairs(
            pairs
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
    }

    pub fn to_query_string(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        let pairs = [
            ("key", &self.key),
            ("team_id", &self.team_id),
            ("model", &self.model),
            ("status", &self.status),
            ("start", &self.start),
            ("end", &self.end),
            ("request_id", &self.request_id),
            ("cursor", &self.cursor),
        ];
        for (name, value) in pairs {
            if let Some(value) = value {
                out.append_pair(name, value);
            }
        }
        out.finish()
    }
}

/// One request in the Logs list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub request_id: String,
    /// RFC 3339.
    pub started_at: String,
    pub key_label: String,
    pub team_id: Option<String>,
    pub model_group: String,
    pub provider: String,
    pub status: String,
    pub http_status: i16,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    pub latency_ms: i32,
}

/// A page of the request log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Pass back as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One request in full: its row, attempts and (when payload logging is on) redacted payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDetail {
    pub entry: LogEntry,
    pub ended_at: String,
    pub call_type: String,
    pub upstream_model: String,
    pub deployment_id: String,
    pub api_base: String,
    pub is_stream: bool,
    pub usage_estimated: bool,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
    pub reasoning_tokens: i64,
    pub end_user: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub tags: Vec<String>,
    /// The attempts, pretty-printed JSON.
    pub attempts: String,
    /// Pretty-printed redacted request and response, when stored.
    pub request_payload: Option<String>,
    pub response_payload: Option<String>,
}

/// One drift the reconciliation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// What was compared (`rollup 2026-11-30 key … model …`, `counter key:…`).
    pub what: String,
    pub expected: i64,
    pub found: i64,
}

/// The result of comparing rollups with raw rows, and budget counters with rollups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// First day whose raw rows were compared (older raw rows were pruned).
    pub from_day: Option<String>,
    pub raw_rows: i64,
    pub raw_cost_micros: i64,
    pub rollup_requests: i64,
    pub rollup_cost_micros: i64,
    pub rollup_groups_checked: i64,
    pub counters_checked: i64,
    /// Counters with a budget window were skipped: their spend restarts each window.
    pub counters_skipped: i64,
    pub drifts: Vec<Drift>,
}

#[cfg(test)]
mod tests;
