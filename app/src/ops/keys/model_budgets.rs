//! A key's `model_max_budget` in LiteLLM's shape, `{model: {"budget_limit" (or "max_budget"):
//! dollars, "time_period" (or "budget_duration"): "1d"}}`: as stored, and each model's limits.

use serde_json::{json, Value};

use crate::db::budgets::BudgetLimits;
use crate::db::keys::ModelBudgets;
use crate::model::invalid::{Invalid, Problem};
use crate::model::{dollars_to_micros, parse_duration_seconds};

const FIELD: &str = "model_max_budget";

fn invalid(problem: String) -> Invalid {
    Invalid::field(FIELD, Problem::Value(problem))
}

/// The per-model budgets given; `None` when the field is absent.
pub fn model_budgets(value: Option<Value>) -> Result<Option<ModelBudgets>, Invalid> {
    let models = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(models)) => models,
        Some(_) => return Err(invalid("must map model names to budgets.".into())),
    };
    let mut declared = serde_json::Map::new();
    let mut limits = Vec::with_capacity(models.len());
    for (model, budget) in models {
        let Value::Object(budget) = budget else {
            return Err(invalid(format!(
                "`{model}` must be an object with `budget_limit` and optionally `time_period`."
            )));
        };
        let pick = |names: [&str; 2]| names.iter().find_map(|name| budget.get(*name).cloned());
        let dollars = match pick(["budget_limit", "max_budget"]) {
            Some(Value::Number(number)) => number.as_f64(),
            Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(format!("`{model}` needs a number `budget_limit`.")))?;
        let period = match pick(["time_period", "budget_duration"]) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text),
            Some(_) => return Err(invalid(format!("`{model}`: `time_period` must be text."))),
        };
        let in_model = |message: String| invalid(format!("`{model}`: {message}"));
        let model_limits = BudgetLimits {
            max_micros: Some(dollars_to_micros(dollars).map_err(in_model)?),
            soft_micros: None,
            duration: period
                .as_deref()
                .map(|text| {
                    parse_duration_seconds(text).map(|seconds| (text.trim().to_string(), seconds))
                })
                .transpose()
                .map_err(in_model)?,
        };
        declared.insert(
            model.clone(),
            json!({ "budget_limit": dollars, "time_period": period }),
        );
        limits.push((model, model_limits));
    }
    Ok(Some(ModelBudgets {
        declared: Value::Object(declared),
        limits,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_and_gatehouse_names_read_alike() {
        let budgets = model_budgets(Some(json!({
            "gpt-4o": {"budget_limit": 2.5, "time_period": "1d"},
            "claude": {"max_budget": "1", "budget_duration": "30d"},
        })))
        .unwrap()
        .unwrap();
        assert_eq!(budgets.limits.len(), 2);
        let gpt = &budgets
            .limits
            .iter()
            .find(|(model, _)| model == "gpt-4o")
            .unwrap()
            .1;
        assert_eq!(gpt.max_micros, Some(2_500_000));
        assert_eq!(gpt.duration, Some(("1d".to_string(), 86_400)));
        assert_eq!(budgets.declared["claude"]["time_period"], "30d");
    }

    #[test]
    fn a_budget_without_a_number_is_refused_by_model() {
        let refused = model_budgets(Some(json!({"gpt-4o": {"time_period": "1d"}}))).unwrap_err();
        assert!(refused.to_string().contains("`gpt-4o` needs a number"));
        assert!(model_budgets(Some(json!([1]))).is_err());
    }
}
