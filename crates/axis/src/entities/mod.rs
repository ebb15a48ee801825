//! axis's tables (`axis_*`). Every domain row has a 25-character CUID `id`,
//! `created_at`, `updated_at` and `deleted_at` (soft delete). Rows whose
//! values are unique among live rows carry a `tombstone`: empty while the
//! row lives, its own id once deleted, so one unique index over
//! `(value, tombstone)` frees the value on delete on every backend.

pub mod account;
pub mod activity;
pub mod audit_log;
pub mod client;
pub mod contact;
pub mod contract;
pub mod document;
pub mod entity_change;
pub mod expiry_reminder;
pub mod field_change;
pub mod industry;
pub mod kpi;
pub mod kpi_assignment;
pub mod kpi_type;
pub mod permission;
pub mod person;
pub mod profile;
pub mod role;
pub mod role_permission;
pub mod service;
pub mod service_assignment;
pub mod service_category;
pub mod service_provider;
pub mod service_session;
pub mod session_feedback;
pub mod tag;
pub mod tag_link;
pub mod user;
pub mod user_client;
pub mod user_role;
