//! Field encryption at rest: an AEAD (XChaCha20-Poly1305) over single column
//! values, with a key ring for rotation.
//!
//! A stored value reads `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
//! The 192-bit nonce is random for every write, so random nonces never collide
//! in practice. The associated data binds the ciphertext to its table, column
//! and row ([`Aad`]): a value copied into another row or column fails to
//! decrypt instead of being shown as someone else's data.
//!
//! The key ring comes from one setting (`CAMPUS_FIELD_ENCRYPTION_KEY`): a
//! comma-separated list of base64 32-byte keys. The first key encrypts; every
//! key decrypts, so a new key is put first, the data re-encrypted (see
//! [`KeyRing::needs_rotation`]), and the old key then dropped.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::Digest;

use crate::config::SettingError;

const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The setting holding the key ring.
pub const KEY_SETTING: &str = "CAMPUS_FIELD_ENCRYPTION_KEY";

/// Where a value lives: what it is bound to by the AEAD's associated data.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub table: &'a str,
    pub column: &'a str,
    /// The row's primary key, as text.
    pub row: &'a str,
}

impl Aad<'_> {
    fn bytes(&self) -> Vec<u8> {
        // Unit separators keep ("ab","c") and ("a","bc") apart.
        format!("{}\u{1f}{}\u{1f}{}", self.table, self.column, self.row).into_bytes()
    }
}

/// Why a stored value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not in the `enc:v1:` format (for example plaintext written by hand).
    #[error("the value is not an encrypted field")]
    Malformed,
    /// No key of the ring opens it, or it was moved to another row or column.
    #[error("no key in the ring decrypts the value for this row and column")]
    Undecryptable,
}

struct RingKey {
    /// The first 4 bytes of SHA-256 over the key, in hex: names the key in a
    /// stored value without revealing it.
    id: String,
    cipher: XChaCha20Poly1305,
}

/// The keys that decrypt, the first of which also encrypts.
pub struct KeyRing {
    keys: Vec<RingKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

impl KeyRing {
    /// Parses a comma-separated list of base64 (standard or URL-safe) 32-byte
    /// keys. The message never contains key material.
    pub fn parse(setting: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (index, text) in setting
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .enumerate()
        {
            let bytes = [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or_else(|| format!("key {} is not base64", index + 1))?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                format!(
                    "key {} is {} bytes; it must be 32 (e.g. `openssl rand -base64 32`)",
                    index + 1,
                    b.len()
                )
            })?;
            keys.push(Self::key(&bytes));
        }
        if keys.is_empty() {
            return Err("no key given".to_owned());
        }
        Ok(Self { keys })
    }

    fn key(bytes: &[u8; 32]) -> RingKey {
        let digest = sha2::Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        RingKey {
            id,
            cipher: XChaCha20Poly1305::new(&Key::from(*bytes)),
        }
    }

    /// A fresh random key, base64-encoded, as the setting takes it.
    pub fn generate_key() -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        STANDARD.encode(bytes)
    }

    /// The ids of the ring's keys, the encrypting one first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// Encrypts `plaintext` with the first key, bound to `aad`.
    pub fn encrypt(&self, plaintext: &str, aad: Aad<'_>) -> String {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = aad.bytes();
        // Encryption fails only for inputs beyond 256 GiB, which no field is.
        let sealed = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.id, URL_SAFE_NO_PAD.encode(blob))
    }

    /// Decrypts a value written by [`KeyRing::encrypt`] for the same `aad`.
    pub fn decrypt(&self, stored: &str, aad: Aad<'_>) -> Result<String, CryptoError> {
        let (key_id, blob) = split(stored)?;
        let aad = aad.bytes();
        let nonce = XNonce::try_from(&blob[..NONCE_LEN]).map_err(|_| CryptoError::Malformed)?;
        let payload = || Payload {
            msg: &blob[NONCE_LEN..],
            aad: &aad,
        };
        // The named key first; then the others, in case ids ever collide.
        let ordered = self
            .keys
            .iter()
            .filter(|k| k.id == key_id)
            .chain(self.keys.iter().filter(|k| k.id != key_id));
        for key in ordered {
            if let Ok(plain) = key.cipher.decrypt(&nonce, payload()) {
                return String::from_utf8(plain).map_err(|_| CryptoError::Undecryptable);
            }
        }
        Err(CryptoError::Undecryptable)
    }

    /// True when `stored` was not written with the encrypting key (or is not
    /// encrypted at all): re-encrypt it to finish a rotation.
    pub fn needs_rotation(&self, stored: &str) -> bool {
        !matches!(split(stored), Ok((id, _)) if id == self.keys[0].id)
    }

    /// Whether `stored` has the shape of an encrypted value.
    pub fn is_encrypted(stored: &str) -> bool {
        split(stored).is_ok()
    }
}

fn split(stored: &str) -> Result<(&str, Vec<u8>), CryptoError> {
    let rest = stored.strip_prefix(PREFIX).ok_or(CryptoError::Malformed)?;
    let (key_id, body) = rest.split_once(':').ok_or(CryptoError::Malformed)?;
    let blob = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| CryptoError::Malformed)?;
    if blob.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    Ok((key_id, blob))
}

/// "Production mode": `CAMPUS_ENV=production`, or a database that is not a
/// local SQLite file (PostgreSQL, MySQL/MariaDB). In production mode nothing
/// secret is ever generated on the fly; it must come from the environment.
pub fn is_production(
    lookup: &(impl Fn(&str) -> Option<String> + ?Sized),
    database_url: &str,
) -> bool {
    let declared =
        lookup("CAMPUS_ENV").is_some_and(|v| v.trim().eq_ignore_ascii_case("production"));
    declared || crate::db::sqlite_file(database_url).is_none()
}

/// The key ring from `CAMPUS_FIELD_ENCRYPTION_KEY`. Without it, in production
/// mode start-up fails naming the variable; on a local SQLite file a
/// development key is generated once and kept beside the database
/// (`field_encryption_key`, readable by the owner only), like the secret key.
pub fn key_ring_from_settings(
    lookup: &(impl Fn(&str) -> Option<String> + ?Sized),
    database_url: &str,
) -> Result<KeyRing, SettingError> {
    let invalid = |reason: String| SettingError {
        name: KEY_SETTING,
        reason,
    };
    if let Some(value) = lookup(KEY_SETTING) {
        return KeyRing::parse(&value).map_err(invalid);
    }
    match crate::db::sqlite_file(database_url) {
        Some(path) if !is_production(lookup, database_url) => {
            let key = development_key(&path).map_err(|e| {
                invalid(format!(
                    "not set, and the development key could not be stored: {e}"
                ))
            })?;
            KeyRing::parse(&key).map_err(invalid)
        }
        _ => Err(invalid(
            "is required in production mode (CAMPUS_ENV=production or a database other than a local SQLite file); generate one with `openssl rand -base64 32`".to_owned(),
        )),
    }
}

fn development_key(database: &Path) -> std::io::Result<String> {
    let dir = database
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let path = dir.join("field_encryption_key");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && KeyRing::parse(existing.trim()).is_ok()
    {
        return Ok(existing.trim().to_owned());
    }
    let key = KeyRing::generate_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&path)?, key.as_bytes())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: Aad<'static> = Aad {
        table: "profiles",
        column: "diagnosis",
        row: "7",
    };

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let ring = KeyRing::parse(&KeyRing::generate_key()).unwrap();
        let stored = ring.encrypt("type 1 diabetes", ROW);
        assert!(stored.starts_with("enc:v1:"));
        assert!(!stored.contains("diabetes"));
        assert_ne!(
            stored,
            ring.encrypt("type 1 diabetes", ROW),
            "nonces are random"
        );
        assert_eq!(ring.decrypt(&stored, ROW).unwrap(), "type 1 diabetes");
        assert!(KeyRing::is_encrypted(&stored));
        assert!(!KeyRing::is_encrypted("type 1 diabetes"));
    }

    #[test]
    fn another_row_column_or_table_cannot_open_it() {
        let ring = KeyRing::parse(&KeyRing::generate_key()).unwrap();
        let stored = ring.encrypt("penicillin", ROW);
        for aad in [
            Aad { row: "8", ..ROW },
            Aad {
                column: "allergies",
                ..ROW
            },
            Aad {
                table: "other",
                ..ROW
            },
        ] {
            assert_eq!(ring.decrypt(&stored, aad), Err(CryptoError::Undecryptable));
        }
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.decrypt(&tampered, ROW).is_err());
        assert_eq!(ring.decrypt("plain", ROW), Err(CryptoError::Malformed));
        assert_eq!(
            ring.decrypt("enc:v1:abcd:AAAA", ROW),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn rings_rotate_first_encrypts_all_decrypt() {
        let (old, new) = (KeyRing::generate_key(), KeyRing::generate_key());
        let before = KeyRing::parse(&old).unwrap();
        let stored = before.encrypt("asthma", ROW);
        let rotated = KeyRing::parse(&format!("{new}, {old}")).unwrap();
        assert_eq!(rotated.decrypt(&stored, ROW).unwrap(), "asthma");
        assert!(rotated.needs_rotation(&stored));
        let again = rotated.encrypt("asthma", ROW);
        assert!(!rotated.needs_rotation(&again));
        let only_new = KeyRing::parse(&new).unwrap();
        assert_eq!(only_new.decrypt(&again, ROW).unwrap(), "asthma");
        assert_eq!(
            only_new.decrypt(&stored, ROW),
            Err(CryptoError::Undecryptable)
        );
    }

    #[test]
    fn bad_settings_say_why_without_the_key() {
        assert!(KeyRing::parse("").is_err());
        assert!(
            KeyRing::parse("not base64!!")
                .unwrap_err()
                .contains("key 1")
        );
        let short = STANDARD.encode([1u8; 16]);
        let error = KeyRing::parse(&format!("{},{short}", KeyRing::generate_key())).unwrap_err();
        assert!(error.contains("key 2 is 16 bytes"), "{error}");
        // URL-safe keys (Fernet-style) are accepted too.
        assert!(KeyRing::parse(&URL_SAFE.encode([7u8; 32])).is_ok());
    }

    #[test]
    fn production_mode_requires_the_key() {
        let none = |_: &str| None;
        let error = key_ring_from_settings(&none, "postgres://h/db").unwrap_err();
        assert_eq!(error.name, KEY_SETTING);
        assert!(is_production(&none, "mysql://h/db"));
        let production = |k: &str| (k == "CAMPUS_ENV").then(|| "production".to_owned());
        let dir = std::env::temp_dir().join(format!("campus-crypto-{}", uuid::Uuid::new_v4()));
        let url = format!("sqlite://{}/x.db?mode=rwc", dir.display());
        assert!(key_ring_from_settings(&production, &url).is_err());
        // Development on SQLite: generated once, then reused.
        let first = key_ring_from_settings(&none, &url).unwrap();
        let second = key_ring_from_settings(&none, &url).unwrap();
        assert_eq!(first.key_ids(), second.key_ids());
        let _ = std::fs::remove_dir_all(dir);
    }
}
