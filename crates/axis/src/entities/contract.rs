//! `axis_contracts`: a client's service contract. The spec's and the
//! original's names for the same values (`billing_amount`/`billing_rate`,
//! `billing_frequency`/`payment_frequency`, `auto_renew`/`is_auto_renew`)
//! are one column each; the API emits both.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_contracts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub client_id: String,
    pub title: String,
    pub description: Option<String>,
    /// Unique among live contracts.
    pub contract_number: String,
    pub start_date: Date,
    pub end_date: Date,
    pub renewal_date: Option<Date>,
    /// In cents (`kernel::money::Money`).
    pub billing_amount: i64,
    pub currency: String,
    pub billing_frequency: String,
    pub payment_status: String,
    pub payment_terms: Option<String>,
    pub last_billing_date: Option<Date>,
    pub next_billing_date: Option<Date>,
    pub auto_renew: bool,
    pub is_renewable: bool,
    pub renewal_notice_days: i32,
    pub document_url: Option<String>,
    pub signed_by: Option<String>,
    pub signed_at: Option<DateTimeUtc>,
    pub status: String,
    pub termination_reason: Option<String>,
    pub notes: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    #[serde(skip)]
    pub tombstone: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
