//! `/v1/audio/transcriptions`: OpenAI's transcription API to upstreams that serve it. The
//! uploaded audio streams to the upstream as it is read (`form`), with the upstream's model id,
//! so it goes to one deployment only; billed by the seconds (or tokens) the upstream reports
//! (`transcript`).

mod form;
pub mod transcript;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;

use crate::core::body::MAX_BODY_BYTES;
use crate::core::capabilities::{Mode, Needs};
use crate::core::error::ApiError;
use crate::endpoints::audio::{audio_url, unlimited_output};
use crate::engine::litellm_fields;
use crate::engine::{Call, CallInfo, Cost, Endpoint, WholeAttempt};
use crate::providers::adapter::ChatReply;
use crate::providers::native::NativeEndpoint;
use crate::providers::{transport, Deployment};
use crate::routing::attempts::{CostBound, Route};
use crate::state::SharedGateway;
use form::{form_error, read_text_field, relay_form, FileBytes, UploadFailure, UploadedFile};
use transcript::TranscriptFormat;

/// The fewest bytes a second of audio an upstream accepts takes (6 kbit/s, the lowest Opus
/// speech rate): an upload's size bounds its duration.
const MIN_AUDIO_BYTES_PER_SECOND: u64 = 750;

/// `/v1/audio/transcriptions`: the form read up to its file.
pub struct Transcription {
    model: String,
    format: TranscriptFormat,
    /// The text fields read before the file.
    fields: Vec<(String, Bytes)>,
    file: UploadedFile,
    /// The rest of the form, still arriving.
    form: multer::Multipart<'static>,
    /// The largest upload the request may carry.
    upload_bound: u64,
    /// The route's deployment's transcription URL.
    url: Option<reqwest::Url>,
}

impl Endpoint for Transcription {
    async fn parse(headers: &HeaderMap, body: Body) -> Result<Self, ApiError> {
        let boundary = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| multer::parse_boundary(value).ok())
            .ok_or_else(|| {
                ApiError::bad_request("The request body must be multipart/form-data.", None)
            })?;
        let limits = multer::Constraints::new()
            .size_limit(multer::SizeLimit::new().whole_stream(MAX_BODY_BYTES as u64));
        let mut form =
            multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
        // Text fields are read until the file; the file streams on if `model` came before it.
        let mut fields: Vec<(String, Bytes)> = Vec::new();
        let mut file: Option<UploadedFile> = None;
        while let Some(field) = form.next_field().await.map_err(form_error)? {
            let name = field.name().unwrap_or_default().to_string();
            if name == "file" {
                let file_name = field.file_name().map(str::to_string);
                let content_type = field.content_type().map(ToString::to_string);
                let model_known = fields.iter().any(|(name, _)| name == "model");
                let bytes = if model_known {
                    FileBytes::Arriving(Box::new(field))
                } else {
                    FileBytes::Read(field.bytes().await.map_err(form_error)?)
                };
                file = Some(UploadedFile {
                    file_name,
                    content_type,
                    bytes,
                });
                if model_known {
                    break;
                }
            } else {
                let value = read_text_field(field).await?;
                if litellm_fields::keeps_form_field(&name)? {
                    fields.push((name, value));
                }
            }
        }
        let file = file.ok_or_else(|| {
            ApiError::bad_request(
                "The form needs a `file` field with the audio.",
                Some("file"),
            )
        })?;
        let model = fields
            .iter()
            .find(|(name, _)| name == "model")
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
            .filter(|model| !model.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::bad_request("You must provide a model parameter.", Some("model"))
            })?;
        let format = TranscriptFormat::of(
            fields
                .iter()
                .find(|(name, _)| name == "response_format")
                .map(|(_, format)| format.as_ref()),
        );
        Ok(Transcription {
            model,
            format,
            fields,
            file,
            form,
            upload_bound: upload_bytes_bound(headers),
            url: None,
        })
    }

    fn call_type(&self) -> &'static str {
        NativeEndpoint::AudioTranscriptions.call_type()
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn needs(&self) -> Needs {
        Needs::plain(Mode::AudioTranscription, 0)
    }

    /// The upload is relayed as it arrives and cannot be sent twice.
    fn single_attempt(&self) -> bool {
        true
    }

    /// The form is rewritten for the route's deployment: its model id, and the format asked
    /// of it.
    fn bind(&mut self, route: &Route) -> Result<(), ApiError> {
        let deployment = route.first();
        self.url = Some(audio_url(
            deployment,
            &self.model,
            NativeEndpoint::AudioTranscriptions,
        )?);
        for (name, value) in &mut self.fields {
            if name == "model" {
                *value = Bytes::from(deployment.upstream_model.clone());
            } else if let ("response_format", Some(upstream)) =
                (name.as_str(), self.format.upstream_response_format())
            {
                *value = Bytes::from_static(upstream.as_bytes());
            }
        }
        Ok(())
    }

    fn cost(&self, route: &Route) -> Result<Cost, ApiError> {
        Ok(Cost::Whole {
            bound: CostBound {
                audio_millis: audio_millis_bound(self.upload_bound),
                input_tokens: self.upload_bound,
                output_tokens: unlimited_output(route),
                ..CostBound::default()
            },
            impose: None,
        })
    }

    fn into_call(self, _route: &Route) -> Result<Call, ApiError> {
        let boundary = format!("gatehouse-{}", uuid::Uuid::new_v4().simple());
        let mut headers = reqwest::header::HeaderMap::new();
        let content_type = format!("multipart/form-data; boundary={boundary}");
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_str(&content_type)
                .map_err(|_| ApiError::Internal)?,
        );
        let (upload, failure) = relay_form(boundary, self.fields, self.file, self.form);
        let content_type = self
            .format
            .is_text()
            .then(|| HeaderValue::from_static("text/plain; charset=utf-8"));
        Ok(Call::Whole {
            attempts: Box::new(TranscriptionAttempt {
                url: self.url.ok_or(ApiError::Internal)?,
                headers,
                upload: Some(upload),
                failure,
                format: self.format,
            }),
            content_type,
        })
    }
}

/// The largest upload the request may carry: its `Content-Length`, else the body limit.
fn upload_bytes_bound(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .map_or(MAX_BODY_BYTES as u64, |length| {
            length.min(MAX_BODY_BYTES as u64)
        })
}

/// The longest audio `bytes` of upload may hold, in milliseconds.
fn audio_millis_bound(bytes: u64) -> u64 {
    bytes
        .saturating_mul(1_000)
        .div_ceil(MIN_AUDIO_BYTES_PER_SECOND)
}

struct TranscriptionAttempt {
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    /// Sent once.
    upload: Option<reqwest::Body>,
    failure: UploadFailure,
    format: TranscriptFormat,
}

impl WholeAttempt for TranscriptionAttempt {
    fn attempt(
        &mut self,
        gateway: &SharedGateway,
        deployment: Arc<Deployment>,
        _call: &CallInfo,
    ) -> BoxFuture<'static, Result<ChatReply, ApiError>> {
        let (http, url, headers) = (gateway.http.clone(), self.url.clone(), self.headers.clone());
        let (upload, failure, format) = (self.upload.take(), self.failure.clone(), self.format);
        async move {
            let relayed = async {
                let upload = upload.ok_or(ApiError::Internal)?;
                let response =
                    transport::open_with_body(&http, &deployment, url, headers, upload).await?;
                transport::read_whole(&deployment, response).await
            };
            // An upload the client broke off (or made too large) is the client's error, not
            // the upstream's.
            let reply = relayed.await.map_err(|upstream_error| {
                failure
                    .lock()
                    .ok()
                    .and_then(|mut failure| failure.take())
                    .unwrap_or(upstream_error)
            })?;
            format.reply(reply)
        }
        .boxed()
    }
}
