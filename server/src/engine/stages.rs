//! The stages between authentication and the call: authorize and plan, limit, reserve. Each
//! is a plain function of the admitted caller; `engine::run` calls them in order.

use std::sync::Arc;

use crate::core::capabilities::{Mode, Needs};
use crate::core::error::ApiError;
use crate::core::prices::tokens_cost_ceiling;
use crate::engine::admit::Admitted;
use crate::engine::litellm_fields::{ClientAuth, LitellmFields};
use crate::metering::MeteredCall;
use crate::observe::CallContext;
use crate::policy::auth::Caller;
use crate::policy::budgets::{Budget, BudgetError};
use crate::policy::limits::LimitError;
use crate::providers::client_auth::client_deployment;
use crate::providers::{mock_response, Deployment};
use crate::routing::attempts::{Route, Trail};
use crate::routing::overrides::RouteOverrides;
use crate::state::SharedGateway;
use app::model::identity::push_tag;

/// 3b. the route of a request that names its own `api_base` or `api_key`: one attempt, at its
///     first deployment pointed where the client said, if the model allows it; a 400 otherwise.
pub fn client_route(route: Route, auth: &ClientAuth) -> Result<Route, ApiError> {
    let deployment = client_deployment(
        route.first(),
        auth.api_base.as_deref(),
        auth.api_key.as_ref(),
    )
    .map_err(|message| ApiError::bad_request(message, Some(client_auth_param(auth))))?;
    Ok(route.served_by(Arc::new(deployment)))
}

/// 3c. the route of a chat request carrying `mock_response`: answered in-process with it, at no
///     cost, when the caller holds the master key or the config allows clients' mock replies
///     (`general_settings.allow_client_mock_response`); otherwise the field is ignored.
pub fn mock_route(
    gateway: &SharedGateway,
    admitted: &Admitted,
    route: Route,
    reply: &str,
    needs: &Needs,
) -> Route {
    let allowed = admitted.caller.is_master() || gateway.client_mock_responses;
    if !allowed || needs.mode != Mode::Chat {
        return route;
    }
    let mocked = mock_response::mocked(route.first(), reply);
    route.served_by(Arc::new(mocked))
}

fn client_auth_param(auth: &ClientAuth) -> &'static str {
    if auth.api_base.is_some() {
        "api_base"
    } else {
        "api_key"
    }
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
        asked: Option<&RouteOverrides>,
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
        // The request's own routing limits (its body's and its headers'), within the policy.
        let combined;
        let asked = match asked {
            Some(asked) if !asked.is_empty() => {
                combined = asked.clone().tightest(&self.route_limits);
                &combined
            }
            _ => &self.route_limits,
        };
        let settings = if asked.num_retries.is_none()
            && asked.fallbacks.is_none()
            && asked.context_window_fallbacks.is_empty()
        {
            self.router.clone()
        } else {
            let access = groups.access();
            Arc::new(asked.narrow(
                &self.router,
                group,
                &|name| self.caller.may_use(name, access),
                &|name| groups.get(name).is_some(),
            )?)
        };
        Route::plan(groups, settings, group, *needs, asked.timeout)
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
            .await
            .map_err(BudgetError::into_api_error)?;
        let amount = reservation.amount();
        if reservation.is_limited() {
            call.reservation = Some(reservation);
            Ok(amount)
        } else {
            Ok(wanted)
        }
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
            .await
            .map_err(LimitError::into_api_error)?;
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
        litellm: Option<&LitellmFields>,
        is_stream: bool,
    ) -> MeteredCall {
        let mut tags = self.tags.clone();
        let (session_id, metadata) = match litellm {
            Some(fields) => {
                for tag in &fields.tags {
                    push_tag(&mut tags, tag);
                }
                let spend = fields.spend.clone().or(&self.spend_metadata);
                let metadata = spend.row_metadata();
                (spend.session_id, metadata)
            }
            None => (
                self.spend_metadata.session_id.clone(),
                self.spend_metadata.row_metadata(),
            ),
        };
        MeteredCall {
            request_id: uuid::Uuid::new_v4().to_string(),
            call_type,
            token_hash: self.caller.token_hash().clone(),
            team_id: self.caller.team_id().cloned(),
            user_id: self.caller.user_id().cloned(),
            project_id: self.caller.project_id().cloned(),
            tags,
            session_id,
            metadata,
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
            context: CallContext::default(),
        }
    }
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

/// A chat-shaped call's worst case before budgets hold it: its prompt (at most
/// `prompt_bound` tokens: its size in bytes), and `choices` times the output limit
/// (`max_output`, the client's; else the largest the route declares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCost {
    pub prompt_bound: u64,
    pub max_output: Option<u64>,
    pub choices: u64,
}

/// A budget is near its edge for a request whose byte-bound reservation is at least
/// 1/`NEAR_EDGE_SHARE` of what the budget has left: there, counting the prompt exactly can
/// decide whether it is served. Elsewhere the byte bound, released when the call settles,
/// refuses nothing, and counting would cost every request (see docs/COMPATIBILITY.md).
const NEAR_EDGE_SHARE: i64 = 100;

/// Step 4 for a chat request (any API shape): reserves the prompt (bounded by `prompt_bound`
/// tokens, or counted exactly by `exact_prompt` where a budget is near its edge) at the
/// route's dearest input price plus its output limit at the dearest output price, for each of
/// `choices`. When the budgets can pay for less, or nothing but the reservation bounds the
/// output, returns the output limit (per choice) to send upstream, so the call cannot cost
/// more than reserved.
pub async fn reserve_output(
    gateway: &SharedGateway,
    admitted: &Admitted,
    call: &mut MeteredCall,
    route: &Route,
    cost: OutputCost,
    exact_prompt: impl FnOnce() -> Option<u64>,
) -> Result<Option<u64>, ApiError> {
    let Some(chain) = call.budget_chain.as_ref().filter(|chain| may_limit(chain)) else {
        return Ok(None);
    };
    let OutputCost {
        prompt_bound,
        max_output,
        choices,
    } = cost;
    let ceiling = route.price_ceiling();
    let choices = choices.max(1);
    let output_tokens = max_output
        .or(ceiling.max_output_tokens)
        .unwrap_or(DEFAULT_OUTPUT_TOKENS);
    let output_cost = tokens_cost_ceiling(
        output_tokens.saturating_mul(choices),
        ceiling.output_micros_per_mtok,
    );
    let mut prompt_cost = tokens_cost_ceiling(prompt_bound, ceiling.input_micros_per_mtok);
    let near_edge = |budget: &Arc<Budget>| {
        budget.headroom().is_some_and(|left| {
            left < prompt_cost
                .saturating_add(output_cost)
                .saturating_mul(NEAR_EDGE_SHARE)
        })
    };
    if chain.iter().any(near_edge) {
        if let Some(exact) = exact_prompt() {
            prompt_cost =
                tokens_cost_ceiling(exact.min(prompt_bound), ceiling.input_micros_per_mtok);
        }
    }
    // Each of the `n` choices may produce the whole output limit.
    let minimum = prompt_cost.saturating_add(tokens_cost_ceiling(
        MIN_AFFORDABLE_OUTPUT_TOKENS
            .min(output_tokens)
            .saturating_mul(choices),
        ceiling.output_micros_per_mtok,
    ));
    let wanted = prompt_cost.saturating_add(output_cost);
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
