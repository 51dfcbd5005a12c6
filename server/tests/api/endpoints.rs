//! The OpenAI endpoints beyond chat, end to end through the gateway to the loopback mocks:
//! completions and responses (native, and translated to chat for other providers, streamed and
//! not), moderations, images, speech, transcription and rerank — each metered with its call
//! type and its own unit of cost.

use crate::common::*;
use mock_upstream::{speech_bytes, AUDIO_BYTES_PER_SECOND};
use serde_json::{json, Value};
use sqlx::PgPool;

/// The typed events of a Responses stream: `(event name, data)`, names matching data types.
fn response_events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let (name, data) = event.trim().split_once('\n').unwrap();
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(
                name.strip_prefix("event: ").unwrap(),
                data["type"],
                "{event}"
            );
            data
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn completions_go_native_to_completion_models_and_through_chat_for_others(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    // A completion model behind an OpenAI-format server: the request as it is.
    let request =
        json!({ "model": "instruct", "prompt": "Say hello", "max_tokens": 7, "logprobs": 2 });
    let native = post_json(&app, "/v1/completions", &key, &request).await;
    assert_eq!(native.status(), 200);
    let native: Value = native.json().await.unwrap();
    assert_eq!(native["object"], "text_completion");
    assert_eq!(
        native["choices"][0]["text"],
        "Hello from the mock upstream."
    );
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["model"], "gpt-3.5-turbo-instruct");
    assert_eq!(sent["prompt"], "Say hello");
    assert_eq!(sent["logprobs"], 2);

    // Streamed, without /v1: the usage chunk is requested upstream but not passed on.
    let stream = post_json(
        &app,
        "/completions",
        &key,
        &json!({ "model": "instruct", "prompt": "Hi", "stream": true }),
    )
    .await;
    assert_eq!(stream.status(), 200);
    let chunks = stream_chunks(&stream.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock upstream.");
    assert!(chunks.iter().all(|chunk| chunk.get("usage").is_none()));
    assert_eq!(
        mock.record.last_request().unwrap()["stream_options"]["include_usage"],
        true
    );

    // A chat model of another provider: translated to chat and back.
    let translated = post_json(
        &app,
        "/v1/completions",
        &key,
        &json!({ "model": "claude", "prompt": "Say hello", "max_tokens": 20 }),
    )
    .await;
    assert_eq!(translated.status(), 200);
    let translated: Value = translated.json().await.unwrap();
    assert_eq!(translated["object"], "text_completion");
    assert_eq!(translated["model"], "claude");
    assert_eq!(
        translated["choices"][0]["text"],
        "Hello from the mock upstream."
    );
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["messages"][0]["content"][0]["text"], "Say hello");
    assert_eq!(sent["max_tokens"], 20);

    let streamed = post_json(&app, "/v1/completions", &key, &json!({
        "model": "claude", "prompt": "Say hello", "stream": true, "stream_options": { "include_usage": true },
    }))
    .await;
    let chunks = stream_chunks(&streamed.text().await.unwrap());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock upstream.");
    assert!(chunks
        .iter()
        .all(|chunk| chunk["object"] == "text_completion"));
    assert!(
        chunks.last().unwrap()["usage"]["completion_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Batches are for completion models.
    let batch = post_json(
        &app,
        "/v1/completions",
        &key,
        &json!({ "model": "claude", "prompt": ["a", "b"] }),
    )
    .await;
    let error = assert_openai_error(batch, 400).await;
    assert_eq!(error["error"]["param"], "prompt");

    let rows = call_rows(&pool, &key, 4).await;
    assert!(rows
        .iter()
        .all(|(call_type, ..)| call_type == "atext_completion"));
    // gpt-3.5-turbo-instruct: 10 in × $1.50/M + 5 out × $2/M = 15 + 10 = 25 µ$.
    assert_eq!(rows[0].1, 25);
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn responses_are_native_for_openai_and_translated_for_other_providers(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    // OpenAI: relayed as it is, stateful fields included.
    let request = json!({ "model": "gpt-4o-mini", "input": "Say hello", "store": true, "previous_response_id": "resp_earlier" });
    let native = post_json(&app, "/v1/responses", &key, &request).await;
    assert_eq!(native.status(), 200);
    let native: Value = native.json().await.unwrap();
    assert_eq!(native["id"], "resp_mock");
    assert_eq!(
        native["output"][0]["content"][0]["text"],
        "Hello from the mock upstream."
    );
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["previous_response_id"], "resp_earlier");
    assert_eq!(sent["input"], "Say hello");

    let streamed = post_json(
        &app,
        "/responses",
        &key,
        &json!({ "model": "gpt-4o-mini", "input": "Hi", "stream": true }),
    )
    .await;
    let events = response_events(&streamed.text().await.unwrap());
    assert_eq!(events.last().unwrap()["type"], "response.completed");

    // Anthropic: translated to chat, answered as a response object.
    let translated = post_json(&app, "/v1/responses", &key, &json!({
        "model": "claude", "instructions": "Be brief.", "input": [{ "role": "user", "content": "Say hello" }],
        "max_output_tokens": 50,
    }))
    .await;
    assert_eq!(translated.status(), 200);
    let translated: Value = translated.json().await.unwrap();
    assert_eq!(translated["object"], "response");
    assert_eq!(translated["status"], "completed");
    assert_eq!(translated["output"][0]["type"], "message");
    assert_eq!(
        translated["output"][0]["content"][0]["text"],
        "Hello from the mock upstream."
    );
    assert!(translated["usage"]["input_tokens"].as_u64().unwrap() > 0);
    let sent = mock.record.last_request().unwrap();
    assert_eq!(sent["system"][0]["text"], "Be brief.");
    assert_eq!(sent["max_tokens"], 50);

    // Tools, streamed: a function_call item whose argument deltas add up.
    let tools = json!([{ "type": "function", "name": "get_weather", "description": "Weather now",
        "parameters": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] } }]);
    let streamed = post_json(
        &app,
        "/v1/responses",
        &key,
        &json!({
            "model": "gemini", "input": "Weather in Paris?", "tools": tools, "stream": true,
        }),
    )
    .await;
    assert_eq!(streamed.status(), 200);
    let events = response_events(&streamed.text().await.unwrap());
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], index);
    }
    let completed = events.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    let call = completed["response"]["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "function_call")
        .unwrap();
    assert_eq!(call["name"], "get_weather");
    let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["city"], "Paris");

    // What only stored responses can do is refused for other providers, naming the field.
    let stateful = post_json(
        &app,
        "/v1/responses",
        &key,
        &json!({ "model": "claude", "input": "x", "previous_response_id": "resp_1" }),
    )
    .await;
    let error = assert_openai_error(stateful, 400).await;
    assert_eq!(error["error"]["param"], "previous_response_id");

    let rows = call_rows(&pool, &key, 4).await;
    assert!(rows.iter().all(|(call_type, ..)| call_type == "aresponses"));
    // The native reply's usage: 10 input, 5 output tokens (gpt-4o-mini prices: 1.5 + 3 → 5 µ$).
    assert_eq!((rows[0].2, rows[0].3), (10, 5));
    app.shutdown().await;
}

#[sqlx::test(migrations = false)]
async fn moderations_images_and_rerank_are_relayed_and_billed_by_their_units(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    // Moderations default to omni-moderation-latest.
    let moderation = post_json(
        &app,
        "/v1/moderations",
        &key,
        &json!({ "input": ["hello", "I will kill it"] }),
    )
    .await;
    assert_eq!(moderation.status(), 200);
    let moderation: Value = moderation.json().await.unwrap();
    assert_eq!(moderation["results"][0]["flagged"], false);
    assert_eq!(moderation["results"][1]["flagged"], true);

    // dall-e-3 at $0.04 an image.
    let images = post_json(
        &app,
        "/v1/images/generations",
        &key,
        &json!({ "model": "dall-e", "prompt": "a lighthouse", "n": 2 }),
    )
    .await;
    assert_eq!(images.status(), 200);
    let images: Value = images.json().await.unwrap();
    assert_eq!(images["data"].as_array().unwrap().len(), 2);
    assert_eq!(mock.record.last_request().unwrap()["model"], "dall-e-3");

    // gpt-image-1 reports tokens: 10 in × $5/M + 1,056 out × $40/M = 50 + 42,240 µ$.
    let tokens = post_json(
        &app,
        "/images/generations",
        &key,
        &json!({ "model": "gpt-image", "prompt": "a lighthouse" }),
    )
    .await;
    assert_eq!(tokens.status(), 200);

    // Cohere rerank at $2 per 1,000 searches, also at /v2/rerank.
    let rerank = post_json(&app, "/v1/rerank", &key, &json!({
        "model": "rerank", "query": "capital of France",
        "documents": ["Berlin is in Germany", "Paris is the capital of France", "France borders Spain"],
        "top_n": 2,
    }))
    .await;
    assert_eq!(rerank.status(), 200);
    let rerank: Value = rerank.json().await.unwrap();
    assert_eq!(rerank["results"].as_array().unwrap().len(), 2);
    assert_eq!(rerank["results"][0]["index"], 1);
    assert_eq!(mock.record.last_request().unwrap()["model"], "rerank-v3.5");
    assert_eq!(
        mock.record.last_header("authorization").unwrap(),
        "Bearer co-upstream-key"
    );
    let v2 = post_json(
        &app,
        "/v2/rerank",
        &key,
        &json!({ "model": "rerank", "query": "q", "documents": ["q"] }),
    )
    .await;
    assert_eq!(v2.status(), 200);

    // An OpenAI-compatible server's rerank (vLLM here) at its own /v1/rerank, relayed with its
    // documents and billed by the tokens it reports: 10 × (query + 3 documents) at $1/M.
    let vllm = post_json(&app, "/v1/rerank", &key, &json!({
        "model": "vllm-rerank", "query": "capital of France", "top_n": 1,
        "documents": ["Berlin is in Germany", "Paris is the capital of France", "France borders Spain"],
    }))
    .await;
    assert_eq!(vllm.status(), 200);
    let vllm: Value = vllm.json().await.unwrap();
    assert_eq!(vllm["results"].as_array().unwrap().len(), 1);
    assert_eq!(vllm["results"][0]["index"], 1);
    assert_eq!(
        vllm["results"][0]["document"]["text"],
        "Paris is the capital of France"
    );
    assert_eq!(
        mock.record.last_request().unwrap()["model"],
        "BAAI/bge-reranker-v2-m3"
    );

    // Wrong input and wrong models are 400s that name the problem.
    let empty = post_json(
        &app,
        "/v1/rerank",
        &key,
        &json!({ "model": "rerank", "query": "q", "documents": [] }),
    )
    .await;
    assert_eq!(
        assert_openai_error(empty, 400).await["error"]["param"],
        "documents"
    );
    let chat_model = post_json(
        &app,
        "/v1/images/generations",
        &key,
        &json!({ "model": "claude", "prompt": "x" }),
    )
    .await;
    let error = assert_openai_error(chat_model, 400).await;
    assert_eq!(error["error"]["code"], "unsupported_capability");

    let rows = call_rows(&pool, &key, 6).await;
    let kinds: Vec<&str> = rows
        .iter()
        .map(|(call_type, ..)| call_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "amoderation",
            "aimage_generation",
            "aimage_generation",
            "arerank",
            "arerank",
            "arerank"
        ]
    );
    assert_eq!(rows[1].1, 80_000);
    assert_eq!(rows[2].1, 42_290);
    assert_eq!(rows[3].1, 2_000);
    assert_eq!((rows[5].1, rows[5].2), (40, 40));
    app.shutdown().await;
}

/// A multipart form: `(name, file name, bytes)` parts in order.
fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, bytes) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(file_name) = file_name {
            body.extend_from_slice(
                format!("; filename=\"{file_name}\"\r\nContent-Type: audio/wav").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

#[sqlx::test(migrations = false)]
async fn audio_streams_both_ways_and_is_billed_by_characters_and_seconds(pool: PgPool) {
    let mock = mock().await;
    let app = spawn_app(pool.clone(), &mock).await;
    let key = app.new_key(json!({})).await;

    // Speech: the audio streams back byte for byte with the upstream's content type.
    let input = "Hello there";
    let speech = post_json(
        &app,
        "/v1/audio/speech",
        &key,
        &json!({ "model": "tts", "input": input, "voice": "alloy" }),
    )
    .await;
    assert_eq!(speech.status(), 200);
    assert_eq!(speech.headers()["content-type"], "audio/mpeg");
    let cost: f64 = speech.headers()["x-litellm-response-cost"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((cost - 0.000165).abs() < 1e-9, "{cost}");
    assert_eq!(
        speech.bytes().await.unwrap().as_ref(),
        speech_bytes(input).as_slice()
    );

    // Transcription: model before the file (streamed through) and after it (read first).
    let audio = vec![7u8; 2 * AUDIO_BYTES_PER_SECOND];
    let boundary = "test-boundary-1";
    let upload = |parts: Vec<u8>| {
        app.http
            .post(format!("{}/v1/audio/transcriptions", app.base))
            .bearer_auth(&key)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(parts)
            .send()
    };
    let first = upload(multipart(
        boundary,
        &[
            ("model", None, b"whisper"),
            // LiteLLM's fields, before and after the file, are taken off.
            ("metadata", None, br#"{"trace_id": "t"}"#),
            ("file", Some("a.wav"), &audio),
            ("language", None, b"en"),
            ("num_retries", None, b"2"),
        ],
    ))
    .await
    .unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["text"], "Hello from the mock upstream.");
    let received = mock.record.last_request().unwrap();
    assert_eq!(received["model"], "whisper-1");
    assert_eq!(received["file_bytes"], audio.len());
    assert_eq!(received["file_name"], "a.wav");
    assert_eq!(received["language"], "en");
    assert!(
        received.get("metadata").is_none() && received.get("num_retries").is_none(),
        "{received}"
    );
    let destination = upload(multipart(
        boundary,
        &[
            ("api_base", None, b"http://169.254.169.254/"),
            ("model", None, b"whisper"),
            ("file", Some("c.wav"), &audio),
        ],
    ))
    .await
    .unwrap();
    assert_eq!(destination.status(), 400);

    let late_model = upload(multipart(
        boundary,
        &[
            ("file", Some("b.wav"), &audio),
            ("model", None, b"whisper"),
            ("response_format", None, b"text"),
        ],
    ))
    .await
    .unwrap();
    assert_eq!(late_model.status(), 200);
    assert!(late_model.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        late_model.text().await.unwrap(),
        "Hello from the mock upstream."
    );
    // A text transcript carries no usage, so the upstream is asked for JSON.
    assert_eq!(
        mock.record.last_request().unwrap()["response_format"],
        "json"
    );

    // Subtitles are relayed as written and billed by the end of their last cue.
    let subtitles = upload(multipart(
        boundary,
        &[
            ("model", None, b"whisper"),
            ("response_format", None, b"srt"),
            ("file", Some("d.wav"), &audio[..AUDIO_BYTES_PER_SECOND]),
        ],
    ))
    .await
    .unwrap();
    assert_eq!(subtitles.status(), 200);
    assert_eq!(
        subtitles.text().await.unwrap(),
        "1\n00:00:00,000 --> 00:00:01,000\nHello from the mock upstream.\n\n"
    );

    let no_file = upload(multipart(boundary, &[("model", None, b"whisper")]))
        .await
        .unwrap();
    assert_eq!(
        assert_openai_error(no_file, 400).await["error"]["param"],
        "file"
    );
    let not_a_form = post_json(
        &app,
        "/v1/audio/transcriptions",
        &key,
        &json!({ "model": "whisper" }),
    )
    .await;
    assert_openai_error(not_a_form, 400).await;

    let rows = call_rows(&pool, &key, 4).await;
    let kinds: Vec<&str> = rows
        .iter()
        .map(|(call_type, ..)| call_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "aspeech",
            "atranscription",
            "atranscription",
            "atranscription"
        ]
    );
    // tts-1: 11 characters × $15/M = 165 µ$; whisper-1: 2 s × $0.0001 = 200 µ$ as JSON and as
    // text, 1 s as subtitles.
    let costs: Vec<i64> = rows.iter().map(|row| row.1).collect();
    assert_eq!(costs, [165, 200, 200, 100]);

    // A form the client breaks off mid-file is the client's error (400), still metered once.
    let mut truncated = multipart(
        boundary,
        &[("model", None, b"whisper"), ("file", Some("c.wav"), &audio)],
    );
    truncated.truncate(truncated.len() - 40);
    let broken = upload(truncated).await.unwrap();
    assert_openai_error(broken, 400).await;
    let rows = call_rows(&pool, &key, 5).await;
    assert_eq!(rows[4].0, "atranscription");
    let status: i16 = sqlx::query_scalar(
        "SELECT http_status FROM spend_logs WHERE token_hash = $1 ORDER BY started_at DESC LIMIT 1",
    )
    .bind(app::secrets::hash_key(&key))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, 400);
    app.shutdown().await;
}
