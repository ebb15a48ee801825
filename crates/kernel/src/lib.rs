//! The kernel: mechanisms every campus system uses, and nothing
//! domain-specific. A system crate depends on this crate, never on another
//! system.

pub mod config;
pub mod db;
pub mod docs;
pub mod error;
pub mod extract;
pub mod form;
pub mod http;
pub mod jwt;
pub mod listing;
pub mod lockout;
pub mod password;
pub mod serve;
pub mod throttle;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ApiError, ApiResult, FieldErrors, MessageOut};
pub use extract::{Id, Json, Query};
pub use form::{Checker, Field};
pub use listing::{FilterKind, ListQuery, Page, PageSize};
