//! Users: the console's users too, with a role (LiteLLM's `proxy_admin`, `proxy_admin_viewer`,
//! `internal_user`, or Gatehouse's `finance`), an optional login, keys, a budget and rate
//! limits. Admins create, change and delete them; nobody changes their own role or deletes
//! themselves; roles that read everything read every user, a user itself.

use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::error::DbError;
use crate::db::keys::KeySpec;
use crate::db::members::MemberRole;
use crate::db::users::{self, UserFields, UserRow};
use crate::error::ConsoleError;
use crate::model::identity::metadata_object;
use crate::model::invalid::{text_length, Invalid, Problem};
use crate::model::views::UserDetails;
use crate::model::{Role, MIN_PASSWORD_CHARS};
use crate::ops::budget_fields::budget_view;
use crate::ops::budget_fields::BudgetFields;
use crate::ops::keys::{self, IssuedKey};
use crate::ops::limit_fields::LimitFields;
use crate::ops::members;
use crate::ops::record::{record, snapshot, Change};
use crate::ops::{rfc3339, Actor, OpsError};

/// `/user/new`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewUser {
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub user_alias: Option<String>,
    pub user_role: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    /// Teams the user joins as a `user`.
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub metadata: Option<Value>,
    /// LiteLLM creates a key for a new user unless told not to.
    pub auto_create_key: Option<bool>,
    pub key_alias: Option<String>,
    #[serde(flatten)]
    pub limits: LimitFields,
}

/// `/user/update`: the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UserUpdate {
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub user_alias: Option<String>,
    pub user_role: Option<String>,
    pub password: Option<String>,
    pub models: Option<Vec<String>>,
    #[serde(flatten)]
    pub budget: BudgetFields,
    pub metadata: Option<Value>,
    #[serde(flatten)]
    pub limits: LimitFields,
}

/// A new user, the teams it joined, and its key (shown once) when one was made.
pub struct CreatedUser {
    pub details: UserDetails,
    pub teams: Vec<String>,
    pub key: Option<IssuedKey>,
}

/// Users deleted, and the keys revoked with them.
pub struct DeletedUsers {
    pub user_ids: Vec<String>,
    pub revoked_keys: Vec<String>,
}

/// One page of users, by user id.
pub struct UserPage {
    pub users: Vec<UserDetails>,
    pub total: i64,
    pub page: i64,
    pub size: i64,
}

/// Largest `/user/list` page.
pub const MAX_PAGE_SIZE: i64 = 100;

/// A role by LiteLLM's name or Gatehouse's.
pub fn role_of(text: &str) -> Result<Role, Invalid> {
    match text.trim() {
        "proxy_admin" | "admin" => Ok(Role::Admin),
        "proxy_admin_viewer" | "viewer" => Ok(Role::Viewer),
        "internal_user" | "internal_user_viewer" | "team_admin" => Ok(Role::TeamAdmin),
        "finance" => Ok(Role::Finance),
        other => Err(Invalid::field(
            "user_role",
            Problem::Value(format!(
                "`{other}` is not a role: use proxy_admin, proxy_admin_viewer, internal_user \
                 or finance."
            )),
        )),
    }
}

/// LiteLLM's name of a role.
fn litellm_role(role: Option<Role>) -> &'static str {
    match role {
        Some(Role::Admin) => "proxy_admin",
        Some(Role::Viewer) => "proxy_admin_viewer",
        Some(Role::TeamAdmin) => "internal_user",
        Some(Role::Finance) => "finance",
        None => "none",
    }
}

pub fn view(row: &UserRow) -> UserDetails {
    UserDetails {
        user_id: row.user_id.clone(),
        user_email: row.email.clone(),
        user_alias: row.user_alias.clone(),
        user_role: litellm_role(row.role()).to_string(),
        role: row.role.clone(),
        models: row.models.clone(),
        metadata: row.metadata.clone(),
        budget: budget_view(&row.budget),
        rpm_limit: row.rpm_limit,
        tpm_limit: row.tpm_limit,
        max_parallel_requests: row.max_parallel_requests,
        can_log_in: row.email.is_some() && row.password_hash.is_some(),
        created_by: row.created_by.clone(),
        created_at: rfc3339(row.created_at),
    }
}

fn refused(error: DbError) -> OpsError {
    match error {
        DbError::Duplicate => OpsError::conflict(
            "a user with that user_id or email already exists.",
            "user_id",
        ),
        other => other.into(),
    }
}

/// An Argon2 hash of a new password (at least `MIN_PASSWORD_CHARS` characters).
async fn password_hash(password: Option<String>) -> Result<Option<String>, OpsError> {
    let Some(password) = password else {
        return Ok(None);
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Invalid::field(
            "password",
            Problem::Value(format!("must be at least {MIN_PASSWORD_CHARS} characters.")),
        )
        .into());
    }
    match crate::password_guard::hash_password(password).await {
        Ok(hash) => Ok(Some(hash)),
        Err(ConsoleError::Busy) => Err(OpsError::Busy),
        Err(error) => Err(OpsError::Internal(error.to_string())),
    }
}

/// A trimmed text field of 1 to 200 characters.
fn text_field(value: Option<String>, field: &'static str) -> Result<Option<String>, Invalid> {
    value
        .map(|text| {
            let text = text.trim().to_string();
            text_length(&text, field, 1, 200).map(|()| text)
        })
        .transpose()
}

pub async fn create(pool: &PgPool, actor: &Actor, input: NewUser) -> Result<CreatedUser, OpsError> {
    actor.require_admin("change this")?;
    let role = input
        .user_role
        .as_deref()
        .map(role_of)
        .transpose()?
        .unwrap_or(Role::TeamAdmin);
    let user_id = text_field(input.user_id, "user_id")?;
    let fields = UserFields {
        email: text_field(input.user_email, "user_email")?,
        password_hash: password_hash(input.password).await?,
        role: None,
        user_alias: input.user_alias,
        models: Some(input.models),
        metadata: metadata_object(input.metadata)?,
        budget: Some(input.budget.limits()?),
        limits: input.limits.without_model_limits("users")?,
    };
    let mut transaction = pool.begin().await?;
    let row = users::create(&mut transaction, user_id, role, fields, &actor.name)
        .await
        .map_err(refused)?;
    let details = view(&row);
    record(
        &mut transaction,
        actor,
        Change {
            action: "user.new",
            target_type: "user",
            target_id: &row.user_id,
            before: None,
            after: snapshot(&details),
        },
    )
    .await?;
    for team_id in &input.teams {
        let member = [(row.user_id.clone(), MemberRole::User)];
        members::add_in(&mut transaction, actor, team_id, &member, None).await?;
    }
    let key = if input.auto_create_key.unwrap_or(true) {
        let spec = KeySpec {
            key_alias: input.key_alias,
            user_id: Some(row.user_id.clone()),
            metadata: json!({}),
            model_rpm_limit: json!({}),
            model_tpm_limit: json!({}),
            created_by: actor.name.clone(),
            // Users are created by admins only: no ceiling.
            role_ceiling: None,
            ..KeySpec::default()
        };
        Some(keys::create_in(&mut transaction, actor, spec).await?)
    } else {
        None
    };
    transaction.commit().await?;
    Ok(CreatedUser {
        details,
        teams: input.teams,
        key,
    })
}

/// A user: for roles that read everything, and the user itself.
pub async fn find(pool: &PgPool, actor: &Actor, user_id: &str) -> Result<UserDetails, OpsError> {
    if !actor.reads_everything() && actor.user_id.as_deref() != Some(user_id) {
        return Err(OpsError::Forbidden(
            "Your role may read only your own user.".into(),
        ));
    }
    users::find(pool, user_id)
        .await?
        .map(|row| view(&row))
        .ok_or_else(|| OpsError::NotFound(format!("User `{user_id}` not found.")))
}

pub async fn list(
    pool: &PgPool,
    actor: &Actor,
    role: Option<&str>,
    page: i64,
    size: i64,
) -> Result<UserPage, OpsError> {
    actor.require_reads_everything("list users")?;
    if page < 1 || !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(OpsError::conflict(
            format!("`page` starts at 1 and `page_size` is 1 to {MAX_PAGE_SIZE}."),
            "page_size",
        ));
    }
    let role = role.map(role_of).transpose()?;
    let (rows, total) = users::list_page(pool, role, page, size).await?;
    Ok(UserPage {
        users: rows.iter().map(view).collect(),
        total,
        page,
        size,
    })
}

/// Changes a user (admins only; nobody changes their own role, so the last admin cannot demote
/// itself by mistake). A password given ends the user's sessions. The changed row: its view
/// is `view(&row)`.
pub async fn update(pool: &PgPool, actor: &Actor, input: UserUpdate) -> Result<UserRow, OpsError> {
    actor.require_admin("change this")?;
    let user_id = match (&input.user_id, &input.user_email) {
        (Some(user_id), _) => Some(user_id.clone()),
        (None, Some(email)) => users::find_by_email(pool, email)
            .await?
            .map(|user| user.user_id),
        (None, None) => {
            return Err(OpsError::conflict(
                "Name the user by `user_id` or `user_email`.",
                "user_id",
            ))
        }
    };
    let not_found = || OpsError::NotFound("User not found.".into());
    let user_id = user_id.ok_or_else(not_found)?;
    let role = input.user_role.as_deref().map(role_of).transpose()?;
    if role.is_some() && actor.user_id.as_deref() == Some(user_id.as_str()) {
        return Err(OpsError::Forbidden(
            "Nobody changes their own role; ask another admin.".into(),
        ));
    }
    let password_hash = password_hash(input.password).await?;
    let mut transaction = pool.begin().await?;
    users::lock(&mut transaction, &user_id).await?;
    let current = users::find(&mut *transaction, &user_id)
        .await?
        .ok_or_else(not_found)?;
    let budget = input.budget.update_of(&current.budget)?;
    let change = UserFields {
        // The email names the user when no user_id is given; it changes only alongside one.
        email: input
            .user_id
            .as_ref()
            .and(text_field(input.user_email, "user_email")?),
        password_hash,
        role,
        user_alias: input.user_alias,
        models: input.models,
        metadata: metadata_object(input.metadata)?,
        budget,
        limits: input.limits.without_model_limits("users")?,
    };
    let password_changed = change.password_hash.is_some();
    let row = users::update(&mut transaction, &user_id, change)
        .await
        .map_err(refused)?
        .ok_or_else(not_found)?;
    let mut after = snapshot(&view(&row));
    if let (true, Some(Value::Object(fields))) = (password_changed, after.as_mut()) {
        fields.insert("password_changed".into(), json!(true));
    }
    record(
        &mut transaction,
        actor,
        Change {
            action: "user.update",
            target_type: "user",
            target_id: &row.user_id,
            before: snapshot(&view(&current)),
            after,
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(row)
}

/// Deletes users; their keys are revoked with them.
pub async fn delete(
    pool: &PgPool,
    actor: &Actor,
    user_ids: &[String],
) -> Result<DeletedUsers, OpsError> {
    actor.require_admin("change this")?;
    if user_ids.is_empty() {
        return Err(OpsError::conflict(
            "Pass the `user_ids` to delete.",
            "user_ids",
        ));
    }
    if actor
        .user_id
        .as_ref()
        .is_some_and(|own| user_ids.contains(own))
    {
        return Err(OpsError::Forbidden("Nobody deletes their own user.".into()));
    }
    let mut transaction = pool.begin().await?;
    let deleted = users::delete(&mut transaction, user_ids).await?;
    if deleted.user_ids.is_empty() {
        return Err(OpsError::NotFound("None of those users exist.".into()));
    }
    for user_id in &deleted.user_ids {
        record(
            &mut transaction,
            actor,
            Change {
                action: "user.delete",
                target_type: "user",
                target_id: user_id,
                before: None,
                after: Some(json!({ "deleted": true })),
            },
        )
        .await?;
    }
    transaction.commit().await?;
    Ok(DeletedUsers {
        user_ids: deleted.user_ids,
        revoked_keys: deleted.revoked_keys,
    })
}
