//! Integration tests: axis's real router over real databases (SQLite, and
//! PostgreSQL / MariaDB when their test servers are configured), with a fake
//! Microsoft Entra ID provider on loopback for Microsoft sign-in.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

#[macro_use]
mod common;

mod activities;
mod audit;
mod auth;
mod clients;
mod contacts;
mod industries;
mod journey;
mod microsoft;
mod platform;
mod tags;
mod users;
