//! Whose budget (or rate limit) a subject names. The stored text form (`team:research`) is
//! the budget ledger's key, the rate limits' scope and part of Redis keys: it is written and
//! read here only.

use std::fmt;

/// Who a budget belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BudgetSubject {
    /// A virtual key, by its token hash: `key:<hash>`.
    Key(String),
    /// One model of a key (`model_max_budget`): `key:<hash>:model:<model>`.
    KeyModel { token_hash: String, model: String },
    /// `team:<team_id>`.
    Team(String),
    /// A user within one team (`max_budget_in_team`): `member:<team_id>:<user_id>`.
    Member { team_id: String, user_id: String },
    /// `user:<user_id>`.
    User(String),
    /// `org:<organization_id>`.
    Organization(String),
    /// `project:<project_id>`.
    Project(String),
    /// `tag:<name>`.
    Tag(String),
    /// A customer of the caller (the request's `user`): `end_user:<user_id>`.
    EndUser(String),
}

impl BudgetSubject {
    pub fn key(token_hash: &str) -> BudgetSubject {
        BudgetSubject::Key(token_hash.to_string())
    }

    pub fn key_model(token_hash: &str, model: &str) -> BudgetSubject {
        BudgetSubject::KeyModel {
            token_hash: token_hash.to_string(),
            model: model.to_string(),
        }
    }

    pub fn team(team_id: &str) -> BudgetSubject {
        BudgetSubject::Team(team_id.to_string())
    }

    pub fn member(team_id: &str, user_id: &str) -> BudgetSubject {
        BudgetSubject::Member {
            team_id: team_id.to_string(),
            user_id: user_id.to_string(),
        }
    }

    pub fn user(user_id: &str) -> BudgetSubject {
        BudgetSubject::User(user_id.to_string())
    }

    pub fn organization(organization_id: &str) -> BudgetSubject {
        BudgetSubject::Organization(organization_id.to_string())
    }

    pub fn project(project_id: &str) -> BudgetSubject {
        BudgetSubject::Project(project_id.to_string())
    }

    pub fn tag(name: &str) -> BudgetSubject {
        BudgetSubject::Tag(name.to_string())
    }

    pub fn end_user(user_id: &str) -> BudgetSubject {
        BudgetSubject::EndUser(user_id.to_string())
    }

    /// Reads the stored form back; `None` for text no subject writes.
    pub fn parse(text: &str) -> Option<BudgetSubject> {
        let (kind, rest) = text.split_once(':')?;
        if rest.is_empty() {
            return None;
        }
        let owned = rest.to_string();
        Some(match kind {
            "key" => match rest.split_once(":model:") {
                Some((token_hash, model)) => BudgetSubject::KeyModel {
                    token_hash: token_hash.to_string(),
                    model: model.to_string(),
                },
                None => BudgetSubject::Key(owned),
            },
            "member" => {
                let (team_id, user_id) = rest.rsplit_once(':')?;
                BudgetSubject::Member {
                    team_id: team_id.to_string(),
                    user_id: user_id.to_string(),
                }
            }
            "team" => BudgetSubject::Team(owned),
            "user" => BudgetSubject::User(owned),
            "org" => BudgetSubject::Organization(owned),
            "project" => BudgetSubject::Project(owned),
            "tag" => BudgetSubject::Tag(owned),
            "end_user" => BudgetSubject::EndUser(owned),
            _ => return None,
        })
    }

    /// The kind as the stored form starts: `key`, `team`, `org`, …
    pub fn kind(&self) -> &'static str {
        match self {
            BudgetSubject::Key(_) | BudgetSubject::KeyModel { .. } => "key",
            BudgetSubject::Team(_) => "team",
            BudgetSubject::Member { .. } => "member",
            BudgetSubject::User(_) => "user",
            BudgetSubject::Organization(_) => "org",
            BudgetSubject::Project(_) => "project",
            BudgetSubject::Tag(_) => "tag",
            BudgetSubject::EndUser(_) => "end_user",
        }
    }

    /// The owner's id: what follows the kind in the stored form.
    pub fn id(&self) -> String {
        let text = self.to_string();
        text.split_once(':')
            .map(|(_, id)| id.to_string())
            .unwrap_or_default()
    }

    /// Who owns it, as a refusal message names the owner: `this key`, `team `research``.
    pub fn owner(&self) -> String {
        match self {
            BudgetSubject::Key(_) => "this key".to_string(),
            BudgetSubject::KeyModel { model, .. } => format!("this key for `{model}`"),
            BudgetSubject::Member { team_id, user_id } => {
                format!("user `{user_id}` in team `{team_id}`")
            }
            other => format!("{} `{}`", other.kind(), other.id()),
        }
    }
}

impl fmt::Display for BudgetSubject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BudgetSubject::Key(token_hash) => write!(formatter, "key:{token_hash}"),
            BudgetSubject::KeyModel { token_hash, model } => {
                write!(formatter, "key:{token_hash}:model:{model}")
            }
            BudgetSubject::Team(id) => write!(formatter, "team:{id}"),
            BudgetSubject::Member { team_id, user_id } => {
                write!(formatter, "member:{team_id}:{user_id}")
            }
            BudgetSubject::User(id) => write!(formatter, "user:{id}"),
            BudgetSubject::Organization(id) => write!(formatter, "org:{id}"),
            BudgetSubject::Project(id) => write!(formatter, "project:{id}"),
            BudgetSubject::Tag(name) => write!(formatter, "tag:{name}"),
            BudgetSubject::EndUser(id) => write!(formatter, "end_user:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_reads_back_as_written() {
        let subjects = [
            BudgetSubject::Key("ab12".into()),
            BudgetSubject::KeyModel {
                token_hash: "ab12".into(),
                model: "gpt-4o:latest".into(),
            },
            BudgetSubject::Team("t:1".into()),
            BudgetSubject::Member {
                team_id: "team:x".into(),
                user_id: "u1".into(),
            },
            BudgetSubject::User("u".into()),
            BudgetSubject::Organization("o".into()),
            BudgetSubject::Project("p".into()),
            BudgetSubject::Tag("prod".into()),
            BudgetSubject::EndUser("cust".into()),
        ];
        for subject in subjects {
            assert_eq!(
                BudgetSubject::parse(&subject.to_string()),
                Some(subject.clone())
            );
        }
        assert_eq!(BudgetSubject::parse("team:"), None);
        assert_eq!(BudgetSubject::parse("galaxy:x"), None);
        assert_eq!(BudgetSubject::parse("plain"), None);
    }

    #[test]
    fn owners_read_as_refusals_name_them() {
        let owner = |text: &str| BudgetSubject::parse(text).unwrap().owner();
        assert_eq!(owner("key:ab"), "this key");
        assert_eq!(owner("key:ab:model:gpt-4o"), "this key for `gpt-4o`");
        assert_eq!(owner("member:t1:u1"), "user `u1` in team `t1`");
        assert_eq!(owner("org:acme"), "org `acme`");
    }
}
