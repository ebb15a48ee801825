//! Integration tests: the real router over real databases.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

#[macro_use]
mod common;

mod academics;
mod analytics;
mod audit_logs;
mod auth;
mod bench_seed;
mod conformance;
mod counts;
mod daraja;
mod departments;
mod finance;
mod gowns;
mod import;
mod journey;
mod nodes;
mod notifications;
mod openapi;
mod original_clients;
mod platform;
mod students;
mod users;
mod workflow;
