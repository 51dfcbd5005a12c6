//! LiteLLM's budget fields of a managed entity (`max_budget`, `soft_budget` in dollars,
//! `budget_duration`), read into the limits the ledger keeps, for a new entity, for an update
//! that gives some of them, or through a named budget (`budget_id`).

use serde::Deserialize;

use crate::db::budget_state::BudgetState;
use crate::db::budgets::BudgetLimits;
use crate::model::invalid::{Invalid, Problem};
use crate::model::views::BudgetSummary;
use crate::model::{dollars_to_micros, micros_to_dollars, parse_duration_seconds};
use crate::ops::rfc3339;

/// The budget fields of a request; each optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BudgetFields {
    pub max_budget: Option<f64>,
    pub soft_budget: Option<f64>,
    pub budget_duration: Option<String>,
}

impl BudgetFields {
    pub fn is_empty(&self) -> bool {
        self.max_budget.is_none() && self.soft_budget.is_none() && self.budget_duration.is_none()
    }

    /// The limits they set (absent fields: no limit).
    pub fn limits(&self) -> Result<BudgetLimits, Invalid> {
        let dollars = |value: Option<f64>, field: &'static str| {
            value
                .map(dollars_to_micros)
                .transpose()
                .map_err(|message| Invalid::field(field, Problem::Value(message.to_string())))
        };
        let duration = self
            .budget_duration
            .as_deref()
            .map(|text| {
                parse_duration_seconds(text)
                    .map(|seconds| (text.trim().to_string(), seconds))
                    .map_err(|message| {
                        Invalid::field("budget_duration", Problem::Value(message.to_string()))
                    })
            })
            .transpose()?;
        Ok(BudgetLimits {
            max_micros: dollars(self.max_budget, "max_budget")?,
            soft_micros: dollars(self.soft_budget, "soft_budget")?,
            duration,
        })
    }

    /// The limits an update sets when it gives any budget field (those not given keep their
    /// `current` value); `None` when the budget does not change.
    pub fn update_of(&self, current: &BudgetState) -> Result<Option<BudgetLimits>, Invalid> {
        if self.is_empty() {
            return Ok(None);
        }
        BudgetFields {
            max_budget: self
                .max_budget
                .or(current.max_budget_micros.map(micros_to_dollars)),
            soft_budget: self
                .soft_budget
                .or(current.soft_budget_micros.map(micros_to_dollars)),
            budget_duration: self
                .budget_duration
                .clone()
                .or_else(|| current.budget_duration.clone()),
        }
        .limits()
        .map(Some)
    }

    /// How a request sets the budget of an entity that may take a named budget's limits: by
    /// `budget_id` (`Some(Some(id))`), by its own fields (`Some(None)`), or not at all
    /// (`None`). Both at once are refused, as LiteLLM does.
    pub fn link(&self, budget_id: Option<String>) -> Result<Option<Option<String>>, Invalid> {
        match (budget_id, !self.is_empty()) {
            (Some(_), true) => Err(Invalid::field(
                "budget_id",
                Problem::Exclusive("`max_budget`/`soft_budget`/`budget_duration`"),
            )),
            (Some(budget_id), false) => Ok(Some(Some(budget_id))),
            (None, true) => Ok(Some(None)),
            (None, false) => Ok(None),
        }
    }
}

/// How an entity's budget is shown: dollars and RFC 3339 times.
pub fn budget_view(budget: &BudgetState) -> BudgetSummary {
    BudgetSummary {
        spend: micros_to_dollars(budget.spend_micros),
        spend_micros: budget.spend_micros,
        max_budget: budget.max_budget_micros.map(micros_to_dollars),
        soft_budget: budget.soft_budget_micros.map(micros_to_dollars),
        budget_duration: budget.budget_duration.clone(),
        budget_reset_at: budget.budget_reset_at.map(rfc3339),
    }
}
