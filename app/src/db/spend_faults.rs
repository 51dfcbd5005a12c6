//! Spend rows the database refused as they were: which errors belong to a row rather than to
//! the database, a row repaired so that it lands, and the record of every repaired or set-aside
//! row (`spend_row_faults`), so that no row is lost without a trace.

use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::spend::{Payload, SpendRow};

/// The longest end-user id and tag a repaired row keeps (the bounds requests are held to).
const MAX_NAME_CHARS: usize = 200;
/// Most tags a repaired row keeps.
const MAX_TAGS: usize = 32;
/// The largest token count a repaired row keeps: far beyond any real request, far below what
/// would overflow a rollup's sum.
const MAX_TOKENS: i64 = 1_000_000_000_000;
/// The largest cost a repaired row keeps ($1,000,000,000).
const MAX_COST_MICROS: i64 = 1_000_000_000_000_000;

/// The error is the rows' own (a value the database refuses), not the database's: retrying
/// the same rows cannot help. SQLSTATE classes 21 (cardinality), 22 (data exception: NUL
/// characters, values out of range), 23 (integrity) and 54 (limits: an index row too large),
/// and values that could not be encoded.
pub fn is_row_fault(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| matches!(code.get(..2), Some("21" | "22" | "23" | "54"))),
        sqlx::Error::Encode(_) => true,
        _ => false,
    }
}

/// The SQLSTATE of a database error.
pub fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(database) => database.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// A text without NUL characters (which PostgreSQL text and jsonb refuse).
fn without_nul(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// A text without NUL characters, cut to `max` characters.
fn bounded(text: &str, max: usize) -> String {
    without_nul(&text.chars().take(max).collect::<String>())
}

/// A JSON value whose strings (and object keys) carry no NUL character.
fn json_without_nul(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(without_nul(text)),
        Value::Array(items) => Value::Array(items.iter().map(json_without_nul).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (without_nul(name), json_without_nul(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl SpendRow {
    /// The row made acceptable: NULs replaced in every text, the end user and tags cut to their
    /// bounds, token counts and cost clamped. The figures that count (cost, tokens, who) stay.
    pub fn repaired(&self) -> SpendRow {
        let text = |value: &str| without_nul(value);
        let count = |value: i64| value.clamp(0, MAX_TOKENS);
        SpendRow {
            request_id: text(&self.request_id),
            token_hash: text(&self.token_hash),
            call_type: text(&self.call_type),
            model_group: bounded(&self.model_group, 256),
            upstream_model: bounded(&self.upstream_model, 256),
            provider: text(&self.provider),
            api_base: bounded(&self.api_base, 1024),
            prompt_tokens: count(self.prompt_tokens),
            completion_tokens: count(self.completion_tokens),
            cached_tokens: count(self.cached_tokens),
            cache_write_tokens: count(self.cache_write_tokens),
            reasoning_tokens: count(self.reasoning_tokens),
            cost_micros: self.cost_micros.clamp(0, MAX_COST_MICROS),
            latency_ms: self.latency_ms.max(0),
            http_status: self.http_status,
            status: text(&self.status),
            is_stream: self.is_stream,
            usage_estimated: self.usage_estimated,
            end_user: self
                .end_user
                .as_deref()
                .map(|user| bounded(user, MAX_NAME_CHARS)),
            started_at: self.started_at,
            ended_at: self.ended_at,
            model_id: text(&self.model_id),
            attempts: self.attempts.as_ref().map(json_without_nul),
            team_id: self.team_id.as_deref().map(text),
            user_id: self.user_id.as_deref().map(text),
            project_id: self.project_id.as_deref().map(text),
            request_tags: self.request_tags.as_ref().map(|tags| {
                tags.iter()
                    .take(MAX_TAGS)
                    .map(|tag| bounded(tag, MAX_NAME_CHARS))
                    .collect()
            }),
            session_id: self
                .session_id
                .as_deref()
                .map(|session| bounded(session, MAX_NAME_CHARS)),
            metadata: self.metadata.as_ref().map(json_without_nul),
            charges: self.charges.clone(),
            payload: self.payload.as_ref().map(|payload| {
                Box::new(Payload {
                    request: payload.request.as_ref().map(json_without_nul),
                    response: payload.response.as_ref().map(json_without_nul),
                })
            }),
        }
    }

    /// The repaired row stripped to what is billed (who, what, how much): no end user, tags,
    /// attempts or payload, plain texts cut short. A row refused even repaired lands so.
    pub fn stripped(&self) -> SpendRow {
        let repaired = self.repaired();
        SpendRow {
            model_group: bounded(&repaired.model_group, 64),
            upstream_model: bounded(&repaired.upstream_model, 64),
            provider: bounded(&repaired.provider, 64),
            api_base: String::new(),
            status: bounded(&repaired.status, 32),
            model_id: bounded(&repaired.model_id, 64),
            end_user: None,
            attempts: None,
            request_tags: None,
            session_id: None,
            metadata: None,
            payload: None,
            ..repaired
        }
    }

    /// The row as JSON (without its payload), NULs replaced: what `spend_row_faults` keeps.
    pub fn to_fault_json(&self) -> Value {
        let charges: Vec<Value> = self
            .charges
            .iter()
            .map(|charge| json!({ "subject": without_nul(&charge.subject), "drawn_micros": charge.drawn_micros }))
            .collect();
        json_without_nul(&json!({
            "request_id": self.request_id,
            "token_hash": self.token_hash,
            "call_type": self.call_type,
            "model_group": self.model_group,
            "upstream_model": self.upstream_model,
            "provider": self.provider,
            "api_base": self.api_base,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_micros": self.cost_micros,
            "latency_ms": self.latency_ms,
            "http_status": self.http_status,
            "status": self.status,
            "is_stream": self.is_stream,
            "usage_estimated": self.usage_estimated,
            "end_user": self.end_user,
            "started_at": self.started_at.unix_timestamp_nanos().to_string(),
            "ended_at": self.ended_at.unix_timestamp_nanos().to_string(),
            "model_id": self.model_id,
            "attempts": self.attempts,
            "team_id": self.team_id,
            "user_id": self.user_id,
            "project_id": self.project_id,
            "request_tags": self.request_tags,
            "charges": charges,
        }))
    }
}

/// How a faulty row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultOutcome {
    /// Landed in `spend_logs` after repair.
    Repaired,
    /// Could not land even repaired: kept only in `spend_row_faults`.
    SetAside,
}

impl FaultOutcome {
    fn as_str(self) -> &'static str {
        match self {
            FaultOutcome::Repaired => "repaired",
            FaultOutcome::SetAside => "set_aside",
        }
    }
}

/// Records a row that was repaired or set aside, with the error the original met.
pub async fn record(
    pool: &PgPool,
    row: &SpendRow,
    outcome: FaultOutcome,
    error: &sqlx::Error,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO spend_row_faults (request_id, outcome, error, sqlstate, row_data) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(without_nul(&row.request_id))
    .bind(outcome.as_str())
    .bind(bounded(&error.to_string(), 2000))
    .bind(sqlstate(error))
    .bind(row.to_fault_json())
    .execute(pool)
    .await?;
    Ok(())
}
