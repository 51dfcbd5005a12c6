//! Which of a client's headers reach the upstream, for the model groups the operator lets
//! forward them (LiteLLM's `forward_client_headers_to_llm_api`): `x-…` headers and
//! `anthropic-beta`, never a credential, Gatehouse's or LiteLLM's own, a proxy's, or the
//! OpenAI SDK's `x-stainless-…`.

use axum::http::HeaderMap;

/// Most client headers forwarded, and the longest value.
const MAX_FORWARDED: usize = 32;
const MAX_VALUE_BYTES: usize = 4096;

/// Prefixes of `x-…` headers that are never forwarded.
const NEVER: [&str; 10] = [
    "x-stainless-",
    "x-litellm-",
    "x-gatehouse-",
    "x-api-key",
    "x-forwarded-",
    "x-real-ip",
    "x-amz-",
    "x-goog-",
    "x-pass-",
    "x-request-id",
];

/// The headers of `client` an upstream may receive (empty for most requests).
pub fn forwardable(client: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for (name, value) in client {
        let text = name.as_str();
        let allowed = text == "anthropic-beta"
            || (text.starts_with("x-") && !NEVER.iter().any(|never| text.starts_with(never)));
        if allowed && value.len() <= MAX_VALUE_BYTES && kept.len() < MAX_FORWARDED {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

/// Adds the forwarded headers to an upstream request's, where it sets none of that name.
pub fn add_to(upstream: &mut HeaderMap, forwarded: &HeaderMap) {
    for (name, value) in forwarded {
        if !upstream.contains_key(name) {
            upstream.insert(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_custom_headers_and_anthropic_beta_are_forwarded() {
        let mut client = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer sk-virtual"),
            ("x-litellm-api-key", "sk-virtual"),
            ("x-api-key", "sk-virtual"),
            ("x-stainless-lang", "python"),
            ("x-forwarded-for", "10.0.0.1"),
            ("user-agent", "OpenAI/Python"),
            ("x-trace-id", "trace-7"),
            ("anthropic-beta", "prompt-caching-2024-07-31"),
        ] {
            client.insert(name, HeaderValue::from_static(value));
        }
        let kept = forwardable(&client);
        let mut names: Vec<&str> = kept.keys().map(|name| name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["anthropic-beta", "x-trace-id"]);

        let mut upstream = HeaderMap::new();
        upstream.insert("anthropic-beta", HeaderValue::from_static("ours"));
        add_to(&mut upstream, &kept);
        assert_eq!(upstream["anthropic-beta"], "ours");
        assert_eq!(upstream["x-trace-id"], "trace-7");
    }
}
