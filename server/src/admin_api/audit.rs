//! Audit of the management API: every change made records who made it, what it changed (before
//! and after) and from where; every refused attempt at a change (a 401 or 403 on a management
//! route that is not a read) is recorded by the middleware here. Entries never carry secrets.

use std::net::SocketAddr;

use app::db::audit::{self, AuditEntry, AuditFilter};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::Actor;
use super::extract::SpendReader;
use super::{rfc3339, ApiQuery};
use crate::core::error::{ApiError, UnknownCaller};
use crate::policy::auth::presented_key;
use crate::state::SharedGateway;

/// Wraps every management route: records a refused change.
pub async fn watch(State(gateway): State<SharedGateway>, request: Request, next: Next) -> Response {
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string());
    let is_change = request.method() != Method::GET && request.method() != Method::HEAD;
    let action = format!("{} {}", request.method(), request.uri().path());
    let actor = presented_actor(request.headers());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if response.extensions().get::<UnknownCaller>().is_some() {
        // Nobody known: counted per address, one row a minute (`refusals`).
        gateway.refusals.count(source, &action);
    } else if is_change && (status == 401 || status == 403) {
        let entry = AuditEntry {
            actor,
            action,
            target_type: "route".into(),
            target_id: None,
            allowed: false,
            before: None,
            after: Some(json!({ "status": status })),
            source_ip: source,
        };
        if let Err(error) = audit::record(&gateway.pool, &entry).await {
            tracing::error!(%error, "a refused management request could not be audited");
        }
    }
    response
}

/// Who a request claims to be: the hash of the key it presents (never the key), or anonymous.
fn presented_actor(headers: &HeaderMap) -> String {
    presented_key(headers).map_or_else(
        || "anonymous".to_string(),
        |secret| format!("key:{}", app::secrets::hash_key(secret)),
    )
}

/// What a change did, to record.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Records a change the caller made. The change has happened: a failure to record it is logged
/// loudly rather than undoing it.
pub async fn changed(gateway: &SharedGateway, actor: &Actor, change: Change<'_>) {
    let entry = AuditEntry {
        actor: actor.name.clone(),
        action: change.action.to_string(),
        target_type: change.target_type.to_string(),
        target_id: Some(change.target_id.to_string()),
        allowed: true,
        before: change.before,
        after: change.after,
        source_ip: actor.source_ip.clone(),
    };
    if let Err(error) = audit::record(&gateway.pool, &entry).await {
        tracing::error!(%error, action = %entry.action, "a management change could not be audited");
    }
}

#[derive(Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    before_id: Option<i64>,
    limit: Option<i64>,
}

/// Largest page of `/audit/log`.
const MAX_LIMIT: i64 = 500;

/// `GET /audit/log`: entries newest first, filtered; `before_id` pages back.
pub async fn log(
    reader: SpendReader,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            format!("`limit` must be 1 to {MAX_LIMIT}."),
            Some("limit"),
        ));
    }
    let filter = AuditFilter {
        actor: query.actor,
        action: query.action,
        target_type: query.target_type,
        target_id: query.target_id,
        before_id: query.before_id,
        limit,
    };
    let rows = audit::list(reader.pool(), &filter).await?;
    let entries: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "id": row.id,
                "at": rfc3339(row.at),
                "actor": row.actor,
                "action": row.action,
                "target_type": row.target_type,
                "target_id": row.target_id,
                "outcome": row.outcome,
                "before": row.before,
                "after": row.after,
                "source_ip": row.source_ip,
            })
        })
        .collect();
    Ok(Json(json!({ "entries": entries })))
}
