//! Gatehouse's API tests, one test binary: each module drives the whole app in-process on
//! port 0 against a fresh PostgreSQL database and the loopback mock upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod attacks;
mod attribution;
mod audit;
mod budgets;
mod callbacks;
mod chat;
mod console_rbac;
mod deployments;
mod end_users;
mod endpoints;
mod health;
mod keys;
mod limits;
mod litellm_fields;
mod messages;
mod mutations;
mod observability;
mod organizations;
mod providers;
mod rbac;
mod reports_api;
mod routing;
mod spend_report;
mod spend_rollups;
mod token_count;
