//! Integration tests: the real router over real databases.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

#[macro_use]
mod common;

mod access;
mod admin_notes;
mod audit_logs;
mod auth;
mod compat;
mod conformance;
mod dashboard;
mod encryption;
mod import;
mod intake;
mod journal;
mod journey;
mod lockout;
mod openapi;
mod password_reset;
mod platform;
mod popia;
mod profiles;
mod retention;
mod sessions;
mod two_factor;
mod users;
