//! Server-sent events: splitting an upstream byte stream into whole events without copying,
//! and reading an event's `data:` payload.

use bytes::{Bytes, BytesMut};

/// Accumulates bytes and yields complete events (each including its blank-line terminator).
#[derive(Default)]
pub struct SseSplitter {
    buffer: BytesMut,
}

impl SseSplitter {
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next complete event, if the buffer holds one.
    pub fn next_event(&mut self) -> Option<Bytes> {
        let end = event_end(&self.buffer)?;
        Some(self.buffer.split_to(end).freeze())
    }

    /// Bytes left over that never formed a complete event.
    pub fn remainder(&self) -> &[u8] {
        &self.buffer
    }
}

/// Index just past the first event terminator (`\n\n`, `\r\n\r\n` or `\r\r`).
fn event_end(buffer: &[u8]) -> Option<usize> {
    let mut index = 0;
    while index + 1 < buffer.len() {
        match (buffer[index], buffer[index + 1]) {
            (b'\n', b'\n') | (b'\r', b'\r') => return Some(index + 2),
            (b'\r', b'\n') if buffer.get(index + 2..index + 4) == Some(b"\r\n") => {
                return Some(index + 4)
            }
            _ => index += 1,
        }
    }
    None
}

/// Relays an upstream frame unchanged (a server-sent event; anything else is dropped) and
/// returns its JSON data read as `T`, the parts the relay looks at, if it is that.
pub fn relay_event<T: serde::de::DeserializeOwned>(
    frame: crate::providers::frame::Frame,
    out: &mut Vec<Bytes>,
) -> Option<T> {
    let crate::providers::frame::Frame::Sse(event) = frame else {
        return None;
    };
    let probe = parse_data(&event);
    out.push(event);
    probe
}

/// The event's JSON data read as `T` (the parts a relay looks at), if it is that.
pub fn parse_data<T: serde::de::DeserializeOwned>(event: &[u8]) -> Option<T> {
    serde_json::from_slice(&data_payload(event)?).ok()
}

/// The event's `data:` lines joined by newlines (one allocation only for multi-line data).
pub fn data_payload(event: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    let mut lines = event
        .split(|byte| *byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter_map(|line| line.strip_prefix(b"data:"))
        .map(|data| data.strip_prefix(b" ").unwrap_or(data));
    let first = lines.next()?;
    match lines.next() {
        None => Some(std::borrow::Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = first.to_vec();
            for line in std::iter::once(second).chain(lines) {
                joined.push(b'\n');
                joined.extend_from_slice(line);
            }
            Some(std::borrow::Cow::Owned(joined))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_chunk_boundaries() {
        let mut splitter = SseSplitter::default();
        splitter.push(b"data: {\"a\":1}\n");
        assert!(splitter.next_event().is_none());
        splitter.push(b"\ndata: [DONE]\n\nda");
        assert_eq!(&splitter.next_event().unwrap()[..], b"data: {\"a\":1}\n\n");
        assert_eq!(&splitter.next_event().unwrap()[..], b"data: [DONE]\n\n");
        assert!(splitter.next_event().is_none());
        assert_eq!(splitter.remainder(), b"da");
    }

    #[test]
    fn handles_crlf_events() {
        let mut splitter = SseSplitter::default();
        splitter.push(b"event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n");
        let first = splitter.next_event().unwrap();
        assert_eq!(&data_payload(&first).unwrap()[..], b"1");
        assert_eq!(
            &data_payload(&splitter.next_event().unwrap()).unwrap()[..],
            b"2"
        );
    }

    #[test]
    fn joins_multiline_data() {
        assert_eq!(&data_payload(b"data: a\ndata: b\n\n").unwrap()[..], b"a\nb");
        assert!(data_payload(b": comment\n\n").is_none());
    }
}
