//! oryne's tables. The platform's (`tenants`, `tenant_domains`,
//! `platform_users`, `platform_audit_logs`) live in the platform database;
//! every other table lives in each tenant's schema or file.

pub mod academic_year;
pub mod admission;
pub mod attendance;
pub mod audit_log;
pub mod domain;
pub mod leave_request;
pub mod notification;
pub mod notification_preference;
pub mod parent;
pub mod password_reset;
pub mod permission;
pub mod platform_audit_log;
pub mod platform_user;
pub mod role;
pub mod school_class;
pub mod section;
pub mod staff;
pub mod student;
pub mod student_parent;
pub mod subject;
pub mod teacher;
pub mod teacher_assignment;
pub mod tenant;
pub mod term;
pub mod timetable_entry;
pub mod user;
