//! Integration tests: the real router over real databases.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

#[macro_use]
mod common;

mod academic;
mod auth;
mod availability;
mod bulk_courses;
mod bulk_users;
mod class_groups;
mod conflicts;
mod courses;
mod departments;
mod drafts;
mod enrollments;
mod export;
mod faces;
mod generation;
mod journey;
mod mappings;
mod platform;
mod programmes;
mod rooms;
mod schedule;
mod school;
mod timetable;
mod timetable_settings;
mod topics;
mod users;
