//! oryne's tables. The platform's (`tenants`, `tenant_domains`,
//! `platform_users`, `platform_audit_logs`) live in the platform database;
//! every other table lives in each tenant's schema or file.

pub mod audit_log;
pub mod domain;
pub mod notification;
pub mod notification_preference;
pub mod password_reset;
pub mod permission;
pub mod platform_audit_log;
pub mod platform_user;
pub mod role;
pub mod tenant;
pub mod user;
