//! One framed event of an upstream stream, as the deframer hands it to a translator.

use bytes::Bytes;

/// One framed event of an upstream stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole server-sent event, including its terminating blank line.
    Sse(Bytes),
    /// An AWS event-stream message: its `:event-type` (or, for an exception, its
    /// `:exception-type`) and JSON payload.
    Aws {
        exception: bool,
        event_type: String,
        payload: Bytes,
    },
}
