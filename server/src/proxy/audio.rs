//! `/v1/audio/speech` and `/v1/audio/transcriptions`, relayed to upstreams that serve OpenAI's
//! audio API without holding whole bodies in memory: generated speech streams to the client as
//! it arrives, and uploaded audio streams to the upstream as it is read, the form re-encoded
//! with the upstream's model id. Speech is billed by input characters, transcription by the
//! seconds (or tokens) the upstream reports (`transcript`).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::core::capabilities::{Mode, Needs};
use crate::core::error::ApiError;
use crate::core::usage::{Units, Usage};
use crate::metering::{CallOutcome, MeteredCall};
use crate::providers::adapter::{to_body, UpstreamRequest};
use crate::providers::native::NativeEndpoint;
use crate::providers::{transport, Deployment};
use crate::proxy::call_headers::RouteHeaders;
use crate::proxy::native::http_adapter;
use crate::proxy::pipeline::{admit, DEFAULT_OUTPUT_TOKENS};
use crate::proxy::request::{read_body, MAX_BODY_BYTES};
use crate::proxy::transcript::TranscriptFormat;
use crate::proxy::unary::{insert_cost_headers, metered};
use crate::routing::attempts::{CostBound, Route};
use crate::state::SharedGateway;

/// Largest text field of a transcription form.
const MAX_FORM_FIELD_BYTES: u64 = 64 * 1024;
/// Upload pieces buffered between the client and the upstream.
const UPLOAD_BUFFER_PIECES: usize = 8;

pub async fn speech(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_speech(gateway, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

pub async fn transcriptions(
    State(gateway): State<SharedGateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    run_transcription(gateway, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The fewest bytes a second of audio an upstream accepts takes (6 kbit/s, the lowest Opus
/// speech rate): an upload's size bounds its duration.
const MIN_AUDIO_BYTES_PER_SECOND: u64 = 750;

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

/// The output tokens a request without an output limit is reserved for on `route`.
fn unlimited_output(route: &Route) -> u64 {
    route
        .price_ceiling()
        .max_output_tokens
        .unwrap_or(DEFAULT_OUTPUT_TOKENS)
}

fn bad(message: impl Into<String>, param: Option<&'static str>) -> ApiError {
    ApiError::bad_request(message, param)
}

/// The deployment's URL for an audio endpoint, or a 400 naming the provider that has none.
fn audio_url(
    deployment: &Deployment,
    model: &str,
    endpoint: NativeEndpoint,
) -> Result<reqwest::Url, ApiError> {
    http_adapter(deployment, model)?
        .native_url(endpoint)
        .cloned()
        .ok_or_else(|| {
            bad(
                format!(
                    "The model `{model}` is served by `{}`, whose {} API Gatehouse does not speak.",
                    deployment.provider,
                    endpoint.path()
                ),
                Some("model"),
            )
        })
}

async fn run_speech(
    gateway: SharedGateway,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let admitted = admit(&gateway, headers).await?;
    let mut request = match serde_json::from_slice::<Value>(&read_body(body).await?) {
        Ok(Value::Object(request)) => request,
        _ => return Err(bad("The request body must be a JSON object.", None)),
    };
    let model = match request.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => {
            return Err(bad(
                "You must provide a model parameter (a non-empty string).",
                Some("model"),
            ))
        }
    };
    let (characters, input_bytes) = match request.get("input") {
        Some(Value::String(input)) if !input.is_empty() => {
            (input.chars().count() as u64, input.len() as u64)
        }
        _ => return Err(bad("`input` must be a non-empty string.", Some("input"))),
    };
    // Speech answers as it is produced, so one attempt: the route only chooses the deployment.
    let route = admitted
        .plan(&gateway, &model, &Needs::plain(Mode::AudioSpeech, 0))?
        .single_attempt();
    let deployment = route.first().clone();
    let url = audio_url(&deployment, &model, NativeEndpoint::AudioSpeech)?;
    request.insert(
        "model".into(),
        Value::String(deployment.upstream_model.clone()),
    );
    let mut upstream_headers = reqwest::header::HeaderMap::new();
    upstream_headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    let upstream_request = UpstreamRequest {
        url,
        headers: upstream_headers,
        body: to_body(&Value::Object(request))?,
    };
    let end_user = None;
    let mut call = admitted.metered_call(
        NativeEndpoint::AudioSpeech.call_type(),
        deployment.clone(),
        0,
        end_user,
        &[],
        true,
    );
    // Billed by character, or by tokens of text in and of audio out (bounded as other outputs
    // without a limit are).
    let bound = CostBound {
        characters,
        input_tokens: input_bytes,
        output_tokens: unlimited_output(&route),
        ..CostBound::default()
    };
    admitted.hold(&gateway, &mut call, &route, &bound).await?;
    // Speech is billed by its input, so the call is metered once the upstream accepts it; the
    // audio then streams to the client. A tracked task keeps a client that leaves early from
    // cancelling the metering.
    let task_gateway = gateway.clone();
    gateway
        .tasks
        .spawn(async move {
            let gateway = task_gateway;
            let mut upstream_request = Some(upstream_request);
            let routed = route
                .run(&gateway.retry_budget, &*gateway.models, |deployment| {
                    let http = gateway.http.clone();
                    let upstream_request = upstream_request.take();
                    async move {
                        let upstream_request = upstream_request.ok_or(ApiError::Internal)?;
                        transport::open_response(&http, &deployment, upstream_request).await
                    }
                })
                .await;
            let route_headers = RouteHeaders::of(
                &routed.deployment,
                &routed.trail,
                call.started,
                gateway.api_base_header,
            );
            let call = MeteredCall {
                trail: routed.trail,
                ..call
            };
            let upstream = match routed.result {
                Ok(upstream) => upstream,
                Err(error) => {
                    let outcome = CallOutcome::failed(error.status().as_u16());
                    gateway.meter.record(call, outcome).await;
                    return Err(error);
                }
            };
            let content_type = upstream
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|value| HeaderValue::from_bytes(value.as_bytes()).ok())
                .unwrap_or_else(|| HeaderValue::from_static("audio/mpeg"));
            let request_id = call.request_id.clone();
            let usage = Usage {
                units: Units {
                    characters,
                    ..Units::default()
                },
                ..Usage::default()
            };
            let outcome = CallOutcome {
                http_status: 200,
                success: true,
                usage: Some(usage),
                generated_chars: 0,
            };
            let cost_micros = gateway.meter.record(call, outcome).await;
            let mut response = Response::new(Body::from_stream(upstream.bytes_stream()));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            insert_cost_headers(&mut response, &request_id, cost_micros);
            route_headers.insert(response.headers_mut());
            Ok(response)
        })
        .await
        .map_err(|error| {
            tracing::error!(%error, "speech task failed");
            ApiError::Internal
        })?
}

/// The uploaded file of a transcription form: its part headers and its bytes, either already
/// read (it came before `model`) or still arriving.
struct UploadedFile {
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: FileBytes,
}

enum FileBytes {
    Read(Bytes),
    Arriving(Box<multer::Field<'static>>),
}

fn form_error(error: multer::Error) -> ApiError {
    match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ApiError::BodyTooLarge(MAX_BODY_BYTES)
        }
        other => bad(
            format!("The multipart form could not be read: {other}."),
            None,
        ),
    }
}

async fn run_transcription(
    gateway: SharedGateway,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let admitted = admit(&gateway, headers).await?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| bad("The request body must be multipart/form-data.", None))?;
    let limits = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(MAX_BODY_BYTES as u64));
    let mut form = multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);

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
            fields.push((name, value));
        }
    }
    let file = file.ok_or_else(|| {
        bad(
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
        .ok_or_else(|| bad("You must provide a model parameter.", Some("model")))?;
    let format = TranscriptFormat::of(
        fields
            .iter()
            .find(|(name, _)| name == "response_format")
            .map(|(_, format)| format.as_ref()),
    );
    let end_user = None;

    // The upload is relayed as it arrives and cannot be sent twice: one attempt.
    let route = admitted
        .plan(&gateway, &model, &Needs::plain(Mode::AudioTranscription, 0))?
        .single_attempt();
    let deployment = route.first().clone();
    let url = audio_url(&deployment, &model, NativeEndpoint::AudioTranscriptions)?;
    for (name, value) in &mut fields {
        if name == "model" {
            *value = Bytes::from(deployment.upstream_model.clone());
        } else if let ("response_format", Some(upstream)) =
            (name.as_str(), format.upstream_response_format())
        {
            *value = Bytes::from_static(upstream.as_bytes());
        }
    }
    let boundary = format!("gatehouse-{}", uuid::Uuid::new_v4().simple());
    let mut upstream_headers = reqwest::header::HeaderMap::new();
    let content_type = format!("multipart/form-data; boundary={boundary}");
    upstream_headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_str(&content_type).map_err(|_| ApiError::Internal)?,
    );
    let (upload, upload_failure) = relay_form(boundary, fields, file, form);
    let mut call = admitted.metered_call(
        NativeEndpoint::AudioTranscriptions.call_type(),
        deployment.clone(),
        0,
        end_user,
        &[],
        false,
    );
    let bound = CostBound {
        audio_millis: audio_millis_bound(upload_bytes_bound(headers)),
        input_tokens: upload_bytes_bound(headers),
        output_tokens: unlimited_output(&route),
        ..CostBound::default()
    };
    admitted.hold(&gateway, &mut call, &route, &bound).await?;
    let http = gateway.http.clone();
    let exchange_gateway = gateway.clone();
    let exchange = async move {
        let gateway = exchange_gateway;
        let mut upload = Some(upload);
        route
            .run(&gateway.retry_budget, &*gateway.models, |deployment| {
                let (http, url, upstream_headers) =
                    (http.clone(), url.clone(), upstream_headers.clone());
                let upload = upload.take();
                let upload_failure = upload_failure.clone();
                async move {
                    let relayed = async {
                        let upload = upload.ok_or(ApiError::Internal)?;
                        let response = transport::open_with_body(
                            &http,
                            &deployment,
                            url,
                            upstream_headers,
                            upload,
                        )
                        .await?;
                        transport::read_whole(&deployment, response).await
                    };
                    // An upload the client broke off (or made too large) is the client's
                    // error, not the upstream's.
                    let reply = relayed.await.map_err(|upstream_error| {
                        upload_failure
                            .lock()
                            .ok()
                            .and_then(|mut failure| failure.take())
                            .unwrap_or(upstream_error)
                    })?;
                    format.reply(reply)
                }
            })
            .await
    };
    let mut response = metered(gateway, call, Box::pin(exchange)).await?;
    if format.is_text() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    Ok(response)
}

async fn read_text_field(mut field: multer::Field<'static>) -> Result<Bytes, ApiError> {
    let mut value = Vec::new();
    while let Some(piece) = field.chunk().await.map_err(form_error)? {
        value.extend_from_slice(&piece);
        if value.len() as u64 > MAX_FORM_FIELD_BYTES {
            return Err(bad(
                format!(
                    "The form field `{}` is longer than {MAX_FORM_FIELD_BYTES} bytes.",
                    field.name().unwrap_or_default()
                ),
                None,
            ));
        }
    }
    Ok(Bytes::from(value))
}

/// One form part's opening: boundary and headers.
fn part_head(boundary: &str, name: &str, file: Option<&UploadedFile>) -> Bytes {
    let quoted = |text: &str| text.replace(['"', '\r', '\n'], "_");
    let mut head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
        quoted(name)
    );
    if let Some(file) = file {
        head.push_str(&format!(
            "; filename=\"{}\"\r\nContent-Type: {}",
            quoted(file.file_name.as_deref().unwrap_or("audio")),
            quoted(
                file.content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream")
            )
        ));
    }
    head.push_str("\r\n\r\n");
    Bytes::from(head)
}

/// Why the client's upload could not be relayed, once it is known.
type UploadFailure = Arc<Mutex<Option<ApiError>>>;

/// The upstream's form as a body that streams: the fields read so far, the file as it arrives,
/// then the fields after it. A client that stops sending (or sends too much) ends the upload
/// with an error, which fails the upstream call; the reason is left in the `UploadFailure`.
fn relay_form(
    boundary: String,
    fields: Vec<(String, Bytes)>,
    file: UploadedFile,
    mut form: multer::Multipart<'static>,
) -> (reqwest::Body, UploadFailure) {
    let failure = UploadFailure::default();
    let failure_slot = failure.clone();
    let (sender, mut receiver) =
        mpsc::channel::<Result<Bytes, std::io::Error>>(UPLOAD_BUFFER_PIECES);
    tokio::spawn(async move {
        let send = |piece: Bytes| {
            let sender = sender.clone();
            async move { sender.send(Ok(piece)).await.is_ok() }
        };
        let fail = |error: ApiError| {
            let sender = sender.clone();
            let message = error.to_string();
            if let Ok(mut slot) = failure_slot.lock() {
                *slot = Some(error);
            }
            async move {
                let _ = sender.send(Err(std::io::Error::other(message))).await;
            }
        };
        for (name, value) in &fields {
            for piece in [
                part_head(&boundary, name, None),
                value.clone(),
                Bytes::from_static(b"\r\n"),
            ] {
                if !send(piece).await {
                    return;
                }
            }
        }
        if !send(part_head(&boundary, "file", Some(&file))).await {
            return;
        }
        match file.bytes {
            FileBytes::Read(bytes) => {
                if !send(bytes).await {
                    return;
                }
            }
            FileBytes::Arriving(mut field) => loop {
                match field.chunk().await {
                    Ok(Some(piece)) => {
                        if !send(piece).await {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => return fail(form_error(error)).await,
                }
            },
        }
        if !send(Bytes::from_static(b"\r\n")).await {
            return;
        }
        loop {
            match form.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or_default().to_string();
                    let value = match read_text_field(field).await {
                        Ok(value) => value,
                        Err(error) => return fail(error).await,
                    };
                    for piece in [
                        part_head(&boundary, &name, None),
                        value,
                        Bytes::from_static(b"\r\n"),
                    ] {
                        if !send(piece).await {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => return fail(form_error(error)).await,
            }
        }
        send(Bytes::from(format!("--{boundary}--\r\n"))).await;
    });
    let pieces = futures::stream::poll_fn(move |context| receiver.poll_recv(context));
    (reqwest::Body::wrap_stream(pieces), failure)
}
