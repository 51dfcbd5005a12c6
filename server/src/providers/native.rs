//! OpenAI endpoints other than chat that an upstream may serve in OpenAI's own format
//! (completions, responses, moderations, images, audio, rerank): their upstream paths, their
//! LiteLLM call types, and what each reply is billed by.

use serde::Deserialize;
use serde_json::Value;

use crate::core::capabilities::Mode;
use crate::core::usage::{usage_of_body, Units, Usage};

/// An endpoint relayed in its own format to an upstream that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NativeEndpoint {
    Completions,
    Responses,
    Moderations,
    ImageGenerations,
    AudioSpeech,
    AudioTranscriptions,
    Rerank,
}

impl NativeEndpoint {
    /// The body field that limits a reply's output tokens, where the endpoint has one.
    pub fn output_limit_field(self) -> Option<&'static str> {
        match self {
            NativeEndpoint::Completions => Some("max_tokens"),
            NativeEndpoint::Responses => Some("max_output_tokens"),
            _ => None,
        }
    }

    pub const ALL: [NativeEndpoint; 7] = [
        NativeEndpoint::Completions,
        NativeEndpoint::Responses,
        NativeEndpoint::Moderations,
        NativeEndpoint::ImageGenerations,
        NativeEndpoint::AudioSpeech,
        NativeEndpoint::AudioTranscriptions,
        NativeEndpoint::Rerank,
    ];

    /// The path under an OpenAI-format `api_base`.
    pub fn path(self) -> &'static str {
        match self {
            NativeEndpoint::Completions => "completions",
            NativeEndpoint::Responses => "responses",
            NativeEndpoint::Moderations => "moderations",
            NativeEndpoint::ImageGenerations => "images/generations",
            NativeEndpoint::AudioSpeech => "audio/speech",
            NativeEndpoint::AudioTranscriptions => "audio/transcriptions",
            NativeEndpoint::Rerank => "rerank",
        }
    }

    /// The kind of model that serves it.
    pub fn mode(self) -> Mode {
        match self {
            NativeEndpoint::Completions => Mode::Completion,
            NativeEndpoint::Responses => Mode::Chat,
            NativeEndpoint::Moderations => Mode::Moderation,
            NativeEndpoint::ImageGenerations => Mode::ImageGeneration,
            NativeEndpoint::AudioSpeech => Mode::AudioSpeech,
            NativeEndpoint::AudioTranscriptions => Mode::AudioTranscription,
            NativeEndpoint::Rerank => Mode::Rerank,
        }
    }

    /// LiteLLM's `call_type` in spend logs.
    pub fn call_type(self) -> &'static str {
        match self {
            NativeEndpoint::Completions => "atext_completion",
            NativeEndpoint::Responses => "aresponses",
            NativeEndpoint::Moderations => "amoderation",
            NativeEndpoint::ImageGenerations => "aimage_generation",
            NativeEndpoint::AudioSpeech => "aspeech",
            NativeEndpoint::AudioTranscriptions => "atranscription",
            NativeEndpoint::Rerank => "arerank",
        }
    }

    /// What a whole successful reply is billed by: its reported usage, or the units it
    /// produced (images, transcribed seconds, rerank searches). `None` when the reply tells
    /// nothing, so the gateway estimates from the prompt.
    pub fn reply_usage(self, body: &[u8]) -> Option<Usage> {
        let reported = usage_of_body(body);
        match self {
            NativeEndpoint::ImageGenerations => {
                // Token-priced image models (gpt-image-1) report usage; the others are billed per
                // image.
                if reported.is_some_and(|usage| {
                    usage.prompt_tokens.saturating_add(usage.completion_tokens) > 0
                }) {
                    return reported;
                }
                let images = serde_json::from_slice::<ImagesProbe>(body).ok()?.data.len();
                Some(units(Units {
                    images: images as u64,
                    ..Units::default()
                }))
            }
            NativeEndpoint::AudioTranscriptions => reported.or_else(|| {
                // `verbose_json` replies carry the audio's duration.
                let duration = serde_json::from_slice::<Value>(body).ok()?["duration"].as_f64()?;
                (duration.is_finite() && duration > 0.0).then(|| {
                    units(Units {
                        audio_millis: (duration * 1000.0).round() as u64,
                        ..Units::default()
                    })
                })
            }),
            NativeEndpoint::Rerank => {
                // Cohere bills search units; a server that reports none is billed one request.
                let searches = serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|reply| reply["meta"]["billed_units"]["search_units"].as_u64())
                    .unwrap_or(1);
                Some(Usage {
                    units: Units {
                        requests: searches,
                        ..Units::default()
                    },
                    ..reported.unwrap_or_default()
                })
            }
            _ => reported,
        }
    }
}

fn units(units: Units) -> Usage {
    Usage {
        units,
        ..Usage::default()
    }
}

#[derive(Deserialize)]
struct ImagesProbe {
    #[serde(default)]
    data: Vec<serde::de::IgnoredAny>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bills_each_endpoint_by_what_its_reply_reports() {
        let images = NativeEndpoint::ImageGenerations
            .reply_usage(
                br#"{"created":1,"data":[{"url":"https://x/1.png"},{"url":"https://x/2.png"}]}"#,
            )
            .unwrap();
        assert_eq!(images.units.images, 2);
        let token_priced = NativeEndpoint::ImageGenerations
            .reply_usage(br#"{"data":[{"b64_json":"AA=="}],"usage":{"input_tokens":50,"output_tokens":4160,"total_tokens":4210,"input_tokens_details":{"text_tokens":50,"image_tokens":0}}}"#)
            .unwrap();
        assert_eq!(
            (token_priced.prompt_tokens, token_priced.completion_tokens),
            (50, 4160)
        );
        assert_eq!(token_priced.units.images, 0);

        let whisper = NativeEndpoint::AudioTranscriptions
            .reply_usage(br#"{"text":"hi","usage":{"type":"duration","seconds":3.5}}"#)
            .unwrap();
        assert_eq!(whisper.units.audio_millis, 3_500);
        let verbose = NativeEndpoint::AudioTranscriptions
            .reply_usage(
                br#"{"task":"transcribe","language":"english","duration":8.47,"text":"x"}"#,
            )
            .unwrap();
        assert_eq!(verbose.units.audio_millis, 8_470);
        assert_eq!(
            NativeEndpoint::AudioTranscriptions.reply_usage(b"plain text"),
            None
        );

        let fixture = include_bytes!("../../tests/fixtures/cohere/rerank_v2_response.json");
        let rerank = NativeEndpoint::Rerank.reply_usage(fixture).unwrap();
        assert_eq!(rerank.units.requests, 1);

        let fixture = include_bytes!("../../tests/fixtures/openai/responses_api_response.json");
        let responses = NativeEndpoint::Responses.reply_usage(fixture).unwrap();
        assert_eq!(
            (
                responses.prompt_tokens,
                responses.cached_tokens,
                responses.completion_tokens
            ),
            (2113, 1920, 58)
        );
    }
}
