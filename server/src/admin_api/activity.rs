//! LiteLLM's daily activity shape (`/user/daily/activity`, `/team/daily/activity`): per day,
//! metrics with breakdowns by model, provider, key and entity, each bucket with its keys'
//! metrics. Written straight from the rollup lines, borrowing their strings, so a week of a
//! few hundred keys (ten megabytes of JSON) costs one pass over the lines and one over the
//! output.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::{to_raw_value, RawValue};
use serde_json::{json, Value};
use time::Date;

use app::db::reports::{BreakdownRow, KeyMetadata};
use app::model::micros_to_dollars;
use app::model::reports::Dimension;

/// Bytes of JSON one key entry takes at most, give or take: sizes the output buffer up front.
const KEY_ENTRY_BYTES: usize = 320;
/// The output buffer is sized up front to at most this.
const MAX_PRESIZED_BYTES: usize = 64 << 20;

/// Who the keys and entities in the lines are.
pub struct Names<'a> {
    /// `Team` or `User`: names the entities' alias field.
    pub entity: Dimension,
    pub keys: &'a HashMap<String, KeyMetadata>,
    pub entity_names: &'a HashMap<String, String>,
}

/// Which days of the lines a page shows, and where the page stands.
pub struct Page {
    pub shown: BTreeSet<Date>,
    pub page: i64,
    pub total_pages: i64,
    pub has_more: bool,
}

/// The response body: the shown days newest first, and totals over every line.
pub fn render(
    lines: &[BreakdownRow],
    names: &Names<'_>,
    page: &Page,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut totals = Metrics::default();
    let mut per_day: BTreeMap<Date, DayActivity<'_>> = BTreeMap::new();
    let mut shown_lines = 0usize;
    for line in lines {
        totals.add(line);
        if let Some(day) = line.day.filter(|day| page.shown.contains(day)) {
            per_day.entry(day).or_default().add(line);
            shown_lines += 1;
        }
    }
    // Each key's metadata, written once and copied into every entry that names it.
    let mut key_metadata: HashMap<&str, Box<RawValue>> = HashMap::new();
    for activity in per_day.values() {
        for hash in activity.api_keys.keys() {
            if !key_metadata.contains_key(hash) {
                key_metadata.insert(hash, to_raw_value(&key_metadata_of(names.keys, hash))?);
            }
        }
    }
    let context = Context {
        alias_field: match names.entity {
            Dimension::Team => "team_alias",
            _ => "user_alias",
        },
        key_metadata: &key_metadata,
        entity_names: names.entity_names,
    };
    let mut results = Vec::with_capacity(per_day.len());
    for (day, activity) in per_day.iter().rev() {
        results.push(DayOut {
            date: day.to_string(),
            metrics: &activity.metrics,
            // Written once, sent as both `models` and `model_groups` (Gatehouse meters groups).
            models: to_raw_value(&Buckets {
                buckets: &activity.models,
                context: &context,
                entities: false,
            })?,
            activity,
            context: &context,
        });
    }
    let body = ActivityOut {
        results,
        metadata: MetadataOut {
            totals: &totals,
            page: page.page,
            total_pages: page.total_pages,
            has_more: page.has_more,
        },
    };
    let estimate = shown_lines
        .saturating_mul(5 * KEY_ENTRY_BYTES)
        .min(MAX_PRESIZED_BYTES);
    let mut out = Vec::with_capacity(estimate.max(1024));
    serde_json::to_writer(&mut out, &body)?;
    Ok(out)
}

fn key_metadata_of<'a>(keys: &'a HashMap<String, KeyMetadata>, hash: &str) -> KeyMetadataOut<'a> {
    let key = keys.get(hash);
    KeyMetadataOut {
        key_alias: key.and_then(|key| key.key_alias.as_deref()),
        team_id: key.and_then(|key| key.team_id.as_deref()),
        user_id: key.and_then(|key| key.user_id.as_deref()),
        key_exists: key.is_some(),
    }
}

/// LiteLLM's `SpendMetrics`, summed from rollup lines (serialized in LiteLLM's field names).
#[derive(Default)]
struct Metrics {
    spend_micros: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cache_read: i64,
    cache_creation: i64,
    requests: i64,
    failed: i64,
}

impl Metrics {
    fn add(&mut self, line: &BreakdownRow) {
        self.spend_micros += line.cost_micros;
        self.prompt_tokens += line.prompt_tokens;
        self.completion_tokens += line.completion_tokens;
        self.cache_read += line.cached_tokens;
        self.cache_creation += line.cache_write_tokens;
        self.requests += line.requests;
        self.failed += line.failed_requests;
    }
}

impl Metrics {
    /// Each figure by its name, in LiteLLM's order.
    fn figures(&self) -> [(&'static str, Value); 10] {
        [
            ("spend", json!(micros_to_dollars(self.spend_micros))),
            ("spend_micros", json!(self.spend_micros)),
            ("prompt_tokens", json!(self.prompt_tokens)),
            ("completion_tokens", json!(self.completion_tokens)),
            (
                "total_tokens",
                json!(self.prompt_tokens + self.completion_tokens),
            ),
            ("cache_read_input_tokens", json!(self.cache_read)),
            ("cache_creation_input_tokens", json!(self.cache_creation)),
            ("successful_requests", json!(self.requests - self.failed)),
            ("failed_requests", json!(self.failed)),
            ("api_requests", json!(self.requests)),
        ]
    }
}

impl Serialize for Metrics {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(10))?;
        for (name, value) in self.figures() {
            out.serialize_entry(name, &value)?;
        }
        out.end()
    }
}

/// One breakdown bucket: its metrics and its keys' metrics.
#[derive(Default)]
struct Bucket<'a> {
    metrics: Metrics,
    keys: BTreeMap<&'a str, Metrics>,
}

impl<'a> Bucket<'a> {
    fn add(&mut self, line: &'a BreakdownRow) {
        self.metrics.add(line);
        self.keys.entry(&line.token_hash).or_default().add(line);
    }
}

/// One day of activity.
#[derive(Default)]
struct DayActivity<'a> {
    metrics: Metrics,
    models: BTreeMap<&'a str, Bucket<'a>>,
    providers: BTreeMap<&'a str, Bucket<'a>>,
    api_keys: BTreeMap<&'a str, Metrics>,
    entities: BTreeMap<&'a str, Bucket<'a>>,
}

impl<'a> DayActivity<'a> {
    fn add(&mut self, line: &'a BreakdownRow) {
        self.metrics.add(line);
        self.models.entry(&line.model_group).or_default().add(line);
        self.providers.entry(&line.provider).or_default().add(line);
        self.api_keys.entry(&line.token_hash).or_default().add(line);
        self.entities.entry(&line.group_key).or_default().add(line);
    }
}

/// What the JSON needs beside the figures.
struct Context<'a> {
    alias_field: &'static str,
    key_metadata: &'a HashMap<&'a str, Box<RawValue>>,
    entity_names: &'a HashMap<String, String>,
}

#[derive(Serialize)]
struct ActivityOut<'a> {
    results: Vec<DayOut<'a>>,
    metadata: MetadataOut<'a>,
}

/// The totals over every day (not only the page's), and the page.
struct MetadataOut<'a> {
    totals: &'a Metrics,
    page: i64,
    total_pages: i64,
    has_more: bool,
}

impl Serialize for MetadataOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(13))?;
        // LiteLLM names the totals `total_spend`, …, and `total_tokens` as it is.
        for (name, value) in self.totals.figures() {
            match name.strip_prefix("total_") {
                Some(_) => out.serialize_entry(name, &value)?,
                None => out.serialize_entry(&format!("total_{name}"), &value)?,
            }
        }
        out.serialize_entry("page", &self.page)?;
        out.serialize_entry("total_pages", &self.total_pages)?;
        out.serialize_entry("has_more", &self.has_more)?;
        out.end()
    }
}

struct DayOut<'a> {
    date: String,
    metrics: &'a Metrics,
    models: Box<RawValue>,
    activity: &'a DayActivity<'a>,
    context: &'a Context<'a>,
}

impl Serialize for DayOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("DailySpendData", 3)?;
        out.serialize_field("date", &self.date)?;
        out.serialize_field("metrics", self.metrics)?;
        out.serialize_field("breakdown", &BreakdownOut { day: self })?;
        out.end()
    }
}

struct BreakdownOut<'a> {
    day: &'a DayOut<'a>,
}

impl Serialize for BreakdownOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let DayOut {
            models,
            activity,
            context,
            ..
        } = self.day;
        let mut out = serializer.serialize_struct("BreakdownMetrics", 5)?;
        out.serialize_field("models", models)?;
        out.serialize_field("model_groups", models)?;
        out.serialize_field(
            "providers",
            &Buckets {
                buckets: &activity.providers,
                context,
                entities: false,
            },
        )?;
        out.serialize_field(
            "api_keys",
            &KeyEntries {
                keys: &activity.api_keys,
                context,
            },
        )?;
        out.serialize_field(
            "entities",
            &Buckets {
                buckets: &activity.entities,
                context,
                entities: true,
            },
        )?;
        out.end()
    }
}

/// Buckets by name: models and providers with empty metadata, or entities (teams, users),
/// whose empty id is "Unassigned" and whose metadata carries the entity's alias.
struct Buckets<'a> {
    buckets: &'a BTreeMap<&'a str, Bucket<'a>>,
    context: &'a Context<'a>,
    entities: bool,
}

impl Serialize for Buckets<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.buckets.len()))?;
        for (name, bucket) in self.buckets {
            let (name, metadata) = if self.entities {
                let alias = EntityMetadata::Alias {
                    field: self.context.alias_field,
                    alias: self.context.entity_names.get(*name).map(String::as_str),
                };
                (if name.is_empty() { "Unassigned" } else { name }, alias)
            } else {
                (*name, EntityMetadata::None)
            };
            out.serialize_entry(
                name,
                &BucketOut {
                    bucket,
                    metadata,
                    context: self.context,
                },
            )?;
        }
        out.end()
    }
}

enum EntityMetadata<'a> {
    None,
    Alias {
        field: &'static str,
        alias: Option<&'a str>,
    },
}

impl Serialize for EntityMetadata<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EntityMetadata::None => serializer.serialize_map(Some(0))?.end(),
            EntityMetadata::Alias { field, alias } => {
                let mut out = serializer.serialize_map(Some(1))?;
                out.serialize_entry(field, alias)?;
                out.end()
            }
        }
    }
}

struct BucketOut<'a> {
    bucket: &'a Bucket<'a>,
    metadata: EntityMetadata<'a>,
    context: &'a Context<'a>,
}

impl Serialize for BucketOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("MetricWithMetadata", 3)?;
        out.serialize_field("metrics", &self.bucket.metrics)?;
        out.serialize_field("metadata", &self.metadata)?;
        out.serialize_field(
            "api_key_breakdown",
            &KeyEntries {
                keys: &self.bucket.keys,
                context: self.context,
            },
        )?;
        out.end()
    }
}

/// Keys' metrics by token hash, each with the key's metadata.
struct KeyEntries<'a> {
    keys: &'a BTreeMap<&'a str, Metrics>,
    context: &'a Context<'a>,
}

impl Serialize for KeyEntries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.keys.len()))?;
        for (hash, metrics) in self.keys {
            out.serialize_entry(
                hash,
                &KeyEntry {
                    metrics,
                    metadata: self.context.key_metadata.get(hash).map(|raw| &**raw),
                },
            )?;
        }
        out.end()
    }
}

#[derive(Serialize)]
struct KeyEntry<'a> {
    metrics: &'a Metrics,
    metadata: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct KeyMetadataOut<'a> {
    key_alias: Option<&'a str>,
    team_id: Option<&'a str>,
    user_id: Option<&'a str>,
    key_exists: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(day: Date, user: &str, model: &str, key: &str, cost: i64) -> BreakdownRow {
        BreakdownRow {
            day: Some(day),
            group_key: user.into(),
            model_group: model.into(),
            provider: "openai".into(),
            token_hash: key.into(),
            requests: 1,
            failed_requests: 0,
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 0,
            cache_write_tokens: 0,
            cost_micros: cost,
        }
    }

    #[test]
    fn repeated_cuts_merge_and_every_bucket_adds_up() {
        let today = time::macros::date!(2026 - 12 - 04);
        let yesterday = time::macros::date!(2026 - 12 - 03);
        // The first two lines share a cut (one key's rollup rows under two projects).
        let lines = [
            line(today, "u1", "gpt", "k1", 100),
            line(today, "u1", "gpt", "k1", 50),
            line(today, "", "claude", "k2", 7),
            line(yesterday, "u1", "gpt", "k1", 1_000),
        ];
        let keys = HashMap::from([(
            "k1".to_string(),
            KeyMetadata {
                token_hash: "k1".into(),
                key_alias: Some("app".into()),
                team_id: Some("t1".into()),
                user_id: Some("u1".into()),
            },
        )]);
        let entity_names = HashMap::from([("u1".to_string(), "Ada".to_string())]);
        let names = Names {
            entity: Dimension::User,
            keys: &keys,
            entity_names: &entity_names,
        };
        let page = Page {
            shown: BTreeSet::from([today]),
            page: 1,
            total_pages: 2,
            has_more: true,
        };
        let body: serde_json::Value =
            serde_json::from_slice(&render(&lines, &names, &page).unwrap()).unwrap();

        // Totals cover every line; results only the shown day.
        assert_eq!(body["metadata"]["total_spend_micros"], 1_157);
        assert_eq!(body["metadata"]["total_api_requests"], 4);
        assert_eq!(body["metadata"]["has_more"], true);
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["date"], "2026-12-04");
        let breakdown = &results[0]["breakdown"];
        assert_eq!(breakdown["models"], breakdown["model_groups"]);
        let gpt = &breakdown["models"]["gpt"];
        assert_eq!(gpt["metrics"]["spend_micros"], 150);
        assert_eq!(gpt["metrics"]["api_requests"], 2);
        assert_eq!(
            gpt["api_key_breakdown"]["k1"]["metrics"]["spend_micros"],
            150
        );
        assert_eq!(
            gpt["api_key_breakdown"]["k1"]["metadata"]["key_alias"],
            "app"
        );
        assert_eq!(
            breakdown["providers"]["openai"]["metrics"]["spend_micros"],
            157
        );
        assert_eq!(breakdown["api_keys"]["k2"]["metadata"]["key_exists"], false);
        assert_eq!(breakdown["entities"]["u1"]["metadata"]["user_alias"], "Ada");
        assert_eq!(
            breakdown["entities"]["Unassigned"]["metrics"]["spend_micros"],
            7
        );
        assert_eq!(
            breakdown["entities"]["Unassigned"]["metadata"],
            serde_json::json!({ "user_alias": null })
        );
    }
}
