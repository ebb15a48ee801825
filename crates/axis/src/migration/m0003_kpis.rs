//! KPIs (axis contract §10): KPI types, KPIs and their assignments to a
//! client's contract.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use kernel::migration::cols::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0003_kpis"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_database_backend();

        let mut t = super::table("axis_kpi_types");
        t.col(string_len("name", 255))
            .col(text_null("description"))
            .col(integer_null("weight"))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        t.col(string_len("tombstone", 25));
        manager.create_table(t).await?;

        let mut t = super::table("axis_kpis");
        t.col(string_len("name", 255))
            .col(text_null("description"))
            .col(string_len("type_id", 25))
            .col(string_len("unit", 100))
            .col(string_len("unit_type", 20))
            .col(string_len_null("target_value", 255))
            .col(text_null("calculation_method"))
            .col(string_len_null("frequency", 20))
            .col(boolean("is_public"))
            .col(string_len_null("client_id", 25))
            .col(string_len_null("contract_id", 25))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;

        let mut t = super::table("axis_kpi_assignments");
        t.col(string_len("kpi_id", 25))
            .col(string_len("client_id", 25))
            .col(string_len("contract_id", 25))
            .col(string_len_null("target_value", 255))
            .col(string_len("frequency", 20))
            .col(string_len("status", 20))
            .col(date("start_date"))
            .col(date_null("end_date"))
            .col(text_null("notes"))
            .col(json("metadata"));
        super::stamps(db, &mut t);
        manager.create_table(t).await?;

        for statement in [
            super::unique("axis_kpi_types", &["name", "tombstone"]),
            index("axis_kpis", &["type_id"]),
            index("axis_kpis", &["client_id"]),
            index("axis_kpi_assignments", &["kpi_id"]),
            index("axis_kpi_assignments", &["client_id"]),
            index("axis_kpi_assignments", &["contract_id"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["axis_kpi_assignments", "axis_kpis", "axis_kpi_types"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
