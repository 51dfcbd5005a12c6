//! Console pages, one file each, plus the frame they share.

pub mod audit;
pub mod budget_form;
pub mod budgets;
pub mod charts;
pub mod end_users;
pub mod frame;
pub mod keys;
pub mod login;
pub mod logs;
pub mod models;
pub mod named_budgets;
pub mod organizations;
pub mod overview;
pub mod projects;
pub mod reconcile;
pub mod routes;
pub mod setup;
pub mod spend;
pub mod spend_chart;
pub mod tags;
pub mod teams;
pub mod users;
