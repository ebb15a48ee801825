//! The PSS tables (all prefixed `pss_`, so the system can share a database).
//! Columns marked *sealed* hold only AEAD ciphertext (see `crate::seal`).

pub mod admin_note;
pub mod backup_code;
pub mod consent;
pub mod deletion_request;
pub mod export_request;
pub mod intake_form;
pub mod journal_entry;
pub mod password_history;
pub mod password_reset_token;
pub mod privacy_policy;
pub mod profile;
pub mod retention_notice;
pub mod session;
pub mod two_factor;
pub mod user;
