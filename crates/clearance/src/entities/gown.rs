//! `gown_issuances` (spec §2.8): academic gowns lent for graduation.

use sea_orm::entity::prelude::*;

pub const SIZES: &[&str] = &["S", "M", "L", "XL", "XXL"];

pub const DEPOSIT_STATUSES: &[&str] = &["pending", "retained", "refunded"];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gown_issuances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub student_id: Uuid,
    pub gown_size: String,
    #[sea_orm(unique)]
    pub gown_code: String,
    pub issue_date: DateTimeUtc,
    /// When the gown is due back.
    pub return_date: Option<DateTimeUtc>,
    /// Cents.
    pub deposit_amount: i64,
    pub deposit_paid: bool,
    pub deposit_refund_date: Option<DateTimeUtc>,
    /// pending, retained or refunded.
    pub deposit_status: String,
    pub is_returned: bool,
    pub returned_date: Option<DateTimeUtc>,
    pub issued_by_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub notes: String,
    /// When the student was reminded that the gown is overdue (cleared when
    /// the due date changes, so a new due date gets its own reminder).
    pub overdue_notified_at: Option<DateTimeUtc>,
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
