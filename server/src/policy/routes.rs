//! The routes a key may call (`allowed_routes`): paths (with or without `/v1`; a path also
//! allows the paths below it), `prefix*` patterns and LiteLLM's route groups, checked against
//! the path a request asked for when its caller is authenticated.

use app::model::route_groups::ROUTE_GROUPS as GROUPS;

/// Data-plane paths, without `/v1`.
const DATA_PLANE: [&str; 12] = [
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/responses",
    "/messages",
    "/moderations",
    "/images/generations",
    "/audio/speech",
    "/audio/transcriptions",
    "/rerank",
    "/models",
    "/model/info",
];

/// Management routes that only read.
const INFO: [&str; 16] = [
    "/key/info",
    "/key/health",
    "/organization/list",
    "/key/list",
    "/team/info",
    "/team/list",
    "/user/info",
    "/user/list",
    "/organization/info",
    "/customer/info",
    "/project/info",
    "/tag/info",
    "/tag/list",
    "/budget/info",
    "/models",
    "/model/info",
];

/// Prefixes of the management routes.
const MANAGEMENT: [&str; 10] = [
    "/key/",
    "/team/",
    "/user/",
    "/organization/",
    "/customer/",
    "/project/",
    "/tag/",
    "/budget/",
    "/model/",
    "/audit/",
];

/// A path without its `/v1` or `/v2` prefix.
fn unversioned(path: &str) -> &str {
    ["/v1/", "/v2/"]
        .iter()
        .find_map(|prefix| {
            path.strip_prefix(&prefix[..3])
                .filter(|_| path.starts_with(prefix))
        })
        .unwrap_or(path)
}

fn is_data_plane(path: &str) -> bool {
    DATA_PLANE.contains(&path) || path.starts_with("/models/")
}

/// Whether `path` (unversioned) belongs to a route group.
fn in_group(group: &str, path: &str) -> bool {
    match group {
        "llm_api_routes" | "openai_routes" => is_data_plane(path),
        "anthropic_routes" => path == "/messages",
        "info_routes" => INFO.contains(&path),
        "management_routes" => MANAGEMENT.iter().any(|prefix| path.starts_with(prefix)),
        "spend_tracking_routes" => path.starts_with("/spend/") || path.starts_with("/global/spend"),
        _ => false,
    }
}

/// The routes a key may call; none listed: every route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedRoutes(Vec<String>);

impl AllowedRoutes {
    pub fn new(entries: Vec<String>) -> Self {
        AllowedRoutes(entries)
    }

    /// Whether the key may call `path`.
    pub fn permits(&self, path: &str) -> bool {
        let path = unversioned(path);
        self.0.is_empty()
            || self.0.iter().any(|entry| {
                if GROUPS.contains(&entry.as_str()) {
                    in_group(entry, path)
                } else if let Some(prefix) = entry.strip_suffix('*') {
                    path.starts_with(unversioned(prefix))
                } else {
                    let entry = unversioned(entry);
                    path.strip_prefix(entry)
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
                }
            })
    }

    /// Refuses `path` (the route being served) when the key may not call it.
    pub fn permit(&self, path: &str) -> Result<(), String> {
        if self.0.is_empty() || self.permits(path) {
            Ok(())
        } else {
            Err(path.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(entries: &[&str]) -> AllowedRoutes {
        AllowedRoutes::new(entries.iter().map(|entry| entry.to_string()).collect())
    }

    #[test]
    fn paths_match_with_or_without_the_version_prefix() {
        let allowed = routes(&["/chat/completions"]);
        assert!(allowed.permits("/v1/chat/completions"));
        assert!(allowed.permits("/chat/completions"));
        assert!(!allowed.permits("/v1/embeddings"));
        assert!(!allowed.permits("/key/generate"));
        assert!(routes(&["/v1/embeddings"]).permits("/embeddings"));
        assert!(routes(&["/key"]).permits("/key/info"));
        assert!(!routes(&["/key"]).permits("/keys"));
    }

    #[test]
    fn groups_and_patterns() {
        let llm = routes(&["llm_api_routes"]);
        assert!(llm.permits("/v1/chat/completions"));
        assert!(llm.permits("/v1/models/gpt-4o"));
        assert!(!llm.permits("/key/generate"));
        let info = routes(&["info_routes"]);
        assert!(info.permits("/key/info"));
        assert!(!info.permits("/key/generate"));
        assert!(routes(&["management_routes"]).permits("/team/new"));
        assert!(routes(&["/key/*"]).permits("/key/update"));
        assert!(!routes(&["/key/*"]).permits("/team/new"));
        assert!(routes(&[]).permits("/anything"));
    }

    #[test]
    fn the_served_route_is_checked() {
        let allowed = routes(&["/chat/completions"]);
        assert!(allowed.permit("/v1/chat/completions").is_ok());
        assert_eq!(
            allowed.permit("/v1/embeddings"),
            Err("/v1/embeddings".to_string())
        );
        assert!(routes(&[]).permit("/anything").is_ok());
    }
}
