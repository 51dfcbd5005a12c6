//! Every request reader a client's body reaches, and the translation of a chat request into
//! each provider's wire format: none may panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use server::providers::native::NativeEndpoint;
use server::providers::{upstream_for, Upstream, WireFormat};
use server::endpoints::request::ChatRequest;
use server::endpoints::translate::{anthropic, completions, responses};
use server::endpoints::{embeddings, messages, native};

/// The provider formats a chat request is translated to.
const WIRES: [(WireFormat, &str, &str); 6] = [
    (WireFormat::Anthropic, "https://api.anthropic.com", "claude"),
    (WireFormat::Gemini, "https://generativelanguage.googleapis.com", "gemini-2.5-flash"),
    (WireFormat::Vertex, "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/l/publishers/google", "gemini-2.5-flash"),
    (WireFormat::Bedrock, "https://bedrock-runtime.us-east-1.amazonaws.com", "anthropic.claude"),
    (WireFormat::Cohere, "https://api.cohere.com", "command-a"),
    (WireFormat::Azure, "https://x.openai.azure.com", "gpt4o"),
];

fuzz_target!(|data: &[u8]| {
    if let Ok(chat) = ChatRequest::parse(data) {
        let _ = chat.needs();
        let body = chat.into_body();
        for (wire, base, model) in WIRES {
            if let Ok(Upstream::Http(adapter)) = upstream_for(wire, base, model, None, false) {
                let _ = adapter.chat_request(body.clone(), false);
                let _ = adapter.chat_request(body.clone(), true);
            }
        }
    }
    let _ = embeddings::parse(data);
    for endpoint in [
        NativeEndpoint::Completions,
        NativeEndpoint::Responses,
        NativeEndpoint::Moderations,
        NativeEndpoint::ImageGenerations,
        NativeEndpoint::Rerank,
    ] {
        let _ = native::NativeRequest::parse(endpoint, data);
    }
    if let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(data) {
        let _ = messages::native::probe(&request, data.len());
        let _ = anthropic::request::to_chat_request(request.clone());
        let _ = responses::to_chat_request(request.clone());
        let _ = completions::to_chat_request(request);
    }
});
