//! Integration tests: the real router over real databases, schools
//! provisioned through the real job.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

#[macro_use]
mod common;

mod auth;
mod isolation;
mod platform;
mod rbac;
