//! The Clearance system's tables (spec §2).

pub mod academic_department;
pub mod approval;
pub mod audit_log;
pub mod clearance;
pub mod course;
pub mod department;
pub mod finance_record;
pub mod gown;
pub mod notification;
pub mod payment;
pub mod school;
pub mod student;
pub mod user;
