//! Wildcard model groups (`model_name: anthropic/*`): whether a requested model matches a
//! pattern, what each `*` stood for, and which of several matching patterns is the most specific.

/// What each `*` of `pattern` matched in `model`, in order, or `None` when it does not match.
/// A `*` matches one or more characters, as many as it can while the rest still matches.
pub fn captures<'m>(pattern: &str, model: &'m str) -> Option<Vec<&'m str>> {
    let mut found = Vec::new();
    matches_from(pattern, model, &mut found).then_some(found)
}

fn matches_from<'m>(pattern: &str, model: &'m str, found: &mut Vec<&'m str>) -> bool {
    let Some((literal, rest)) = pattern.split_once('*') else {
        return pattern == model;
    };
    let Some(after_literal) = model.strip_prefix(literal) else {
        return false;
    };
    // Longest first, so `a/*` on `a/b/c` captures `b/c`.
    let mut ends: Vec<usize> = after_literal
        .char_indices()
        .map(|(index, ch)| index + ch.len_utf8())
        .collect();
    ends.reverse();
    for end in ends {
        let mark = found.len();
        found.push(&after_literal[..end]);
        if matches_from(rest, &after_literal[end..], found) {
            return true;
        }
        found.truncate(mark);
    }
    false
}

/// How specific a pattern is: its characters other than `*` (more is more specific).
pub fn specificity(pattern: &str) -> usize {
    pattern.chars().filter(|ch| *ch != '*').count()
}

/// `template` with each `*` replaced by the capture of the same place (the last capture for any
/// `*` beyond them).
pub fn substitute(template: &str, captured: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut pieces = template.split('*');
    out.push_str(pieces.next().unwrap_or_default());
    for (index, piece) in pieces.enumerate() {
        let value = captured
            .get(index)
            .or(captured.last())
            .copied()
            .unwrap_or_default();
        out.push_str(value);
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_star_matches_one_or_more_characters() {
        assert_eq!(
            captures("anthropic/*", "anthropic/claude-sonnet-4-5"),
            Some(vec!["claude-sonnet-4-5"])
        );
        assert_eq!(captures("anthropic/*", "anthropic/"), None);
        assert_eq!(captures("anthropic/*", "openai/gpt-4o"), None);
        assert_eq!(captures("*", "gpt-4o"), Some(vec!["gpt-4o"]));
        assert_eq!(captures("a/*", "a/b/c"), Some(vec!["b/c"]));
        assert_eq!(
            captures("fo::*:static::*", "fo::hi:static::there"),
            Some(vec!["hi", "there"])
        );
        assert_eq!(captures("*-mini", "gpt-4o-mini"), Some(vec!["gpt-4o"]));
        assert_eq!(captures("*-mini", "gpt-4o"), None);
        assert_eq!(captures("plain", "plain"), Some(vec![]));
        assert_eq!(captures("claude-*", "claude-é"), Some(vec!["é"]));
    }

    #[test]
    fn captures_fill_the_template_in_order() {
        assert_eq!(substitute("*", &["gpt-4o"]), "gpt-4o");
        assert_eq!(
            substitute("us.anthropic.*-v1:0", &["claude"]),
            "us.anthropic.claude-v1:0"
        );
        assert_eq!(substitute("*/*", &["a", "b"]), "a/b");
        assert_eq!(substitute("*/*", &["a"]), "a/a");
        assert_eq!(substitute("fixed", &["a"]), "fixed");
    }

    #[test]
    fn longer_literals_are_more_specific() {
        assert!(specificity("anthropic/claude-*") > specificity("anthropic/*"));
        assert!(specificity("anthropic/*") > specificity("*"));
    }
}
