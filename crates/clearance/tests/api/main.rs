//! Integration tests: the real router over real databases.

#[macro_use]
mod common;

mod auth;
mod departments;
mod platform;
mod students;
mod users;
