//! Signing in: passwords and their history, sign-in and tokens, sessions,
//! two-factor authentication and password reset.
//!
//! lib.rs re-exports these modules at the crate root, so the rest of PSS
//! reaches them as `crate::sessions::…`, `crate::auth::…` and so on.

pub(crate) mod auth;
pub(crate) mod password_reset;
pub(crate) mod passwords;
pub(crate) mod sessions;
pub(crate) mod two_factor;
