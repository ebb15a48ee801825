//! Fernet tokens, as django-encrypted-model-fields writes them: reading the
//! original's encrypted columns during an import, never storing them.
//!
//! A token is `base64url(0x80 ‖ timestamp ‖ iv ‖ ciphertext ‖ hmac)`: AES-128
//! in CBC mode with PKCS#7 padding, authenticated by HMAC-SHA256 over
//! everything before the tag. The 32-byte key is the HMAC key followed by the
//! AES key. The original sets no time-to-live, so timestamps are not checked.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};

const VERSION: u8 = 0x80;
const HEADER: usize = 1 + 8 + 16;
const TAG: usize = 32;

/// The original's keys (`FIELD_ENCRYPTION_KEY`: one key, or several separated
/// by commas as its settings allow for rotation; any of them may open a token).
#[derive(Clone)]
pub struct Fernet {
    keys: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Fernet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fernet({} key(s))", self.keys.len())
    }
}

impl Fernet {
    /// Parses the setting; a key that is not 32 bytes of URL-safe base64 is
    /// refused, naming its position (never its value).
    pub fn parse(setting: &str) -> Result<Self, String> {
        let keys = setting
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(|key| key.trim_matches(|c| "[]()'\"".contains(c)))
            .filter(|key| !key.is_empty())
            .enumerate()
            .map(|(index, key)| {
                decode(key)
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| {
                        format!(
                            "key {} is not a Fernet key (32 bytes of URL-safe base64)",
                            index + 1
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err("no key given".to_owned());
        }
        Ok(Self { keys })
    }

    /// The plaintext of `token`, or why it cannot be read (tampered, made
    /// with another key, not a token).
    pub fn decrypt(&self, token: &str) -> Result<String, String> {
        let bytes = decode(token.trim()).ok_or("not a Fernet token")?;
        if bytes.len() < HEADER + 16 + TAG
            || !(bytes.len() - HEADER - TAG).is_multiple_of(16)
            || bytes[0] != VERSION
        {
            return Err("not a Fernet token".to_owned());
        }
        let (signed, tag) = bytes.split_at(bytes.len() - TAG);
        let key = self
            .keys
            .iter()
            .find(|key| {
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key[..16])
                    .expect("HMAC takes keys of any length");
                mac.update(signed);
                mac.verify_slice(tag).is_ok()
            })
            .ok_or("made with another key, or altered")?;
        let iv: [u8; 16] = signed[9..HEADER].try_into().map_err(|_| "short token")?;
        let aes_key: [u8; 16] = key[16..].try_into().map_err(|_| "short key")?;
        let plain = cbc::Decryptor::<aes::Aes128>::new(&aes_key.into(), &iv.into())
            .decrypt_padded_vec::<Pkcs7>(&signed[HEADER..])
            .map_err(|_| "bad padding")?;
        String::from_utf8(plain).map_err(|_| "not UTF-8 text".to_owned())
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE
        .decode(text)
        .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The specification's own vector (github.com/fernet/spec, generate.json).
    const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
    const TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";

    #[test]
    fn reads_the_specification_vector() {
        let fernet = Fernet::parse(KEY).unwrap();
        assert_eq!(fernet.decrypt(TOKEN).unwrap(), "hello");
    }

    #[test]
    fn any_key_of_a_rotation_list_opens_a_token() {
        let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let fernet = Fernet::parse(&format!("{other}, {KEY}")).unwrap();
        assert_eq!(fernet.decrypt(TOKEN).unwrap(), "hello");
        let fernet = Fernet::parse(&format!("['{other}', '{KEY}']")).unwrap();
        assert_eq!(fernet.decrypt(TOKEN).unwrap(), "hello");
    }

    #[test]
    fn a_wrong_key_or_an_altered_token_is_refused() {
        let wrong = Fernet::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        assert!(wrong.decrypt(TOKEN).is_err());
        let fernet = Fernet::parse(KEY).unwrap();
        let mut altered = TOKEN.to_owned();
        altered.replace_range(40..41, "A");
        assert!(fernet.decrypt(&altered).is_err());
        assert!(fernet.decrypt("plain text").is_err());
        assert!(fernet.decrypt("").is_err());
    }

    #[test]
    fn keys_that_are_not_fernet_keys_are_refused_without_echoing_them() {
        let error = Fernet::parse("secret-value").unwrap_err();
        assert!(error.contains("key 1") && !error.contains("secret-value"));
        assert!(Fernet::parse(" , ").is_err());
    }
}
