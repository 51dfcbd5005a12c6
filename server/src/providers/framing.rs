//! Splitting an upstream stream into frames: server-sent events for most providers, AWS's
//! binary event-stream (`application/vnd.amazon.eventstream`) for Bedrock. Decoding checks the
//! event-stream CRCs (`aws-smithy-eventstream`).

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use bytes::{Bytes, BytesMut};

use crate::core::provider_error::InvalidFrame;
use crate::providers::frame::Frame;
use crate::providers::sse::SseSplitter;

/// How an upstream frames its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    ServerSentEvents,
    AwsEventStream,
}

pub enum Deframer {
    Sse(SseSplitter),
    Aws {
        decoder: MessageFrameDecoder,
        buffer: BytesMut,
    },
}

impl Deframer {
    pub fn new(framing: Framing) -> Self {
        match framing {
            Framing::ServerSentEvents => Deframer::Sse(SseSplitter::default()),
            Framing::AwsEventStream => Deframer::Aws {
                decoder: MessageFrameDecoder::new(),
                buffer: BytesMut::new(),
            },
        }
    }

    pub fn push(&mut self, piece: &[u8]) {
        match self {
            Deframer::Sse(splitter) => splitter.push(piece),
            Deframer::Aws { buffer, .. } => buffer.extend_from_slice(piece),
        }
    }

    /// The next whole frame; an error when the bytes are not a valid frame.
    pub fn next_frame(&mut self) -> Option<Result<Frame, InvalidFrame>> {
        match self {
            Deframer::Sse(splitter) => splitter.next_event().map(|event| Ok(Frame::Sse(event))),
            Deframer::Aws { decoder, buffer } => {
                if buffer.is_empty() {
                    return None;
                }
                match decoder.decode_frame(buffer) {
                    Ok(DecodedFrame::Complete(message)) => {
                        let header = |name: &str| {
                            message
                                .headers()
                                .iter()
                                .find(|header| header.name().as_str() == name)
                                .and_then(|header| header.value().as_string().ok())
                                .map(|value| value.as_str().to_string())
                                .unwrap_or_default()
                        };
                        let kind = match header(":message-type").as_str() {
                            "exception" => header(":exception-type"),
                            _ => header(":event-type"),
                        };
                        Some(Ok(Frame::Aws {
                            exception: header(":message-type") != "event",
                            event_type: kind,
                            payload: message.payload().clone(),
                        }))
                    }
                    Ok(DecodedFrame::Incomplete) => None,
                    Err(error) => Some(Err(InvalidFrame(error.to_string()))),
                }
            }
        }
    }

    /// What is left when the upstream ended: an SSE event it did not terminate.
    pub fn remainder(&mut self) -> Option<Frame> {
        match self {
            Deframer::Sse(splitter) if !splitter.remainder().is_empty() => {
                let mut last = splitter.remainder().to_vec();
                last.extend_from_slice(b"\n\n");
                Some(Frame::Sse(Bytes::from(last)))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_upstream::aws_frames::{aws_event, aws_exception};
    use serde_json::json;

    #[test]
    fn decodes_event_stream_frames_split_anywhere() {
        let mut bytes = aws_event("contentBlockDelta", &json!({"delta": {"text": "Hi"}})).to_vec();
        bytes.extend_from_slice(&aws_exception(
            "throttlingException",
            &json!({"message": "slow"}),
        ));
        let mut deframer = Deframer::new(Framing::AwsEventStream);
        let mut frames = Vec::new();
        for byte in &bytes {
            deframer.push(std::slice::from_ref(byte));
            while let Some(frame) = deframer.next_frame() {
                frames.push(frame.unwrap());
            }
        }
        assert_eq!(
            frames,
            vec![
                Frame::Aws {
                    exception: false,
                    event_type: "contentBlockDelta".into(),
                    payload: Bytes::from(r#"{"delta":{"text":"Hi"}}"#),
                },
                Frame::Aws {
                    exception: true,
                    event_type: "throttlingException".into(),
                    payload: Bytes::from(r#"{"message":"slow"}"#),
                },
            ]
        );
    }

    #[test]
    fn a_corrupted_frame_is_an_error() {
        let mut bytes = aws_event("messageStop", &json!({"stopReason": "end_turn"})).to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let mut deframer = Deframer::new(Framing::AwsEventStream);
        deframer.push(&bytes);
        assert!(deframer.next_frame().unwrap().is_err());
    }
}
