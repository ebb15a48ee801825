//! Which columns are sealed (AEAD ciphertext only), and reading and writing
//! them. Each value is bound to its table, column and row id, so a value
//! copied elsewhere in the database does not decrypt.

use kernel::crypto::{Aad, KeyRing};
use kernel::{ApiError, ApiResult};

/// Every profile field but the intake flag: personal, medical and disability
/// data alike.
pub const PROFILE_SEALED: &[&str] = &[
    "date_of_birth",
    "phone_number",
    "address",
    "id_number",
    "diagnosis",
    "medications",
    "allergies",
    "doctor_name",
    "doctor_phone",
    "medical_notes",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "accommodations",
    "assistive_technology",
    "learning_style",
    "support_needs",
    "communication_preferences",
];

pub const INTAKE_SEALED: &[&str] = &["responses"];

pub const JOURNAL_SEALED: &[&str] = &[
    "title",
    "content",
    "activities",
    "challenges",
    "achievements",
    "barriers_faced",
    "notes",
];

pub const NOTE_SEALED: &[&str] = &["title", "note_text"];

pub const TWO_FACTOR_SEALED: &[&str] = &["secret", "pending_secret"];

/// Every sealed column of every table, for key rotation.
pub const SEALED_TABLES: &[(&str, &[&str])] = &[
    (crate::entities::profile::TABLE, PROFILE_SEALED),
    (crate::entities::intake_form::TABLE, INTAKE_SEALED),
    (crate::entities::journal_entry::TABLE, JOURNAL_SEALED),
    (crate::entities::admin_note::TABLE, NOTE_SEALED),
    (crate::entities::two_factor::TABLE, TWO_FACTOR_SEALED),
];

/// The sealed values of one row.
pub struct Row<'a> {
    ring: &'a KeyRing,
    table: &'static str,
    id: String,
}

impl<'a> Row<'a> {
    pub fn new(ring: &'a KeyRing, table: &'static str, id: i64) -> Self {
        Self {
            ring,
            table,
            id: id.to_string(),
        }
    }

    fn aad<'b>(&'b self, column: &'b str) -> Aad<'b> {
        Aad {
            table: self.table,
            column,
            row: &self.id,
        }
    }

    /// The ciphertext to store for `value`; blank is stored as NULL.
    pub fn seal(&self, column: &str, value: Option<&str>) -> Option<String> {
        value
            .filter(|v| !v.is_empty())
            .map(|v| self.ring.encrypt(v, self.aad(column)))
    }

    /// The plaintext of a stored value. A value no key opens is a server
    /// fault (a key missing from the ring, or tampering): logged without the
    /// value, answered as a bare 500, never shown as ciphertext.
    pub fn open(&self, column: &str, stored: Option<&str>) -> ApiResult<Option<String>> {
        let Some(stored) = stored else {
            return Ok(None);
        };
        self.ring
            .decrypt(stored, self.aad(column))
            .map(Some)
            .map_err(|error| {
                tracing::error!(
                    table = self.table,
                    column,
                    row = %self.id,
                    %error,
                    "a sealed field could not be opened"
                );
                ApiError::internal(error)
            })
    }

    /// As [`Row::open`], with NULL read as the empty string (DRF's blank text).
    pub fn text(&self, column: &str, stored: Option<&str>) -> ApiResult<String> {
        Ok(self.open(column, stored)?.unwrap_or_default())
    }
}
