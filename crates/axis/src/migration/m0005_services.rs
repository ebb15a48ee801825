//! Services (axis contract §8): categories, services, providers, client
//! assignments, sessions and their feedback.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_services"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        let mut t = super::table("axis_service_categories");
        t.col(string_len("name", 255))
            .col(text_null("description"))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        manager.create_table(t).await?;

        let mut t = super::table("axis_service_providers");
        t.col(string_len("name", 255))
            .col(string_len("type", 20))
            .col(string_len_null("contact_email", 254))
            .col(string_len_null("contact_phone", 30))
            .col(string_len_null("location", 255))
            .col(json("qualifications"))
            .col(json("specializations"))
            .col(json("availability"))
            .col(integer("rating"))
            .col(boolean("is_verified"))
            .col(string_len("status", 20))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;

        let mut t = super::table("axis_services");
        t.col(string_len("name", 255))
            .col(text_null("description"))
            .col(string_len("category_id", 25))
            .col(string_len("status", 20))
            .col(integer_null("duration"))
            .col(integer("capacity"))
            .col(text_null("prerequisites"))
            .col(boolean("is_public"))
            .col(big_integer_null("price"))
            .col(string_len_null("service_provider_id", 25))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;

        let mut t = super::table("axis_service_assignments");
        t.col(string_len("service_id", 25))
            .col(string_len_null("contract_id", 25))
            .col(string_len("client_id", 25))
            .col(string_len("status", 20))
            .col(date("start_date"))
            .col(date_null("end_date"))
            .col(string_len_null("frequency", 20))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;

        let mut t = super::table("axis_service_sessions");
        t.col(string_len("service_id", 25))
            .col(string_len("provider_id", 25))
            .col(string_len("person_id", 25))
            .col(ts(db, "scheduled_at", false))
            .col(ts(db, "completed_at", true))
            .col(string_len("status", 20))
            .col(text_null("notes"))
            .col(text_null("feedback"))
            .col(integer_null("duration"))
            .col(string_len_null("location", 255))
            .col(text_null("cancellation_reason"))
            .col(integer("reschedule_count"))
            .col(boolean("is_group_session"))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;

        let mut t = super::table("axis_session_feedback");
        t.col(string_len("session_id", 25))
            .col(integer("rating"))
            .col(text_null("comment"))
            .col(string_len_null("submitted_by", 25))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;

        for statement in [
            super::unique("axis_service_categories", &["name", "tombstone"]),
            index("axis_services", &["category_id"]),
            index("axis_service_assignments", &["client_id"]),
            index("axis_service_sessions", &["person_id"]),
            index("axis_service_sessions", &["provider_id"]),
            index("axis_service_sessions", &["scheduled_at"]),
            index("axis_session_feedback", &["session_id"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "axis_session_feedback",
            "axis_service_sessions",
            "axis_service_assignments",
            "axis_services",
            "axis_service_providers",
            "axis_service_categories",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
