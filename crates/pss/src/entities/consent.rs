//! `pss_consents`: one row per person and consent type, granted or
//! withdrawn, with the policy version, when, and from which address and
//! browser. Every grant and withdrawal is also in the audit log.

use sea_orm::entity::prelude::*;

pub const TYPES: &[&str] = &[
    "data_processing",
    "medical_data",
    "communications",
    "data_sharing",
];

/// How a consent type reads to people.
pub fn type_display(consent_type: &str) -> &'static str {
    match consent_type {
        "data_processing" => "Personal Data Processing",
        "medical_data" => "Medical Information Processing",
        "communications" => "Communications and Notifications",
        "data_sharing" => "Data Sharing with Third Parties",
        _ => "",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pss_consents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub consent_type: String,
    pub policy_id: i64,
    pub granted: bool,
    pub granted_at: Option<DateTimeUtc>,
    pub withdrawn_at: Option<DateTimeUtc>,
    pub ip_address: Option<String>,
    pub user_agent: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::privacy_policy::Entity",
        from = "Column::PolicyId",
        to = "super::privacy_policy::Column::Id"
    )]
    Policy,
}

impl Related<super::privacy_policy::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Policy.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
