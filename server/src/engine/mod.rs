//! The one request engine. Every data-plane endpoint is an `Endpoint`: it reads its request and
//! says what the request needs, what it may cost and how each attempt is sent and answered.
//! `serve::<E>` owns the order of the stages, the same for every endpoint:
//!
//! 1. **authenticate** (`admit`): the key, then the request class, tags, end user and time
//!    limit its headers name. Before the body is read: nobody unknown makes us read 32 MiB.
//! 2. **parse**: the endpoint reads and checks the body.
//! 3. **authorize** and **plan** (`Admitted::plan`): the model may be used by the caller; the
//!    route through its group and fallbacks, from a deployment that can serve the request.
//!    Planning comes before limits and budgets because they are kept per model group (a key's
//!    limits for a model, `model_max_budget`) and the reservation is the route's worst case.
//! 4. **limit** (`Admitted::limit`): rate limits of the key, key × model, user and team; the
//!    budgets the request's content adds (end user, tags) join its chain.
//! 5. **reserve**: the call's worst case on the route, or (chat) what the budgets can pay for
//!    with the output held to it; refused before any upstream call otherwise.
//! 6. **call**: attempt by attempt along the route (retries, fallbacks), in a tracked task a
//!    client that leaves cannot cancel.
//! 7. **respond**: a whole reply, server-sent events, or bytes passed through.
//! 8. **settle** and 9. **meter** (`Meter::record`): the actual cost replaces the reservation;
//!    one spend row.
//! 10. **observe** (`Observer::call_ended`, from the meter): metrics. A request refused at any
//!     earlier stage is observed there (`Observer::refused`).

mod admit;
pub mod attempt;
pub mod call_headers;
pub mod litellm_fields;
mod passthrough;
mod stages;
pub mod stream;
pub mod whole;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::core::capabilities::Needs;
use crate::core::error::ApiError;
use crate::core::origin::Origin;
use crate::core::tokens::Encoding;
use crate::engine::litellm_fields::LitellmFields;
use crate::metering::MeteredCall;
use crate::routing::attempts::{CostBound, Route};
use crate::state::SharedGateway;
use std::time::Instant;

pub use admit::Admitted;
pub use attempt::{CallInfo, EventsAttempt, Opening, PassthroughAttempt, WholeAttempt};
pub use stages::{OutputCost, DEFAULT_OUTPUT_TOKENS};

/// How a request's cost is reserved before it is sent.
pub enum Cost {
    /// A chat-shaped call: the prompt (at most `prompt_bound` tokens) and `choices` times the
    /// output limit (the client's `max_output`, else the largest the route declares). When the
    /// budgets pay for less, the output is held to what they pay for, and a stream is ended
    /// when it passes it.
    Output(OutputCost),
    /// A call that cannot be cut short once sent: its whole worst case on the route, or the
    /// request is refused. `impose`: an output limit to send when a budget was reserved
    /// against (the request set none, and nothing else bounds it).
    Whole {
        bound: CostBound,
        impose: Option<u64>,
    },
}

/// How the attempts of a call are sent and answered.
pub enum Call {
    /// One whole reply; `content_type` replaces JSON's when set.
    Whole {
        attempts: Box<dyn WholeAttempt>,
        content_type: Option<HeaderValue>,
    },
    /// Server-sent events, translated as they arrive.
    Events(Box<dyn EventsAttempt>),
    /// The upstream's bytes as they arrive, billed once it accepts the request.
    Passthrough(Box<dyn PassthroughAttempt>),
}

/// One data-plane endpoint: what the engine asks of each request.
pub trait Endpoint: Sized + Send + 'static {
    /// Reads and checks the request (after its caller is known).
    fn parse(
        headers: &HeaderMap,
        body: Body,
    ) -> impl std::future::Future<Output = Result<Self, ApiError>> + Send;

    /// The spend row's call type (`acompletion`, `aembedding`, …).
    fn call_type(&self) -> &'static str;

    /// The model the request names.
    fn model(&self) -> &str;

    /// What a deployment must offer to serve it (its prompt estimate included).
    fn needs(&self) -> Needs;

    /// The prompt's tokens, estimated, billed when the upstream reports no usage (asked once the
    /// endpoint is bound to the route): by default the estimate its `needs` carried.
    fn prompt_estimate(&self, needs: &Needs) -> u64 {
        needs.prompt_tokens
    }

    /// Whether the reply streams back.
    fn streams(&self) -> bool {
        self.needs().streaming
    }

    /// The end user the body names (OpenAI's `user`).
    fn end_user(&self) -> Option<String> {
        None
    }

    /// LiteLLM's fields the body carried (tags, routing limits, spend metadata, …).
    fn litellm(&self) -> Option<&LitellmFields> {
        None
    }

    /// Whether it may go to one deployment only (what it sends cannot be sent twice).
    fn single_attempt(&self) -> bool {
        false
    }

    /// Chooses how the route's first deployment is called (in the request's own format, or
    /// translated), before limits and budgets count it: a request no deployment can take is
    /// the client's error.
    fn bind(&mut self, _route: &Route) -> Result<(), ApiError> {
        Ok(())
    }

    /// How its cost is reserved.
    fn cost(&self, route: &Route) -> Result<Cost, ApiError>;

    /// The prompt's tokens counted exactly with `encoding`, where the endpoint can (a chat
    /// prompt of text): a budget then reserves that, not the prompt's size in bytes.
    fn exact_prompt_tokens(&self, _encoding: Encoding) -> Option<u64> {
        None
    }

    /// Holds each choice's output to `tokens`.
    fn limit_output(&mut self, _tokens: u64) {}

    /// The request as the spend row keeps it (`store_prompts_in_spend_logs`), if it keeps it.
    fn payload(&self) -> Option<Value> {
        None
    }

    /// What each attempt sends and how its reply comes back.
    fn into_call(self, route: &Route) -> Result<Call, ApiError>;

    /// An error in the API's own shape.
    fn error_response(error: ApiError) -> Response {
        error.into_response()
    }
}

/// Serves one request to `E`, stage by stage.
pub async fn serve<E: Endpoint>(
    State(gateway): State<SharedGateway>,
    origin: Origin,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run::<E>(gateway, origin, &headers, body)
        .await
        .unwrap_or_else(E::error_response)
}

async fn run<E: Endpoint>(
    gateway: SharedGateway,
    origin: Origin,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let observer = gateway.meter.observer();
    let mut context = observer.begin(origin.peer, headers);
    // 1. authenticate
    let admitted = admit::admit(&gateway, headers, &origin).await;
    context.route = origin.path;
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(error) => {
            observer.refused(&context, None, "", error.status().as_u16());
            return Err(error);
        }
    };
    observer.identify(&mut context, &admitted.caller);
    let refused = |model: &str, error: &ApiError| {
        observer.refused(
            &context,
            Some(&admitted.caller),
            model,
            error.status().as_u16(),
        );
    };
    // 2. parse
    let mut request = E::parse(headers, body)
        .await
        .inspect_err(|error| refused("", error))?;
    // 3–5. authorize, plan, limit, reserve
    let preparing = context.trace.is_some().then(Instant::now);
    let prepared = prepare(&gateway, &admitted, &mut request).await;
    if let (Some(trace), Some(from)) = (&mut context.trace, preparing) {
        trace.reserved = Some((from, Instant::now()));
    }
    let refused = |model: &str, error: &ApiError| {
        observer.refused(
            &context,
            Some(&admitted.caller),
            model,
            error.status().as_u16(),
        );
    };
    // A model the gateway does not serve is not a label: any client could name millions.
    let (mut call, route) = prepared.inspect_err(|error| {
        let model = request.model();
        refused(
            if gateway.models.groups().serves(model) {
                model
            } else {
                ""
            },
            error,
        )
    })?;
    let route = route.propagating(context.propagation.clone());
    let call_kind = request
        .into_call(&route)
        .inspect_err(|error| refused(route.requested_model(), error))?;
    call.context = context;
    // 6–9. call, respond, settle, meter, observe
    match call_kind {
        Call::Whole {
            attempts,
            content_type,
        } => whole::relay(gateway, call, route, attempts, content_type).await,
        Call::Events(attempts) => stream::relay(gateway, call, route, attempts).await,
        Call::Passthrough(attempts) => passthrough::relay(gateway, call, route, attempts).await,
    }
}

/// Stages 3 to 5: the request's route, its place in the rate limits, and its reservation.
async fn prepare<E: Endpoint>(
    gateway: &SharedGateway,
    admitted: &Admitted,
    request: &mut E,
) -> Result<(MeteredCall, Route), ApiError> {
    // 3. authorize, plan
    let needs = request.needs();
    let asked = request.litellm().map(|fields| &fields.route);
    let mut route = admitted.plan(gateway, request.model(), &needs, asked)?;
    if request.single_attempt() {
        route = route.single_attempt();
    }
    if let Some(fields) = request.litellm() {
        if let Some(auth) = &fields.client_auth {
            route = stages::client_route(route, auth)?;
        }
        if let Some(reply) = &fields.mock_response {
            route = stages::mock_route(gateway, admitted, route, reply, &needs);
        }
    }
    request.bind(&route)?;
    let mut call = admitted.metered_call(
        request.call_type(),
        route.first().clone(),
        request.prompt_estimate(&needs),
        request.end_user(),
        request.litellm(),
        request.streams(),
    );
    // 4. limit
    admitted.limit(gateway, &mut call).await?;
    // 5. reserve
    match request.cost(&route)? {
        Cost::Output(cost) => {
            // Counted exactly where the route's tokenizer is public (asked only near a budget's
            // edge).
            let exact_prompt = || {
                route
                    .encoding()
                    .and_then(|encoding| request.exact_prompt_tokens(encoding))
            };
            let held =
                stages::reserve_output(gateway, admitted, &mut call, &route, cost, exact_prompt)
                    .await?;
            if let Some(tokens) = held {
                request.limit_output(tokens);
            }
        }
        Cost::Whole { bound, impose } => {
            let worst = route.price_ceiling().cost_of(&bound);
            admitted.reserve(gateway, &mut call, worst, worst).await?;
            if let (Some(tokens), true) = (impose, call.reservation.is_some()) {
                request.limit_output(tokens);
            }
        }
    }
    if gateway.store_payloads {
        if let Some(payload) = request.payload() {
            call.keep_request(true, || payload);
        }
    }
    Ok((call, route))
}
