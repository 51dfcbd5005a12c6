//! Console pages, one file each, plus the frame they share.

pub mod audit;
pub mod budgets;
pub mod charts;
pub mod frame;
pub mod keys;
pub mod login;
pub mod logs;
pub mod models;
pub mod organizations;
pub mod overview;
pub mod reconcile;
pub mod routes;
pub mod setup;
pub mod spend;
pub mod spend_chart;
pub mod teams;
pub mod users;
