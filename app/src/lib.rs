//! Gatehouse application crate: domain types, persistence and the Leptos admin console.
//!
//! Built twice: with `ssr` for the server (pages, server functions, database access) and with
//! `hydrate` for the browser (the same pages, hydrated). Nothing here knows the data plane exists.

// The console's views are deeply nested types; the browser build lays them out past the default
// query depth.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
pub mod model;
pub mod pages;
pub mod route_policy;
pub mod shell;

#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod ops;
#[cfg(feature = "ssr")]
pub mod password_guard;
#[cfg(feature = "ssr")]
pub mod sealing;
#[cfg(feature = "ssr")]
pub mod secrets;
#[cfg(feature = "ssr")]
pub mod state;

/// Browser entry point: hydrates the server-rendered console and marks `<body>` as hydrated
/// so browser tests can wait for interactivity.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(shell::App);
    if let Some(body) = leptos::prelude::document().body() {
        // A failure only affects the test marker, never the page itself.
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
