//! The notices instances exchange on PostgreSQL's `gatehouse_policy` channel (and, for
//! cooldowns, on Redis): the schema's triggers send the policy ones, instances send cooldowns.
//! Each payload is written and read here only.

use std::fmt;
use std::time::Duration;

/// The channel the schema's triggers notify.
pub const POLICY_CHANNEL: &str = "gatehouse_policy";

/// What changed, as a NOTIFY payload says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyNotice {
    /// A key (its row, secrets, team, user or project): `key:<token hash>`.
    Key(String),
    /// `team:<team_id>`.
    Team(String),
    /// `end_user:<user_id>`.
    EndUser(String),
    /// `tag:<name>`.
    Tag(String),
    /// A budget's limits: `budget:<subject>`.
    Budget(String),
    /// Stored deployments: `deployments`.
    Deployments,
    /// The route policy: `routes`.
    Routes,
    /// Another instance cooled a deployment down:
    /// `cooldown:<instance>:<milliseconds>:<deployment id>`.
    Cooldown {
        instance: String,
        left: Duration,
        deployment_id: String,
    },
}

impl PolicyNotice {
    /// Reads a payload; `None` for one no sender writes (the caller logs and ignores it).
    pub fn parse(payload: &str) -> Option<PolicyNotice> {
        match payload {
            "deployments" => return Some(PolicyNotice::Deployments),
            "routes" => return Some(PolicyNotice::Routes),
            _ => {}
        }
        let (kind, rest) = payload.split_once(':')?;
        if rest.is_empty() {
            return None;
        }
        let owned = rest.to_string();
        Some(match kind {
            "key" => PolicyNotice::Key(owned),
            "team" => PolicyNotice::Team(owned),
            "end_user" => PolicyNotice::EndUser(owned),
            "tag" => PolicyNotice::Tag(owned),
            "budget" => PolicyNotice::Budget(owned),
            "cooldown" => {
                let mut parts = rest.splitn(3, ':');
                let (Some(instance), Some(millis), Some(deployment_id)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return None;
                };
                PolicyNotice::Cooldown {
                    instance: instance.to_string(),
                    left: Duration::from_millis(millis.parse().ok()?),
                    deployment_id: deployment_id.to_string(),
                }
            }
            _ => return None,
        })
    }
}

impl fmt::Display for PolicyNotice {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyNotice::Key(hash) => write!(formatter, "key:{hash}"),
            PolicyNotice::Team(id) => write!(formatter, "team:{id}"),
            PolicyNotice::EndUser(id) => write!(formatter, "end_user:{id}"),
            PolicyNotice::Tag(name) => write!(formatter, "tag:{name}"),
            PolicyNotice::Budget(subject) => write!(formatter, "budget:{subject}"),
            PolicyNotice::Deployments => formatter.write_str("deployments"),
            PolicyNotice::Routes => formatter.write_str("routes"),
            PolicyNotice::Cooldown {
                instance,
                left,
                deployment_id,
            } => write!(
                formatter,
                "cooldown:{instance}:{}:{deployment_id}",
                left.as_millis()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notice_reads_back_as_written() {
        for notice in [
            PolicyNotice::Key("ab".into()),
            PolicyNotice::Team("t:1".into()),
            PolicyNotice::EndUser("u".into()),
            PolicyNotice::Tag("prod".into()),
            PolicyNotice::Budget("key:ab:model:m".into()),
            PolicyNotice::Deployments,
            PolicyNotice::Routes,
            PolicyNotice::Cooldown {
                instance: "i-1".into(),
                left: Duration::from_millis(1500),
                deployment_id: "config:a:b".into(),
            },
        ] {
            assert_eq!(PolicyNotice::parse(&notice.to_string()), Some(notice));
        }
    }

    #[test]
    fn unknown_or_broken_payloads_are_not_notices() {
        for payload in [
            "",
            "key:",
            "galaxy:far",
            "deployment",
            "cooldown:i-1",
            "cooldown:i-1:soon:d",
        ] {
            assert_eq!(PolicyNotice::parse(payload), None, "{payload}");
        }
    }
}
