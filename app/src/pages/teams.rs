//! The Teams page: every team the user may see, with budget, limits, keys and members; admins
//! create, edit and block teams; admins and a team's own admins rename a team and add and
//! remove its members. Every change goes through the same operation as `/team/*`.

use leptos::prelude::*;

use crate::api::teams::{list_teams, AddMember, RemoveMember, SaveTeam, SetTeamBlocked};
use crate::model::{format_usd, Role, TeamView};
use crate::pages::budget_form::{dollars_text, utilisation};
use crate::pages::frame::{error_message, SignedIn};

#[component]
pub fn TeamsPage() -> impl IntoView {
    view! { <SignedIn body=|csrf, role| view! { <TeamsBody csrf=csrf role=role/> }.into_any()/> }
}

/// What may be done to a team from its card, shared by every card.
#[derive(Clone, Copy)]
struct TeamActions {
    block: ServerAction<SetTeamBlocked>,
    add: ServerAction<AddMember>,
    remove: ServerAction<RemoveMember>,
    update: ServerAction<SaveTeam>,
}

#[component]
fn TeamsBody(csrf: String, role: Role) -> impl IntoView {
    let create = ServerAction::<SaveTeam>::new();
    let actions = TeamActions {
        block: ServerAction::new(),
        add: ServerAction::new(),
        remove: ServerAction::new(),
        update: ServerAction::new(),
    };
    let teams = Resource::new(
        move || {
            (
                create.version().get(),
                actions.block.version().get(),
                actions.add.version().get(),
                actions.remove.version().get(),
                actions.update.version().get(),
            )
        },
        |_| list_teams(),
    );
    let is_admin = role == Role::Admin;
    let list_csrf = csrf.clone();
    view! {
        <main class="page">
            <h1>"Teams"</h1>
            {is_admin.then(|| view! {
                <section class="card">
                    <h2>"Create a team"</h2>
                    <ActionForm action=create attr:class="grid-form">
                        <input type="hidden" name="csrf" value=csrf.clone()/>
                        <input type="hidden" name="existing" value="false"/>
                        <label>"Team id (empty = generated)" <input type="text" name="team_id" placeholder="search"/></label>
                        <label>"Alias" <input type="text" name="team_alias" placeholder="Search team"/></label>
                        <label>"Models (comma-separated, empty = all)" <input type="text" name="models"/></label>
                        <label>"Team budget in USD (empty = none)" <input type="text" name="max_budget" inputmode="decimal"/></label>
                        <label>"Budget window (e.g. 30d, empty = all time)" <input type="text" name="budget_duration"/></label>
                        <label>"Requests per minute (empty = no limit)" <input type="text" name="rpm_limit" inputmode="numeric"/></label>
                        <button type="submit">"Create team"</button>
                    </ActionForm>
                    {move || create.value().get().and_then(Result::err).map(error_message)}
                </section>
            })}
            {move || actions.block.value().get().and_then(Result::err).map(error_message)}
            {move || actions.add.value().get().and_then(Result::err).map(error_message)}
            {move || actions.remove.value().get().and_then(Result::err).map(error_message)}
            {move || actions.update.value().get().and_then(Result::err).map(error_message)}
            <Transition fallback=|| view! { <p>"Loading teams…"</p> }>
                {
                    let list_csrf = list_csrf.clone();
                    move || {
                        let csrf = list_csrf.clone();
                        Suspend::new(async move {
                            match teams.await {
                                Err(error) => error_message(error).into_any(),
                                Ok(rows) if rows.is_empty() => view! { <p class="hint">"No teams to show."</p> }.into_any(),
                                Ok(rows) => rows
                                    .into_iter()
                                    .map(|team| team_card(team, is_admin, actions, csrf.clone()))
                                    .collect_view()
                                    .into_any(),
                            }
                        })
                    }
                }
            </Transition>
        </main>
    }
}

fn limit_text(value: Option<i64>) -> String {
    value.map_or_else(|| "—".into(), |limit| limit.to_string())
}

fn team_card(team: TeamView, is_admin: bool, actions: TeamActions, csrf: String) -> impl IntoView {
    let title = team.team_alias.clone().map_or_else(
        || team.team_id.clone(),
        |alias| format!("{alias} ({})", team.team_id),
    );
    let models = if team.models.is_empty() {
        "all".to_string()
    } else {
        team.models.join(", ")
    };
    let budget = team.budget.max_budget.map_or_else(
        || "none".to_string(),
        |max| match &team.budget.budget_duration {
            Some(window) => format!("${max:.2} per {window}"),
            None => format!("${max:.2}"),
        },
    );
    let used = utilisation(&team.budget);
    let edit = team
        .manageable
        .then(|| edit_form(team.clone(), actions.update, csrf.clone()));
    let block = is_admin.then(|| {
        let (csrf, team_id, blocked) = (csrf.clone(), team.team_id.clone(), !team.blocked);
        view! {
            <ActionForm action=actions.block attr:class="inline">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="team_id" value=team_id/>
                <input type="hidden" name="blocked" value=blocked.to_string()/>
                <button type="submit" class=if blocked { "danger" } else { "" }>
                    {if blocked { "Block team" } else { "Unblock team" }}
                </button>
            </ActionForm>
        }
    });
    let manageable = team.manageable;
    let team_id = team.team_id.clone();
    let members = team
        .members
        .into_iter()
        .map(|member| {
            let remove = manageable.then(|| {
                let (csrf, team_id, user_id) =
                    (csrf.clone(), team_id.clone(), member.user_id.clone());
                view! {
                    <ActionForm action=actions.remove attr:class="inline">
                        <input type="hidden" name="csrf" value=csrf/>
                        <input type="hidden" name="team_id" value=team_id/>
                        <input type="hidden" name="user_id" value=user_id/>
                        <button type="submit" class="danger">"Remove"</button>
                    </ActionForm>
                }
            });
            let name = member.email.unwrap_or(member.user_id);
            let row_name = name.clone();
            view! {
                <tr data-member=row_name>
                    <td>{name}</td>
                    <td><span class="badge">{member.role}</span></td>
                    <td class="num">{format_usd(member.spend_micros)}</td>
                    <td class="num">{member.max_budget_micros.map_or_else(|| "—".into(), format_usd)}</td>
                    <td>{remove}</td>
                </tr>
            }
        })
        .collect_view();
    let add = manageable.then(|| {
        let (csrf, team_id) = (csrf.clone(), team_id.clone());
        view! {
            <ActionForm action=actions.add attr:class="inline add-member">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="team_id" value=team_id/>
                <label>"Member email" <input type="email" name="email" required/></label>
                <label>"Role"
                    <select name="role">
                        <option value="user" selected=true>"user"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <label>"Budget in team (USD)" <input type="text" name="max_budget_in_team" inputmode="decimal"/></label>
                <button type="submit">"Add member"</button>
            </ActionForm>
        }
    });
    let card_id = team.team_id;
    view! {
        <section class="card team" data-team=card_id>
            <h2>{title} {team.blocked.then(|| view! { " " <span class="badge">"blocked"</span> })}</h2>
            <dl class="facts">
                <dt>"Spend"</dt><dd>{format_usd(team.budget.spend_micros)}</dd>
                <dt>"Budget"</dt><dd>{budget}</dd>
                <dt>"Used"</dt><dd>{used}</dd>
                <dt>"Models"</dt><dd>{models}</dd>
                <dt>"Requests / min"</dt><dd>{limit_text(team.rpm_limit)}</dd>
                <dt>"Tokens / min"</dt><dd>{limit_text(team.tpm_limit)}</dd>
                <dt>"Keys"</dt><dd>{team.keys}</dd>
            </dl>
            {block}
            {edit}
            <table class="keys members">
                <thead>
                    <tr><th>"Member"</th><th>"Role"</th><th class="num">"Spend in team"</th><th class="num">"Budget in team"</th><th></th></tr>
                </thead>
                <tbody>{members}</tbody>
            </table>
            {add}
        </section>
    }
}

fn count_text(value: Option<i64>) -> String {
    value.map(|value| value.to_string()).unwrap_or_default()
}

/// A team's edit form, filled with what it has now: every field for an admin; its alias and
/// metadata for a team admin (the other fields are left out, so they do not change).
fn edit_form(team: TeamView, update: ServerAction<SaveTeam>, csrf: String) -> impl IntoView {
    let metadata = if team
        .metadata
        .as_object()
        .is_some_and(|fields| fields.is_empty())
    {
        String::new()
    } else {
        team.metadata.to_string()
    };
    let (models, duration) = (
        team.models.join(", "),
        team.budget.budget_duration.clone().unwrap_or_default(),
    );
    let (max_budget, soft_budget) = (
        dollars_text(team.budget.max_budget),
        dollars_text(team.budget.soft_budget),
    );
    let (rpm, tpm, parallel) = (
        count_text(team.rpm_limit),
        count_text(team.tpm_limit),
        count_text(team.max_parallel_requests),
    );
    let admin_fields = team.editable.then(move || {
        view! {
            <label>"Team models (empty = all)" <input type="text" name="models" value=models/></label>
            <label>"Team cap (USD)" <input type="text" name="max_budget" inputmode="decimal" value=max_budget/></label>
            <label>"Team alert at (USD)" <input type="text" name="soft_budget" inputmode="decimal" value=soft_budget/></label>
            <label>"Team cap resets every" <input type="text" name="budget_duration" value=duration/></label>
            <label>"Team RPM" <input type="text" name="rpm_limit" inputmode="numeric" value=rpm/></label>
            <label>"Team TPM" <input type="text" name="tpm_limit" inputmode="numeric" value=tpm/></label>
            <label>"Team in flight at once" <input type="text" name="max_parallel_requests" inputmode="numeric" value=parallel/></label>
        }
    });
    view! {
        <details class="edit">
            <summary>"Edit team"</summary>
            <ActionForm action=update attr:class="grid-form">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="existing" value="true"/>
                <input type="hidden" name="team_id" value=team.team_id/>
                <label>"Team name" <input type="text" name="team_alias" value=team.team_alias.unwrap_or_default()/></label>
                <label>"Team metadata (JSON object)" <textarea name="metadata" rows="2">{metadata}</textarea></label>
                {admin_fields}
                <button type="submit">"Save team"</button>
            </ActionForm>
        </details>
    }
}
