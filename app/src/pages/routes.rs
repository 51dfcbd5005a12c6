//! The Routes page (`/routes`): model groups with their deployments and health, the router
//! settings, fallback chains and request classes in force; admins change them, each change
//! checked (no circles, targets served, compatible) and applied without a restart.

use leptos::prelude::*;

use crate::api::routes::{
    list_routes, DeleteRequestClass, ResetRoutes, SaveGroupRoutes, SaveRequestClass,
    SaveRouterSettings,
};
use crate::error::ConsoleError;
use crate::model::Role;
use crate::pages::frame::{error_message, SignedIn};
use crate::route_policy::{
    format_chains, format_model_groups, ChainView, ClassPolicy, ClassView, RouteDeploymentView,
    RouteGroupView, RouterSettingsView, RoutesView, Source, STRATEGIES,
};

#[component]
pub fn RoutesPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <RoutesBody csrf=csrf is_admin={role == Role::Admin}/> }.into_any()/> }
}

/// The page's forms, with the session's CSRF token; `None` for roles that only look.
#[derive(Clone)]
struct Editing {
    csrf: String,
    /// The route policy version the page shows; saving from an older one is refused.
    version: i64,
    settings: ServerAction<SaveRouterSettings>,
    group: ServerAction<SaveGroupRoutes>,
    class: ServerAction<SaveRequestClass>,
    delete_class: ServerAction<DeleteRequestClass>,
    reset: ServerAction<ResetRoutes>,
}

#[component]
fn RoutesBody(csrf: String, is_admin: bool) -> impl IntoView {
    let editing = Editing {
        csrf,
        version: 0,
        settings: ServerAction::new(),
        group: ServerAction::new(),
        class: ServerAction::new(),
        delete_class: ServerAction::new(),
        reset: ServerAction::new(),
    };
    let refresh = RwSignal::new(0u32);
    let versions = {
        let editing = editing.clone();
        move || {
            (
                refresh.get(),
                editing.settings.version().get(),
                editing.group.version().get(),
                editing.class.version().get(),
                editing.delete_class.version().get(),
                editing.reset.version().get(),
            )
        }
    };
    let routes = Resource::new(versions, |_| list_routes());
    let editing = is_admin.then_some(editing);
    view! {
        <main class="page">
            <h1>"Routes"</h1>
            <p class="hint">
                "How each requested model is routed: its group's deployments (by tier, then strategy), \
                 retries, fallbacks and cooldowns, and the request classes that change them. Changes \
                 apply to every running instance at once."
                " "
                <button type="button" class="link" on:click=move |_| refresh.update(|turn| *turn += 1)>"Refresh"</button>
            </p>
            <Transition fallback=|| view! { <p>"Loading routes…"</p> }>
                {move || {
                    let editing = editing.clone();
                    Suspend::new(async move {
                        match routes.await {
                            Err(error) => error_message(error).into_any(),
                            Ok(routes) => routes_view(routes, editing).into_any(),
                        }
                    })
                }}
            </Transition>
        </main>
    }
}

fn routes_view(routes: RoutesView, editing: Option<Editing>) -> impl IntoView {
    let editing = editing.map(|editing| Editing {
        version: routes.version,
        ..editing
    });
    let origin = match &routes.edited {
        Some((by, at)) => format!("config.yaml's routing, changed in the console by {by} at {at}."),
        None => "config.yaml's routing, unchanged.".to_string(),
    };
    let reset = editing
        .clone()
        .filter(|_| routes.edited.is_some())
        .map(|editing| {
            view! {
                <ActionForm action=editing.reset attr:class="inline">
                    <input type="hidden" name="csrf" value=editing.csrf/>
                    <button type="submit" class="danger">"Reset to config.yaml"</button>
                </ActionForm>
            }
        });
    let problems = (!routes.problems.is_empty()).then(|| {
        view! {
            <section class="card problems" data-testid="route-problems">
                <h2>"Problems"</h2>
                <ul>{routes.problems.into_iter().map(|problem| view! { <li>{problem}</li> }).collect_view()}</ul>
            </section>
        }
    });
    let default_set = !routes.settings.default_fallbacks.is_empty();
    view! {
        <p data-testid="route-origin">{origin} " " {reset}</p>
        {editing.as_ref().map(|editing| outcome(editing.reset.value(), "reset-outcome"))}
        {problems}
        {settings_card(routes.settings, editing.clone())}
        <section class="card">
            <h2>"Model groups"</h2>
            {editing.as_ref().map(|editing| outcome(editing.group.value(), "groups-outcome"))}
            {routes.groups.into_iter().map(|group| group_section(group, default_set, editing.clone())).collect_view()}
        </section>
        {classes_card(routes.classes, editing)}
    }
}

/// "Saved" or the refusal of a form's last submission.
fn outcome(
    value: impl Get<Value = Option<Result<(), ConsoleError>>> + Send + Sync + 'static,
    test_id: &'static str,
) -> impl IntoView {
    view! {
        <div data-testid=test_id>
            {move || {
                value.get().map(|result| match result {
                    Ok(()) => view! { <p class="hint" role="status">"Saved: every instance routes by it now."</p> }.into_any(),
                    Err(error) => error_message(error).into_any(),
                })
            }}
        </div>
    }
}

fn from_console(changed: bool) -> impl IntoView {
    changed.then(|| view! { <span class="badge">"console"</span> })
}

fn settings_card(settings: RouterSettingsView, editing: Option<Editing>) -> impl IntoView {
    let changed = |name: &str| {
        from_console(
            settings
                .changed_in_console
                .iter()
                .any(|field| field == name),
        )
    };
    let defaults = if settings.default_fallbacks.is_empty() {
        "none".to_string()
    } else {
        settings.default_fallbacks.join(" → ")
    };
    let cooldown = if settings.cooldowns_enabled {
        format!(
            "more than {} failures within a minute cool a deployment down for {} s",
            settings.allowed_fails, settings.cooldown_seconds
        )
    } else {
        "disabled (disable_cooldowns)".to_string()
    };
    let summary = view! {
        <dl class="settings" data-testid="router-settings">
            <dt>"Strategy"</dt><dd>{settings.strategy.clone()} {changed("routing_strategy")}</dd>
            <dt>"Retries"</dt><dd>{settings.num_retries} {changed("num_retries")}</dd>
            <dt>"Cooldown"</dt><dd>{cooldown} {changed("allowed_fails")} {changed("cooldown_time")}</dd>
            <dt>"Default fallbacks"</dt><dd>{defaults} {changed("default_fallbacks")}</dd>
            <dt>"Fallback groups per request"</dt><dd>{format!("at most {}", settings.max_fallbacks)}</dd>
        </dl>
    };
    let form = editing.map(|editing| {
        let chosen = settings.strategy.clone();
        view! {
            <details class="edit">
                <summary>"Edit router settings"</summary>
                <ActionForm action=editing.settings attr:class="grid-form">
                    <input type="hidden" name="csrf" value=editing.csrf.clone()/>
                    <input type="hidden" name="seen_version" value=editing.version.to_string()/>
                    <label>"Strategy"
                        <select name="routing_strategy">
                            {STRATEGIES.iter().map(|strategy| {
                                let selected = *strategy == chosen;
                                view! { <option value=*strategy selected=selected>{*strategy}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"Retries" <input type="number" name="num_retries" min="0" max="10" value=settings.num_retries.to_string()/></label>
                    <label>"Allowed fails per minute" <input type="number" name="allowed_fails" min="0" value=settings.allowed_fails.to_string()/></label>
                    <label>"Cooldown seconds" <input type="text" name="cooldown_time" inputmode="decimal" value=settings.cooldown_seconds.to_string()/></label>
                    <label>"Default fallbacks (groups, comma-separated)" <input type="text" name="default_fallbacks" value=settings.default_fallbacks.join(", ")/></label>
                    <button type="submit">"Save settings"</button>
                </ActionForm>
            </details>
            {outcome(editing.settings.value(), "settings-outcome")}
        }
    });
    view! {
        <section class="card">
            <h2>"Router settings"</h2>
            {summary}
            {form}
        </section>
    }
}

fn chain_text(chain: &ChainView) -> String {
    match (chain.targets.is_empty(), chain.uses_default) {
        (true, _) => "none".into(),
        (false, true) => format!("{} (default_fallbacks)", chain.targets.join(" → ")),
        (false, false) => chain.targets.join(" → "),
    }
}

fn group_section(
    group: RouteGroupView,
    default_set: bool,
    editing: Option<Editing>,
) -> impl IntoView {
    let chains = [
        ("Fallbacks", &group.fallbacks),
        ("Context-window fallbacks", &group.context_window_fallbacks),
        ("Content-policy fallbacks", &group.content_policy_fallbacks),
    ]
    .map(|(label, chain)| {
        view! {
            <dt>{label}</dt>
            <dd>{chain_text(chain)} {from_console(chain.source == Source::Console)}</dd>
        }
    });
    let name = group.name.clone();
    // A wildcard pattern is never a requested model, so a chain keyed by it would never apply:
    // chains go on the models it serves.
    let is_pattern = group.name.contains('*');
    let form = editing.filter(|_| !is_pattern).map(|editing| {
        let own_general = if group.fallbacks.uses_default {
            String::new()
        } else {
            group.fallbacks.targets.join(", ")
        };
        let no_fallbacks = default_set && !group.fallbacks.uses_default && group.fallbacks.targets.is_empty();
        view! {
            <details class="edit">
                <summary>"Edit fallbacks"</summary>
                <ActionForm action=editing.group attr:class="grid-form">
                    <input type="hidden" name="csrf" value=editing.csrf.clone()/>
                    <input type="hidden" name="seen_version" value=editing.version.to_string()/>
                    <input type="hidden" name="group" value=name/>
                    <label>"Fallbacks (groups in order; blank: default_fallbacks)" <input type="text" name="fallbacks" value=own_general/></label>
                    <label class="check"><input type="checkbox" name="no_fallbacks" checked=no_fallbacks/>"No fallbacks, not even default_fallbacks"</label>
                    <label>"Context-window fallbacks" <input type="text" name="context_window_fallbacks" value=group.context_window_fallbacks.targets.join(", ")/></label>
                    <label>"Content-policy fallbacks" <input type="text" name="content_policy_fallbacks" value=group.content_policy_fallbacks.targets.join(", ")/></label>
                    <button type="submit">"Save fallbacks"</button>
                </ActionForm>
            </details>
        }
    });
    let mode = group.mode.clone().unwrap_or_else(|| "any mode".into());
    view! {
        <section class="route-group" data-group=group.name.clone()>
            <h3>{group.name.clone()} " " <span class="hint">{mode}</span></h3>
            <table class="deployments">
                <thead>
                    <tr>
                        <th>"Deployment"</th>
                        <th class="num">"Tier"</th>
                        <th class="num">"Weight"</th>
                        <th>"Health"</th>
                        <th class="num">"In flight"</th>
                        <th class="num">"Latency"</th>
                    </tr>
                </thead>
                <tbody>{group.deployments.into_iter().map(deployment_row).collect_view()}</tbody>
            </table>
            <dl class="settings">{chains}</dl>
            {form}
        </section>
    }
}

fn deployment_row(deployment: RouteDeploymentView) -> impl IntoView {
    let health_class = match deployment.health {
        crate::route_policy::Health::Healthy => "health healthy",
        _ => "health cooling",
    };
    view! {
        <tr data-deployment-id=deployment.id.clone()>
            <td>{deployment.provider} " " <code>{deployment.upstream_model}</code></td>
            <td class="num">{deployment.tier.map_or_else(|| "—".into(), |tier| tier.to_string())}</td>
            <td class="num">{deployment.weight.map_or_else(|| "—".into(), |weight| weight.to_string())}</td>
            <td class=health_class data-testid="health">{deployment.health.label()}</td>
            <td class="num">{deployment.in_flight}</td>
            <td class="num">{deployment.latency_ms.map_or_else(|| "—".into(), |ms| format!("{ms:.0} ms"))}</td>
        </tr>
    }
}

fn classes_card(classes: Vec<ClassView>, editing: Option<Editing>) -> impl IntoView {
    let add = editing.clone().map(|editing| {
        view! {
            <details class="edit" data-testid="add-class">
                <summary>"Add a request class"</summary>
                {class_form(&editing, None)}
            </details>
            {outcome(editing.class.value(), "class-outcome")}
            {outcome(editing.delete_class.value(), "class-delete-outcome")}
        }
    });
    let list = if classes.is_empty() {
        view! { <p class="hint">"No request classes: every request routes by the settings above."</p> }.into_any()
    } else {
        view! {
            <table class="deployments classes">
                <thead>
                    <tr>
                        <th>"Class"</th>
                        <th>"Strategy"</th>
                        <th class="num">"Retries"</th>
                        <th>"Model groups"</th>
                        <th>"Fallbacks"</th>
                        <th>"Degrade"</th>
                        <th>"Source"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>{classes.into_iter().map(|class| class_row(class, editing.clone())).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="card">
            <h2>"Request classes"</h2>
            <p class="hint">
                "A key's metadata.request_class pins its class; otherwise the x-gatehouse-request-class \
                 header or a tag chooses one, else the default class."
            </p>
            {list}
            {add}
        </section>
    }
}

fn class_row(class: ClassView, editing: Option<Editing>) -> impl IntoView {
    let policy = &class.policy;
    let inherited = || "inherited".to_string();
    let fallbacks = policy
        .fallbacks
        .as_ref()
        .map_or_else(inherited, |lists| class_chains(lists));
    let degrade = policy.degrade.as_ref().map_or_else(
        || "—".into(),
        |degrade| {
            format!(
                "to {} at {}% of budget",
                degrade.to,
                degrade.budget_used * 100.0
            )
        },
    );
    let name = class.name.clone();
    let controls = editing.map(|editing| {
        view! {
            <details class="edit">
                <summary>"Edit"</summary>
                {class_form(&editing, Some((class.name.clone(), class.policy.clone())))}
            </details>
            <ActionForm action=editing.delete_class attr:class="inline">
                <input type="hidden" name="csrf" value=editing.csrf.clone()/>
                <input type="hidden" name="seen_version" value=editing.version.to_string()/>
                <input type="hidden" name="name" value=name/>
                <button type="submit" class="danger">"Delete"</button>
            </ActionForm>
        }
    });
    let name = if policy.default {
        format!("{} (default)", class.name)
    } else {
        class.name.clone()
    };
    view! {
        <tr data-class=class.name.clone()>
            <td>{name}</td>
            <td>{policy.routing_strategy.clone().unwrap_or_else(inherited)}</td>
            <td class="num">{policy.num_retries.map_or_else(inherited, |retries| retries.to_string())}</td>
            <td>{if policy.model_groups.is_empty() { "as requested".to_string() } else { format_model_groups(&policy.model_groups) }}</td>
            <td>{fallbacks}</td>
            <td>{degrade}</td>
            <td>{class.source.label()}</td>
            <td>{controls}</td>
        </tr>
    }
}

/// A class's fallbacks (LiteLLM's list of one-key maps) as the form's text.
fn class_chains(lists: &[std::collections::BTreeMap<String, Vec<String>>]) -> String {
    format_chains(
        &lists
            .iter()
            .flatten()
            .map(|(group, targets)| (group.clone(), targets.clone()))
            .collect(),
    )
}

fn class_form(editing: &Editing, class: Option<(String, ClassPolicy)>) -> impl IntoView {
    let (original, policy) = class.unwrap_or_default();
    let strategy = policy.routing_strategy.clone().unwrap_or_default();
    let fallbacks = policy
        .fallbacks
        .as_ref()
        .map_or_else(String::new, |lists| class_chains(lists));
    let (degrade_at, degrade_to) =
        policy
            .degrade
            .as_ref()
            .map_or_else(Default::default, |degrade| {
                (
                    format!("{}", degrade.budget_used * 100.0),
                    degrade.to.clone(),
                )
            });
    let submit = if original.is_empty() {
        "Add class"
    } else {
        "Save class"
    };
    let (action, csrf, version) = (editing.class, editing.csrf.clone(), editing.version);
    view! {
        <ActionForm action=action attr:class="grid-form">
            <input type="hidden" name="csrf" value=csrf/>
            <input type="hidden" name="seen_version" value=version.to_string()/>
            <input type="hidden" name="original_name" value=original.clone()/>
            <label>"Class name" <input type="text" name="name" required value=original placeholder="batch-cheap"/></label>
            <label class="check"><input type="checkbox" name="is_default" checked=policy.default/>"Default class"</label>
            <label>"Strategy"
                <select name="routing_strategy">
                    <option value="" selected=strategy.is_empty()>"inherited"</option>
                    {STRATEGIES.iter().map(|name| {
                        let selected = *name == strategy;
                        view! { <option value=*name selected=selected>{*name}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Retries (blank: inherited)" <input type="number" name="num_retries" min="0" max="10" value=policy.num_retries.map(|retries| retries.to_string()).unwrap_or_default()/></label>
            <label>"Model groups (model=group, …; * for every other)" <input type="text" name="model_groups" value=format_model_groups(&policy.model_groups) placeholder="*=gpt-4o-mini"/></label>
            <label>"Fallbacks (group: target, …; group: …)" <input type="text" name="fallbacks" value=fallbacks/></label>
            <label>"Degrade at % of budget" <input type="text" name="degrade_at" inputmode="decimal" value=degrade_at/></label>
            <label>"Degrade to class" <input type="text" name="degrade_to" value=degrade_to/></label>
            <button type="submit">{submit}</button>
        </ActionForm>
    }
}
