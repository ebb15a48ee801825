//! `finance_records` (spec §2.6): a student's tuition balance and graduation fee.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "finance_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub student_id: Uuid,
    /// Cents.
    pub tuition_balance: i64,
    /// Cents.
    pub graduation_fee: i64,
    /// pending, paid or verified.
    pub graduation_fee_status: String,
    pub mpesa_code: Option<String>,
    pub mpesa_payment_date: Option<DateTimeUtc>,
    pub last_verified_date: Option<DateTimeUtc>,
    pub verified_by: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub notes: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::student::Entity",
        from = "Column::StudentId",
        to = "super::student::Column::Id",
        on_delete = "Cascade"
    )]
    Student,
}

impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Student.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
