//! Clearance requests and approvals, finance, gowns, notifications, audit,
//! and the job queue.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::{foreign_key, index, ts, unique_index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0002_workflow"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        manager
            .create_table(
                Table::create()
                    .table("clearances")
                    .col(uuid("id").primary_key())
                    .col(uuid("student_id"))
                    .col(string_len("status", 20))
                    .col(ts(db, "submission_date", false))
                    .col(ts(db, "completion_date", true))
                    .col(text_null("rejection_reason"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "clearances",
                        "student_id",
                        "students",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("clearances", &["student_id"]))
            .await?;
        manager
            .create_index(index("clearances", &["status"]))
            .await?;
        manager
            .create_index(index("clearances", &["submission_date"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("approvals")
                    .col(uuid("id").primary_key())
                    .col(uuid("clearance_request_id"))
                    .col(uuid("department_id"))
                    .col(string_len("status", 20))
                    .col(uuid_null("approved_by_id"))
                    .col(ts(db, "approval_date", true))
                    .col(text_null("rejection_reason"))
                    .col(text("notes"))
                    .col(string_len_null("evidence_file", 255))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "approvals",
                        "clearance_request_id",
                        "clearances",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "approvals",
                        "department_id",
                        "departments",
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut foreign_key(
                        "approvals",
                        "approved_by_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_approvals_clearance_request_department")
                    .table("approvals")
                    .col("clearance_request_id")
                    .col("department_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("approvals", &["department_id"]))
            .await?;
        manager
            .create_index(index("approvals", &["status"]))
            .await?;
        manager
            .create_index(index("approvals", &["approval_date"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("finance_records")
                    .col(uuid("id").primary_key())
                    .col(uuid("student_id"))
                    .col(big_integer("tuition_balance"))
                    .col(big_integer("graduation_fee"))
                    .col(string_len("graduation_fee_status", 20))
                    .col(string_len_null("mpesa_code", 50))
                    .col(ts(db, "mpesa_payment_date", true))
                    .col(ts(db, "last_verified_date", true))
                    .col(string_len_null("verified_by", 255))
                    .col(text("notes"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "finance_records",
                        "student_id",
                        "students",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("finance_records", "student_id"))
            .await?;
        manager
            .create_index(index("finance_records", &["graduation_fee_status"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("payments")
                    .col(uuid("id").primary_key())
                    .col(uuid("student_id"))
                    .col(big_integer("amount"))
                    .col(string_len("payment_method", 20))
                    .col(string_len("status", 20))
                    .col(string_len_null("transaction_id", 100))
                    .col(string_len_null("phone_number", 20))
                    .col(ts(db, "payment_date", true))
                    .col(boolean("is_verified"))
                    .col(uuid_null("verified_by_id"))
                    .col(ts(db, "verification_date", true))
                    .col(text("notes"))
                    .col(string_len_null("receipt", 255))
                    .col(string_len_null("checkout_request_id", 100))
                    .col(string_len_null("merchant_request_id", 100))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "payments",
                        "student_id",
                        "students",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "payments",
                        "verified_by_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("payments", "student_id"))
            .await?;
        manager
            .create_index(unique_index("payments", "transaction_id"))
            .await?;
        manager
            .create_index(unique_index("payments", "checkout_request_id"))
            .await?;
        manager
            .create_index(index("payments", &["is_verified"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("gown_issuances")
                    .col(uuid("id").primary_key())
                    .col(uuid("student_id"))
                    .col(string_len("gown_size", 5))
                    .col(string_len("gown_code", 50))
                    .col(ts(db, "issue_date", false))
                    .col(ts(db, "return_date", true))
                    .col(big_integer("deposit_amount"))
                    .col(boolean("deposit_paid"))
                    .col(ts(db, "deposit_refund_date", true))
                    .col(string_len("deposit_status", 20))
                    .col(boolean("is_returned"))
                    .col(ts(db, "returned_date", true))
                    .col(uuid_null("issued_by_id"))
                    .col(text("notes"))
                    .col(ts(db, "created_at", false))
                    .col(ts(db, "updated_at", false))
                    .foreign_key(&mut foreign_key(
                        "gown_issuances",
                        "student_id",
                        "students",
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut foreign_key(
                        "gown_issuances",
                        "issued_by_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(unique_index("gown_issuances", "gown_code"))
            .await?;
        manager
            .create_index(index("gown_issuances", &["student_id"]))
            .await?;
        manager
            .create_index(index("gown_issuances", &["deposit_status"]))
            .await?;
        manager
            .create_index(index("gown_issuances", &["is_returned"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(string_len("title", 255))
                    .col(text("message"))
                    .col(string_len("notification_type", 20))
                    .col(string_len_null("related_object_type", 50))
                    .col(uuid_null("related_object_id"))
                    .col(boolean("is_read"))
                    .col(ts(db, "read_at", true))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut foreign_key(
                        "notifications",
                        "user_id",
                        "users",
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notifications_user_read_created")
                    .table("notifications")
                    .col("user_id")
                    .col("is_read")
                    .col("created_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("notifications", &["created_at"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_logs")
                    .col(uuid("id").primary_key())
                    .col(uuid_null("user_id"))
                    .col(string_len("action", 20))
                    .col(string_len("content_type", 50))
                    .col(uuid("object_id"))
                    .col(string_len("object_str", 500))
                    .col(json_null("changes"))
                    .col(string_len_null("ip_address", 45))
                    .col(ts(db, "created_at", false))
                    .foreign_key(&mut foreign_key(
                        "audit_logs",
                        "user_id",
                        "users",
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        for column in [
            "user_id",
            "action",
            "content_type",
            "object_id",
            "created_at",
        ] {
            manager.create_index(index("audit_logs", &[column])).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_logs",
            "notifications",
            "gown_issuances",
            "payments",
            "finance_records",
            "approvals",
            "clearances",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
