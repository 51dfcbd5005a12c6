//! The HTML shell and the console's routes.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Redirect, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::pages::{
    audit::AuditPage,
    budgets::BudgetsPage,
    end_users::EndUsersPage,
    keys::KeysPage,
    login::LoginPage,
    logs::{LogDetailPage, LogsPage},
    models::ModelsPage,
    named_budgets::NamedBudgetsPage,
    organizations::OrganizationsPage,
    overview::OverviewPage,
    projects::ProjectsPage,
    reconcile::ReconcilePage,
    routes::RoutesPage,
    setup::SetupPage,
    spend::SpendPage,
    tags::TagsPage,
    teams::TeamsPage,
    users::UsersPage,
};

/// The document around the app, rendered on the server for every console page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <AutoReload options=options.clone()/>
                // ECharts for the charming charts; deferred, so it runs before hydration starts.
                <script defer src="/vendor/echarts.min.js"></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Console routes. Every page renders its data inline (`SsrMode::Async`) so it reads without
/// JavaScript.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Title text="Gatehouse"/>
        <Router>
            <Routes fallback=|| view! { <main class="page"><p>"Page not found."</p></main> }>
                <Route path=path!("/") view=|| view! { <Redirect path="/keys"/> } ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async/>
                <Route path=path!("/keys") view=KeysPage ssr=SsrMode::Async/>
                <Route path=path!("/deployments") view=ModelsPage ssr=SsrMode::Async/>
                <Route path=path!("/routes") view=RoutesPage ssr=SsrMode::Async/>
                <Route path=path!("/teams") view=TeamsPage ssr=SsrMode::Async/>
                <Route path=path!("/organizations") view=OrganizationsPage ssr=SsrMode::Async/>
                <Route path=path!("/projects") view=ProjectsPage ssr=SsrMode::Async/>
                <Route path=path!("/end-users") view=EndUsersPage ssr=SsrMode::Async/>
                <Route path=path!("/tags") view=TagsPage ssr=SsrMode::Async/>
                <Route path=path!("/named-budgets") view=NamedBudgetsPage ssr=SsrMode::Async/>
                <Route path=path!("/users") view=UsersPage ssr=SsrMode::Async/>
                <Route path=path!("/budgets") view=BudgetsPage ssr=SsrMode::Async/>
                <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async/>
                <Route path=path!("/overview") view=OverviewPage ssr=SsrMode::Async/>
                <Route path=path!("/spend") view=SpendPage ssr=SsrMode::Async/>
                <Route path=path!("/logs") view=LogsPage ssr=SsrMode::Async/>
                <Route path=path!("/reconcile") view=ReconcilePage ssr=SsrMode::Async/>
                <Route path=path!("/logs/:request_id") view=LogDetailPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
