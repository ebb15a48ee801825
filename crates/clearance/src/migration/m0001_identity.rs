//! Accounts, offices, academic structure, students, and the token blacklist.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{foreign_key, index, ts, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0001_identity"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table("departments")
                    .col(uuid("id").primary_key())
                    .col(string_len("name", 255))
                    .col(string_len("code", 20))
                    .col(string_len("department_type", 20))
                    .col(string_len("head_email", 254))
                    .col(text("description"))
                    .col(boolean("is_active"))
                    .col(integer("approval_order"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("departments", "code"))
            .await?;
        manager
            .create_index(index("departments", &["department_type"]))
            .await?;
        manager
            .create_index(index("departments", &["is_active"]))
            .await?;
        manager
            .create_index(index("departments", &["approval_order"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(uuid("id").primary_key())
                    .col(string_len("email", 254))
                    .col(string_len_null("admission_number", 50))
                    .col(string_len("full_name", 255))
                    .col(string_len("password", 255))
                    .col(string_len("role", 20))
                    .col(uuid_null("department_id"))
                    .col(boolean("is_active"))
                    .col(big_integer("token_epoch"))
                    .col(ts(db, "last_login", true))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "users",
                        "department_id",
                        "departments",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(unique_index("users", "email")).await?;
        manager
            .create_index(unique_index("users", "admission_number"))
            .await?;
        manager.create_index(index("users", &["role"])).await?;
        manager
            .create_index(index("users", &["department_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("academics_school")
                    .col(uuid("id").primary_key())
                    .col(string_len("name", 255))
                    .col(string_len("code", 20))
                    .col(string_len("dean_email", 254))
                    .col(text("description"))
                    .col(boolean("is_active"))
                    .col(ts(db, "created_at", false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("academics_school", "code"))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("academics_academicdepartment")
                    .col(uuid("id").primary_key())
                    .col(uuid("school_id"))
                    .col(string_len("name", 255))
                    .col(string_len("code", 20))
                    .col(string_len("head_email", 254))
                    .col(text("description"))
                    .col(boolean("is_active"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut foreign_key(
                        "academics_academicdepartment",
                        "school_id",
                        "academics_school",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("academics_academicdepartment", "code"))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("academics_course")
                    .col(uuid("id").primary_key())
                    .col(uuid("department_id"))
                    .col(string_len("name", 255))
                    .col(string_len("code", 20))
                    .col(integer("duration_years"))
                    .col(text("description"))
                    .col(boolean("is_active"))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut foreign_key(
                        "academics_course",
                        "department_id",
                        "academics_academicdepartment",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("academics_course", "code"))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("students")
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(string_len("registration_number", 50))
                    .col(integer("admission_year"))
                    .col(uuid_null("school_id"))
                    .col(uuid_null("department_id"))
                    .col(uuid_null("course_id"))
                    .col(string_len("faculty", 255))
                    .col(string_len("program", 255))
                    .col(integer("graduation_year"))
                    .col(string_len("eligibility_status", 20))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "students",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "students",
                        "school_id",
                        "academics_school",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "students",
                        "department_id",
                        "academics_academicdepartment",
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut foreign_key(
                        "students",
                        "course_id",
                        "academics_course",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("students", "user_id"))
            .await?;
        manager
            .create_index(unique_index("students", "registration_number"))
            .await?;
        manager
            .create_index(index("students", &["eligibility_status"]))
            .await?;
        manager
            .create_index(index("students", &["admission_year"]))
            .await?;
        manager
            .create_index(index("students", &["graduation_year"]))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "students",
            "academics_course",
            "academics_academicdepartment",
            "academics_school",
            "users",
            "departments",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
