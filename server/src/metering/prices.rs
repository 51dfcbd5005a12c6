//! Token prices as integer micro-dollars per million tokens, and exact cost arithmetic.
//! The built-in table is `prices.json`, embedded in the binary.

use std::collections::HashMap;
use std::sync::LazyLock;

const TOKENS_PER_MILLION: i128 = 1_000_000;

/// Prices of one model, in micro-dollars per million tokens (so $2.50/M is 2_500_000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prices {
    pub input_micros_per_mtok: i64,
    pub output_micros_per_mtok: i64,
}

impl Prices {
    /// From LiteLLM's `*_cost_per_token` dollar values.
    pub fn from_dollars_per_token(input: f64, output: f64) -> Result<Prices, String> {
        Ok(Prices {
            input_micros_per_mtok: dollars_to_micros_per_mtok(input * 1e6)?,
            output_micros_per_mtok: dollars_to_micros_per_mtok(output * 1e6)?,
        })
    }

    /// Cost of a request in micro-dollars, rounded half up once per request.
    pub fn cost_micros(&self, prompt_tokens: u64, completion_tokens: u64) -> i64 {
        let total = i128::from(prompt_tokens) * i128::from(self.input_micros_per_mtok)
            + i128::from(completion_tokens) * i128::from(self.output_micros_per_mtok);
        let micros = (total + TOKENS_PER_MILLION / 2) / TOKENS_PER_MILLION;
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

fn dollars_to_micros_per_mtok(dollars_per_mtok: f64) -> Result<i64, String> {
    if !dollars_per_mtok.is_finite() || !(0.0..=1e9).contains(&dollars_per_mtok) {
        return Err(format!(
            "price {dollars_per_mtok} $/M tokens is not a sensible price"
        ));
    }
    Ok((dollars_per_mtok * 1e6).round() as i64)
}

static BUILTIN: LazyLock<HashMap<String, Prices>> = LazyLock::new(|| {
    let table: HashMap<String, serde_json::Value> =
        serde_json::from_str(include_str!("prices.json")).unwrap_or_default();
    table
        .into_iter()
        .filter_map(|(model, value)| {
            let pair: (f64, f64) = serde_json::from_value(value).ok()?;
            let prices = Prices {
                input_micros_per_mtok: dollars_to_micros_per_mtok(pair.0).ok()?,
                output_micros_per_mtok: dollars_to_micros_per_mtok(pair.1).ok()?,
            };
            Some((model, prices))
        })
        .collect()
});

/// The built-in price of a model id, if the table knows it.
pub fn builtin(model_id: &str) -> Option<Prices> {
    BUILTIN.get(model_id).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_entry_parses() {
        let raw: HashMap<String, serde_json::Value> =
            serde_json::from_str(include_str!("prices.json")).unwrap();
        let models = raw.keys().filter(|key| !key.starts_with('_')).count();
        assert_eq!(BUILTIN.len(), models);
        assert!(models >= 20);
    }

    #[test]
    fn prices_convert_exactly() {
        let gpt_4o = builtin("gpt-4o").unwrap();
        assert_eq!(gpt_4o.input_micros_per_mtok, 2_500_000);
        assert_eq!(gpt_4o.output_micros_per_mtok, 10_000_000);
        let per_token = Prices::from_dollars_per_token(0.0000025, 0.00001).unwrap();
        assert_eq!(per_token, gpt_4o);
    }

    #[test]
    fn cost_is_integer_and_rounded_half_up() {
        let gpt_4o = builtin("gpt-4o").unwrap();
        // 1,000 in × $2.50/M + 500 out × $10/M = $0.0025 + $0.005 = 7,500 µ$
        assert_eq!(gpt_4o.cost_micros(1_000, 500), 7_500);
        let mini = builtin("gpt-4o-mini").unwrap();
        // 10 × 0.15 = 1.5 µ$ → 2
        assert_eq!(mini.cost_micros(10, 0), 2);
        // 3 × 0.15 = 0.45 µ$ → 0
        assert_eq!(mini.cost_micros(3, 0), 0);
        assert_eq!(Prices::default().cost_micros(1_000_000, 1_000_000), 0);
    }

    #[test]
    fn refuses_nonsense_prices() {
        assert!(Prices::from_dollars_per_token(-1.0, 0.0).is_err());
        assert!(Prices::from_dollars_per_token(f64::INFINITY, 0.0).is_err());
    }
}
