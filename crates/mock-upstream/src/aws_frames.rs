//! AWS's binary event-stream framing, as Bedrock's streaming answers carry it: the mock writes
//! its replies with it and the gateway's decoder tests read it back.

use bytes::Bytes;

/// One AWS event-stream message, as Bedrock sends it (for the mock and tests).
pub fn aws_event(event_type: &str, payload: &serde_json::Value) -> Bytes {
    aws_message(":event-type", event_type, "event", payload)
}

/// An AWS event-stream exception message (a failure inside an HTTP 200 stream).
pub fn aws_exception(exception_type: &str, payload: &serde_json::Value) -> Bytes {
    aws_message(":exception-type", exception_type, "exception", payload)
}

fn aws_message(
    type_header: &'static str,
    kind: &str,
    message_type: &'static str,
    payload: &serde_json::Value,
) -> Bytes {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
    let message = Message::new(Bytes::from(payload.to_string()))
        .add_header(Header::new(
            type_header,
            HeaderValue::String(kind.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.into()),
        ));
    let mut buffer = Vec::new();
    match aws_smithy_eventstream::frame::write_message_to(&message, &mut buffer) {
        Ok(()) => Bytes::from(buffer),
        Err(error) => {
            tracing::error!(%error, "cannot encode an event-stream message");
            Bytes::new()
        }
    }
}
