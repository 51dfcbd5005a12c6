//! LiteLLM's rate-limit fields of a key, team or user (`rpm_limit`, `tpm_limit`,
//! `max_parallel_requests`, and a key's per-model `model_rpm_limit`/`model_tpm_limit`), checked.

use serde::Deserialize;
use serde_json::Value;

use crate::db::keys::RateLimits;
use crate::model::invalid::{Invalid, Problem};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct LimitFields {
    pub rpm_limit: Option<i64>,
    pub tpm_limit: Option<i64>,
    pub max_parallel_requests: Option<i64>,
    pub model_rpm_limit: Option<Value>,
    pub model_tpm_limit: Option<Value>,
}

impl LimitFields {
    /// The limits given; each a whole number, 0 or more.
    pub fn rate_limits(&self) -> Result<RateLimits, Invalid> {
        let checked = |value: Option<i64>, field: &'static str| match value {
            Some(limit) if limit < 0 => Err(Invalid::field(
                field,
                Problem::Value("must be a whole number, 0 or more.".into()),
            )),
            other => Ok(other),
        };
        Ok(RateLimits {
            rpm_limit: checked(self.rpm_limit, "rpm_limit")?,
            tpm_limit: checked(self.tpm_limit, "tpm_limit")?,
            max_parallel_requests: checked(self.max_parallel_requests, "max_parallel_requests")?,
        })
    }

    pub fn model_rpm_limit(&self) -> Result<Option<Value>, Invalid> {
        per_model(self.model_rpm_limit.as_ref(), "model_rpm_limit")
    }

    pub fn model_tpm_limit(&self) -> Result<Option<Value>, Invalid> {
        per_model(self.model_tpm_limit.as_ref(), "model_tpm_limit")
    }

    /// The limits of an entity that has no per-model limits (a team, a user): refused when
    /// they are given.
    pub fn without_model_limits(&self, entity: &str) -> Result<RateLimits, Invalid> {
        let given = |value: &Option<Value>| value.as_ref().is_some_and(|value| !value.is_null());
        if given(&self.model_rpm_limit) || given(&self.model_tpm_limit) {
            return Err(Invalid::field(
                "model_rpm_limit",
                Problem::Value(format!("per-model limits are set on keys, not {entity}.")),
            ));
        }
        self.rate_limits()
    }
}

/// `{model: limit}` with whole, non-negative limits.
fn per_model(value: Option<&Value>, field: &'static str) -> Result<Option<Value>, Invalid> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(limits)) if limits.values().all(Value::is_u64) => {
            Ok(Some(Value::Object(limits.clone())))
        }
        Some(_) => Err(Invalid::field(
            field,
            Problem::Value("must map model names to whole numbers, 0 or more.".into()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn negative_limits_and_fractional_model_limits_are_refused() {
        let negative = LimitFields {
            rpm_limit: Some(-1),
            ..LimitFields::default()
        };
        assert_eq!(negative.rate_limits().unwrap_err().param, Some("rpm_limit"));
        let fractional = LimitFields {
            model_tpm_limit: Some(json!({"gpt-4o": 1.5})),
            ..LimitFields::default()
        };
        assert_eq!(
            fractional.model_tpm_limit().unwrap_err().param,
            Some("model_tpm_limit")
        );
        let for_team = LimitFields {
            model_rpm_limit: Some(json!({"gpt-4o": 5})),
            ..LimitFields::default()
        };
        assert!(for_team.without_model_limits("teams").is_err());
    }
}
