//! The kernel: mechanisms every campus system uses, and nothing
//! domain-specific. A system crate depends on this crate, never on another
//! system.

pub mod audit;
pub mod audit_log;
pub mod config;
pub mod counts;
pub mod crypto;
pub mod cuid;
pub mod db;
pub mod docs;
pub mod error;
pub mod events;
pub mod extract;
pub mod form;
pub mod http;
pub mod identity;
pub mod import;
pub mod jobs;
pub mod jwt;
pub mod lifecycle;
pub mod listing;
pub mod lockout;
pub mod mail;
pub mod metrics;
pub mod migration;
pub mod money;
pub mod ops;
pub mod password;
pub mod pdf;
pub mod scope;
pub mod serve;
pub mod shared;
pub mod system;
pub mod throttle;
pub mod time;
pub mod upload;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
pub use axum as __axum;
pub use db::Db;
pub use error::{ApiError, ApiResult, FieldErrors, MessageOut};
pub use extract::{Id, IntId, Json, Query};
pub use form::{Checker, Field};
pub use identity::Current;
pub use listing::{FilterKind, ListQuery, Page, PageSize};
pub use money::Money;
pub use scope::{Scoped, Visible};
pub use system::{HasKernel, Kernel, System};
