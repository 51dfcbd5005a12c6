//! Secret material: virtual-key generation and hashing, console password hashing, CSRF tokens.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use subtle::ConstantTimeEq;

/// Random bytes in a virtual key's secret.
const KEY_ENTROPY_BYTES: usize = 32;

/// A freshly generated virtual key: the secret (shown once) and what is stored.
pub struct GeneratedKey {
    pub secret: String,
    pub token_hash: String,
}

fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)?;
    Ok(hex::encode(buffer))
}

/// Generates a new `sk-…` secret with 256 bits of entropy.
pub fn generate_virtual_key() -> Result<GeneratedKey, getrandom::Error> {
    let secret = format!("sk-{}", random_hex(KEY_ENTROPY_BYTES)?);
    let token_hash = hash_key(&secret);
    Ok(GeneratedKey { secret, token_hash })
}

/// SHA-256 of a key secret, as raw bytes (the in-memory cache's lookup key).
pub fn hash_key_bytes(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// SHA-256 of a key secret in lowercase hex: LiteLLM's `token`, the stored identity of a key.
pub fn hash_key(secret: &str) -> String {
    hex::encode(hash_key_bytes(secret))
}

/// A key a caller names by its secret (`sk-…`) or by its `token`: the token (hash).
pub fn token_hash_of(key: &str) -> String {
    if key.starts_with("sk-") {
        hash_key(key)
    } else {
        key.to_ascii_lowercase()
    }
}

/// The non-secret name shown for a key: its first characters and last four, `sk-1a2b…9f0e`.
pub fn display_name(secret: &str) -> String {
    let head: String = secret.chars().take(7).collect();
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

/// Hashes a console password with Argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// An Argon2 hash of a random password, verified against when the user is unknown so that
/// response time does not reveal which emails exist.
static DUMMY_PASSWORD_HASH: LazyLock<String> = LazyLock::new(|| {
    let throwaway = random_hex(16).unwrap_or_else(|_| "gatehouse-dummy".into());
    hash_password(&throwaway).unwrap_or_default()
});

/// Checks a password against a stored hash (or the dummy hash when there is none).
pub fn verify_password(password: &str, stored_hash: Option<&str>) -> bool {
    let hash_text = stored_hash.unwrap_or(DUMMY_PASSWORD_HASH.as_str());
    let Ok(parsed) = PasswordHash::new(hash_text) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && stored_hash.is_some()
}

/// A new random CSRF token for a session.
pub fn new_csrf_token() -> Result<String, getrandom::Error> {
    random_hex(32)
}

/// What opens first-run setup (`/setup`): the master key, or the one-time token the instance
/// printed in its log at start. Held as hashes only.
#[derive(Clone, Default)]
pub struct SetupGate {
    hashes: Vec<[u8; 32]>,
}

impl SetupGate {
    pub fn new(master_key: Option<&str>, setup_token: &str) -> SetupGate {
        SetupGate {
            hashes: master_key
                .into_iter()
                .chain([setup_token])
                .map(hash_key_bytes)
                .collect(),
        }
    }

    /// The secret given is the master key or the setup token (compared in constant time).
    pub fn accepts(&self, given: &str) -> bool {
        let given = hash_key_bytes(given.trim());
        self.hashes
            .iter()
            .fold(false, |found, hash| found | bool::from(hash.ct_eq(&given)))
    }
}

/// Constant-time string comparison for tokens.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_random_and_hashed() {
        let first = generate_virtual_key().unwrap();
        let second = generate_virtual_key().unwrap();
        assert!(first.secret.starts_with("sk-"));
        assert_eq!(first.secret.len(), 3 + 64);
        assert_ne!(first.secret, second.secret);
        assert_eq!(first.token_hash, hash_key(&first.secret));
        assert_eq!(first.token_hash.len(), 64);
        assert!(!first.token_hash.contains(&first.secret[3..]));
    }

    #[test]
    fn display_name_hides_the_middle() {
        assert_eq!(display_name("sk-abcdefghijklmnop"), "sk-abcd…mnop");
    }

    #[test]
    fn password_round_trip_and_unknown_user() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong", Some(&hash)));
        assert!(!verify_password("anything", None));
    }

    #[test]
    fn dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_PASSWORD_HASH.as_str()).is_ok());
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
    }
}
