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
mod contracts;
mod documents;
mod expiry;
mod import;
mod industries;
mod journey;
mod kpis;
mod microsoft;
mod persons;
mod platform;
mod services;
mod tags;
mod users;
