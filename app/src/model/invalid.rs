//! The recurring ways a request (to the data plane, the management API or the console) is
//! wrong, as one typed error: which field (`param`) and what is wrong with it. Each message is
//! written here once.

use serde_json::{Map, Value};

/// A request field (or the body itself, without a `param`) that breaks a common rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct Invalid {
    pub param: Option<&'static str>,
    pub problem: Problem,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The body is JSON, but not an object.
    BodyNotObject,
    /// The body is not JSON: the parser's words.
    BodyUnparsable(String),
    /// The model to call is missing or empty.
    ModelRequired,
    NotBoolean,
    NotObject,
    NotNonEmptyString,
    /// A text's length in characters, out of its bounds.
    Length {
        min: usize,
        max: usize,
    },
    /// An identity value longer than `max_chars` or holding a control character.
    IdentityText {
        max_chars: usize,
    },
    /// An empty tag in a list of tags.
    EmptyTag,
    NotString,
    /// A list of tags: at most `max` strings.
    TagList {
        max: usize,
    },
    /// `metadata` larger than `max_bytes` as JSON.
    MetadataTooLarge {
        max_bytes: usize,
    },
    /// A money or duration value that does not read: what is wrong with it.
    Value(String),
    /// Two fields that exclude each other were both given: the other one.
    Exclusive(&'static str),
}

impl Invalid {
    /// `param` breaks `problem`.
    pub fn field(param: &'static str, problem: Problem) -> Invalid {
        Invalid {
            param: Some(param),
            problem,
        }
    }

    pub fn model_required() -> Invalid {
        Invalid::field("model", Problem::ModelRequired)
    }

    fn message(&self) -> String {
        let param = self.param.unwrap_or("value");
        match &self.problem {
            Problem::BodyNotObject => "The request body must be a JSON object.".to_string(),
            Problem::BodyUnparsable(error) => {
                format!("We could not parse the JSON body of your request: {error}.")
            }
            Problem::ModelRequired => {
                "You must provide a model parameter (a non-empty string).".to_string()
            }
            Problem::NotBoolean => format!("`{param}` must be a boolean."),
            Problem::NotObject => format!("`{param}` must be an object."),
            Problem::NotNonEmptyString => format!("`{param}` must be a non-empty string."),
            Problem::Length { min, max } => format!("`{param}` must be {min} to {max} characters."),
            Problem::IdentityText { max_chars } => format!(
                "`{param}` must be at most {max_chars} characters, without control characters."
            ),
            Problem::EmptyTag => format!("`{param}` holds an empty tag."),
            Problem::NotString => format!("`{param}` must be a string."),
            Problem::TagList { max } => {
                format!("`{param}` must be a list of at most {max} strings.")
            }
            Problem::MetadataTooLarge { max_bytes } => {
                format!("`{param}` must be at most {max_bytes} bytes as JSON.")
            }
            Problem::Value(problem) => format!("`{param}`: {problem}"),
            Problem::Exclusive(other) => format!("Pass either `{param}` or {other}, not both."),
        }
    }
}

/// A request body that must be a JSON object.
pub fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, Invalid> {
    let body = |problem| Invalid {
        param: None,
        problem,
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(body(Problem::BodyNotObject)),
        Err(error) => Err(body(Problem::BodyUnparsable(error.to_string()))),
    }
}

/// A request's `model`: a non-empty string.
pub fn model(body: &Map<String, Value>) -> Result<String, Invalid> {
    match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => Ok(model.clone()),
        _ => Err(Invalid::model_required()),
    }
}

/// An optional boolean field (`null` counts as absent).
pub fn optional_bool(
    body: &Map<String, Value>,
    param: &'static str,
) -> Result<Option<bool>, Invalid> {
    match body.get(param) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(value)) => Ok(Some(*value)),
        Some(_) => Err(Invalid::field(param, Problem::NotBoolean)),
    }
}

/// A text of `min` to `max` characters.
pub fn text_length(text: &str, param: &'static str, min: usize, max: usize) -> Result<(), Invalid> {
    let length = text.chars().count();
    if (min..=max).contains(&length) {
        Ok(())
    } else {
        Err(Invalid::field(param, Problem::Length { min, max }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_names_its_field() {
        assert_eq!(
            json_object(b"[1]").unwrap_err().to_string(),
            "The request body must be a JSON object."
        );
        assert!(json_object(b"{")
            .unwrap_err()
            .to_string()
            .starts_with("We could not parse"));
        let body = json_object(br#"{"model": "", "stream": "yes"}"#).unwrap();
        assert_eq!(model(&body).unwrap_err().param, Some("model"));
        assert_eq!(
            optional_bool(&body, "stream").unwrap_err().to_string(),
            "`stream` must be a boolean."
        );
        assert_eq!(optional_bool(&body, "absent"), Ok(None));
        assert_eq!(
            text_length("", "team_id", 1, 200).unwrap_err().to_string(),
            "`team_id` must be 1 to 200 characters."
        );
        assert!(text_length(&"é".repeat(200), "team_id", 1, 200).is_ok());
    }
}
