//! What an endpoint's attempts implement, one trait per way a reply comes back, and what every
//! attempt of one call shares.

use std::sync::Arc;

use axum::http::HeaderValue;
use futures::future::BoxFuture;

use crate::core::error::ApiError;
use crate::core::usage::Usage;
use crate::metering::MeteredCall;
use crate::providers::adapter::{ChatReply, ReplyContext, StreamTranslator, UpstreamRequest};
use crate::providers::framing::Framing;
use crate::providers::Deployment;
use crate::state::SharedGateway;

/// One attempt of a whole-reply call on a deployment: its reply and the usage it reports.
pub trait WholeAttempt: Send {
    fn attempt(
        &mut self,
        gateway: &SharedGateway,
        deployment: Arc<Deployment>,
        call: &CallInfo,
    ) -> BoxFuture<'static, Result<ChatReply, ApiError>>;
}

/// One attempt of a streamed call: the request to open on a deployment and the translator of
/// its events.
pub trait EventsAttempt: Send {
    fn open(&mut self, deployment: &Deployment, call: &CallInfo) -> Result<Opening, ApiError>;
}

/// A stream ready to open on one deployment.
pub struct Opening {
    /// `None` for a `mock_response` deployment, which streams from memory.
    pub request: Option<UpstreamRequest>,
    pub framing: Framing,
    pub translator: Box<dyn StreamTranslator>,
}

/// What every attempt of one call shares: its id, the reply's identity, the prompt estimate.
#[derive(Clone)]
pub struct CallInfo {
    pub request_id: String,
    pub context: ReplyContext,
    pub prompt_estimate: u64,
}

impl CallInfo {
    pub fn of(call: &MeteredCall) -> CallInfo {
        CallInfo {
            request_id: call.request_id.clone(),
            context: call.reply_context(),
            prompt_estimate: call.prompt_estimate,
        }
    }

    /// The same, for an attempt on `deployment` (its reply names the upstream model).
    pub fn on(&self, deployment: &Deployment) -> CallInfo {
        CallInfo {
            context: ReplyContext {
                model: deployment.upstream_model.clone(),
                ..self.context.clone()
            },
            ..self.clone()
        }
    }
}

/// One attempt of a passed-through call.
pub trait PassthroughAttempt: Send {
    /// The request to send to `deployment`.
    fn request(&mut self, deployment: &Deployment) -> Result<UpstreamRequest, ApiError>;
    /// What the call is billed for once an upstream accepts it.
    fn usage(&self) -> Usage;
    /// The reply's content type when the upstream names none.
    fn default_content_type(&self) -> HeaderValue;
}
