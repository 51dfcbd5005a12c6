//! The mock's Bedrock Converse API, after AWS's API reference: every request's SigV4 signature
//! is recomputed here from the canonical request (written independently of the `aws-sigv4`
//! crate the gateway signs with) and refused with 403 when it differs; unknown fields are
//! refused; `toolUse` replies when tools are configured; `converse-stream` answers in AWS's
//! binary event-stream framing; errors carry `x-amzn-errortype`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{
    bedrock_invoke, hang, paced, tool_arguments, with_retry_after, Behaviour, MockRecord,
    StreamPlan, PROMPT_TOKENS_PER_MESSAGE,
};
use crate::aws_frames::aws_event;

/// The access key the mock accepts, and its secret.
pub const MOCK_AWS_ACCESS_KEY_ID: &str = "AKIDGATEHOUSEMOCK";
pub const MOCK_AWS_SECRET_ACCESS_KEY: &str = "mock/Secret+Key/for/SigV4";

/// Top-level request fields Converse accepts.
const KNOWN_FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "performanceConfig",
    "promptVariables",
    "requestMetadata",
];

pub(super) fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut response = (status, Json(json!({ "message": message }))).into_response();
    if let Ok(value) = kind.parse() {
        response.headers_mut().insert("x-amzn-errortype", value);
    }
    response
}

/// `POST /model/{model id}/converse`, `/converse-stream` and `/invoke`.
pub async fn converse(
    State(record): State<Arc<MockRecord>>,
    Path((model, operation)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record.remember(&headers, &body);
    if let Err(problem) = verify_signature(uri.path(), &headers, &body) {
        return error(StatusCode::FORBIDDEN, "InvalidSignatureException", &problem);
    }
    let streaming = match operation.as_str() {
        "invoke" => return bedrock_invoke::invoke(&model, &body),
        "converse" => false,
        "converse-stream" => true,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                "mock: unknown operation",
            )
        }
    };
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "Malformed input request",
        );
    };
    if let Some(extra) = request
        .keys()
        .find(|key| !KNOWN_FIELDS.contains(&key.as_str()))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            &format!("Malformed input request: extraneous key [{extra}] is not permitted"),
        );
    }
    let Some(messages) = request
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "messages: must not be empty",
        );
    };
    let input_tokens = PROMPT_TOKENS_PER_MESSAGE * messages.len() as u64;
    match Behaviour::of(&model) {
        Behaviour::Fail500 => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "mock internal failure: db password hunter2 in stack trace",
        ),
        Behaviour::Fail429 => with_retry_after(error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        )),
        Behaviour::Fail400 => error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "mock: Input is too long for requested model.",
        ),
        Behaviour::Hang => hang().await,
        Behaviour::Reply(plan) => {
            let tool = configured_tool(&request);
            if streaming {
                stream(plan, tool, input_tokens)
            } else {
                reply(
                    &plan.words.concat(),
                    plan.words.len() as u64,
                    tool,
                    input_tokens,
                )
            }
        }
    }
}

fn usage(input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "inputTokens": input_tokens, "outputTokens": output_tokens,
        "totalTokens": input_tokens + output_tokens,
        "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0,
    })
}

/// A `toolUse` of the first configured tool, unless the last turn already holds its result.
fn configured_tool(request: &Map<String, Value>) -> Option<(String, Value)> {
    let spec = &request.get("toolConfig")?["tools"].get(0)?["toolSpec"];
    let answered = request["messages"].as_array()?.last()?["content"]
        .as_array()?
        .iter()
        .any(|block| block.get("toolResult").is_some());
    if answered {
        return None;
    }
    let input = tool_arguments(&spec["inputSchema"]["json"]);
    Some((spec["name"].as_str()?.to_string(), Value::Object(input)))
}

fn reply(text: &str, words: u64, tool: Option<(String, Value)>, input_tokens: u64) -> Response {
    let mut content = vec![json!({ "text": text })];
    let stop_reason = match tool {
        Some((name, input)) => {
            content.push(json!({ "toolUse": { "toolUseId": "tooluse_mock_1", "name": name, "input": input } }));
            "tool_use"
        }
        None => "end_turn",
    };
    Json(json!({
        "output": { "message": { "role": "assistant", "content": content } },
        "stopReason": stop_reason,
        "usage": usage(input_tokens, words),
        "metrics": { "latencyMs": 1 },
    }))
    .into_response()
}

fn stream(plan: StreamPlan, tool: Option<(String, Value)>, input_tokens: u64) -> Response {
    let StreamPlan { words, pause, cut } = plan;
    let mut frames = vec![aws_event(
        "messageStart",
        &json!({ "role": "assistant", "p": "abc" }),
    )];
    frames.extend(words.iter().map(|word| {
        aws_event(
            "contentBlockDelta",
            &json!({ "contentBlockIndex": 0, "delta": { "text": word }, "p": "abcdef" }),
        )
    }));
    if !cut {
        frames.push(aws_event(
            "contentBlockStop",
            &json!({ "contentBlockIndex": 0 }),
        ));
        let stop_reason = match tool {
            Some((name, input)) => {
                frames.push(aws_event(
                    "contentBlockStart",
                    &json!({ "contentBlockIndex": 1,
                             "start": { "toolUse": { "toolUseId": "tooluse_mock_1", "name": name } } }),
                ));
                let arguments = input.to_string();
                let middle = (arguments.len() / 2..arguments.len())
                    .find(|index| arguments.is_char_boundary(*index))
                    .unwrap_or(arguments.len());
                for piece in [&arguments[..middle], &arguments[middle..]] {
                    frames.push(aws_event(
                        "contentBlockDelta",
                        &json!({ "contentBlockIndex": 1, "delta": { "toolUse": { "input": piece } } }),
                    ));
                }
                frames.push(aws_event(
                    "contentBlockStop",
                    &json!({ "contentBlockIndex": 1 }),
                ));
                "tool_use"
            }
            None => "end_turn",
        };
        frames.push(aws_event(
            "messageStop",
            &json!({ "stopReason": stop_reason }),
        ));
        frames.push(aws_event(
            "metadata",
            &json!({ "usage": usage(input_tokens, words.len() as u64), "metrics": { "latencyMs": 1 } }),
        ));
    }
    paced(frames, pause, cut, "application/vnd.amazon.eventstream")
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC takes keys of any length, so this never fails; an empty result would only fail
    // the signature comparison.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding of everything but unreserved characters (and `/` in paths).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            b'/' if keep_slash => "/".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Recomputes the request's SigV4 signature (AWS's "Create a signed AWS API request" steps) and
/// compares it with the one sent.
fn verify_signature(raw_path: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| format!("Missing {name}"))
    };
    let authorization = header("authorization")?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("Authorization is not AWS4-HMAC-SHA256")?;
    let part = |key: &str| {
        fields
            .split(", ")
            .find_map(|field| field.strip_prefix(key))
            .ok_or_else(|| format!("Authorization lacks {key}"))
    };
    let credential = part("Credential=")?;
    let signed_headers = part("SignedHeaders=")?;
    let signature = part("Signature=")?;
    let (access_key, scope) = credential.split_once('/').ok_or("malformed Credential")?;
    if access_key != MOCK_AWS_ACCESS_KEY_ID {
        return Err("The security token included in the request is invalid.".into());
    }
    let scope_parts: Vec<&str> = scope.split('/').collect();
    let [date, region, service, "aws4_request"] = scope_parts[..] else {
        return Err("malformed credential scope".into());
    };
    if service != "bedrock" {
        return Err(format!(
            "Credential should be scoped to correct service: 'bedrock', not '{service}'"
        ));
    }
    let amz_date = header("x-amz-date")?;
    let canonical_headers: String = signed_headers
        .split(';')
        .map(|name| {
            let value = header(name)?;
            Ok(format!(
                "{name}:{}\n",
                value.split_whitespace().collect::<Vec<_>>().join(" ")
            ))
        })
        .collect::<Result<_, String>>()?;
    let canonical_request = format!(
        "POST\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        uri_encode(raw_path, true),
        hex::encode(Sha256::digest(body)),
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = [date, region, service, "aws4_request"].iter().fold(
        format!("AWS4{MOCK_AWS_SECRET_ACCESS_KEY}").into_bytes(),
        |key, part| hmac(&key, part),
    );
    let expected = hex::encode(hmac(&key, &string_to_sign));
    if expected == signature {
        Ok(())
    } else {
        Err("The request signature we calculated does not match the signature you provided.".into())
    }
}
