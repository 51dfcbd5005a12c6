//! The data plane's stage order, written here once for every endpoint:
//! authenticate → authorize → limit → reserve → plan → call → respond → settle → meter.
//! Chat completions and `/v1/messages` run all of it here; the other endpoints use `admit` and
//! `plan` and then call in their own format.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use crate::config::{ChosenClass, ClassHints, RequestClasses, RouterSettings};
use crate::core::capabilities::Needs;
use crate::core::error::ApiError;
use crate::core::prices::tokens_cost_ceiling;
use crate::metering::{MeteredCall, CALL_TYPE_CHAT};
use crate::policy::auth::{authenticate, Caller};
use crate::policy::budgets::Budget;
use crate::policy::identity;
use crate::providers::Deployment;
use crate::proxy::request::{push_tag, ChatRequest, MAX_TAGS};
use crate::proxy::stream::Source;
use crate::proxy::{messages, stream, unary};
use crate::routing::attempts::{CostBound, Reusable, Route, Trail};
use crate::state::SharedGateway;

/// The API shape a caller speaks: requests are read from it, replies and errors written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// OpenAI chat completions (`/v1/chat/completions`).
    OpenAi,
    /// Anthropic Messages (`/v1/messages`).
    Anthropic,
    /// OpenAI Responses (`/v1/responses`) served by a chat upstream.
    Responses,
    /// OpenAI text completions (`/v1/completions`) served by a chat upstream.
    TextCompletion,
}

pub async fn chat_completions(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        let admitted = admit(&gateway, &headers).await?;
        let request = ChatRequest::read(body).await?;
        call_chat(
            gateway.clone(),
            admitted,
            request,
            Egress::OpenAi,
            CALL_TYPE_CHAT,
        )
        .await
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn messages(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let run = async {
        let admitted = admit(&gateway, &headers).await?;
        let (request, body_bytes) = messages::read(body).await?;
        let probe = messages::native::probe(&request, body_bytes)?;
        let route = admitted.plan(&gateway, &probe.model, &probe.needs)?;
        if messages::native::messages_url(route.first()).is_some() {
            return messages::native::relay(
                gateway.clone(),
                admitted,
                route,
                request,
                &headers,
                probe,
            )
            .await;
        }
        let chat = ChatRequest::from_object(messages::request::to_chat_request(request)?)?;
        call_chat_on(
            gateway.clone(),
            admitted,
            chat,
            Egress::Anthropic,
            CALL_TYPE_CHAT,
            route,
        )
        .await
    };
    run.await.unwrap_or_else(ApiError::into_anthropic_response)
}

/// Headers by which a client limits each upstream attempt (seconds): LiteLLM's name and ours.
const TIMEOUT_HEADERS: [HeaderName; 2] = [
    HeaderName::from_static("x-litellm-timeout"),
    HeaderName::from_static("x-gatehouse-timeout"),
];
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
    started: Instant,
    started_at: OffsetDateTime,
    timeout_override: Option<Duration>,
    router: Arc<RouterSettings>,
    class: Option<ChosenClass>,
    /// The budgets the caller's requests count against.
    budget_chain: Option<Arc<[Arc<Budget>]>>,
    /// The request's tags from its headers and its key.
    tags: Vec<String>,
    /// The end user a header names.
    end_user: Option<String>,
}

/// 1. authenticate: the key from memory (one database read for a key never seen here); then
///    the request class (the key's, the header's, a tag's or the default, degraded when the
///    key's budget is mostly spent).
pub async fn admit(gateway: &SharedGateway, headers: &HeaderMap) -> Result<Admitted, ApiError> {
    let started = Instant::now();
    let started_at = OffsetDateTime::now_utc();
    let caller = authenticate(&gateway.authenticator(), headers).await?;
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
        timeout_override: timeout_override(headers)?,
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

impl Admitted {
    /// 2. authorize: the model exists and the key (and its team) may use it.
    /// 5. plan: the route through the group (the request class's group for the model) and its
    ///    fallbacks, starting at a deployment whose declared capabilities cover the request and
    ///    that is not cooling down.
    pub fn plan(
        &self,
        gateway: &SharedGateway,
        model: &str,
        needs: &Needs,
    ) -> Result<Route, ApiError> {
        let groups = gateway.models.groups_owned();
        let group = self
            .class
            .as_ref()
            .map_or(model, |chosen| chosen.class.group_for(model));
        if groups.get(group).is_none() {
            return Err(ApiError::UnknownModel(model.to_string()));
        }
        if !self.caller.may_use(model, groups.access()) {
            return Err(ApiError::ModelNotAllowed(model.to_string()));
        }
        // A class the caller chose (by the request or pinned on its key) may not take it to a
        // model its key may not use.
        let chosen_by_caller = self
            .class
            .as_ref()
            .is_some_and(|chosen| chosen.chosen_by_caller);
        if chosen_by_caller && group != model && !self.caller.may_use(group, groups.access()) {
            return Err(ApiError::ModelNotAllowed(group.to_string()));
        }
        Route::plan(
            groups,
            self.router.clone(),
            group,
            *needs,
            self.timeout_override,
        )
        .map(|route| route.in_class(self.class.clone()))
    }

    /// 4. reserve: the call's largest possible cost, `wanted`, is reserved against every budget
    ///    of the caller (key, team); when they cannot all pay that much, the most they can, but
    ///    at least `minimum`, else the request is refused before any upstream call. Returns
    ///    what was reserved (`wanted` when no budget limits the caller).
    pub async fn reserve(
        &self,
        gateway: &SharedGateway,
        call: &mut MeteredCall,
        minimum: i64,
        wanted: i64,
    ) -> Result<i64, ApiError> {
        let Some(chain) = call.budget_chain.as_ref().filter(|chain| may_limit(chain)) else {
            return Ok(wanted);
        };
        let reservation = gateway
            .budgets
            .reserve(chain, minimum.max(1), wanted.max(1))
            .await?;
        let amount = reservation.amount();
        if reservation.is_limited() {
            call.reservation = Some(reservation);
            Ok(amount)
        } else {
            Ok(wanted)
        }
    }

    /// Steps 3 and 4 for a call that cannot be cut short once started (audio, images,
    /// embeddings, native endpoints): rate limits, then its whole worst case on the route
    /// (`bound` at the route's dearest prices) reserved, or the request refused.
    pub async fn hold(
        &self,
        gateway: &SharedGateway,
        call: &mut MeteredCall,
        route: &Route,
        bound: &CostBound,
    ) -> Result<(), ApiError> {
        self.limit(gateway, call).await?;
        let worst = route.price_ceiling().cost_of(bound);
        self.reserve(gateway, call, worst, worst).await.map(drop)
    }

    /// 3. limit: the request counts against the rate limits of its key, of the key for its
    ///    model group, of its user, and of its team, all or none; refused with `429` and `Retry-After` when
    ///    one is reached. Its place in flight is held until the call is metered. First, the
    ///    budgets its content adds are joined to its chain.
    pub async fn limit(
        &self,
        gateway: &SharedGateway,
        call: &mut MeteredCall,
    ) -> Result<(), ApiError> {
        request_budgets(gateway, &self.caller, call).await?;
        let Caller::Key { key, team } = &self.caller else {
            return Ok(());
        };
        let mut scopes = Vec::new();
        if !key.limits.is_empty() {
            scopes.push(key.limits.clone());
        }
        if let Some(model_limits) = key.model_limits(&call.deployment.model_group) {
            scopes.push(model_limits);
        }
        if let Some(user_limits) = &key.user_limits {
            scopes.push(user_limits.clone());
        }
        if let Some(team) = team.as_ref().filter(|team| !team.limits.is_empty()) {
            scopes.push(team.limits.clone());
        }
        if scopes.is_empty() {
            return Ok(());
        }
        let admission = gateway
            .limiter
            .admit(scopes, Arc::from(call.request_id.as_str()))
            .await?;
        call.admission = Some(admission);
        Ok(())
    }

    /// What the call's spend row will say, known before the call.
    pub fn metered_call(
        &self,
        call_type: &'static str,
        deployment: Arc<Deployment>,
        prompt_estimate: u64,
        end_user: Option<String>,
        body_tags: &[String],
        is_stream: bool,
    ) -> MeteredCall {
        let mut tags = self.tags.clone();
        for tag in body_tags {
            push_tag(&mut tags, tag);
        }
        MeteredCall {
            request_id: uuid::Uuid::new_v4().to_string(),
            call_type,
            token_hash: self.caller.token_hash().clone(),
            team_id: self.caller.team_id().cloned(),
            user_id: self.caller.user_id().cloned(),
            project_id: self.caller.project_id().cloned(),
            tags,
            budget_chain: self.budget_chain.clone(),
            reservation: None,
            output_allowance: None,
            admission: None,
            prompt_estimate,
            end_user: self.end_user.clone().or(end_user),
            is_stream,
            deployment,
            trail: Trail::default(),
            started: self.started,
            started_at: self.started_at,
            payload: None,
        }
    }
}

/// Steps 2–9 for a chat request, whatever API shape it arrived in.
pub async fn call_chat(
    gateway: SharedGateway,
    admitted: Admitted,
    request: ChatRequest,
    egress: Egress,
    call_type: &'static str,
) -> Result<Response, ApiError> {
    let route = admitted.plan(&gateway, &request.model, &request.needs())?;
    call_chat_on(gateway, admitted, request, egress, call_type, route).await
}

/// 3a. the budgets a request adds to its key's chain by what it is and says: its key's budget
///     for its model (`model_max_budget`); a known end user's (its `user`), which is refused
///     while blocked; each made tag's (its tags). Each counts whichever key sends the request.
async fn request_budgets(
    gateway: &SharedGateway,
    caller: &Caller,
    call: &mut MeteredCall,
) -> Result<(), ApiError> {
    let mut added: Vec<Arc<Budget>> = Vec::new();
    if let Caller::Key { key, .. } = caller {
        if let Some(budget) = key.model_budgets.get(&call.deployment.model_group) {
            added.push(budget.clone());
        }
    }
    let unavailable = |error: sqlx::Error| {
        tracing::warn!(%error, "end user or tag lookup failed");
        ApiError::BudgetsUnavailable
    };
    // Each name not looked up lately costs a query: a key introduces only so many a minute.
    if let Caller::Key { key, .. } = caller {
        let new_user = call
            .end_user
            .as_deref()
            .filter(|user_id| !gateway.end_users.is_cached(user_id));
        let new_tags = call.tags.iter().filter(|tag| !gateway.tags.is_cached(tag));
        for _ in new_user.into_iter().chain(new_tags.map(String::as_str)) {
            if !gateway.new_names.admit(&key.token_hash) {
                return Err(ApiError::TooManyNewNames);
            }
        }
    }
    if let Some(user_id) = call.end_user.as_deref() {
        if let Some(known) = gateway
            .end_users
            .lookup(user_id)
            .await
            .map_err(unavailable)?
        {
            if known.blocked {
                return Err(ApiError::BlockedEndUser(user_id.to_string()));
            }
            added.push(known.budget.clone());
        }
    }
    for tag in &call.tags {
        if let Some(budget) = gateway.tags.budget(tag).await.map_err(unavailable)? {
            added.push(budget);
        }
    }
    if !added.is_empty() {
        let mut chain: Vec<Arc<Budget>> = call.budget_chain.as_deref().unwrap_or_default().to_vec();
        chain.extend(added);
        call.budget_chain = Some(chain.into());
    }
    Ok(())
}

/// Whether any budget of the chain may limit a request (its limit is set, or not known yet).
fn may_limit(chain: &[Arc<Budget>]) -> bool {
    chain.iter().any(|budget| !budget.is_unlimited())
}

/// Output tokens a budget must at least pay for beyond the prompt for a request to be sent.
const MIN_AFFORDABLE_OUTPUT_TOKENS: u64 = 16;
/// Output tokens reserved for a request that sets no limit on a route whose deployments declare
/// none.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 4_096;

/// Step 4 for a chat request (any API shape): reserves the prompt (bounded by `prompt_bound`
/// tokens) at the route's dearest input price plus its output limit (`max_output`, the
/// client's; else the largest its deployments declare) at the dearest output price, for each of
/// `choices`. When the budgets can pay for less, or nothing but the reservation bounds the
/// output, returns the output limit (per choice) to send upstream, so the call cannot cost
/// more than reserved.
pub async fn reserve_output(
    gateway: &SharedGateway,
    admitted: &Admitted,
    call: &mut MeteredCall,
    route: &Route,
    prompt_bound: u64,
    max_output: Option<u64>,
    choices: u64,
) -> Result<Option<u64>, ApiError> {
    if !call
        .budget_chain
        .as_ref()
        .is_some_and(|chain| may_limit(chain))
    {
        return Ok(None);
    }
    let ceiling = route.price_ceiling();
    let choices = choices.max(1);
    let output_tokens = max_output
        .or(ceiling.max_output_tokens)
        .unwrap_or(DEFAULT_OUTPUT_TOKENS);
    let prompt_cost = tokens_cost_ceiling(prompt_bound, ceiling.input_micros_per_mtok);
    // Each of the `n` choices may produce the whole output limit.
    let minimum = prompt_cost.saturating_add(tokens_cost_ceiling(
        MIN_AFFORDABLE_OUTPUT_TOKENS
            .min(output_tokens)
            .saturating_mul(choices),
        ceiling.output_micros_per_mtok,
    ));
    let wanted = prompt_cost.saturating_add(tokens_cost_ceiling(
        output_tokens.saturating_mul(choices),
        ceiling.output_micros_per_mtok,
    ));
    let reserved = admitted.reserve(gateway, call, minimum, wanted).await?;
    if call.reservation.is_some() {
        call.output_allowance = Some(reserved - prompt_cost);
    }
    if reserved < wanted && ceiling.output_micros_per_mtok > 0 {
        let affordable = (reserved - prompt_cost).max(0) as u128 * 1_000_000
            / ceiling.output_micros_per_mtok as u128
            / u128::from(choices);
        return Ok(Some(u64::try_from(affordable).unwrap_or(u64::MAX)));
    }
    // Neither the request nor any deployment bounds the output: the request is held to what
    // was reserved for it.
    if max_output.is_none() && ceiling.max_output_tokens.is_none() && call.reservation.is_some() {
        return Ok(Some(output_tokens));
    }
    Ok(None)
}

/// Steps 4 and 6–9 for a chat request on a planned route: reserve, call (attempt by attempt),
/// respond, settle (the reservation becomes the actual cost) and meter (one spend row), inside a
/// tracked task that outlives a client disconnect.
pub async fn call_chat_on(
    gateway: SharedGateway,
    admitted: Admitted,
    mut request: ChatRequest,
    egress: Egress,
    call_type: &'static str,
    route: Route,
) -> Result<Response, ApiError> {
    let mut call = admitted.metered_call(
        call_type,
        route.first().clone(),
        route.needs().prompt_tokens,
        request.end_user.clone(),
        &request.tags,
        request.stream,
    );
    admitted.limit(&gateway, &mut call).await?;
    let lowered = reserve_output(
        &gateway,
        &admitted,
        &mut call,
        &route,
        request.prompt_token_bound(),
        request.max_output_tokens(),
        request.choices(),
    )
    .await?;
    if let Some(tokens) = lowered {
        request.limit_output_tokens(tokens);
    }
    call.keep_request(gateway.store_payloads, || request.payload());
    let client_wants_usage = request.client_wants_usage;
    let body = Reusable::new(request.into_body(), route.may_retry());
    if call.is_stream {
        let source = Source::Chat {
            body,
            client_wants_usage,
            egress,
        };
        stream::relay(gateway, call, route, source).await
    } else {
        unary::complete(gateway, call, route, body, egress).await
    }
}
