//! `axis_documents`: a document of a client (or of nobody), as an upload
//! kept under the media root and/or a link to cloud storage, with its
//! versions chained by `previous_version_id`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "axis_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// `contract`, `kpi_report`, ...
    #[serde(rename = "type")]
    pub doc_type: String,
    /// The storage name of the upload (`documents/<uuid>.<ext>`).
    pub file: Option<String>,
    pub url: Option<String>,
    pub file_size: Option<i64>,
    pub file_type: Option<String>,
    pub filename: Option<String>,
    pub file_extension: Option<String>,
    pub version: i32,
    pub is_latest: bool,
    pub previous_version_id: Option<String>,
    pub status: String,
    pub expiry_date: Option<Date>,
    pub is_confidential: bool,
    /// A JSON array of strings, as text (searchable on every backend).
    pub tags: String,
    pub uploaded_by_id: Option<String>,
    pub client_id: Option<String>,
    pub contract_id: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The tags as a list.
    pub fn tag_list(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }
}
