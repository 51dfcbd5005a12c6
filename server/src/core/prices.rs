//! Prices as integer micro-dollars per million units (tokens, images, audio seconds, characters,
//! requests), and exact cost arithmetic: cached input and cache writes at their own prices,
//! reasoning at the output price, one rounding per request.

use crate::core::usage::Usage;

const UNITS_PER_MILLION: i128 = 1_000_000;
const MILLIS_PER_SECOND: i128 = 1_000;

/// Prices of one model, in micro-dollars per million tokens (so $2.50/M is 2_500_000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prices {
    pub input_micros_per_mtok: i64,
    pub output_micros_per_mtok: i64,
    /// Input read from the prompt cache; the input price when the provider has none.
    pub cached_input_micros_per_mtok: Option<i64>,
    /// Input written to the prompt cache; the input price when the provider has none.
    pub cache_write_micros_per_mtok: Option<i64>,
    /// Per generated image (`$0.04` an image is 40_000_000_000 per million).
    pub image_micros_per_m: i64,
    /// Per second of transcribed audio.
    pub audio_second_micros_per_m: i64,
    /// Per character turned into speech.
    pub character_micros_per_m: i64,
    /// Per request (rerank search unit).
    pub request_micros_per_m: i64,
}

impl Prices {
    /// Cost of a request in micro-dollars, rounded half up once per request. Cached and
    /// cache-write tokens are part of the prompt count; reasoning tokens are part of the
    /// completion count and cost the output price. Non-token units add their own prices.
    pub fn cost_micros(&self, usage: &Usage) -> i64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let written = usage.cache_write_tokens.min(usage.prompt_tokens - cached);
        let fresh = usage.prompt_tokens - cached - written;
        let input = i128::from(self.input_micros_per_mtok);
        let units = &usage.units;
        let per_million = i128::from(fresh) * input
            + i128::from(cached) * self.cached_input_micros_per_mtok.map_or(input, i128::from)
            + i128::from(written) * self.cache_write_micros_per_mtok.map_or(input, i128::from)
            + i128::from(usage.completion_tokens) * i128::from(self.output_micros_per_mtok)
            + i128::from(units.images) * i128::from(self.image_micros_per_m)
            + i128::from(units.characters) * i128::from(self.character_micros_per_m)
            + i128::from(units.requests) * i128::from(self.request_micros_per_m);
        // Audio is counted in milliseconds and priced per second.
        let per_billion = per_million * MILLIS_PER_SECOND
            + i128::from(units.audio_millis) * i128::from(self.audio_second_micros_per_m);
        let divisor = UNITS_PER_MILLION * MILLIS_PER_SECOND;
        let micros = (per_billion + divisor / 2) / divisor;
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

/// The cost of `tokens` at a price per million tokens, rounded up: for bounds, never below the
/// billed cost (which rounds half up).
pub fn tokens_cost_ceiling(tokens: u64, micros_per_mtok: i64) -> i64 {
    let micros = (u128::from(tokens) * u128::from(micros_per_mtok.max(0).unsigned_abs()))
        .div_ceil(1_000_000);
    i64::try_from(micros).unwrap_or(i64::MAX)
}

/// Dollars per million tokens (the catalog's unit) as micro-dollars per million tokens.
pub fn dollars_per_mtok_to_micros(dollars_per_mtok: f64) -> Result<i64, String> {
    if !dollars_per_mtok.is_finite() || !(0.0..=1e9).contains(&dollars_per_mtok) {
        return Err(format!(
            "price {dollars_per_mtok} $/M tokens is not a sensible price"
        ));
    }
    Ok((dollars_per_mtok * 1e6).round() as i64)
}

/// LiteLLM's `*_cost_per_token` (or per image, second, character, query) dollars as
/// micro-dollars per million units.
pub fn dollars_per_token_to_micros(dollars_per_token: f64) -> Result<i64, String> {
    dollars_per_mtok_to_micros(dollars_per_token * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt_4o() -> Prices {
        Prices {
            input_micros_per_mtok: 2_500_000,
            output_micros_per_mtok: 10_000_000,
            cached_input_micros_per_mtok: Some(1_250_000),
            ..Prices::default()
        }
    }

    #[test]
    fn converts_dollars_exactly() {
        assert_eq!(dollars_per_token_to_micros(0.0000025), Ok(2_500_000));
        assert_eq!(dollars_per_token_to_micros(1.5e-7), Ok(150_000));
        assert_eq!(dollars_per_mtok_to_micros(0.075), Ok(75_000));
        assert!(dollars_per_token_to_micros(-1.0).is_err());
        assert!(dollars_per_mtok_to_micros(f64::INFINITY).is_err());
    }

    #[test]
    fn cost_is_integer_and_rounded_half_up() {
        // 1,000 in × $2.50/M + 500 out × $10/M = $0.0025 + $0.005 = 7,500 µ$
        assert_eq!(gpt_4o().cost_micros(&Usage::new(1_000, 500)), 7_500);
        let mini = Prices {
            input_micros_per_mtok: 150_000,
            ..Prices::default()
        };
        // 10 × 0.15 = 1.5 µ$ → 2;  3 × 0.15 = 0.45 µ$ → 0
        assert_eq!(mini.cost_micros(&Usage::new(10, 0)), 2);
        assert_eq!(mini.cost_micros(&Usage::new(3, 0)), 0);
        assert_eq!(
            Prices::default().cost_micros(&Usage::new(1_000_000, 1_000_000)),
            0
        );
    }

    #[test]
    fn cached_and_cache_write_tokens_have_their_own_prices() {
        let sonnet = Prices {
            input_micros_per_mtok: 3_000_000,
            output_micros_per_mtok: 15_000_000,
            cached_input_micros_per_mtok: Some(300_000),
            cache_write_micros_per_mtok: Some(3_750_000),
            ..Prices::default()
        };
        let usage = Usage {
            prompt_tokens: 10_000,
            completion_tokens: 1_000,
            cached_tokens: 6_000,
            cache_write_tokens: 2_000,
            reasoning_tokens: 400,
            ..Usage::default()
        };
        // fresh 2,000 × 3 = 6,000,000; cached 6,000 × 0.3 = 1,800,000;
        // written 2,000 × 3.75 = 7,500,000; out 1,000 × 15 = 15,000,000 → 30,300,000 / 1e6
        assert_eq!(sonnet.cost_micros(&usage), 30_300);
        // Without a cache price, cached input costs the input price.
        assert_eq!(
            Prices {
                cached_input_micros_per_mtok: None,
                cache_write_micros_per_mtok: None,
                ..sonnet
            }
            .cost_micros(&usage),
            45_000
        );
        // Inconsistent counts never underflow: at most the whole prompt is cached.
        let odd = Usage {
            prompt_tokens: 10,
            cached_tokens: 50,
            cache_write_tokens: 50,
            ..Usage::default()
        };
        assert_eq!(sonnet.cost_micros(&odd), 3);
    }

    #[test]
    fn images_audio_characters_and_requests_have_unit_prices() {
        use crate::core::usage::Units;
        let units = |units: Units| Usage {
            units,
            ..Usage::default()
        };
        // dall-e-3 at $0.04 an image: 2 images = 80,000 µ$.
        let dall_e = Prices {
            image_micros_per_m: dollars_per_token_to_micros(0.04).unwrap(),
            ..Prices::default()
        };
        let two_images = units(Units {
            images: 2,
            ..Units::default()
        });
        assert_eq!(dall_e.cost_micros(&two_images), 80_000);
        // whisper-1 at $0.0001 a second: 12.345 s = 1,234.5 µ$ → 1,235 (one rounding).
        let whisper = Prices {
            audio_second_micros_per_m: dollars_per_token_to_micros(0.0001).unwrap(),
            ..Prices::default()
        };
        let audio = units(Units {
            audio_millis: 12_345,
            ..Units::default()
        });
        assert_eq!(whisper.cost_micros(&audio), 1_235);
        // tts-1 at $15 per million characters: 1,000 characters = 15,000 µ$.
        let tts = Prices {
            character_micros_per_m: dollars_per_mtok_to_micros(15.0).unwrap(),
            ..Prices::default()
        };
        let speech = units(Units {
            characters: 1_000,
            ..Units::default()
        });
        assert_eq!(tts.cost_micros(&speech), 15_000);
        // rerank at $2 per 1,000 searches: 3 searches = 6,000 µ$.
        let rerank = Prices {
            request_micros_per_m: dollars_per_token_to_micros(0.002).unwrap(),
            ..Prices::default()
        };
        let searches = units(Units {
            requests: 3,
            ..Units::default()
        });
        assert_eq!(rerank.cost_micros(&searches), 6_000);
    }
}
