//! The `gatehouse` process: LiteLLM-compatible configuration, the `/v1/*` data plane, the
//! management API, background jobs, and the console mounted beside them on one port.

pub mod admin_api;
pub mod config;
pub mod console;
pub mod console_http;
pub mod console_models;
pub mod console_routes;
pub mod core;
pub mod endpoints;
pub mod engine;
pub mod metering;
pub mod observe;
pub mod policy;
pub mod providers;
pub mod routing;
pub mod startup;
pub mod state;
pub mod sync;
