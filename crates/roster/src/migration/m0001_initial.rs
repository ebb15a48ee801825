//! The roster schema: users and faces, school structure, curriculum,
//! rooms and the timetable, notifications.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::ts;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_initial"
    }
}

/// A named (unique) index over `columns`; names stay within MySQL's 64.
pub(super) fn index(
    table: &'static str,
    columns: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let prefix = if unique { "uq" } else { "ix" };
    let mut name = format!("{prefix}_{table}_{}", columns.join("_"));
    if name.len() > 64 {
        let short: Vec<&str> = columns.iter().map(|c| &c[..c.len().min(4)]).collect();
        name = format!("{prefix}_{table}_{}", short.join("_"));
    }
    let mut index = Index::create();
    index.name(name).table(table.into_iden());
    for column in columns {
        index.col(column.into_iden());
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

pub(super) fn fk(
    table: &'static str,
    column: &'static str,
    target: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    kernel::migration::cols::foreign_key(table, column, target, on_delete)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        manager
            .create_table(
                Table::create()
                    .table("roster_users")
                    .col(uuid("id").primary_key())
                    .col(string_len("email", 254))
                    .col(string_len("password", 255))
                    .col(string_len("first_name", 150))
                    .col(string_len("last_name", 150))
                    .col(string_len("role", 20))
                    .col(string_len_null("gender", 10))
                    .col(string_len_null("phone", 20))
                    .col(string_len_null("id_number", 30))
                    .col(text_null("address"))
                    .col(date_null("date_of_birth"))
                    .col(boolean("is_active"))
                    .col(boolean("is_superuser"))
                    .col(boolean("email_verified"))
                    .col(big_integer("token_epoch"))
                    .col(ts(db, "date_joined", false))
                    .col(ts(db, "last_login", true))
                    .col(ts(db, "updated_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_users", &["email"], true))
            .await?;
        manager
            .create_index(index("roster_users", &["id_number"], true))
            .await?;
        manager
            .create_index(index("roster_users", &["role"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_profiles")
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(string_len_null("admission_number", 30))
                    .col(string_len_null("status", 20))
                    .col(date_null("enrollment_date"))
                    .col(string_len_null("staff_number", 30))
                    .col(text_null("qualifications"))
                    .col(string_len_null("specialization", 200))
                    .col(string_len_null("employment_type", 20))
                    .col(integer_null("max_weekly_hours"))
                    .foreign_key(&mut fk(
                        "roster_profiles",
                        "user_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_profiles", &["user_id"], true))
            .await?;
        manager
            .create_index(index("roster_profiles", &["admission_number"], true))
            .await?;
        manager
            .create_index(index("roster_profiles", &["staff_number"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_faces")
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(text("encoding"))
                    .col(string_len("image_name", 255))
                    .col(string_len("image_type", 40))
                    .col(integer("box_left"))
                    .col(integer("box_top"))
                    .col(integer("box_right"))
                    .col(integer("box_bottom"))
                    .col(ts(db, "registered_at", false))
                    .foreign_key(&mut fk(
                        "roster_faces",
                        "user_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_faces", &["user_id"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_email_tokens")
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(string_len("purpose", 20))
                    .col(string_len("token_hash", 64))
                    .col(ts(db, "expires_at", false))
                    .col(ts(db, "used_at", true))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_email_tokens",
                        "user_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_email_tokens", &["token_hash"], true))
            .await?;
        manager
            .create_index(index("roster_email_tokens", &["user_id", "purpose"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_schools")
                    .col(uuid("id").primary_key())
                    .col(integer("singleton"))
                    .col(string_len("name", 200))
                    .col(string_len_null("code", 20))
                    .col(text_null("description"))
                    .col(text_null("address"))
                    .col(string_len_null("phone", 30))
                    .col(string_len_null("email", 254))
                    .col(string_len_null("website", 200))
                    .col(string_len_null("logo", 255))
                    .col(double_null("latitude"))
                    .col(double_null("longitude"))
                    .col(integer("geofence_radius_m"))
                    .col(string_len("timezone", 64))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_schools", &["singleton"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_departments")
                    .col(uuid("id").primary_key())
                    .col(string_len("name", 200))
                    .col(string_len("code", 20))
                    .col(text_null("description"))
                    .col(uuid_null("hod_id"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_departments",
                        "hod_id",
                        "roster_users",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_departments", &["name"], true))
            .await?;
        manager
            .create_index(index("roster_departments", &["code"], true))
            .await?;
        manager
            .create_index(index("roster_departments", &["hod_id"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_department_trainers")
                    .col(uuid("id").primary_key())
                    .col(uuid("department_id"))
                    .col(uuid("trainer_id"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_department_trainers",
                        "department_id",
                        "roster_departments",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_department_trainers",
                        "trainer_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_department_trainers",
                &["department_id", "trainer_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index("roster_department_trainers", &["trainer_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_programmes")
                    .col(uuid("id").primary_key())
                    .col(string_len("name", 200))
                    .col(string_len("code", 20))
                    .col(uuid("department_id"))
                    .col(string_len("level", 20))
                    .col(integer("duration_years"))
                    .col(text_null("description"))
                    .col(boolean("is_active"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_programmes",
                        "department_id",
                        "roster_departments",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_programmes", &["code"], true))
            .await?;
        manager
            .create_index(index("roster_programmes", &["department_id", "name"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_academic_years")
                    .col(uuid("id").primary_key())
                    .col(string_len("name", 9))
                    .col(date("start_date"))
                    .col(date("end_date"))
                    .col(boolean("is_active"))
                    .col(ts(db, "created_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_academic_years", &["name"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_terms")
                    .col(uuid("id").primary_key())
                    .col(uuid("academic_year_id"))
                    .col(string_len("name", 50))
                    .col(integer("number"))
                    .col(date("start_date"))
                    .col(date("end_date"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_terms",
                        "academic_year_id",
                        "roster_academic_years",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_terms", &["academic_year_id", "number"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_class_groups")
                    .col(uuid("id").primary_key())
                    .col(string_len("name", 100))
                    .col(uuid("programme_id"))
                    .col(uuid("academic_year_id"))
                    .col(integer("year_of_study"))
                    .col(integer_null("capacity"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_class_groups",
                        "programme_id",
                        "roster_programmes",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "roster_class_groups",
                        "academic_year_id",
                        "roster_academic_years",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_class_groups", &["name"], true))
            .await?;
        manager
            .create_index(index("roster_class_groups", &["programme_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_class_group_trainees")
                    .col(uuid("id").primary_key())
                    .col(uuid("class_group_id"))
                    .col(uuid("trainee_id"))
                    .col(uuid("academic_year_id"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_class_group_trainees",
                        "class_group_id",
                        "roster_class_groups",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_class_group_trainees",
                        "trainee_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_class_group_trainees",
                        "academic_year_id",
                        "roster_academic_years",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_class_group_trainees",
                &["trainee_id", "academic_year_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "roster_class_group_trainees",
                &["class_group_id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_courses")
                    .col(uuid("id").primary_key())
                    .col(string_len("code", 20))
                    .col(string_len("name", 200))
                    .col(uuid("department_id"))
                    .col(text_null("description"))
                    .col(integer("credit_hours"))
                    .col(integer("theory_sessions_per_week"))
                    .col(integer("practical_sessions_per_week"))
                    .col(integer("session_duration_minutes"))
                    .col(boolean("is_active"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_courses",
                        "department_id",
                        "roster_departments",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_courses", &["code"], true))
            .await?;
        manager
            .create_index(index("roster_courses", &["department_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_course_prerequisites")
                    .col(uuid("id").primary_key())
                    .col(uuid("course_id"))
                    .col(uuid("prerequisite_id"))
                    .foreign_key(&mut fk(
                        "roster_course_prerequisites",
                        "course_id",
                        "roster_courses",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_course_prerequisites",
                        "prerequisite_id",
                        "roster_courses",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_course_prerequisites",
                &["course_id", "prerequisite_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "roster_course_prerequisites",
                &["prerequisite_id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_topics")
                    .col(uuid("id").primary_key())
                    .col(uuid("course_id"))
                    .col(string_len("title", 200))
                    .col(text_null("description"))
                    .col(integer("position"))
                    .col(integer("duration_minutes"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_topics",
                        "course_id",
                        "roster_courses",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_topics", &["course_id", "position"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_subtopics")
                    .col(uuid("id").primary_key())
                    .col(uuid("topic_id"))
                    .col(string_len("title", 200))
                    .col(text_null("description"))
                    .col(integer("position"))
                    .col(integer("duration_minutes"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_subtopics",
                        "topic_id",
                        "roster_topics",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_subtopics", &["topic_id", "position"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_course_mappings")
                    .col(uuid("id").primary_key())
                    .col(uuid("programme_id"))
                    .col(uuid("course_id"))
                    .col(integer("year_of_study"))
                    .col(integer("term_number"))
                    .col(boolean("is_core"))
                    .col(string_len_null("theory_room_type", 20))
                    .col(string_len_null("practical_room_type", 20))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_course_mappings",
                        "programme_id",
                        "roster_programmes",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_course_mappings",
                        "course_id",
                        "roster_courses",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_course_mappings",
                &["programme_id", "course_id", "year_of_study", "term_number"],
                true,
            ))
            .await?;
        manager
            .create_index(index("roster_course_mappings", &["course_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_enrollments")
                    .col(uuid("id").primary_key())
                    .col(uuid("class_group_id"))
                    .col(uuid("course_id"))
                    .col(uuid("academic_year_id"))
                    .col(uuid("term_id"))
                    .col(uuid_null("trainer_id"))
                    .col(string_len("status", 20))
                    .col(text_null("notes"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_enrollments",
                        "class_group_id",
                        "roster_class_groups",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "roster_enrollments",
                        "course_id",
                        "roster_courses",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "roster_enrollments",
                        "academic_year_id",
                        "roster_academic_years",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "roster_enrollments",
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "roster_enrollments",
                        "trainer_id",
                        "roster_users",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_enrollments",
                &["class_group_id", "course_id", "term_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index("roster_enrollments", &["term_id"], false))
            .await?;
        manager
            .create_index(index("roster_enrollments", &["trainer_id"], false))
            .await?;
        manager
            .create_index(index("roster_enrollments", &["course_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_rooms")
                    .col(uuid("id").primary_key())
                    .col(string_len("name", 100))
                    .col(string_len_null("code", 20))
                    .col(string_len("room_type", 20))
                    .col(integer("capacity"))
                    .col(string_len_null("building", 100))
                    .col(string_len_null("floor", 20))
                    .col(uuid_null("department_id"))
                    .col(text("facilities"))
                    .col(double_null("latitude"))
                    .col(double_null("longitude"))
                    .col(integer("geofence_radius_m"))
                    .col(boolean("is_virtual"))
                    .col(boolean("is_active"))
                    .col(integer_null("max_sessions_per_day"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_rooms",
                        "department_id",
                        "roster_departments",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_rooms", &["name"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_room_maintenance")
                    .col(uuid("id").primary_key())
                    .col(uuid("room_id"))
                    .col(ts(db, "starts_at", false))
                    .col(ts(db, "ends_at", false))
                    .col(text_null("reason"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_room_maintenance",
                        "room_id",
                        "roster_rooms",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_room_maintenance", &["room_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_trainer_availability")
                    .col(uuid("id").primary_key())
                    .col(uuid("trainer_id"))
                    .col(uuid_null("term_id"))
                    .col(integer("day"))
                    .col(integer("start_minute"))
                    .col(integer("end_minute"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_trainer_availability",
                        "trainer_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_trainer_availability",
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_trainer_availability",
                &["trainer_id", "day"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_timetable_settings")
                    .col(uuid("id").primary_key())
                    .col(string_len("scope", 40))
                    .col(uuid_null("term_id"))
                    .col(text("working_days"))
                    .col(integer("day_start"))
                    .col(integer("day_end"))
                    .col(integer("slot_minutes"))
                    .col(text("breaks"))
                    .col(integer("max_sessions_per_day_per_class_group"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_timetable_settings",
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_timetable_settings", &["scope"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_draft_versions")
                    .col(uuid("id").primary_key())
                    .col(string_len("version", 40))
                    .col(uuid("term_id"))
                    .col(uuid_null("created_by"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "published_at", true))
                    .foreign_key(&mut fk(
                        "roster_draft_versions",
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("roster_draft_versions", &["version"], true))
            .await?;
        manager
            .create_index(index("roster_draft_versions", &["term_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_draft_scopes")
                    .col(uuid("id").primary_key())
                    .col(string_len("draft_version", 40))
                    .col(uuid("enrollment_id"))
                    .foreign_key(&mut fk(
                        "roster_draft_scopes",
                        "enrollment_id",
                        "roster_enrollments",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_draft_scopes",
                &["draft_version", "enrollment_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index("roster_draft_scopes", &["enrollment_id"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_timetable_entries")
                    .col(uuid("id").primary_key())
                    .col(uuid("term_id"))
                    .col(uuid("enrollment_id"))
                    .col(uuid("room_id"))
                    .col(integer("day"))
                    .col(integer("start_minute"))
                    .col(integer("end_minute"))
                    .col(string_len("session_type", 10))
                    .col(boolean("is_recurring"))
                    .col(date_null("specific_date"))
                    .col(boolean("is_makeup"))
                    .col(boolean("is_draft"))
                    .col(string_len_null("draft_version", 40))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_timetable_entries",
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_timetable_entries",
                        "enrollment_id",
                        "roster_enrollments",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_timetable_entries",
                        "room_id",
                        "roster_rooms",
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_timetable_entries",
                &["term_id", "day"],
                false,
            ))
            .await?;
        manager
            .create_index(index("roster_timetable_entries", &["enrollment_id"], false))
            .await?;
        manager
            .create_index(index("roster_timetable_entries", &["room_id"], false))
            .await?;
        manager
            .create_index(index("roster_timetable_entries", &["draft_version"], false))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_class_group_schedules")
                    .col(uuid("id").primary_key())
                    .col(uuid("class_group_id"))
                    .col(uuid("term_id"))
                    .col(text("schedule"))
                    .col(ts(db, "last_updated", false))
                    .foreign_key(&mut fk(
                        "roster_class_group_schedules",
                        "class_group_id",
                        "roster_class_groups",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "roster_class_group_schedules",
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_class_group_schedules",
                &["class_group_id", "term_id"],
                true,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_generation_tasks")
                    .col(uuid("id").primary_key())
                    .col(uuid("term_id"))
                    .col(uuid("requested_by"))
                    .col(text("request"))
                    .col(string_len("state", 10))
                    .col(integer("progress"))
                    .col(text_null("report"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut fk(
                        "roster_generation_tasks",
                        "term_id",
                        "roster_terms",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("roster_notifications")
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(string_len("notification_type", 20))
                    .col(string_len("priority", 10))
                    .col(string_len("title", 200))
                    .col(text("message"))
                    .col(boolean("is_read"))
                    .col(ts(db, "read_at", true))
                    .col(string_len_null("related_object_type", 50))
                    .col(string_len_null("related_object_id", 64))
                    .col(string_len_null("action_url", 255))
                    .col(text("channels"))
                    .col(boolean("is_deleted"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut fk(
                        "roster_notifications",
                        "user_id",
                        "roster_users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "roster_notifications",
                &["user_id", "is_read"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "roster_notifications",
            "roster_generation_tasks",
            "roster_class_group_schedules",
            "roster_timetable_entries",
            "roster_draft_scopes",
            "roster_draft_versions",
            "roster_timetable_settings",
            "roster_trainer_availability",
            "roster_room_maintenance",
            "roster_rooms",
            "roster_enrollments",
            "roster_course_mappings",
            "roster_subtopics",
            "roster_topics",
            "roster_course_prerequisites",
            "roster_courses",
            "roster_class_group_trainees",
            "roster_class_groups",
            "roster_terms",
            "roster_academic_years",
            "roster_programmes",
            "roster_department_trainers",
            "roster_departments",
            "roster_schools",
            "roster_email_tokens",
            "roster_faces",
            "roster_profiles",
            "roster_users",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
