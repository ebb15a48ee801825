//! Persons (axis contract §7): one table for platform staff, client
//! employees, dependents and provider persons.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_persons"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();
        let mut t = super::table("axis_persons");
        t.col(string_len("person_type", 20))
            .col(string_len("status", 20))
            .col(string_len_null("user_id", 25))
            .col(string_len("full_name", 255))
            .col(string_len_null("email", 254))
            .col(string_len_null("phone", 17))
            .col(date_null("date_of_birth"))
            .col(string_len_null("gender", 10))
            .col(text_null("address"))
            .col(string_len_null("city", 100))
            .col(string_len_null("country", 100))
            .col(string_len_null("emergency_contact_name", 255))
            .col(string_len_null("emergency_contact_phone", 30))
            .col(string_len_null("emergency_contact_email", 254))
            .col(text_null("notes"))
            .col(json("metadata"))
            .col(date_null("last_service_date"))
            .col(string_len_null("client_id", 25))
            .col(string_len_null("employee_role", 255))
            .col(string_len_null("employee_department", 255))
            .col(string_len_null("employee_id_number", 100))
            .col(date_null("employment_start_date"))
            .col(date_null("employment_end_date"))
            .col(string_len_null("employment_status", 20))
            .col(string_len_null("primary_employee_id", 25))
            .col(string_len_null("relationship_to_employee", 20))
            .col(boolean_null("is_employee_dependent"))
            .col(string_len_null("guardian_id", 25))
            .col(string_len_null("staff_organization", 255))
            .col(string_len_null("staff_role", 20))
            .col(string_len_null("staff_department", 255))
            .col(boolean_null("can_manage_clients"))
            .col(boolean_null("can_manage_services"))
            .col(boolean_null("can_view_reports"))
            .col(string_len_null("provider_type", 100))
            .col(string_len_null("license_number", 100))
            .col(date_null("license_expiry"))
            .col(json_null("specializations"))
            .col(json_null("languages_spoken"))
            .col(big_integer_null("hourly_rate"))
            .col(text_null("bio"))
            .col(boolean_null("is_accepting_new_clients"))
            .col(integer_null("max_clients"))
            .col(ts(db, "created_at", false))
            .col(ts(db, "updated_at", false))
            .col(ts(db, "deleted_at", true));
        manager.create_table(t).await?;
        for statement in [
            index("axis_persons", &["client_id"]),
            index("axis_persons", &["primary_employee_id"]),
            index("axis_persons", &["user_id"]),
            index("axis_persons", &["created_at"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("axis_persons").if_exists().to_owned())
            .await
    }
}
