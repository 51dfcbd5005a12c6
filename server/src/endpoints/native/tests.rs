//! Tests of `native`.

use super::*;

fn refused(endpoint: NativeEndpoint, body: &str) -> Option<&'static str> {
    match NativeRequest::parse(endpoint, body.as_bytes()) {
        Err(error) if error.status().as_u16() == 400 => error.param(),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("accepted {body}"),
    }
}

#[test]
fn validates_each_endpoints_input() {
    use NativeEndpoint::*;
    let ok = NativeRequest::parse(
        Completions,
        br#"{"model":"m","prompt":"abcdefgh","stream":true}"#,
    )
    .unwrap();
    assert_eq!((ok.prompt_tokens, ok.stream), (2, true));
    assert_eq!(refused(Completions, r#"{"model":"m"}"#), Some("prompt"));
    assert_eq!(refused(Completions, r#"{"prompt":"x"}"#), Some("model"));
    let moderation = NativeRequest::parse(Moderations, br#"{"input":["a","b"]}"#).unwrap();
    assert_eq!(moderation.model, DEFAULT_MODERATION_MODEL);
    assert_eq!(refused(Moderations, r#"{"input":""}"#), Some("input"));
    assert_eq!(
        refused(ImageGenerations, r#"{"model":"m","prompt":["x"]}"#),
        Some("prompt")
    );
    assert_eq!(
        refused(
            ImageGenerations,
            r#"{"model":"m","prompt":"x","stream":true}"#
        ),
        Some("stream")
    );
    assert_eq!(
        refused(Rerank, r#"{"model":"m","documents":["a"]}"#),
        Some("query")
    );
    assert_eq!(
        refused(Rerank, r#"{"model":"m","query":"q","documents":[]}"#),
        Some("documents")
    );
    let rerank = NativeRequest::parse(
        Rerank,
        br#"{"model":"m","query":"abcd","documents":["abcd",{"text":"abcdefgh"}]}"#,
    )
    .unwrap();
    assert_eq!(rerank.prompt_tokens, 4);
    assert_eq!(
        refused(Responses, r#"{"model":"m","input":[]}"#),
        Some("input")
    );
    assert_eq!(refused(Responses, "[1]"), None);
}
