//! Integration tests: the real router over real databases.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

#[macro_use]
mod common;

mod academic;
mod attendance_journey;
mod auth;
mod availability;
mod broadcasts;
mod bulk_courses;
mod bulk_users;
mod checkin;
mod class_groups;
mod conflicts;
mod courses;
mod departments;
mod drafts;
mod enrollments;
mod export;
mod faces;
mod feedback;
mod generation;
mod journey;
mod mappings;
mod notifications;
mod platform;
mod programmes;
mod records;
mod reports;
mod rooms;
mod schedule;
mod school;
mod sessions;
mod timetable;
mod timetable_settings;
mod topics;
mod users;
