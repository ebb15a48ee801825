//! `payments` (spec §2.7): a student's graduation-fee payment (one per student).

use sea_orm::entity::prelude::*;

pub const METHODS: &[&str] = &["mpesa", "bank", "cash"];

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub student_id: Uuid,
    /// Cents.
    pub amount: i64,
    pub payment_method: String,
    /// pending (awaiting the payer), paid or failed.
    pub status: String,
    #[sea_orm(unique)]
    pub transaction_id: Option<String>,
    pub phone_number: Option<String>,
    pub payment_date: Option<DateTimeUtc>,
    pub is_verified: bool,
    pub verified_by_id: Option<Uuid>,
    pub verification_date: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub notes: String,
    /// Storage names of the payer's receipt and fee statement (kept from
    /// the original system's uploads).
    pub receipt: Option<String>,
    pub fee_statement: Option<String>,
    /// Daraja's id for the STK push in flight; callbacks are matched on it.
    #[sea_orm(unique)]
    pub checkout_request_id: Option<String>,
    pub merchant_request_id: Option<String>,
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
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::VerifiedById",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    VerifiedBy,
}

impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Student.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
