//! Integration tests: the real router over real databases, schools
//! provisioned through the real job.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

#[macro_use]
mod common;

mod academics;
mod admissions;
mod attendance;
mod auth;
mod isolation;
mod leave;
mod notifications;
mod people;
mod platform;
mod rbac;
mod storage;
mod timetable;
