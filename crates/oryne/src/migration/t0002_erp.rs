//! A school's ERP tables (contract §3): people, academic structure,
//! admissions, attendance, leave and the timetable.

use kernel::migration::cols::ts;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{fk, id, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "t0002_erp"
    }
}

fn s(name: &'static str, len: u32) -> ColumnDef {
    string_len(name, len)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let cascade = ForeignKeyAction::Cascade;
        let set_null = ForeignKeyAction::SetNull;
        let restrict = ForeignKeyAction::Restrict;
        let tables: Vec<TableCreateStatement> = vec![
            Table::create()
                .table("students")
                .col(id())
                .col(big_integer("user_id"))
                .col(s("enrollment_no", 50))
                .col(s("class_name", 20))
                .col(s("section", 10))
                .col(integer_null("roll_number"))
                .col(date_null("admission_date"))
                .col(date_null("date_of_birth"))
                .col(s("gender", 10))
                .col(s("blood_group", 3))
                .col(text("address"))
                .col(s("city", 100))
                .col(s("state", 100))
                .col(s("pincode", 10))
                .col(s("parent_name", 200))
                .col(s("parent_email", 254))
                .col(s("parent_phone", 20))
                .col(s("parent_relationship", 50))
                .col(s("status", 20))
                .col(json("metadata"))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk("students", "user_id", "users", restrict))
                .to_owned(),
            Table::create()
                .table("parents")
                .col(id())
                .col(big_integer("user_id"))
                .col(s("occupation", 100))
                .col(s("organization", 200))
                .col(big_integer_null("annual_income"))
                .col(s("office_phone", 20))
                .col(boolean("can_pickup"))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk("parents", "user_id", "users", restrict))
                .to_owned(),
            Table::create()
                .table("student_parents")
                .col(id())
                .col(big_integer("student_id"))
                .col(big_integer("parent_id"))
                .col(s("relationship", 10))
                .col(boolean("is_primary"))
                .col(boolean("is_emergency_contact"))
                .col(ts(db, "created_at", false))
                .foreign_key(&mut fk(
                    "student_parents",
                    "student_id",
                    "students",
                    cascade,
                ))
                .foreign_key(&mut fk("student_parents", "parent_id", "parents", cascade))
                .to_owned(),
            Table::create()
                .table("teachers")
                .col(id())
                .col(big_integer("user_id"))
                .col(s("employee_no", 50))
                .col(s("designation", 100))
                .col(s("department", 100))
                .col(s("qualification", 200))
                .col(integer("experience_years"))
                .col(s("specialization", 200))
                .col(json("subjects"))
                .col(text("address"))
                .col(s("city", 100))
                .col(s("state", 100))
                .col(s("pincode", 10))
                .col(s("emergency_contact", 20))
                .col(date_null("joining_date"))
                .col(s("employment_type", 20))
                .col(s("status", 20))
                .col(json("metadata"))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk("teachers", "user_id", "users", restrict))
                .to_owned(),
            Table::create()
                .table("staff")
                .col(id())
                .col(big_integer("user_id"))
                .col(s("employee_no", 50))
                .col(s("department", 100))
                .col(s("designation", 100))
                .col(date_null("joining_date"))
                .col(s("employment_type", 20))
                .col(s("status", 20))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk("staff", "user_id", "users", restrict))
                .to_owned(),
            Table::create()
                .table("academic_years")
                .col(id())
                .col(s("name", 20))
                .col(date("start_date"))
                .col(date("end_date"))
                .col(boolean("is_current"))
                .col(ts(db, "created_at", false))
                .to_owned(),
            Table::create()
                .table("terms")
                .col(id())
                .col(big_integer("academic_year_id"))
                .col(s("name", 50))
                .col(integer("number"))
                .col(date("start_date"))
                .col(date("end_date"))
                .col(ts(db, "created_at", false))
                .foreign_key(&mut fk(
                    "terms",
                    "academic_year_id",
                    "academic_years",
                    cascade,
                ))
                .to_owned(),
            Table::create()
                .table("school_classes")
                .col(id())
                .col(s("name", 20))
                .col(integer_null("numeric_value"))
                .col(s("board", 50))
                .col(ts(db, "created_at", false))
                .to_owned(),
            Table::create()
                .table("sections")
                .col(id())
                .col(big_integer("school_class_id"))
                .col(s("name", 10))
                .col(big_integer_null("academic_year_id"))
                .col(integer_null("capacity"))
                .col(s("room", 50))
                .col(big_integer_null("class_teacher_id"))
                .col(ts(db, "created_at", false))
                .foreign_key(&mut fk(
                    "sections",
                    "school_class_id",
                    "school_classes",
                    restrict,
                ))
                .foreign_key(&mut fk(
                    "sections",
                    "academic_year_id",
                    "academic_years",
                    restrict,
                ))
                .foreign_key(&mut fk(
                    "sections",
                    "class_teacher_id",
                    "teachers",
                    set_null,
                ))
                .to_owned(),
            Table::create()
                .table("subjects")
                .col(id())
                .col(s("name", 100))
                .col(s("code", 20))
                .col(s("subject_type", 20))
                .col(integer("max_marks"))
                .col(integer("passing_marks"))
                .col(ts(db, "created_at", false))
                .to_owned(),
            Table::create()
                .table("teacher_assignments")
                .col(id())
                .col(big_integer("teacher_id"))
                .col(s("class_name", 20))
                .col(s("section", 10))
                .col(big_integer_null("subject_id"))
                .col(big_integer_null("academic_year_id"))
                .col(s("role", 20))
                .col(ts(db, "created_at", false))
                .foreign_key(&mut fk(
                    "teacher_assignments",
                    "teacher_id",
                    "teachers",
                    cascade,
                ))
                .foreign_key(&mut fk(
                    "teacher_assignments",
                    "subject_id",
                    "subjects",
                    restrict,
                ))
                .foreign_key(&mut fk(
                    "teacher_assignments",
                    "academic_year_id",
                    "academic_years",
                    restrict,
                ))
                .to_owned(),
            Table::create()
                .table("admissions")
                .col(id())
                .col(s("application_no", 30))
                .col(s("first_name", 100))
                .col(s("last_name", 100))
                .col(date_null("date_of_birth"))
                .col(s("gender", 10))
                .col(s("class_applied", 20))
                .col(big_integer_null("academic_year_id"))
                .col(s("guardian_name", 200))
                .col(s("guardian_email", 254))
                .col(s("guardian_phone", 20))
                .col(s("previous_school", 200))
                .col(json("documents"))
                .col(s("status", 20))
                .col(text("remarks"))
                .col(big_integer_null("reviewed_by"))
                .col(ts(db, "reviewed_at", true))
                .col(big_integer_null("student_id"))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk(
                    "admissions",
                    "academic_year_id",
                    "academic_years",
                    restrict,
                ))
                .foreign_key(&mut fk("admissions", "reviewed_by", "users", set_null))
                .foreign_key(&mut fk("admissions", "student_id", "students", set_null))
                .to_owned(),
            Table::create()
                .table("attendance")
                .col(id())
                .col(big_integer("student_id"))
                .col(date("date"))
                .col(s("status", 10))
                .col(s("class_name", 20))
                .col(s("section", 10))
                .col(big_integer_null("marked_by"))
                .col(text("remarks"))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk("attendance", "student_id", "students", cascade))
                .foreign_key(&mut fk("attendance", "marked_by", "users", set_null))
                .to_owned(),
            Table::create()
                .table("leave_requests")
                .col(id())
                .col(big_integer("requester_id"))
                .col(big_integer_null("student_id"))
                .col(date("from_date"))
                .col(date("to_date"))
                .col(text("reason"))
                .col(s("status", 10))
                .col(big_integer_null("reviewed_by"))
                .col(ts(db, "reviewed_at", true))
                .col(text("review_note"))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk("leave_requests", "requester_id", "users", cascade))
                .foreign_key(&mut fk("leave_requests", "student_id", "students", cascade))
                .foreign_key(&mut fk("leave_requests", "reviewed_by", "users", set_null))
                .to_owned(),
            Table::create()
                .table("timetable_entries")
                .col(id())
                .col(s("class_name", 20))
                .col(s("section", 10))
                .col(integer("day_of_week"))
                .col(integer("period"))
                .col(time("start_time"))
                .col(time("end_time"))
                .col(big_integer_null("subject_id"))
                .col(big_integer_null("teacher_id"))
                .col(s("room", 50))
                .col(big_integer_null("academic_year_id"))
                .col(ts(db, "created_at", false))
                .col(ts(db, "updated_at", false))
                .foreign_key(&mut fk(
                    "timetable_entries",
                    "subject_id",
                    "subjects",
                    restrict,
                ))
                .foreign_key(&mut fk(
                    "timetable_entries",
                    "teacher_id",
                    "teachers",
                    set_null,
                ))
                .foreign_key(&mut fk(
                    "timetable_entries",
                    "academic_year_id",
                    "academic_years",
                    restrict,
                ))
                .to_owned(),
        ];
        for table in tables {
            manager.create_table(table).await?;
        }
        for (table, columns, unique) in [
            ("students", &["user_id"][..], true),
            ("students", &["enrollment_no"][..], true),
            (
                "students",
                &["class_name", "section", "roll_number"][..],
                false,
            ),
            ("parents", &["user_id"][..], true),
            ("student_parents", &["student_id", "parent_id"][..], true),
            ("student_parents", &["parent_id"][..], false),
            ("teachers", &["user_id"][..], true),
            ("teachers", &["employee_no"][..], true),
            ("staff", &["user_id"][..], true),
            ("staff", &["employee_no"][..], true),
            ("academic_years", &["name"][..], true),
            ("terms", &["academic_year_id", "number"][..], true),
            ("school_classes", &["name"][..], true),
            (
                "sections",
                &["school_class_id", "name", "academic_year_id"][..],
                true,
            ),
            ("subjects", &["code"][..], true),
            ("teacher_assignments", &["teacher_id"][..], false),
            ("teacher_assignments", &["class_name", "section"][..], false),
            ("admissions", &["application_no"][..], true),
            ("admissions", &["status"][..], false),
            ("attendance", &["student_id", "date"][..], true),
            ("attendance", &["class_name", "section", "date"][..], false),
            ("leave_requests", &["requester_id"][..], false),
            ("leave_requests", &["student_id"][..], false),
            (
                "timetable_entries",
                &["class_name", "section", "day_of_week"][..],
                false,
            ),
            (
                "timetable_entries",
                &["teacher_id", "day_of_week"][..],
                false,
            ),
        ] {
            manager.create_index(index(table, columns, unique)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "timetable_entries",
            "leave_requests",
            "attendance",
            "admissions",
            "teacher_assignments",
            "subjects",
            "sections",
            "school_classes",
            "terms",
            "academic_years",
            "staff",
            "teachers",
            "student_parents",
            "parents",
            "students",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
