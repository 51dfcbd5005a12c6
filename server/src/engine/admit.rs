//! Stage 1, authenticate: the caller's key, then what the request's headers ask for — its
//! request class, tags, end user and time limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName};
use time::OffsetDateTime;

use crate::config::{ChosenClass, ClassHints, RequestClasses, RouterSettings};
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::engine::litellm_fields::SpendMetadata;
use crate::policy::auth::{authenticate, Caller};
use crate::policy::budgets::Budget;
use crate::routing::overrides::RouteOverrides;
use crate::state::SharedGateway;
use app::model::identity::{self, push_tag, MAX_TAGS};

/// Headers by which a client limits each upstream attempt (seconds): LiteLLM's name and ours.
const TIMEOUT_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("x-litellm-timeout"),
    HeaderName::from_static("x-gatehouse-timeout"),
];
/// LiteLLM's header limiting a request's retries.
const RETRIES_HEADER: HeaderName = HeaderName::from_static("x-litellm-num-retries");
/// LiteLLM's header carrying custom spend-log fields (a JSON object).
const SPEND_METADATA_HEADER: HeaderName = HeaderName::from_static("x-litellm-spend-logs-metadata");
/// The header by which a client asks for a request class.
const CLASS_HEADER: HeaderName = HeaderName::from_static("x-gatehouse-request-class");
/// LiteLLM's request tags, comma-separated.
const TAGS_HEADER: HeaderName = HeaderName::from_static("x-litellm-tags");
/// LiteLLM's headers naming the end user, in the order it reads them; either outranks the
/// body's `user`.
const END_USER_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static(END_USER_FIELDS[0]),
    HeaderName::from_static(END_USER_FIELDS[1]),
];
const END_USER_FIELDS: [&str; 2] = ["x-litellm-customer-id", "x-litellm-end-user-id"];

/// A request whose caller is known: who, when it started, the time limit it set, and the
/// request class it runs in with that class's router settings.
pub struct Admitted {
    pub caller: Caller,
    pub(super) started: Instant,
    pub(super) started_at: OffsetDateTime,
    /// The retries and time limit its headers set (`x-litellm-num-retries`,
    /// `x-litellm-timeout`).
    pub(super) route_limits: RouteOverrides,
    /// The spend-log metadata its headers set (`x-litellm-spend-logs-metadata`).
    pub(super) spend_metadata: SpendMetadata,
    pub(super) router: Arc<RouterSettings>,
    pub(super) class: Option<ChosenClass>,
    /// The budgets the caller's requests count against.
    pub(super) budget_chain: Option<Arc<[Arc<Budget>]>>,
    /// The request's tags from its headers and its key.
    pub(super) tags: Vec<String>,
    /// The end user a header names.
    pub(super) end_user: Option<String>,
}

/// 1. authenticate: the key from memory (one database read for a key never seen here); then
///    the request class (the key's, the header's, a tag's or the default, degraded when the
///    key's budget is mostly spent).
pub async fn admit(
    gateway: &SharedGateway,
    headers: &HeaderMap,
    origin: &Origin,
) -> Result<Admitted, ApiError> {
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc();
    let caller = authenticate(&gateway.authenticator(), headers, origin).await?;
    let mut router = gateway.models.router();
    let tags = request_tags(&caller, headers)?;
    let class = request_class(&router.classes, &caller, &tags, headers)?;
    if let Some(chosen) = &class {
        router = chosen.class.settings.clone();
    }
    let budget_chain = caller.budget_chain().cloned();
    Ok(Admitted {
        caller,
        budget_chain,
        started,
        started_at,
        route_limits: RouteOverrides {
            timeout: timeout_override(headers)?,
            num_retries: retries_override(headers)?,
            ..RouteOverrides::default()
        },
        spend_metadata: header_spend_metadata(headers)?,
        router,
        class,
        tags,
        end_user: header_end_user(headers)?,
    })
}

/// The end user LiteLLM's headers name, checked like a body's `user`.
fn header_end_user(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    for (name, field) in END_USER_HEADERS.iter().zip(END_USER_FIELDS) {
        let Some(value) = headers.get(name) else {
            continue;
        };
        let text = value.to_str().map_err(|_| {
            ApiError::bad_request(format!("The `{name}` header must be text."), None)
        })?;
        if let Some(user) = identity::end_user(text, field)? {
            return Ok(Some(user));
        }
    }
    Ok(None)
}

/// Tags from `x-litellm-tags` (comma-separated) and the key's `metadata.tags`, each once.
/// At most `MAX_TAGS` from the header: each tag may cost a lookup.
fn request_tags(caller: &Caller, headers: &HeaderMap) -> Result<Vec<String>, ApiError> {
    let (_, key_tags) = caller.class_hints();
    let mut tags = Vec::new();
    for tag in headers
        .get_all(TAGS_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(|tag| identity::tag(tag, "x-litellm-tags"))
        .chain(key_tags.iter().map(|tag| Ok(tag.as_str())))
    {
        push_tag(&mut tags, tag?);
        if tags.len() > MAX_TAGS + caller.class_hints().1.len() {
            return Err(ApiError::bad_request(
                format!("`{TAGS_HEADER}` carries at most {MAX_TAGS} tags."),
                Some("tags"),
            ));
        }
    }
    Ok(tags)
}

/// The class a request runs in, if the config has classes.
fn request_class(
    classes: &RequestClasses,
    caller: &Caller,
    tags: &[String],
    headers: &HeaderMap,
) -> Result<Option<ChosenClass>, ApiError> {
    if classes.is_empty() {
        return Ok(None);
    }
    let asked = headers
        .get(CLASS_HEADER)
        .map(|value| {
            value.to_str().map(str::trim).map_err(|_| {
                ApiError::bad_request(format!("The `{CLASS_HEADER}` header must be text."), None)
            })
        })
        .transpose()?;
    let (pinned, _) = caller.class_hints();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let hints = ClassHints {
        pinned,
        asked,
        tags: &tags,
    };
    classes
        .choose(hints, caller.budget_used())
        .map_err(|message| ApiError::bad_request(format!("{message}."), None))
}

/// The client's per-attempt time limit, from `x-litellm-timeout` or `x-gatehouse-timeout`.
fn timeout_override(headers: &HeaderMap) -> Result<Option<Duration>, ApiError> {
    let Some((name, value)) = TIMEOUT_HEADERS
        .into_iter()
        .find_map(|name| headers.get(&name).map(|value| (name, value)))
    else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|seconds| *seconds > 0.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                format!("The `{name}` header must be a positive number of seconds."),
                None,
            )
        })
}

/// The client's retry limit, from `x-litellm-num-retries`.
fn retries_override(headers: &HeaderMap) -> Result<Option<u32>, ApiError> {
    let Some(value) = headers.get(&RETRIES_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                format!("The `{RETRIES_HEADER}` header must be a whole number of retries."),
                None,
            )
        })
}

/// Custom spend-log fields from `x-litellm-spend-logs-metadata`: a JSON object no larger than
/// a body's `metadata` may be.
fn header_spend_metadata(headers: &HeaderMap) -> Result<SpendMetadata, ApiError> {
    let Some(value) = headers.get(&SPEND_METADATA_HEADER) else {
        return Ok(SpendMetadata::default());
    };
    let refuse = || {
        ApiError::bad_request(
            format!("The `{SPEND_METADATA_HEADER}` header must be a JSON object."),
            None,
        )
    };
    let custom: serde_json::Value =
        serde_json::from_slice(value.as_bytes()).map_err(|_| refuse())?;
    identity::check_metadata_size(&custom)?;
    match custom {
        serde_json::Value::Object(custom) => Ok(SpendMetadata {
            spend_logs_metadata: Some(custom),
            ..SpendMetadata::default()
        }),
        _ => Err(refuse()),
    }
}
