//! Leaf types every layer shares. Nothing here imports from the layers above (config,
//! providers, routing, policy, metering, state, proxy, admin_api): `scripts/check-layers.py`
//! fails the build on such an import.

pub mod access_groups;
pub mod body;
pub mod capabilities;
pub mod clock;
pub mod deployment_stats;
pub mod error;
pub mod failure;
pub mod faults;
pub mod health;
pub mod limits;
pub mod logging_off;
pub mod notify;
pub mod origin;
pub mod prices;
pub mod provider_error;
pub mod redis_link;
pub mod secret;
pub mod tokens;
pub mod trace_context;
pub mod usage;
pub mod wildcard;
