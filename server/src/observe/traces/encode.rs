//! OTLP's protobuf messages (`opentelemetry/proto/trace/v1/trace.proto` and the collector's
//! `ExportTraceServiceRequest`), written with prost's wire primitives straight from the call's
//! own values: no intermediate message structs, so a span costs no allocation per attribute.
//! The tests decode what is written with the official `opentelemetry-proto` types.

use prost::encoding::{encode_varint, encoded_len_varint, key_len, WireType};

/// OTLP's span kinds.
#[derive(Debug, Clone, Copy)]
pub enum SpanKind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// An attribute's value.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
    Double(f64),
    /// A list of strings (`gen_ai.response.finish_reasons`).
    StrList(&'a [&'a str]),
}

/// An attribute's key as its encoded `KeyValue.key` field, made at compile time by `key!`.
#[derive(Debug, Clone, Copy)]
pub struct Key(pub &'static [u8]);

/// A `KeyValue.key` field for `name`: its tag, its length and its bytes (`N` is the name's
/// length plus two; a key is shorter than 128 bytes).
pub const fn key_field<const N: usize>(name: &str) -> [u8; N] {
    let bytes = name.as_bytes();
    assert!(bytes.len() + 2 == N && bytes.len() < 128);
    let mut field = [0u8; N];
    field[0] = ((KEY_VALUE_KEY << 3) | 2) as u8;
    field[1] = bytes.len() as u8;
    let mut index = 0;
    while index < bytes.len() {
        field[index + 2] = bytes[index];
        index += 1;
    }
    field
}

/// An attribute key, encoded at compile time.
macro_rules! key {
    ($name:literal) => {{
        const FIELD: [u8; $name.len() + 2] = $crate::observe::traces::encode::key_field($name);
        $crate::observe::traces::encode::Key(&FIELD)
    }};
}
pub(crate) use key;

/// One span, borrowed from what the call holds.
pub struct Span<'a> {
    pub trace_id: u128,
    pub span_id: u64,
    /// 0: a root span.
    pub parent_span_id: u64,
    /// Concatenated: a name in parts (`chat` `gpt-4o`) needs no formatting.
    pub name: &'a [&'a str],
    pub kind: SpanKind,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub attributes: &'a [(Key, Value<'a>)],
    /// More attributes, already encoded (`attribute_fields`).
    pub encoded_attributes: &'a [u8],
    /// An error's description: the span's status is then `ERROR`.
    pub error: Option<&'a str>,
}

/// Spans being written (as `ScopeSpans.spans` fields, ready to be placed in a batch), each
/// written once in place (its length is computed first).
#[derive(Default)]
pub struct SpanBuffer {
    pub bytes: Vec<u8>,
    pub spans: usize,
}

// Field numbers (trace.proto, common.proto, trace_service.proto).
const REQUEST_RESOURCE_SPANS: u32 = 1;
const RESOURCE_SPANS_RESOURCE: u32 = 1;
const RESOURCE_SPANS_SCOPE_SPANS: u32 = 2;
const RESOURCE_ATTRIBUTES: u32 = 1;
const SCOPE_SPANS_SCOPE: u32 = 1;
const SCOPE_SPANS_SPANS: u32 = 2;
const SCOPE_NAME: u32 = 1;
const SCOPE_VERSION: u32 = 2;
const SPAN_TRACE_ID: u32 = 1;
const SPAN_SPAN_ID: u32 = 2;
const SPAN_PARENT_SPAN_ID: u32 = 4;
const SPAN_NAME: u32 = 5;
const SPAN_KIND: u32 = 6;
const SPAN_START: u32 = 7;
const SPAN_END: u32 = 8;
const SPAN_ATTRIBUTES: u32 = 9;
const SPAN_STATUS: u32 = 15;
const STATUS_MESSAGE: u32 = 2;
const STATUS_CODE: u32 = 3;
const STATUS_ERROR: u64 = 2;
const KEY_VALUE_KEY: u32 = 1;
const KEY_VALUE_VALUE: u32 = 2;
const ANY_STRING: u32 = 1;
const ANY_INT: u32 = 3;
const ANY_DOUBLE: u32 = 4;
const ANY_ARRAY: u32 = 5;
const ARRAY_VALUES: u32 = 1;

#[inline(always)]
fn len_field_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A field key: every field here is numbered below 16, so a key is one byte.
#[inline(always)]
fn put_key(tag: u32, wire_type: WireType, buf: &mut Vec<u8>) {
    debug_assert!(tag < 16);
    buf.push(((tag << 3) | wire_type as u32) as u8);
}

/// A varint: one byte below 128 (most lengths here), else prost's encoder.
#[inline(always)]
fn put_varint_value(value: u64, buf: &mut Vec<u8>) {
    if value < 0x80 {
        buf.push(value as u8);
    } else {
        encode_varint(value, buf);
    }
}

#[inline(always)]
fn put_len_header(tag: u32, len: usize, buf: &mut Vec<u8>) {
    put_key(tag, WireType::LengthDelimited, buf);
    put_varint_value(len as u64, buf);
}

#[inline(always)]
fn put_bytes(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    put_len_header(tag, bytes.len(), buf);
    buf.extend_from_slice(bytes);
}

#[inline(always)]
fn put_fixed64(tag: u32, value: u64, buf: &mut Vec<u8>) {
    put_key(tag, WireType::SixtyFourBit, buf);
    buf.extend_from_slice(&value.to_le_bytes());
}

fn put_varint(tag: u32, value: u64, buf: &mut Vec<u8>) {
    put_key(tag, WireType::Varint, buf);
    put_varint_value(value, buf);
}

/// The encoded length of an `AnyValue`.
#[inline(always)]
fn any_len(value: &Value<'_>) -> usize {
    match value {
        Value::Str(text) => len_field_len(ANY_STRING, text.len()),
        Value::Int(number) => key_len(ANY_INT) + encoded_len_varint(*number as u64),
        Value::Double(_) => key_len(ANY_DOUBLE) + 8,
        Value::StrList(items) => len_field_len(ANY_ARRAY, array_len(items)),
    }
}

#[inline(always)]
fn array_len(items: &[&str]) -> usize {
    items
        .iter()
        .map(|item| len_field_len(ARRAY_VALUES, len_field_len(ANY_STRING, item.len())))
        .sum()
}

#[inline(always)]
fn put_any(value: &Value<'_>, buf: &mut Vec<u8>) {
    match value {
        Value::Str(text) => put_bytes(ANY_STRING, text.as_bytes(), buf),
        Value::Int(number) => put_varint(ANY_INT, *number as u64, buf),
        Value::Double(number) => put_fixed64(ANY_DOUBLE, number.to_bits(), buf),
        Value::StrList(items) => {
            put_len_header(ANY_ARRAY, array_len(items), buf);
            for item in *items {
                put_len_header(ARRAY_VALUES, len_field_len(ANY_STRING, item.len()), buf);
                put_bytes(ANY_STRING, item.as_bytes(), buf);
            }
        }
    }
}

/// The encoded length of a `KeyValue`'s body.
#[inline(always)]
fn attribute_len(key: Key, value: &Value<'_>) -> usize {
    key.0.len() + len_field_len(KEY_VALUE_VALUE, any_len(value))
}

/// A `KeyValue` field numbered `tag`.
#[inline(always)]
fn put_attribute(tag: u32, key: Key, value: &Value<'_>, buf: &mut Vec<u8>) {
    let value_len = any_len(value);
    put_len_header(
        tag,
        key.0.len() + len_field_len(KEY_VALUE_VALUE, value_len),
        buf,
    );
    buf.extend_from_slice(key.0);
    put_len_header(KEY_VALUE_VALUE, value_len, buf);
    put_any(value, buf);
}

/// A `KeyValue` whose key is known only at run time (the resource's).
fn put_named_attribute(tag: u32, key: &str, value: &Value<'_>, buf: &mut Vec<u8>) {
    let value_len = any_len(value);
    put_len_header(
        tag,
        len_field_len(KEY_VALUE_KEY, key.len()) + len_field_len(KEY_VALUE_VALUE, value_len),
        buf,
    );
    put_bytes(KEY_VALUE_KEY, key.as_bytes(), buf);
    put_len_header(KEY_VALUE_VALUE, value_len, buf);
    put_any(value, buf);
}

#[inline(always)]
fn status_len(message: &str) -> usize {
    len_field_len(STATUS_MESSAGE, message.len()) + key_len(STATUS_CODE) + 1
}

impl Span<'_> {
    /// The encoded length of the span's body, so it is written once, in place.
    fn body_len(&self, name_len: usize) -> usize {
        let parent = if self.parent_span_id == 0 { 0 } else { 10 };
        let attributes: usize = self
            .attributes
            .iter()
            .map(|(key, value)| len_field_len(SPAN_ATTRIBUTES, attribute_len(*key, value)))
            .sum();
        let status = self
            .error
            .map_or(0, |message| len_field_len(SPAN_STATUS, status_len(message)));
        // trace id 18, span id 10, kind 2, start and end 9 each.
        48 + parent
            + len_field_len(SPAN_NAME, name_len)
            + attributes
            + self.encoded_attributes.len()
            + status
    }
}

impl SpanBuffer {
    /// A buffer with room for a request's spans.
    pub fn with_capacity(bytes: usize) -> SpanBuffer {
        SpanBuffer {
            bytes: Vec::with_capacity(bytes),
            spans: 0,
        }
    }

    /// Appends one span.
    pub fn push(&mut self, span: &Span<'_>) {
        let name_len: usize = span.name.iter().map(|part| part.len()).sum();
        let body = &mut self.bytes;
        put_len_header(SCOPE_SPANS_SPANS, span.body_len(name_len), body);
        put_bytes(SPAN_TRACE_ID, &span.trace_id.to_be_bytes(), body);
        put_bytes(SPAN_SPAN_ID, &span.span_id.to_be_bytes(), body);
        if span.parent_span_id != 0 {
            put_bytes(
                SPAN_PARENT_SPAN_ID,
                &span.parent_span_id.to_be_bytes(),
                body,
            );
        }
        put_len_header(SPAN_NAME, name_len, body);
        for part in span.name {
            body.extend_from_slice(part.as_bytes());
        }
        put_varint(SPAN_KIND, span.kind as u64, body);
        put_fixed64(SPAN_START, span.start_unix_nanos, body);
        put_fixed64(SPAN_END, span.end_unix_nanos, body);
        for (key, value) in span.attributes {
            put_attribute(SPAN_ATTRIBUTES, *key, value, body);
        }
        body.extend_from_slice(span.encoded_attributes);
        if let Some(message) = span.error {
            put_len_header(SPAN_STATUS, status_len(message), body);
            put_bytes(STATUS_MESSAGE, message.as_bytes(), body);
            put_varint(STATUS_CODE, STATUS_ERROR, body);
        }
        self.spans += 1;
    }
}

/// Attributes encoded once for many spans (a deployment's, say): `Span::encoded_attributes`.
pub fn attribute_fields(attributes: &[(Key, Value<'_>)]) -> Box<[u8]> {
    let mut fields = Vec::new();
    for (key, value) in attributes {
        put_attribute(SPAN_ATTRIBUTES, *key, value, &mut fields);
    }
    fields.into_boxed_slice()
}

/// The process's identity on every batch: `service.name` and the resource's other attributes.
pub fn resource(attributes: &[(&str, &str)]) -> Vec<u8> {
    let mut resource = Vec::new();
    for (key, value) in attributes {
        put_named_attribute(RESOURCE_ATTRIBUTES, key, &Value::Str(value), &mut resource);
    }
    resource
}

/// An `ExportTraceServiceRequest` of the spans in `batches`, from the encoded `resource`.
pub fn export_request(resource: &[u8], scope_version: &str, batches: &[Vec<u8>]) -> Vec<u8> {
    let scope_len = len_field_len(SCOPE_NAME, "gatehouse".len())
        + len_field_len(SCOPE_VERSION, scope_version.len());
    let spans_len: usize = batches.iter().map(Vec::len).sum();
    let scope_spans_len = len_field_len(SCOPE_SPANS_SCOPE, scope_len) + spans_len;
    let resource_spans_len = len_field_len(RESOURCE_SPANS_RESOURCE, resource.len())
        + len_field_len(RESOURCE_SPANS_SCOPE_SPANS, scope_spans_len);
    let mut out = Vec::with_capacity(len_field_len(REQUEST_RESOURCE_SPANS, resource_spans_len));
    put_len_header(REQUEST_RESOURCE_SPANS, resource_spans_len, &mut out);
    put_bytes(RESOURCE_SPANS_RESOURCE, resource, &mut out);
    put_len_header(RESOURCE_SPANS_SCOPE_SPANS, scope_spans_len, &mut out);
    put_len_header(SCOPE_SPANS_SCOPE, scope_len, &mut out);
    put_bytes(SCOPE_NAME, b"gatehouse", &mut out);
    put_bytes(SCOPE_VERSION, scope_version.as_bytes(), &mut out);
    for batch in batches {
        out.extend_from_slice(batch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use prost::Message;

    #[test]
    fn the_official_types_read_what_is_written() {
        let long = "x".repeat(300);
        let mut spans = SpanBuffer::default();
        spans.push(&Span {
            trace_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            span_id: 0xaabb,
            parent_span_id: 0,
            name: &["chat", " ", "gpt-4o"],
            kind: SpanKind::Server,
            start_unix_nanos: 1_700_000_000_000_000_000,
            end_unix_nanos: 1_700_000_000_500_000_000,
            attributes: &[
                (key!("gen_ai.request.model"), Value::Str("gpt-4o")),
                (key!("gen_ai.usage.input_tokens"), Value::Int(1_234_567)),
                (key!("gatehouse.spend_usd"), Value::Double(0.25)),
                (
                    key!("gen_ai.response.finish_reasons"),
                    Value::StrList(&["stop", "length"]),
                ),
            ],
            encoded_attributes: &attribute_fields(&[(key!("pre.encoded"), Value::Str("yes"))]),
            error: None,
        });
        spans.push(&Span {
            trace_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            span_id: 0xccdd,
            parent_span_id: 0xaabb,
            name: &["chat upstream"],
            kind: SpanKind::Client,
            start_unix_nanos: 1,
            end_unix_nanos: 2,
            attributes: &[
                (key!("http.response.status_code"), Value::Int(502)),
                (key!("gen_ai.input.messages"), Value::Str(&long)),
                (key!("negative"), Value::Int(-7)),
            ],
            encoded_attributes: &[],
            error: Some("InternalServerError"),
        });
        let resource = resource(&[("service.name", "gatehouse")]);
        let body = export_request(&resource, "0.1.0", &[spans.bytes]);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let resource_spans = &request.resource_spans[0];
        let service = &resource_spans.resource.as_ref().unwrap().attributes[0];
        assert_eq!(service.key, "service.name");
        let scope = &resource_spans.scope_spans[0];
        assert_eq!(scope.scope.as_ref().unwrap().name, "gatehouse");
        let [root, child] = scope.spans.as_slice() else {
            panic!("two spans");
        };
        assert_eq!(root.trace_id, (1u8..=16).collect::<Vec<u8>>());
        assert_eq!(root.span_id, 0xaabbu64.to_be_bytes());
        assert!(root.parent_span_id.is_empty());
        assert_eq!(root.name, "chat gpt-4o");
        assert_eq!(root.kind, 2);
        assert_eq!(
            root.end_time_unix_nano - root.start_time_unix_nano,
            500_000_000
        );
        let value = |index: usize| root.attributes[index].value.clone().unwrap().value.unwrap();
        assert_eq!(root.attributes[4].key, "pre.encoded");
        assert_eq!(value(4), any_value::Value::StringValue("yes".into()));
        assert_eq!(value(0), any_value::Value::StringValue("gpt-4o".into()));
        assert_eq!(value(1), any_value::Value::IntValue(1_234_567));
        assert_eq!(value(2), any_value::Value::DoubleValue(0.25));
        let any_value::Value::ArrayValue(reasons) = value(3) else {
            panic!("a list");
        };
        assert_eq!(reasons.values.len(), 2);
        assert_eq!(child.parent_span_id, 0xaabbu64.to_be_bytes());
        let child_value = |index: usize| {
            child.attributes[index]
                .value
                .clone()
                .unwrap()
                .value
                .unwrap()
        };
        assert_eq!(child_value(1), any_value::Value::StringValue(long.clone()));
        assert_eq!(child_value(2), any_value::Value::IntValue(-7));
        let status = child.status.as_ref().unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (2, "InternalServerError")
        );
    }
}
