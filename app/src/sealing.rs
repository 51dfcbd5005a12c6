//! Provider secrets at rest: AES-256-GCM under a key derived from `GATEHOUSE_SECRETS_KEY`, in a
//! versioned ciphertext that names the key it was sealed with, so the key can be rotated
//! (`GATEHOUSE_SECRETS_KEY_PREVIOUS` still opens what the old key sealed).
//!
//! Layout of version 1: `[1][key id: 4 bytes][nonce: 12 bytes][ciphertext + 16-byte tag]`. The
//! caller's context (a deployment's id) is bound as associated data, so a sealed value copied
//! onto another row does not open.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};
use sha2::{Digest, Sha256};

/// The only ciphertext format so far.
const VERSION_1: u8 = 1;
const KEY_ID_LEN: usize = 4;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Shortest secret accepted (`openssl rand -hex 32` gives 64).
pub const MIN_SECRET_CHARS: usize = 32;
const KDF_SALT: &[u8] = b"gatehouse provider secrets";
const KDF_INFO: &[u8] = b"aes-256-gcm v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the secrets key must be at least {MIN_SECRET_CHARS} characters")]
    WeakKey,
    #[error("sealed with an unknown format version {0}")]
    UnknownVersion(u8),
    #[error("sealed with a key that is neither the current nor the previous secrets key")]
    UnknownKey,
    #[error("the sealed value is corrupt or belongs elsewhere")]
    Corrupt,
    #[error("the system random source failed")]
    Random,
}

struct SecretsKey {
    id: [u8; KEY_ID_LEN],
    key: LessSafeKey,
}

impl SecretsKey {
    fn derive(secret: &str) -> Result<Self, SealError> {
        if secret.trim().chars().count() < MIN_SECRET_CHARS {
            return Err(SealError::WeakKey);
        }
        let prk = Salt::new(HKDF_SHA256, KDF_SALT).extract(secret.as_bytes());
        let okm = prk
            .expand(&[KDF_INFO], &AES_256_GCM)
            .map_err(|_| SealError::WeakKey)?;
        let key = LessSafeKey::new(UnboundKey::from(okm));
        let digest = Sha256::new()
            .chain_update(b"gatehouse secrets key id\0")
            .chain_update(secret.as_bytes())
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Ok(SecretsKey { id, key })
    }
}

/// Seals with the current key; opens with the current or the previous one.
pub struct Sealer {
    current: SecretsKey,
    previous: Option<SecretsKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Sealer")
            .field("current_key_id", &hex::encode(self.current.id))
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(current: &str, previous: Option<&str>) -> Result<Self, SealError> {
        Ok(Sealer {
            current: SecretsKey::derive(current)?,
            previous: previous.map(SecretsKey::derive).transpose()?,
        })
    }

    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        sealed.push(VERSION_1);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut body,
            )
            .map_err(|_| SealError::Corrupt)?;
        sealed.extend_from_slice(&body);
        Ok(sealed)
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Corrupt)?;
        if version != VERSION_1 {
            return Err(SealError::UnknownVersion(version));
        }
        if rest.len() < KEY_ID_LEN + NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let (key_id, rest) = rest.split_at(KEY_ID_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|key| key.id == key_id)
            .ok_or(SealError::UnknownKey)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Corrupt)?;
        let mut body = ciphertext.to_vec();
        let plaintext = key
            .key
            .open_in_place(nonce, Aad::from(context), &mut body)
            .map_err(|_| SealError::Corrupt)?;
        Ok(plaintext.to_vec())
    }

    /// Whether a sealed value is under the current key (else it is re-sealed on its next save).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.get(1..1 + KEY_ID_LEN) == Some(&self.current.id[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef-current";
    const OLD: &str = "fedcba9876543210fedcba9876543210-previous";

    #[test]
    fn round_trip_hides_the_plaintext_and_varies_the_nonce() {
        let sealer = Sealer::new(KEY, None).unwrap();
        let first = sealer.seal(b"sk-provider-secret", b"row-1").unwrap();
        let second = sealer.seal(b"sk-provider-secret", b"row-1").unwrap();
        assert_ne!(first, second);
        assert_eq!(first[0], VERSION_1);
        assert_eq!(first.len(), HEADER_LEN + 18 + 16);
        assert!(!first
            .windows(8)
            .any(|window| window == b"provider".as_slice()));
        assert_eq!(
            sealer.open(&first, b"row-1").unwrap(),
            b"sk-provider-secret"
        );
        assert!(sealer.is_current(&first));
    }

    #[test]
    fn another_context_a_flipped_bit_or_a_foreign_key_does_not_open() {
        let sealer = Sealer::new(KEY, None).unwrap();
        let sealed = sealer.seal(b"secret", b"row-1").unwrap();
        assert_eq!(sealer.open(&sealed, b"row-2"), Err(SealError::Corrupt));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.open(&flipped, b"row-1"), Err(SealError::Corrupt));
        let stranger = Sealer::new(OLD, None).unwrap();
        assert_eq!(stranger.open(&sealed, b"row-1"), Err(SealError::UnknownKey));
        let mut future = sealed;
        future[0] = 2;
        assert_eq!(
            sealer.open(&future, b"row-1"),
            Err(SealError::UnknownVersion(2))
        );
        assert_eq!(sealer.open(&[1, 2, 3], b"row-1"), Err(SealError::Corrupt));
        assert_eq!(sealer.open(&[], b"row-1"), Err(SealError::Corrupt));
    }

    #[test]
    fn the_previous_key_still_opens_after_rotation() {
        let old = Sealer::new(OLD, None).unwrap();
        let sealed = old.seal(b"secret", b"row").unwrap();
        let rotated = Sealer::new(KEY, Some(OLD)).unwrap();
        assert_eq!(rotated.open(&sealed, b"row").unwrap(), b"secret");
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal(b"secret", b"row").unwrap()));
    }

    #[test]
    fn short_keys_are_refused() {
        assert_eq!(
            Sealer::new("too-short", None).unwrap_err(),
            SealError::WeakKey
        );
        assert_eq!(
            Sealer::new(KEY, Some("short")).unwrap_err(),
            SealError::WeakKey
        );
    }
}
