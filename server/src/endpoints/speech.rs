//! `/v1/audio/speech`: OpenAI's speech API to upstreams that serve it. The generated audio
//! streams to the client as it arrives; the call is billed by input characters once the
//! upstream accepts it, and goes to one deployment only (speech answers as it is produced).

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue};
use reqwest::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use crate::core::body::read_body;
use crate::core::capabilities::{Mode, Needs};
use crate::core::error::ApiError;
use crate::core::usage::{Units, Usage};
use crate::endpoints::audio::{audio_url, unlimited_output};
use crate::engine::{Call, Cost, Endpoint, PassthroughAttempt};
use crate::providers::adapter::{to_body, UpstreamRequest};
use crate::providers::native::NativeEndpoint;
use crate::providers::Deployment;
use crate::routing::attempts::{CostBound, Route};
use app::model::invalid::{self, Invalid, Problem};

/// `/v1/audio/speech`.
pub struct Speech {
    request: Map<String, Value>,
    model: String,
    characters: u64,
    input_bytes: u64,
}

impl Endpoint for Speech {
    async fn parse(_headers: &HeaderMap, body: Body) -> Result<Self, ApiError> {
        let request = invalid::json_object(&read_body(body).await?)?;
        let model = invalid::model(&request)?;
        let (characters, input_bytes) = match request.get("input") {
            Some(Value::String(input)) if !input.is_empty() => {
                (input.chars().count() as u64, input.len() as u64)
            }
            _ => return Err(Invalid::field("input", Problem::NotNonEmptyString).into()),
        };
        Ok(Speech {
            request,
            model,
            characters,
            input_bytes,
        })
    }

    fn call_type(&self) -> &'static str {
        NativeEndpoint::AudioSpeech.call_type()
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn needs(&self) -> Needs {
        Needs::plain(Mode::AudioSpeech, 0)
    }

    fn streams(&self) -> bool {
        true
    }

    fn single_attempt(&self) -> bool {
        true
    }

    fn bind(&mut self, route: &Route) -> Result<(), ApiError> {
        audio_url(route.first(), &self.model, NativeEndpoint::AudioSpeech).map(drop)
    }

    /// Billed by character, or by tokens of text in and of audio out (bounded as other outputs
    /// without a limit are).
    fn cost(&self, route: &Route) -> Result<Cost, ApiError> {
        Ok(Cost::Whole {
            bound: CostBound {
                characters: self.characters,
                input_tokens: self.input_bytes,
                output_tokens: unlimited_output(route),
                ..CostBound::default()
            },
            impose: None,
        })
    }

    fn into_call(self, _route: &Route) -> Result<Call, ApiError> {
        Ok(Call::Passthrough(Box::new(SpeechAttempt {
            request: Some(self.request),
            model: self.model,
            characters: self.characters,
        })))
    }
}

struct SpeechAttempt {
    /// Sent once: speech goes to one deployment.
    request: Option<Map<String, Value>>,
    model: String,
    characters: u64,
}

impl PassthroughAttempt for SpeechAttempt {
    fn request(&mut self, deployment: &Deployment) -> Result<UpstreamRequest, ApiError> {
        let url = audio_url(deployment, &self.model, NativeEndpoint::AudioSpeech)?;
        let mut request = self.request.take().ok_or(ApiError::Internal)?;
        request.insert(
            "model".into(),
            Value::String(deployment.upstream_model.clone()),
        );
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        Ok(UpstreamRequest {
            url,
            headers,
            body: to_body(&Value::Object(request))?,
        })
    }

    fn usage(&self) -> Usage {
        Usage {
            units: Units {
                characters: self.characters,
                ..Units::default()
            },
            ..Usage::default()
        }
    }

    fn default_content_type(&self) -> HeaderValue {
        HeaderValue::from_static("audio/mpeg")
    }
}
