//! OpenTelemetry traces (`litellm_settings.callbacks: ["otel"]`), configured the standard way:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`), `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (`http/protobuf` or `grpc`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` (and `…_ARG`) and the
//! batch processor's `OTEL_BSP_*`; LiteLLM's `OTEL_EXPORTER`, `OTEL_ENDPOINT` and
//! `OTEL_HEADERS` are read too.

use std::time::Duration;

use super::{ConfigError, Resolver};
use crate::core::secret::Secret;

/// How spans reach the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `POST …/v1/traces` with a protobuf body.
    HttpProtobuf,
    /// The collector's `TraceService/Export` over HTTP/2.
    Grpc,
}

/// Which requests are traced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// The share of new traces kept (0 to 1).
    pub ratio: f64,
    /// A client's `traceparent` decides for its request (`parentbased_*`).
    pub parent_based: bool,
}

#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// Where spans are sent: the full URL.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
    /// Sent with each export (`key=value,…`); values are kept as secrets.
    pub headers: Vec<(String, Secret)>,
    pub timeout: Duration,
    pub service_name: String,
    pub resource_attributes: Vec<(String, String)>,
    pub sampler: Sampler,
    /// Spans waiting to be sent; past it new ones are dropped (and counted).
    pub max_queue: usize,
    /// Spans per export.
    pub max_batch: usize,
    /// The longest a span waits for its batch.
    pub delay: Duration,
}

const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
const GRPC_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

pub(in crate::config) fn settings(resolver: &Resolver<'_>) -> Result<TraceSettings, ConfigError> {
    let var = |name: &str| {
        resolver
            .variable(name)
            .filter(|value| !value.trim().is_empty())
    };
    let invalid = |name: &str, message: &str| resolver.invalid(name.to_string(), message);
    let protocol = match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .or_else(|| {
            var("OTEL_EXPORTER").map(|exporter| match exporter.as_str() {
                "otlp_grpc" | "grpc" => "grpc".to_string(),
                _ => "http/protobuf".to_string(),
            })
        })
        .as_deref()
    {
        None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
        Some("grpc") => OtlpProtocol::Grpc,
        Some(other) => {
            return Err(invalid(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                &format!("`{other}` is not `http/protobuf` or `grpc` (http/json is not spoken)"),
            ))
        }
    };
    let endpoint = match var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        // The signal's own endpoint is used as it is, except that gRPC names its method.
        Some(endpoint) => match protocol {
            OtlpProtocol::HttpProtobuf => endpoint,
            OtlpProtocol::Grpc => grpc_url(&endpoint),
        },
        None => {
            let base = var("OTEL_EXPORTER_OTLP_ENDPOINT")
                .or_else(|| var("OTEL_ENDPOINT"))
                .unwrap_or_else(|| match protocol {
                    OtlpProtocol::HttpProtobuf => DEFAULT_HTTP_ENDPOINT.to_string(),
                    OtlpProtocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
                });
            match protocol {
                OtlpProtocol::HttpProtobuf => {
                    format!("{}/v1/traces", base.trim_end_matches('/'))
                }
                OtlpProtocol::Grpc => grpc_url(&base),
            }
        }
    };
    match reqwest::Url::parse(&endpoint) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {}
        _ => {
            return Err(invalid(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &format!("`{endpoint}` is not an http(s) URL"),
            ))
        }
    }
    let headers = var("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .or_else(|| var("OTEL_EXPORTER_OTLP_HEADERS"))
        .or_else(|| var("OTEL_HEADERS"))
        .map(|list| pairs(&list))
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name, Secret::new(value)))
        .collect();
    let millis = |name: &str, default: u64| -> Result<Duration, ConfigError> {
        match var(name) {
            None => Ok(Duration::from_millis(default)),
            Some(text) => text
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|millis| *millis > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| invalid(name, "must be a positive number of milliseconds")),
        }
    };
    let count = |name: &str, default: usize| -> Result<usize, ConfigError> {
        match var(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|count| (1..=1_000_000).contains(count))
                .ok_or_else(|| invalid(name, "must be a whole number from 1 to 1000000")),
        }
    };
    let timeout = match var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") {
        Some(_) => millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", 10_000)?,
        None => millis("OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?,
    };
    let max_queue = count("OTEL_BSP_MAX_QUEUE_SIZE", 2_048)?;
    let max_batch = count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)?.min(max_queue);
    Ok(TraceSettings {
        endpoint,
        protocol,
        headers,
        timeout,
        service_name: var("OTEL_SERVICE_NAME").unwrap_or_else(|| "gatehouse".to_string()),
        resource_attributes: var("OTEL_RESOURCE_ATTRIBUTES")
            .map(|list| pairs(&list))
            .unwrap_or_default(),
        sampler: sampler(
            var("OTEL_TRACES_SAMPLER").as_deref(),
            var("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )
        .map_err(|message| invalid("OTEL_TRACES_SAMPLER", &message))?,
        max_queue,
        max_batch,
        delay: millis("OTEL_BSP_SCHEDULE_DELAY", 5_000)?,
    })
}

/// The gRPC method's URL on a collector's address.
fn grpc_url(base: &str) -> String {
    format!("{}{GRPC_EXPORT_PATH}", base.trim_end_matches('/'))
}

/// `key=value,key2=value2` (values percent-decoded, as the specification asks).
pub(in crate::config) fn pairs(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| {
            let value = percent_decode(value.trim());
            (key.trim().to_string(), value)
        })
        .filter(|(key, _)| !key.is_empty())
        .collect()
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("v={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn sampler(name: Option<&str>, argument: Option<&str>) -> Result<Sampler, String> {
    let ratio = || -> Result<f64, String> {
        match argument {
            None => Ok(1.0),
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|ratio| (0.0..=1.0).contains(ratio))
                .ok_or_else(|| "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1".to_string()),
        }
    };
    Ok(match name.unwrap_or("parentbased_always_on") {
        "always_on" => Sampler {
            ratio: 1.0,
            parent_based: false,
        },
        "always_off" => Sampler {
            ratio: 0.0,
            parent_based: false,
        },
        "traceidratio" => Sampler {
            ratio: ratio()?,
            parent_based: false,
        },
        "parentbased_always_on" => Sampler {
            ratio: 1.0,
            parent_based: true,
        },
        "parentbased_always_off" => Sampler {
            ratio: 0.0,
            parent_based: true,
        },
        "parentbased_traceidratio" => Sampler {
            ratio: ratio()?,
            parent_based: true,
        },
        other => return Err(format!("`{other}` is not a sampler Gatehouse knows")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn read(vars: &[(&str, &str)]) -> Result<TraceSettings, ConfigError> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let overrides = BTreeMap::new();
        let env = move |name: &str| vars.get(name).cloned();
        let resolver = Resolver {
            path: "t.yaml",
            overrides: &overrides,
            env: &env,
            origin: super::super::Origin::Config,
        };
        settings(&resolver)
    }

    #[test]
    fn reads_the_standard_variables() {
        let defaults = read(&[]).unwrap();
        assert_eq!(defaults.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(defaults.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(
            defaults.sampler,
            Sampler {
                ratio: 1.0,
                parent_based: true
            }
        );
        assert_eq!((defaults.max_queue, defaults.max_batch), (2_048, 512));
        let grpc = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,x-tenant=t1"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_SERVICE_NAME", "edge"),
        ])
        .unwrap();
        assert_eq!(
            grpc.endpoint,
            "http://collector:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        assert_eq!(grpc.headers[0].0, "api-key");
        assert_eq!(grpc.headers[0].1.expose(), "a b");
        assert_eq!(
            grpc.sampler,
            Sampler {
                ratio: 0.25,
                parent_based: true
            }
        );
        assert_eq!(grpc.service_name, "edge");
        let own = read(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://x.test/custom",
        )])
        .unwrap();
        assert_eq!(own.endpoint, "https://x.test/custom");
        let litellm = read(&[
            ("OTEL_EXPORTER", "otlp_grpc"),
            ("OTEL_ENDPOINT", "http://c:4317"),
        ])
        .unwrap();
        assert_eq!(litellm.protocol, OtlpProtocol::Grpc);
    }

    #[test]
    fn refuses_what_it_cannot_honour() {
        for vars in [
            [("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            [("OTEL_EXPORTER_OTLP_ENDPOINT", "file:///etc/passwd")],
            [("OTEL_TRACES_SAMPLER", "jaeger_remote")],
            [("OTEL_BSP_MAX_QUEUE_SIZE", "0")],
        ] {
            assert!(read(&vars).is_err(), "{vars:?}");
        }
        assert!(read(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2")
        ])
        .is_err());
    }
}
