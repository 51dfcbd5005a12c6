//! The transcript formats of `/v1/audio/transcriptions` and how each is billed. JSON replies
//! carry their usage; a plain `text` transcript carries none, so it is asked of the upstream as
//! `json` and handed to the client as its text; `srt` and `vtt` subtitles are relayed as they
//! are and billed by the end of their last cue.

use bytes::Bytes;
use serde_json::Value;

use crate::core::error::ApiError;
use crate::core::provider_error::ProviderError;
use crate::core::usage::{Units, Usage};
use crate::providers::adapter::{unreadable_reply, ChatReply};
use crate::providers::native::NativeEndpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptFormat {
    /// `json` or `verbose_json` (and the default).
    Json,
    /// `text`: plain text to the client.
    Text,
    /// `srt` or `vtt`.
    Subtitles,
}

impl TranscriptFormat {
    /// The format a form's `response_format` value asks for.
    pub fn of(response_format: Option<&[u8]>) -> TranscriptFormat {
        match response_format {
            Some(b"text") => TranscriptFormat::Text,
            Some(b"srt" | b"vtt") => TranscriptFormat::Subtitles,
            _ => TranscriptFormat::Json,
        }
    }

    /// The `response_format` to send upstream in place of the client's, if it differs.
    pub fn upstream_response_format(self) -> Option<&'static str> {
        (self == TranscriptFormat::Text).then_some("json")
    }

    /// Whether the client gets plain text rather than JSON.
    pub fn is_text(self) -> bool {
        self != TranscriptFormat::Json
    }

    /// The client's reply and its usage, from the upstream's reply.
    pub fn reply(self, upstream_reply: Bytes) -> Result<ChatReply, ApiError> {
        match self {
            TranscriptFormat::Json => Ok(ChatReply {
                usage: NativeEndpoint::AudioTranscriptions.reply_usage(&upstream_reply),
                body: upstream_reply,
            }),
            TranscriptFormat::Text => {
                let usage = NativeEndpoint::AudioTranscriptions.reply_usage(&upstream_reply);
                let transcript: Value = serde_json::from_slice(&upstream_reply)
                    .map_err(|error| unreadable_reply("transcription", &error))?;
                let text = transcript["text"].as_str().ok_or_else(|| {
                    ApiError::Upstream(ProviderError::Malformed(
                        "the transcription reply has no text".into(),
                    ))
                })?;
                Ok(ChatReply {
                    body: Bytes::from(text.to_string()),
                    usage,
                })
            }
            TranscriptFormat::Subtitles => Ok(ChatReply {
                usage: subtitles_end_millis(&upstream_reply).map(|audio_millis| Usage {
                    units: Units {
                        audio_millis,
                        ..Units::default()
                    },
                    ..Usage::default()
                }),
                body: upstream_reply,
            }),
        }
    }
}

/// The latest cue end of SRT (`00:01:02,500`) or WebVTT (`01:02.500`, hours optional)
/// subtitles, in milliseconds.
fn subtitles_end_millis(subtitles: &[u8]) -> Option<u64> {
    std::str::from_utf8(subtitles)
        .ok()?
        .lines()
        .filter_map(|line| line.split_once("-->"))
        .filter_map(|(_, end)| end.split_whitespace().next().and_then(timestamp_millis))
        .max()
}

fn timestamp_millis(timestamp: &str) -> Option<u64> {
    let (clock, millis) = timestamp.split_once([',', '.'])?;
    let millis: u64 = millis.parse().ok().filter(|_| millis.len() == 3)?;
    let seconds = clock.split(':').try_fold(0u64, |total, part| {
        let value: u64 = part.parse().ok().filter(|_| part.len() == 2)?;
        Some(total * 60 + value)
    })?;
    Some(seconds * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_formats() {
        assert_eq!(TranscriptFormat::of(None), TranscriptFormat::Json);
        assert_eq!(
            TranscriptFormat::of(Some(b"verbose_json")),
            TranscriptFormat::Json
        );
        assert_eq!(TranscriptFormat::of(Some(b"text")), TranscriptFormat::Text);
        assert_eq!(
            TranscriptFormat::of(Some(b"vtt")),
            TranscriptFormat::Subtitles
        );
        assert_eq!(
            TranscriptFormat::Text.upstream_response_format(),
            Some("json")
        );
        assert_eq!(TranscriptFormat::Subtitles.upstream_response_format(), None);
    }

    #[test]
    fn bills_subtitles_by_their_last_cue() {
        let srt = "1\n00:00:00,000 --> 00:00:02,500\n Hello\n\n2\n00:00:02,500 --> 00:01:03,250\n there\n\n";
        assert_eq!(subtitles_end_millis(srt.as_bytes()), Some(63_250));
        let vtt = "WEBVTT\n\n00:00.000 --> 00:04.120\nHello\n\n01:00:00.000 --> 01:00:01.000 align:start\nbye\n";
        assert_eq!(subtitles_end_millis(vtt.as_bytes()), Some(3_601_000));
        assert_eq!(subtitles_end_millis(b"no cues here"), None);
        assert_eq!(subtitles_end_millis(b"00:00:01 --> 00:00:02"), None);
        let reply = TranscriptFormat::Subtitles
            .reply(Bytes::from_static(srt.as_bytes()))
            .unwrap();
        assert_eq!(reply.usage.unwrap().units.audio_millis, 63_250);
    }

    #[test]
    fn text_is_taken_from_a_json_reply_with_its_usage() {
        let json = br#"{"text":"Hello.","usage":{"type":"duration","seconds":2}}"#;
        let reply = TranscriptFormat::Text
            .reply(Bytes::from_static(json))
            .unwrap();
        assert_eq!(reply.body, "Hello.");
        assert_eq!(reply.usage.unwrap().units.audio_millis, 2_000);
        assert!(TranscriptFormat::Text
            .reply(Bytes::from_static(b"not json"))
            .is_err());
    }
}
