//! The console's deployment form and LiteLLM's deployment shape, each way: prices in dollars
//! per million tokens become `model_info.*_cost_per_token`, other params travel as JSON, and
//! stored credentials survive an edit that leaves them blank.

use serde_json::{Map, Value};

use crate::db::deployments::{edited_params, DeploymentSpec, StoredDeployment, SECRET_PARAMS};
use crate::model::DeploymentForm;

/// `litellm_params` that have their own form field.
const FORM_PARAMS: &[&str] = &["model", "api_base", "api_version", "api_key"];
/// `(form field, model_info key)` of the prices the form edits.
const PRICE_KEYS: [(&str, &str); 3] = [
    ("input", "input_cost_per_token"),
    ("output", "output_cost_per_token"),
    ("cached input", "cache_read_input_token_cost"),
];
const TOKENS_PER_MILLION: f64 = 1_000_000.0;

/// A stored deployment's current values, without its credentials.
pub fn form_of(row: &StoredDeployment) -> DeploymentForm {
    let params = row.public_params();
    let text = |name: &str| {
        params
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let price = |key: &str| {
        row.model_info
            .get(key)
            .and_then(Value::as_f64)
            .map(|per_token| {
                let per_million = (per_token * TOKENS_PER_MILLION * 1e6).round() / 1e6;
                per_million.to_string()
            })
            .unwrap_or_default()
    };
    let extra: Map<String, Value> = params
        .iter()
        .filter(|(name, _)| !FORM_PARAMS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    DeploymentForm {
        model_name: row.model_name.clone(),
        model: text("model"),
        api_base: text("api_base"),
        api_version: text("api_version"),
        input_cost: price(PRICE_KEYS[0].1),
        output_cost: price(PRICE_KEYS[1].1),
        cached_input_cost: price(PRICE_KEYS[2].1),
        has_credentials: row.sealed_secrets.is_some(),
        extra_params: if extra.is_empty() {
            String::new()
        } else {
            serde_json::to_string_pretty(&Value::Object(extra)).unwrap_or_default()
        },
    }
}

/// The deployment a submitted form describes. `existing` is the stored deployment being
/// edited (with its opened credentials): its other `model_info` fields and any credential the
/// form leaves blank are kept.
pub fn spec_of(
    form: &DeploymentForm,
    api_key: &str,
    existing: Option<DeploymentSpec>,
) -> Result<DeploymentSpec, String> {
    let model_name = form.model_name.trim();
    if model_name.is_empty() {
        return Err("Model name is required: it is the name clients ask for.".into());
    }
    let model = form.model.trim();
    if !model.contains('/') {
        return Err(
            "Provider model must be `provider/model-id`, e.g. `openai/gpt-4o-mini`.".into(),
        );
    }
    let mut params = match form.extra_params.trim() {
        "" => Map::new(),
        text => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(extra)) => extra,
            _ => return Err("Other litellm_params must be a JSON object.".into()),
        },
    };
    if let Some(name) = FORM_PARAMS.iter().find(|name| params.contains_key(**name)) {
        return Err(format!(
            "Set `{name}` in its own field, not in other litellm_params."
        ));
    }
    params.insert("model".into(), Value::String(model.to_string()));
    for (name, value) in [
        ("api_base", form.api_base.trim()),
        ("api_version", form.api_version.trim()),
        ("api_key", api_key.trim()),
    ] {
        if !value.is_empty() {
            params.insert(name.into(), Value::String(value.to_string()));
        }
    }
    let (mut model_info, params) = match existing {
        // The form states every public param: one it leaves out is removed. Credentials left
        // blank are kept, unless the destination changed.
        Some(spec) => {
            let mut edit = params;
            for name in spec.litellm_params.keys() {
                if !edit.contains_key(name) && !SECRET_PARAMS.contains(&name.as_str()) {
                    edit.insert(name.clone(), Value::Null);
                }
            }
            (spec.model_info, edited_params(&spec.litellm_params, edit))
        }
        None => (Map::new(), params),
    };
    let prices = [&form.input_cost, &form.output_cost, &form.cached_input_cost];
    for ((label, key), text) in PRICE_KEYS.into_iter().zip(prices) {
        match text.trim() {
            "" => {
                model_info.remove(key);
            }
            text => {
                let per_million: f64 = text
                    .parse()
                    .ok()
                    .filter(|value: &f64| value.is_finite() && *value >= 0.0)
                    .ok_or_else(|| {
                        format!(
                            "The {label} price `{text}` is not a number of dollars per \
                             million tokens."
                        )
                    })?;
                model_info.insert(key.into(), Value::from(per_million / TOKENS_PER_MILLION));
            }
        }
    }
    Ok(DeploymentSpec {
        model_name: model_name.to_string(),
        litellm_params: params,
        model_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::OffsetDateTime;
    use uuid::Uuid;

    fn form() -> DeploymentForm {
        DeploymentForm {
            model_name: " fast ".into(),
            model: "openai/gpt-4o-mini".into(),
            api_base: "http://127.0.0.1:9/v1".into(),
            input_cost: "0.15".into(),
            output_cost: "0.6".into(),
            extra_params: r#"{"timeout": 30}"#.into(),
            ..DeploymentForm::default()
        }
    }

    #[test]
    fn a_new_deployment_gets_per_token_prices_and_its_params() {
        let spec = spec_of(&form(), "sk-up", None).unwrap();
        assert_eq!(spec.model_name, "fast");
        assert_eq!(
            Value::Object(spec.litellm_params),
            json!({"model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9/v1",
                   "api_key": "sk-up", "timeout": 30})
        );
        assert_eq!(
            Value::Object(spec.model_info),
            json!({"input_cost_per_token": 0.15e-6, "output_cost_per_token": 0.6e-6})
        );
    }

    #[test]
    fn an_edit_keeps_blank_credentials_and_other_model_info() {
        let existing = DeploymentSpec {
            model_name: "fast".into(),
            litellm_params:
                json!({"model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:9/v1",
                                   "api_key": "sk-old", "aws_session_token": "tok"})
                .as_object()
                .unwrap()
                .clone(),
            model_info: json!({"supports_vision": false, "cache_read_input_token_cost": 1e-7})
                .as_object()
                .unwrap()
                .clone(),
        };
        let spec = spec_of(&form(), "", Some(existing)).unwrap();
        assert_eq!(spec.litellm_params["api_key"], "sk-old");
        assert_eq!(spec.litellm_params["aws_session_token"], "tok");
        assert_eq!(spec.model_info["supports_vision"], false);
        assert!(!spec.model_info.contains_key("cache_read_input_token_cost"));
    }

    #[test]
    fn credentials_never_follow_a_changed_destination() {
        let existing = |params: Value| DeploymentSpec {
            model_name: "fast".into(),
            litellm_params: params.as_object().unwrap().clone(),
            model_info: Map::new(),
        };
        // The form points at another base URL: the stored key stays behind.
        let moved = existing(json!({"model": "openai/gpt-4o-mini",
                                    "api_base": "http://127.0.0.1:9/elsewhere", "api_key": "sk-old"}));
        let spec = spec_of(&form(), "", Some(moved.clone())).unwrap();
        assert!(
            !spec.litellm_params.contains_key("api_key"),
            "{:?}",
            spec.litellm_params
        );
        // Entered again, it goes with the deployment.
        let spec = spec_of(&form(), "sk-again", Some(moved)).unwrap();
        assert_eq!(spec.litellm_params["api_key"], "sk-again");
        // Another provider or model is another destination too.
        let other_model = existing(json!({"model": "openai/gpt-4o",
                                          "api_base": "http://127.0.0.1:9/v1", "api_key": "sk-old"}));
        let spec = spec_of(&form(), "", Some(other_model)).unwrap();
        assert!(!spec.litellm_params.contains_key("api_key"));
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [(DeploymentForm, &str); 5] = [
            (
                DeploymentForm {
                    model: "gpt-4o".into(),
                    ..form()
                },
                "provider/model-id",
            ),
            (
                DeploymentForm {
                    output_cost: "-1".into(),
                    ..form()
                },
                "output price",
            ),
            (
                DeploymentForm {
                    extra_params: r#"{"api_key": "sk"}"#.into(),
                    ..form()
                },
                "api_key",
            ),
            (
                DeploymentForm {
                    extra_params: "[1]".into(),
                    ..form()
                },
                "JSON object",
            ),
            (
                DeploymentForm {
                    model_name: "  ".into(),
                    ..form()
                },
                "name",
            ),
        ];
        for (bad, named) in cases {
            let error = spec_of(&bad, "", None).unwrap_err();
            assert!(error.contains(named), "{named}: {error}");
        }
    }

    #[test]
    fn the_form_shows_a_stored_deployment_without_its_credentials() {
        let row = StoredDeployment {
            id: Uuid::new_v4(),
            model_name: "fast".into(),
            litellm_params: json!({"model": "openai/x", "api_base": "http://b", "timeout": 5}),
            model_info: json!({"input_cost_per_token": 2.5e-6}),
            sealed_secrets: Some(vec![1, 2, 3]),
            created_by: "t".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        };
        let form = form_of(&row);
        assert_eq!(form.model, "openai/x");
        assert_eq!(form.input_cost, "2.5");
        assert_eq!(form.output_cost, "");
        assert!(form.has_credentials);
        assert_eq!(
            serde_json::from_str::<Value>(&form.extra_params).unwrap(),
            json!({"timeout": 5})
        );
    }
}
