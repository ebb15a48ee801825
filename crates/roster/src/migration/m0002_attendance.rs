//! Attendance, notifications and reports (contract §5–§7, §10): attendance
//! settings, sessions and their records, feedback, notification preferences
//! and devices, broadcasts, stored and scheduled reports.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::ts;

use super::m0001_initial::{fk, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_attendance"
    }
}

const TABLES: [&str; 9] = [
    "roster_report_schedules",
    "roster_reports",
    "roster_broadcasts",
    "roster_push_attempts",
    "roster_notification_devices",
    "roster_notification_preferences",
    "roster_session_feedback",
    "roster_attendance_records",
    "roster_attendance_sessions",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("roster_attendance_settings")
                    .col(uuid("id").primary_key())
                    .col(integer("singleton"))
                    .col(integer("start_window_before_minutes"))
                    .col(integer("start_window_after_minutes"))
                    .col(integer("late_after_minutes"))
                    .col(integer("min_elapsed_percent_to_end"))
                    .col(integer("auto_close_after_minutes"))
                    .col(boolean("require_trainer_location"))
                    .col(boolean("require_trainer_face"))
                    .col(boolean("require_trainee_location"))
                    .col(boolean("require_trainee_face"))
                    .col(double("face_match_threshold"))
                    .col(integer("max_location_accuracy_m"))
                    .col(integer("feedback_window_days"))
                    .col(integer("excuse_window_days"))
                    .col(integer("low_attendance_threshold_percent"))
                    .col(integer("image_retention_days"))
                    .col(ts(db, "updated_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_attendance_settings", &["singleton"], true))
            .await?;

        let sessions = "roster_attendance_sessions";
        manager
            .create_table(
                Table::create()
                    .table(sessions)
                    .col(uuid("id").primary_key())
                    .col(uuid_null("timetable_entry_id"))
                    .col(uuid("enrollment_id"))
                    .col(uuid("course_id"))
                    .col(uuid("class_group_id"))
                    .col(uuid("term_id"))
                    .col(uuid_null("trainer_id"))
                    // The trainer while the session is active, else null: a
                    // unique index on it lets a trainer run one session at a
                    // time, enforced by the database.
                    .col(uuid_null("active_trainer_id"))
                    .col(uuid_null("room_id"))
                    .col(ts(db, "scheduled_start", false))
                    .col(ts(db, "scheduled_end", false))
                    .col(string_len("status", 12))
                    .col(ts(db, "started_at", true))
                    .col(ts(db, "ended_at", true))
                    .col(double_null("start_latitude"))
                    .col(double_null("start_longitude"))
                    .col(double_null("start_distance_m"))
                    .col(double_null("start_face_distance"))
                    .col(boolean("trainer_face_verified"))
                    .col(double_null("end_latitude"))
                    .col(double_null("end_longitude"))
                    .col(double_null("end_distance_m"))
                    .col(boolean("is_makeup"))
                    .col(uuid_null("makeup_for_id"))
                    .col(text_null("cancel_reason"))
                    .col(boolean("auto_closed"))
                    .col(text_null("notes"))
                    .col(integer("feedback_count"))
                    .col(double_null("content_avg"))
                    .col(double_null("delivery_avg"))
                    .col(double_null("engagement_avg"))
                    .col(double_null("overall_avg"))
                    .col(uuid_null("created_by"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        sessions,
                        "timetable_entry_id",
                        "roster_timetable_entries",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        sessions,
                        "enrollment_id",
                        "roster_enrollments",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        sessions,
                        "course_id",
                        "roster_courses",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        sessions,
                        "class_group_id",
                        "roster_class_groups",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        sessions,
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        sessions,
                        "trainer_id",
                        "roster_users",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        sessions,
                        "room_id",
                        "roster_rooms",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        sessions,
                        "makeup_for_id",
                        sessions,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        for (columns, unique) in [
            (&["timetable_entry_id", "scheduled_start"][..], true),
            (&["active_trainer_id"][..], true),
            (&["status", "scheduled_start"][..], false),
            (&["trainer_id", "scheduled_start"][..], false),
            (&["class_group_id", "scheduled_start"][..], false),
            (&["room_id", "scheduled_start"][..], false),
            (&["course_id"][..], false),
            (&["enrollment_id"][..], false),
        ] {
            manager
                .create_index(index(sessions, columns, unique))
                .await?;
        }

        let records = "roster_attendance_records";
        manager
            .create_table(
                Table::create()
                    .table(records)
                    .col(uuid("id").primary_key())
                    .col(uuid("session_id"))
                    .col(uuid("trainee_id"))
                    .col(string_len("status", 10))
                    .col(ts(db, "checked_in_at", true))
                    .col(double_null("latitude"))
                    .col(double_null("longitude"))
                    .col(double_null("accuracy"))
                    .col(double_null("distance_m"))
                    .col(boolean("location_verified"))
                    .col(double_null("face_distance"))
                    .col(boolean("face_verified"))
                    .col(integer("failed_attempts"))
                    .col(boolean("marked_by_system"))
                    .col(boolean("manual_override"))
                    .col(uuid_null("marked_by"))
                    .col(text_null("override_reason"))
                    .col(string_len_null("image", 255))
                    .col(text_null("excuse_reason"))
                    .col(string_len_null("excuse_document", 255))
                    .col(string_len("excuse_status", 10))
                    .col(uuid_null("excuse_reviewed_by"))
                    .col(ts(db, "excuse_reviewed_at", true))
                    .col(text_null("excuse_comment"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        records,
                        "session_id",
                        sessions,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        records,
                        "trainee_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(records, &["session_id", "trainee_id"], true))
            .await?;
        manager
            .create_index(index(records, &["trainee_id", "status"], false))
            .await?;
        manager
            .create_index(index(records, &["excuse_status"], false))
            .await?;

        let feedback = "roster_session_feedback";
        manager
            .create_table(
                Table::create()
                    .table(feedback)
                    .col(uuid("id").primary_key())
                    .col(uuid("session_id"))
                    // Kept only to allow one feedback per trainee; never shown to staff.
                    .col(uuid("trainee_id"))
                    .col(integer("content_rating"))
                    .col(integer("delivery_rating"))
                    .col(integer("engagement_rating"))
                    .col(integer("overall_rating"))
                    .col(text_null("comment"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        feedback,
                        "session_id",
                        sessions,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        feedback,
                        "trainee_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(feedback, &["session_id", "trainee_id"], true))
            .await?;

        let preferences = "roster_notification_preferences";
        manager
            .create_table(
                Table::create()
                    .table(preferences)
                    .col(uuid("user_id").primary_key())
                    // JSON: {type: {in_app, email, push}} over the six types.
                    .col(text("channels"))
                    .col(boolean("dnd_enabled"))
                    .col(integer("dnd_start_minute"))
                    .col(integer("dnd_end_minute"))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        preferences,
                        "user_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        let devices = "roster_notification_devices";
        manager
            .create_table(
                Table::create()
                    .table(devices)
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(string_len("token", 255))
                    .col(string_len("platform", 10))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        devices,
                        "user_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(devices, &["token"], true))
            .await?;
        manager
            .create_index(index(devices, &["user_id"], false))
            .await?;

        let pushes = "roster_push_attempts";
        manager
            .create_table(
                Table::create()
                    .table(pushes)
                    .col(uuid("id").primary_key())
                    .col(uuid("device_id"))
                    .col(uuid("notification_id"))
                    .col(string_len("outcome", 20))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        pushes,
                        "device_id",
                        devices,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        pushes,
                        "notification_id",
                        "roster_notifications",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(pushes, &["notification_id"], false))
            .await?;

        let broadcasts = "roster_broadcasts";
        manager
            .create_table(
                Table::create()
                    .table(broadcasts)
                    .col(uuid("id").primary_key())
                    .col(string_len("title", 200))
                    .col(text("message"))
                    .col(string_len("notification_type", 20))
                    .col(string_len("priority", 10))
                    .col(string_len("audience", 20))
                    .col(text_null("roles"))
                    .col(uuid_null("department_id"))
                    .col(uuid_null("programme_id"))
                    .col(uuid_null("class_group_id"))
                    .col(ts(db, "scheduled_for", true))
                    .col(string_len("status", 10))
                    .col(integer("recipient_count"))
                    .col(integer("delivered_count"))
                    .col(uuid("created_by"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "sent_at", true))
                    .foreign_key(&mut fk(
                        broadcasts,
                        "created_by",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(broadcasts, &["created_by"], false))
            .await?;
        manager
            .create_index(index(
                "roster_notifications",
                &["related_object_type", "related_object_id"],
                false,
            ))
            .await?;

        let reports = "roster_reports";
        manager
            .create_table(
                Table::create()
                    .table(reports)
                    .col(uuid("id").primary_key())
                    .col(string_len("report_type", 20))
                    .col(text("filters"))
                    .col(string_len("status", 10))
                    .col(text_null("summary"))
                    .col(text_null("data"))
                    .col(text_null("error"))
                    .col(uuid("requested_by"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "completed_at", true))
                    .foreign_key(&mut fk(
                        reports,
                        "requested_by",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(reports, &["requested_by"], false))
            .await?;

        let schedules = "roster_report_schedules";
        manager
            .create_table(
                Table::create()
                    .table(schedules)
                    .col(uuid("id").primary_key())
                    .col(string_len("report_type", 20))
                    .col(text("filters"))
                    .col(string_len("frequency", 10))
                    .col(text("formats"))
                    .col(text("recipients"))
                    .col(string_len("channel", 10))
                    .col(ts(db, "next_run_at", false))
                    .col(ts(db, "last_run_at", true))
                    .col(boolean("is_active"))
                    .col(uuid("created_by"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        schedules,
                        "created_by",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(schedules, &["is_active", "next_run_at"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_roster_notifications_related_object_type_related_object_id")
                    .table("roster_notifications")
                    .to_owned(),
            )
            .await?;
        for table in TABLES.into_iter().chain(["roster_attendance_settings"]) {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
