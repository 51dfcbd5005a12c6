//! Bounds on the identity fields a caller names (end user, tags, metadata), for the data plane
//! and the management operations alike. Each lands on a
//! spend row, in an index and in a rollup key, so a value past these bounds (or with a control
//! character, which PostgreSQL text refuses) is refused with a 400 naming the field before any
//! work is done for it.

use serde_json::{Map, Value};

use super::invalid::{Invalid, Problem};

/// The longest end-user id (`user`, `x-litellm-customer-id`, `metadata.user_id`): the length
/// `/customer/new` accepts.
pub const MAX_END_USER_CHARS: usize = 200;
/// The longest tag: the length `/tag/new` accepts.
pub const MAX_TAG_CHARS: usize = 200;
/// Most tags one request (or one key's metadata) may carry.
pub const MAX_TAGS: usize = 32;
/// The largest `metadata` object a request or a managed entity may carry, serialized.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// An identity value, trimmed: `None` when empty; a 400 naming `field` when it is longer than
/// `max_chars` or holds a control character.
pub fn checked<'a>(
    value: &'a str,
    field: &'static str,
    max_chars: usize,
) -> Result<Option<&'a str>, Invalid> {
    let value = value.trim();
    if value.chars().count() > max_chars || value.chars().any(char::is_control) {
        return Err(Invalid::field(field, Problem::IdentityText { max_chars }));
    }
    Ok((!value.is_empty()).then_some(value))
}

/// An end-user id from a header or a body field.
pub fn end_user(value: &str, field: &'static str) -> Result<Option<String>, Invalid> {
    Ok(checked(value, field, MAX_END_USER_CHARS)?.map(str::to_string))
}

/// A tag, checked; a 400 for an empty one.
pub fn tag<'a>(value: &'a str, field: &'static str) -> Result<&'a str, Invalid> {
    checked(value, field, MAX_TAG_CHARS)?.ok_or(Invalid::field(field, Problem::EmptyTag))
}

/// The end user a body names in `field` (`user`): a string, checked; a 400 for another type.
pub fn body_end_user(
    body: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, Invalid> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(user)) => end_user(user, field),
        Some(_) => Err(Invalid::field(field, Problem::NotString)),
    }
}

/// A request body's `metadata`, bounded in size.
pub fn check_metadata(body: &Map<String, Value>) -> Result<(), Invalid> {
    match body.get("metadata") {
        None | Some(Value::Null) => Ok(()),
        Some(metadata) => check_metadata_size(metadata),
    }
}

/// A `metadata` value no larger than `MAX_METADATA_BYTES` serialized.
pub fn check_metadata_size(metadata: &Value) -> Result<(), Invalid> {
    let mut counter = ByteCounter(0);
    // Writing to a counter cannot fail but for a value too large, which is refused either way.
    let counted = serde_json::to_writer(&mut counter, metadata).is_ok();
    if !counted || counter.0 > MAX_METADATA_BYTES {
        return Err(Invalid::field(
            "metadata",
            Problem::MetadataTooLarge {
                max_bytes: MAX_METADATA_BYTES,
            },
        ));
    }
    Ok(())
}

/// Counts bytes written, stopping past the metadata bound.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_METADATA_BYTES {
            return Err(std::io::Error::other("metadata too large"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A managed entity's `metadata`: an object (bounded, its `metadata.tags` checked), or absent.
pub fn metadata_object(value: Option<Value>) -> Result<Option<Value>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => {
            let metadata = Value::Object(object);
            check_metadata_size(&metadata)?;
            check_metadata_tags(&metadata)?;
            Ok(Some(metadata))
        }
        Some(_) => Err(Invalid::field("metadata", Problem::NotObject)),
    }
}

/// `metadata.tags` (tags every request of the entity carries): at most `MAX_TAGS` tags, each
/// bounded like a request's.
fn check_metadata_tags(metadata: &Value) -> Result<(), Invalid> {
    let field = "metadata.tags";
    match metadata.get("tags") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(tags)) if tags.len() <= MAX_TAGS => {
            for tag in tags {
                let text = tag
                    .as_str()
                    .ok_or(Invalid::field(field, Problem::TagList { max: MAX_TAGS }))?;
                self::tag(text, field)?;
            }
            Ok(())
        }
        Some(_) => Err(Invalid::field(field, Problem::TagList { max: MAX_TAGS })),
    }
}

/// Adds a tag unless it is there already.
pub fn push_tag(tags: &mut Vec<String>, tag: &str) {
    if !tags.iter().any(|known| known == tag) {
        tags.push(tag.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_values_are_bounded_and_free_of_control_characters() {
        assert_eq!(
            end_user("  alice ", "user").unwrap().as_deref(),
            Some("alice")
        );
        assert_eq!(end_user("   ", "user").unwrap(), None);
        assert!(end_user(&"é".repeat(200), "user").unwrap().is_some());
        for bad in ["a".repeat(201), "a\u{0}b".into(), "a\nb".into()] {
            let error = end_user(&bad, "x-litellm-customer-id").unwrap_err();
            assert_eq!(error.param, Some("x-litellm-customer-id"), "{error:?}");
        }
        assert!(tag(" ", "tags").is_err());
        assert_eq!(tag(" prod ", "tags").unwrap(), "prod");
    }

    #[test]
    fn metadata_is_bounded_in_size() {
        let small = json!({ "metadata": { "trace_id": "t", "tags": ["a"] } });
        assert!(check_metadata(small.as_object().unwrap()).is_ok());
        let large = json!({ "metadata": { "blob": "x".repeat(MAX_METADATA_BYTES) } });
        let error = check_metadata(large.as_object().unwrap()).unwrap_err();
        assert_eq!(error.param, Some("metadata"), "{error:?}");
        let user = json!({ "user": 7 });
        assert!(body_end_user(user.as_object().unwrap(), "user").is_err());
    }
}
