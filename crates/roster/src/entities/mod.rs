//! roster's tables (`roster_*`), one module per table; the schema is
//! `migration::m0001_initial`.

pub mod academic_year;
pub mod availability;
pub mod class_group;
pub mod class_group_schedule;
pub mod class_group_trainee;
pub mod course;
pub mod course_mapping;
pub mod course_prerequisite;
pub mod department;
pub mod department_trainer;
pub mod draft_scope;
pub mod draft_version;
pub mod email_token;
pub mod enrollment;
pub mod face;
pub mod generation_task;
pub mod notification;
pub mod profile;
pub mod programme;
pub mod room;
pub mod room_maintenance;
pub mod school;
pub mod subtopic;
pub mod term;
pub mod timetable_entry;
pub mod timetable_settings;
pub mod topic;
pub mod user;
