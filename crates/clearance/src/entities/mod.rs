//! The Clearance system's tables (spec §2).

pub mod academic_department;
pub mod course;
pub mod department;
pub mod school;
pub mod student;
pub mod user;
