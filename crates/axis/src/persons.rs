//! Persons (axis contract §7): one table for platform staff, client
//! employees, dependents and provider persons. Platform users read and
//! write every person; a scoped user reads the employees and dependents of
//! the clients granted to them and, with role `hr_manager`, writes them.
//! A person with an email is linked to the user with that email, else to a
//! new inactive user (Pending Verification, no usable password).

use std::collections::HashMap;

use axum::extract::Path;
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate};
use kernel::money::Money;
use kernel::{ApiError, ApiResult, Checker, Db, Field, Json, Scoped};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::access::{Me, NO_PERMISSION, SelectedClient};
use crate::audit::{self, Change, Event, Who};
use crate::entities::{client, person, service_session, user};
use crate::rest::{self, Choices, List, Page};
use crate::state::AppState;

const MODEL: &str = "Person";

pub const EMPLOYEE: &str = "ClientEmployee";
pub const DEPENDENT: &str = "Dependent";
pub const STAFF: &str = "PlatformStaff";
pub const PROVIDER: &str = "ServiceProvider";

pub const TYPES: Choices = Choices(&[STAFF, EMPLOYEE, DEPENDENT, PROVIDER]);
pub const STATUSES: Choices = Choices(&["Active", "Inactive", "Pending", "Archived"]);
pub const GENDERS: Choices = Choices(&["Male", "Female", "Other"]);
pub const EMPLOYMENT: Choices = Choices(&[
    "Active",
    "Inactive",
    "On Leave",
    "Terminated",
    "Suspended",
    "Resigned",
]);
/// What the frontend sends for an employment status, beside [`EMPLOYMENT`].
const EMPLOYMENT_ALIASES: &[(&str, &str)] = &[
    ("FullTime", "Active"),
    ("PartTime", "Active"),
    ("Contract", "Active"),
    ("Probation", "Active"),
    ("Retired", "Inactive"),
];
const EMPLOYMENT_INPUT: &[&str] = &[
    "Active",
    "Inactive",
    "On Leave",
    "Terminated",
    "Suspended",
    "Resigned",
    "FullTime",
    "PartTime",
    "Contract",
    "Probation",
    "Retired",
];
pub const RELATIONSHIPS: Choices = Choices(&[
    "Child",
    "Spouse",
    "Parent",
    "Sibling",
    "Grandparent",
    "Guardian",
    "Friend",
    "Neighbor",
    "Cousin",
    "Other",
]);
pub const STAFF_ROLES: Choices = Choices(&["Admin", "Manager", "Staff", "Volunteer"]);

/// An international phone number: an optional `+` and 9 to 15 digits.
const PHONE: &str = "^\\+?[0-9]{9,15}$";
const PHONE_MESSAGE: &str =
    "Phone number must be entered in the format: '+999999999'. Up to 15 digits allowed.";
const EMAIL_TAKEN: &str = "A person with this email already exists.";
const NOT_ACTIVE_CLIENT: &str = "Client is not active";
const NOT_ACTIVE_PRIMARY: &str = "Primary employee is not active";
const END_BEFORE_START: &str = "Employment end date cannot be before the start date.";
const END_REQUIRED: &str = "An end date is required when employment is Terminated or Resigned.";
const FIXED: &str = "This field cannot be changed.";

kernel::choices!(
    /// A person's kind.
    pub PersonType = TYPES.0
);
kernel::choices!(
    /// Where a person stands.
    pub PersonStatus = STATUSES.0
);
kernel::choices!(
    /// An employee's employment status (the frontend's FullTime, PartTime,
    /// Contract and Probation read as Active, Retired as Inactive).
    pub EmploymentStatus = EMPLOYMENT_INPUT
);

/// A person is visible to platform users; a scoped user sees the employees
/// and dependents of their granted clients; deleted persons nobody.
impl Scoped for person::Entity {
    type Caller = Me;

    fn scope(me: &Me) -> Condition {
        let live = Condition::all().add(person::Column::DeletedAt.is_null());
        if me.is_platform() {
            live
        } else {
            live.add(person::Column::PersonType.is_in([EMPLOYEE, DEPENDENT]))
                .add(person::Column::ClientId.is_in(me.grants.clone()))
        }
    }

    fn not_found() -> ApiError {
        rest::not_found(MODEL)
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_persons, create_person))
        .routes(routes!(create_employee))
        .routes(routes!(create_dependent))
        .routes(routes!(eligible_persons))
        .routes(routes!(persons_of_client))
        .routes(routes!(get_person, put_person, patch_person, delete_person))
        .routes(routes!(person_family))
        .routes(routes!(activate_person))
        .routes(routes!(deactivate_person))
        .routes(routes!(update_employment_status))
        .routes(routes!(restore_person))
}

/// A person's profile in lists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonProfileBrief {
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// A person's profile in details (`id` is the person's).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonProfile {
    pub id: String,
    pub full_name: String,
    pub dob: Option<NaiveDate>,
    pub date_of_birth: Option<NaiveDate>,
    pub age: Option<i32>,
    pub gender: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub image: Option<String>,
}

/// A person in lists. `client_id`/`client_name` are the effective client;
/// `total_sessions` and `last_service_date` are null for scoped users.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonItem {
    pub id: String,
    pub person_type: String,
    pub status: String,
    pub profile: PersonProfileBrief,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub employee_role: Option<String>,
    pub employment_status: Option<String>,
    pub relationship_to_employee: Option<String>,
    pub is_eligible: bool,
    pub total_sessions: Option<u64>,
    pub last_service_date: Option<NaiveDate>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// One person: every field (null where its type has none) and the computed ones.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonOut {
    pub id: String,
    pub person_type: String,
    pub status: String,
    pub profile: PersonProfile,
    pub full_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
    pub emergency_contact_email: Option<String>,
    pub notes: Option<String>,
    pub metadata: Value,
    pub last_service_date: Option<NaiveDate>,
    pub user_id: Option<String>,
    pub user_email: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub employee_role: Option<String>,
    pub employee_department: Option<String>,
    pub employee_id_number: Option<String>,
    pub employment_start_date: Option<NaiveDate>,
    pub employment_end_date: Option<NaiveDate>,
    pub employment_status: Option<String>,
    pub manager_id: Option<String>,
    pub primary_employee_id: Option<String>,
    pub primary_employee_name: Option<String>,
    pub relationship_to_employee: Option<String>,
    pub is_employee_dependent: Option<bool>,
    pub guardian_id: Option<String>,
    pub guardian_email: Option<String>,
    pub staff_organization: Option<String>,
    pub staff_role: Option<String>,
    pub staff_department: Option<String>,
    pub can_manage_clients: Option<bool>,
    pub can_manage_services: Option<bool>,
    pub can_view_reports: Option<bool>,
    pub provider_type: Option<String>,
    pub license_number: Option<String>,
    pub license_expiry: Option<NaiveDate>,
    pub specializations: Option<Vec<String>>,
    pub languages_spoken: Option<Vec<String>>,
    pub hourly_rate: Option<Money>,
    pub bio: Option<String>,
    pub is_accepting_new_clients: Option<bool>,
    pub max_clients: Option<i32>,
    pub age: Option<i32>,
    pub is_minor: bool,
    pub requires_consent: bool,
    pub effective_client_id: Option<String>,
    pub effective_client_name: Option<String>,
    pub is_eligible: bool,
    pub total_sessions: Option<u64>,
    /// Days employed (employees with a start date).
    pub employment_duration: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An employee and their dependents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonFamilyOut {
    pub employee: Option<PersonItem>,
    pub dependents: Vec<PersonItem>,
    pub total_members: u64,
}

/// What the audit trail keeps of a person: its row, money as text.
pub fn record(row: &person::Model) -> Value {
    let mut value = audit::snapshot(row);
    value["hourly_rate"] = json!(row.hourly_rate.map(|c| Money(c).to_string()));
    value
}

pub fn today() -> NaiveDate {
    kernel::time::now().date_naive()
}

/// Whole years from `dob` to `today`.
pub fn age_on(dob: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    age
}

/// What rendering a batch of persons needs beside their rows.
pub struct Related {
    clients: HashMap<String, client::Model>,
    primaries: HashMap<String, person::Model>,
    users: HashMap<String, String>,
    sessions: HashMap<String, u64>,
    today: NaiveDate,
    platform: bool,
}

fn strings(values: impl IntoIterator<Item = Option<String>>) -> Vec<String> {
    let mut ids: Vec<String> = values.into_iter().flatten().collect();
    ids.sort();
    ids.dedup();
    ids
}

pub async fn related(
    db: &impl ConnectionTrait,
    me: &Me,
    rows: &[person::Model],
) -> ApiResult<Related> {
    let primaries: HashMap<String, person::Model> = person::Entity::find()
        .filter(
            person::Column::Id.is_in(strings(rows.iter().map(|r| r.primary_employee_id.clone()))),
        )
        .filter(person::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let client_ids = strings(
        rows.iter()
            .map(|r| r.client_id.clone())
            .chain(primaries.values().map(|p| p.client_id.clone())),
    );
    let clients = client::Entity::find()
        .filter(client::Column::Id.is_in(client_ids))
        .filter(client::Column::DeletedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let user_ids = strings(
        rows.iter()
            .flat_map(|r| [r.user_id.clone(), r.guardian_id.clone()]),
    );
    let users: Vec<(String, String)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Email)
        .filter(user::Column::Id.is_in(user_ids))
        .filter(user::Column::DeletedAt.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let counts: Vec<(String, i64)> = service_session::Entity::find()
        .select_only()
        .column(service_session::Column::PersonId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .filter(service_session::Column::PersonId.is_in(ids))
        .filter(service_session::Column::DeletedAt.is_null())
        .group_by(service_session::Column::PersonId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Related {
        clients,
        primaries,
        users: users.into_iter().collect(),
        sessions: counts
            .into_iter()
            .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
            .collect(),
        today: today(),
        platform: me.is_platform(),
    })
}

impl Related {
    fn client_active(&self, id: Option<&String>) -> bool {
        id.and_then(|i| self.clients.get(i))
            .is_some_and(|c| c.status == "Active")
    }

    fn employee_eligible(&self, p: &person::Model) -> bool {
        p.deleted_at.is_none()
            && p.status == "Active"
            && p.person_type == EMPLOYEE
            && p.employment_status.as_deref() == Some("Active")
            && self.client_active(p.client_id.as_ref())
    }

    /// The contract's `is_eligible`.
    pub fn eligible(&self, p: &person::Model) -> bool {
        if p.status != "Active" || p.deleted_at.is_some() {
            return false;
        }
        match p.person_type.as_str() {
            EMPLOYEE => self.employee_eligible(p),
            DEPENDENT => p
                .primary_employee_id
                .as_ref()
                .and_then(|id| self.primaries.get(id))
                .is_some_and(|e| self.employee_eligible(e)),
            STAFF => p.staff_organization.is_some(),
            PROVIDER => {
                p.license_expiry.is_none_or(|d| d >= self.today)
                    && p.is_accepting_new_clients.unwrap_or(false)
            }
            _ => false,
        }
    }

    fn client_name(&self, p: &person::Model) -> Option<String> {
        p.client_id
            .as_ref()
            .and_then(|i| self.clients.get(i))
            .map(|c| c.name.clone())
    }

    fn total_sessions(&self, p: &person::Model) -> Option<u64> {
        self.platform
            .then(|| self.sessions.get(&p.id).copied().unwrap_or(0))
    }

    pub fn item(&self, p: &person::Model) -> PersonItem {
        PersonItem {
            id: p.id.clone(),
            person_type: p.person_type.clone(),
            status: p.status.clone(),
            profile: PersonProfileBrief {
                full_name: p.full_name.clone(),
                email: p.email.clone(),
                phone: p.phone.clone(),
            },
            client_id: p.client_id.clone(),
            client_name: self.client_name(p),
            employee_role: p.employee_role.clone(),
            employment_status: p.employment_status.clone(),
            relationship_to_employee: p.relationship_to_employee.clone(),
            is_eligible: self.eligible(p),
            total_sessions: self.total_sessions(p),
            last_service_date: if self.platform {
                p.last_service_date
            } else {
                None
            },
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }

    fn detail(&self, p: person::Model) -> PersonOut {
        let age = p.date_of_birth.map(|d| age_on(d, self.today));
        let is_minor = age.is_some_and(|a| a < 18);
        let requires_consent = is_minor && p.relationship_to_employee.as_deref() == Some("Child");
        let employment_duration = match (p.person_type.as_str(), p.employment_start_date) {
            (EMPLOYEE, Some(start)) => {
                let end = p
                    .employment_end_date
                    .filter(|e| *e < self.today)
                    .unwrap_or(self.today);
                Some((end - start).num_days())
            }
            _ => None,
        };
        let list = |v: &Option<Value>| {
            v.as_ref()
                .map(|v| serde_json::from_value::<Vec<String>>(v.clone()).unwrap_or_default())
        };
        let email_of = |id: &Option<String>| id.as_ref().and_then(|i| self.users.get(i)).cloned();
        let client_name = self.client_name(&p);
        PersonOut {
            id: p.id.clone(),
            person_type: p.person_type.clone(),
            status: p.status.clone(),
            profile: PersonProfile {
                id: p.id.clone(),
                full_name: p.full_name.clone(),
                dob: p.date_of_birth,
                date_of_birth: p.date_of_birth,
                age,
                gender: p.gender.clone(),
                phone: p.phone.clone(),
                email: p.email.clone(),
                address: p.address.clone(),
                city: p.city.clone(),
                country: p.country.clone(),
                image: None,
            },
            is_eligible: self.eligible(&p),
            total_sessions: self.total_sessions(&p),
            last_service_date: if self.platform {
                p.last_service_date
            } else {
                None
            },
            user_email: email_of(&p.user_id),
            guardian_email: email_of(&p.guardian_id),
            primary_employee_name: p
                .primary_employee_id
                .as_ref()
                .and_then(|i| self.primaries.get(i))
                .map(|e| e.full_name.clone()),
            manager_id: p
                .metadata
                .get("manager_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            specializations: list(&p.specializations),
            languages_spoken: list(&p.languages_spoken),
            hourly_rate: p.hourly_rate.map(Money),
            effective_client_id: p.client_id.clone(),
            effective_client_name: client_name.clone(),
            client_name,
            age,
            is_minor,
            requires_consent,
            employment_duration,
            full_name: p.full_name,
            email: p.email,
            phone: p.phone,
            date_of_birth: p.date_of_birth,
            gender: p.gender,
            address: p.address,
            city: p.city,
            country: p.country,
            emergency_contact_name: p.emergency_contact_name,
            emergency_contact_phone: p.emergency_contact_phone,
            emergency_contact_email: p.emergency_contact_email,
            notes: p.notes,
            metadata: p.metadata,
            user_id: p.user_id,
            client_id: p.client_id,
            employee_role: p.employee_role,
            employee_department: p.employee_department,
            employee_id_number: p.employee_id_number,
            employment_start_date: p.employment_start_date,
            employment_end_date: p.employment_end_date,
            employment_status: p.employment_status,
            primary_employee_id: p.primary_employee_id,
            relationship_to_employee: p.relationship_to_employee,
            is_employee_dependent: p.is_employee_dependent,
            guardian_id: p.guardian_id,
            staff_organization: p.staff_organization,
            staff_role: p.staff_role,
            staff_department: p.staff_department,
            can_manage_clients: p.can_manage_clients,
            can_manage_services: p.can_manage_services,
            can_view_reports: p.can_view_reports,
            provider_type: p.provider_type,
            license_number: p.license_number,
            license_expiry: p.license_expiry,
            bio: p.bio,
            is_accepting_new_clients: p.is_accepting_new_clients,
            max_clients: p.max_clients,
            created_at: p.created_at,
            updated_at: p.updated_at,
            deleted_at: p.deleted_at,
        }
    }
}

/// The detail shape of `row`.
pub async fn detail(
    db: &impl ConnectionTrait,
    me: &Me,
    row: person::Model,
) -> ApiResult<PersonOut> {
    let rel = related(db, me, std::slice::from_ref(&row)).await?;
    Ok(rel.detail(row))
}

/// OpenAPI schemas of person and service inputs.
pub(crate) mod schema {
    use kernel::form::schema::{blank_or_null, date_from_1900, or_null};
    use utoipa::openapi::Schema;
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

    /// A `YYYY-MM-DD` date, or blank or null to clear it.
    pub fn optional_date() -> Schema {
        blank_or_null(date_from_1900())
    }

    /// A required `YYYY-MM-DD` date.
    pub fn date() -> Schema {
        date_from_1900()
    }

    /// [`super::PHONE`], or blank or null.
    pub fn optional_phone() -> Schema {
        blank_or_null(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(super::PHONE)),
        )
    }

    /// A list of short texts; null clears it.
    pub fn texts() -> Schema {
        or_null(
            ArrayBuilder::new().items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(100)),
            ),
        )
    }

    /// An amount of at least zero, or null.
    pub fn optional_amount() -> Schema {
        or_null(kernel::money::Money::non_negative_schema())
    }

    /// A whole number from `MIN` to `MAX`, or null.
    pub fn optional_int<const MIN: i64, const MAX: i64>() -> Schema {
        or_null(kernel::form::schema::int(MIN, MAX))
    }

    pub fn employment() -> Schema {
        blank_or_null(kernel::form::schema::choice(super::EMPLOYMENT_INPUT))
    }

    pub fn person_type() -> Schema {
        kernel::form::schema::choice(super::TYPES.0)
    }

    pub fn relationship() -> Schema {
        kernel::form::schema::choice(super::RELATIONSHIPS.0)
    }

    pub fn gender() -> Schema {
        blank_or_null(kernel::form::schema::choice(super::GENDERS.0))
    }

    pub fn staff_role() -> Schema {
        blank_or_null(kernel::form::schema::choice(super::STAFF_ROLES.0))
    }
}

/// An optional email, lower-cased.
pub(crate) fn optional_email(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
) -> Option<Option<String>> {
    let value = c.optional_text(name, field, 254)?;
    match value {
        None => Some(None),
        Some(v) => match kernel::form::normalize_email(&v) {
            Some(e) => Some(Some(e)),
            None => {
                c.error(name, "Enter a valid email address.");
                None
            }
        },
    }
}

/// A list of texts; null is empty.
pub(crate) fn texts(c: &mut Checker, name: &str, field: Field<Vec<String>>) -> Option<Value> {
    match field {
        Field::Absent => None,
        Field::Null => Some(json!([])),
        Field::Value(items) => {
            if items
                .iter()
                .any(|s| s.chars().count() > 100 || s.contains('\0'))
            {
                c.error(name, "Ensure this field has no more than 100 characters.");
                return None;
            }
            let items: Vec<String> = items
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            Some(json!(items))
        }
    }
}

fn choice_or_blank(
    c: &mut Checker,
    name: &str,
    field: Field<String>,
    choices: Choices,
) -> Option<Option<String>> {
    rest::optional_choice(c, name, field, choices)
}

/// An employment status, the frontend's values read as the contract's.
fn employment(c: &mut Checker, name: &str, field: Field<String>) -> Option<Option<String>> {
    match c.optional_text(name, field, 50)? {
        None => Some(None),
        Some(v) => {
            let folded: String = v
                .chars()
                .filter(|c| !matches!(c, ' ' | '_' | '-'))
                .flat_map(char::to_lowercase)
                .collect();
            if let Some((_, to)) = EMPLOYMENT_ALIASES
                .iter()
                .find(|(from, _)| from.to_lowercase() == folded)
            {
                return Some(Some((*to).to_owned()));
            }
            match EMPLOYMENT.parse(&v) {
                Some(s) => Some(Some(s.to_owned())),
                None => {
                    c.error(name, format!("\"{v}\" is not a valid choice."));
                    None
                }
            }
        }
    }
}

/// Declares a person input body: every field of every type; the literal
/// flags say which of `person_type`, `full_name`, `client_id`,
/// `primary_employee_id`, `relationship_to_employee` the document requires.
macro_rules! person_input {
    ($(#[$meta:meta])* $name:ident, $t:literal, $n:literal, $c:literal, $p:literal, $r:literal) => {
        $(#[$meta])*
        #[derive(Debug, Default, Deserialize, ToSchema)]
        pub struct $name {
            /// Fixed once created.
            #[serde(default)]
            #[schema(schema_with = schema::person_type, required = $t)]
            person_type: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::text::<255>, required = $n)]
            full_name: Field<String>,
            /// Links the person to the user with this email (else a new inactive one).
            #[serde(default)]
            #[schema(schema_with = crate::clients::schema::optional_email)]
            email: Field<String>,
            #[serde(default)]
            #[schema(schema_with = schema::optional_phone)]
            phone: Field<String>,
            /// Alias `dob`.
            #[serde(default, alias = "dob")]
            #[schema(schema_with = schema::optional_date)]
            date_of_birth: Field<String>,
            #[serde(default)]
            #[schema(schema_with = schema::gender)]
            gender: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<5000>)]
            address: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
            city: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
            country: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
            emergency_contact_name: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<30>)]
            emergency_contact_phone: Field<String>,
            #[serde(default)]
            #[schema(schema_with = crate::clients::schema::optional_email)]
            emergency_contact_email: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
            notes: Field<String>,
            /// A JSON object (null reads as `{}`).
            #[serde(default)]
            #[schema(value_type = Option<Object>)]
            metadata: Field<Value>,
            /// Employees: a live Active client (alias `client`); fixed once created.
            #[serde(default, alias = "client")]
            #[schema(schema_with = crate::clients::schema::cuid, required = $c)]
            client_id: Field<String>,
            /// Employees (alias `job_title`).
            #[serde(default, alias = "job_title")]
            #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
            employee_role: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
            employee_department: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
            employee_id_number: Field<String>,
            /// Employees; today when left out.
            #[serde(default)]
            #[schema(schema_with = schema::optional_date)]
            employment_start_date: Field<String>,
            /// Employees; not before the start date.
            #[serde(default)]
            #[schema(schema_with = schema::optional_date)]
            employment_end_date: Field<String>,
            /// Employees; Active when left out.
            #[serde(default)]
            #[schema(schema_with = schema::employment)]
            employment_status: Field<String>,
            /// Employees: kept as `metadata.manager_id`.
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<64>)]
            manager_id: Field<String>,
            /// Dependents: a live employee whose employment is Active; fixed once created.
            #[serde(default, alias = "primary_employee")]
            #[schema(schema_with = crate::clients::schema::cuid, required = $p)]
            primary_employee_id: Field<String>,
            /// Dependents (alias `relationship_type`).
            #[serde(default, alias = "relationship_type")]
            #[schema(schema_with = schema::relationship, required = $r)]
            relationship_to_employee: Field<String>,
            #[serde(default)]
            #[schema(value_type = bool, required = false)]
            is_employee_dependent: Field<bool>,
            /// Dependents: a user (alias `guardian`); a minor child gets the primary employee's user.
            #[serde(default, alias = "guardian")]
            #[schema(schema_with = crate::clients::schema::optional_cuid)]
            guardian_id: Field<String>,
            /// Staff (alias `organization_id`).
            #[serde(default, alias = "organization_id")]
            #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
            staff_organization: Field<String>,
            #[serde(default)]
            #[schema(schema_with = schema::staff_role)]
            staff_role: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<255>)]
            staff_department: Field<String>,
            #[serde(default)]
            #[schema(value_type = bool, required = false)]
            can_manage_clients: Field<bool>,
            #[serde(default)]
            #[schema(value_type = bool, required = false)]
            can_manage_services: Field<bool>,
            #[serde(default)]
            #[schema(value_type = bool, required = false)]
            can_view_reports: Field<bool>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
            provider_type: Field<String>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<100>)]
            license_number: Field<String>,
            #[serde(default)]
            #[schema(schema_with = schema::optional_date)]
            license_expiry: Field<String>,
            #[serde(default)]
            #[schema(schema_with = schema::texts)]
            specializations: Field<Vec<String>>,
            /// Alias `languages`.
            #[serde(default, alias = "languages")]
            #[schema(schema_with = schema::texts)]
            languages_spoken: Field<Vec<String>>,
            #[serde(default)]
            #[schema(schema_with = schema::optional_amount)]
            hourly_rate: Field<Money>,
            #[serde(default)]
            #[schema(schema_with = kernel::form::schema::optional_text::<10000>)]
            bio: Field<String>,
            #[serde(default)]
            #[schema(value_type = bool, required = false)]
            is_accepting_new_clients: Field<bool>,
            #[serde(default)]
            #[schema(schema_with = schema::optional_int::<0, 100000>)]
            max_clients: Field<i64>,
        }

        impl From<$name> for PersonIn {
            fn from(v: $name) -> Self {
                PersonIn {
                    person_type: v.person_type,
                    full_name: v.full_name,
                    email: v.email,
                    phone: v.phone,
                    date_of_birth: v.date_of_birth,
                    gender: v.gender,
                    address: v.address,
                    city: v.city,
                    country: v.country,
                    emergency_contact_name: v.emergency_contact_name,
                    emergency_contact_phone: v.emergency_contact_phone,
                    emergency_contact_email: v.emergency_contact_email,
                    notes: v.notes,
                    metadata: v.metadata,
                    client_id: v.client_id,
                    employee_role: v.employee_role,
                    employee_department: v.employee_department,
                    employee_id_number: v.employee_id_number,
                    employment_start_date: v.employment_start_date,
                    employment_end_date: v.employment_end_date,
                    employment_status: v.employment_status,
                    manager_id: v.manager_id,
                    primary_employee_id: v.primary_employee_id,
                    relationship_to_employee: v.relationship_to_employee,
                    is_employee_dependent: v.is_employee_dependent,
                    guardian_id: v.guardian_id,
                    staff_organization: v.staff_organization,
                    staff_role: v.staff_role,
                    staff_department: v.staff_department,
                    can_manage_clients: v.can_manage_clients,
                    can_manage_services: v.can_manage_services,
                    can_view_reports: v.can_view_reports,
                    provider_type: v.provider_type,
                    license_number: v.license_number,
                    license_expiry: v.license_expiry,
                    specializations: v.specializations,
                    languages_spoken: v.languages_spoken,
                    hourly_rate: v.hourly_rate,
                    bio: v.bio,
                    is_accepting_new_clients: v.is_accepting_new_clients,
                    max_clients: v.max_clients,
                }
            }
        }
    };
}

/// What every person write reads (see the bodies below).
#[derive(Debug, Default)]
pub struct PersonIn {
    person_type: Field<String>,
    full_name: Field<String>,
    email: Field<String>,
    phone: Field<String>,
    date_of_birth: Field<String>,
    gender: Field<String>,
    address: Field<String>,
    city: Field<String>,
    country: Field<String>,
    emergency_contact_name: Field<String>,
    emergency_contact_phone: Field<String>,
    emergency_contact_email: Field<String>,
    notes: Field<String>,
    metadata: Field<Value>,
    client_id: Field<String>,
    employee_role: Field<String>,
    employee_department: Field<String>,
    employee_id_number: Field<String>,
    employment_start_date: Field<String>,
    employment_end_date: Field<String>,
    employment_status: Field<String>,
    manager_id: Field<String>,
    primary_employee_id: Field<String>,
    relationship_to_employee: Field<String>,
    is_employee_dependent: Field<bool>,
    guardian_id: Field<String>,
    staff_organization: Field<String>,
    staff_role: Field<String>,
    staff_department: Field<String>,
    can_manage_clients: Field<bool>,
    can_manage_services: Field<bool>,
    can_view_reports: Field<bool>,
    provider_type: Field<String>,
    license_number: Field<String>,
    license_expiry: Field<String>,
    specializations: Field<Vec<String>>,
    languages_spoken: Field<Vec<String>>,
    hourly_rate: Field<Money>,
    bio: Field<String>,
    is_accepting_new_clients: Field<bool>,
    max_clients: Field<i64>,
}

person_input!(
    /// A new person of any type. `ClientEmployee` needs `client_id`,
    /// `Dependent` needs `primary_employee_id` and `relationship_to_employee`,
    /// `PlatformStaff` and `ServiceProvider` need `email`; fields of other
    /// types are ignored.
    PersonCreateIn, true, true, false, false, false
);
person_input!(
    /// A new client employee (`person_type` is ignored).
    EmployeeIn, false, true, true, false, false
);
person_input!(
    /// A new dependent of a client employee (`person_type` is ignored).
    DependentIn, false, true, false, true, true
);
person_input!(
    /// A person's fields. `person_type`, an employee's `client_id` and a
    /// dependent's `primary_employee_id` cannot change; `status` changes
    /// only through the actions.
    PersonUpdateIn, false, true, false, false, false
);

/// Whether `me` may write persons of client `client_id` (§3).
fn may_write(me: &Me, client_id: Option<&str>) -> bool {
    me.is_platform()
        || (me.has_role("hr_manager")
            && client_id.is_some_and(|c| me.grants.iter().any(|g| g == c)))
}

/// A scoped user without `hr_manager` writes no person.
fn may_write_some(me: &Me) -> ApiResult<()> {
    if me.is_platform() || me.has_role("hr_manager") {
        Ok(())
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

fn required_for(kind: &str) -> String {
    format!("This field is required for a {kind}.")
}

/// The user with `email`, else a new inactive one (in `txn`); the user and
/// whether it was made.
async fn link_user(
    txn: &impl ConnectionTrait,
    email: &str,
    full_name: &str,
) -> ApiResult<(user::Model, bool)> {
    if let Some(found) = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::DeletedAt.is_null())
        .one(txn)
        .await?
    {
        return Ok((found, false));
    }
    let (first, last) = match full_name.split_once(' ') {
        Some((first, last)) => (first.to_owned(), last.trim().to_owned()),
        None => (full_name.to_owned(), String::new()),
    };
    let now = kernel::time::now();
    let created = user::ActiveModel {
        id: Set(kernel::cuid::new()),
        email: Set(email.to_owned()),
        username: Set(Some(email.to_owned())),
        password: Set(kernel::password::unusable()),
        first_name: Set(first.chars().take(150).collect()),
        last_name: Set(last.chars().take(150).collect()),
        status: Set("Pending Verification".into()),
        is_active: Set(false),
        is_staff: Set(false),
        is_superuser: Set(false),
        email_verified: Set(None),
        last_login_at: Set(None),
        preferred_language: Set(None),
        timezone: Set(None),
        metadata: Set(json!({})),
        token_epoch: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    }
    .insert(txn)
    .await?;
    Ok((created, true))
}

/// Creates (`current` None, of `kind`) or updates a person.
async fn save(
    db: &kernel::Db,
    me: &Me,
    current: Option<person::Model>,
    kind: Option<&'static str>,
    input: PersonIn,
    partial: bool,
) -> ApiResult<(StatusCode, Json<PersonOut>)> {
    let creating = current.is_none();
    let mut c = match current {
        Some(_) => Checker::partial(partial),
        None => Checker::new(),
    };
    // The type: given by the route, the body (POST persons/) or the row.
    let person_type: Option<&'static str> = match (&current, kind) {
        (Some(row), _) => {
            let fixed = TYPES.parse(&row.person_type);
            if let Field::Value(v) = &input.person_type
                && TYPES.parse(v) != fixed
            {
                c.error("person_type", "Person type cannot be changed.");
            }
            if matches!(input.person_type, Field::Null) {
                c.error("person_type", kernel::form::NOT_NULL);
            }
            fixed
        }
        (None, Some(kind)) => Some(kind),
        (None, None) => match input.person_type {
            Field::Value(v) => match TYPES.parse(&v) {
                Some(t) => Some(t),
                None => {
                    c.error("person_type", format!("\"{v}\" is not a valid choice."));
                    None
                }
            },
            Field::Null => {
                c.error("person_type", kernel::form::NOT_NULL);
                None
            }
            Field::Absent => {
                c.error("person_type", kernel::form::REQUIRED);
                None
            }
        },
    };
    if creating && matches!(person_type, Some(STAFF | PROVIDER)) && !me.is_platform() {
        return Err(ApiError::forbidden(NO_PERMISSION));
    }
    let full_name = c.text("full_name", input.full_name, 255);
    let email_given = !input.email.is_absent();
    let email = optional_email(&mut c, "email", input.email);
    let phone = c.optional_text("phone", input.phone, 17);
    if let Some(Some(p)) = &phone
        && !regex::Regex::new(PHONE).is_ok_and(|r| r.is_match(p))
    {
        c.error("phone", PHONE_MESSAGE);
    }
    let date_of_birth = rest::optional_date(&mut c, "date_of_birth", input.date_of_birth);
    let gender = choice_or_blank(&mut c, "gender", input.gender, GENDERS);
    let address = c.optional_text("address", input.address, 5000);
    let city = c.optional_text("city", input.city, 100);
    let country = c.optional_text("country", input.country, 100);
    let ec_name = c.optional_text("emergency_contact_name", input.emergency_contact_name, 255);
    let ec_phone = c.optional_text("emergency_contact_phone", input.emergency_contact_phone, 30);
    let ec_email = optional_email(
        &mut c,
        "emergency_contact_email",
        input.emergency_contact_email,
    );
    let notes = c.optional_text("notes", input.notes, 10_000);
    let mut metadata = rest::metadata(&mut c, input.metadata, creating);

    let mut row: person::ActiveModel = match &current {
        Some(r) => r.clone().into(),
        None => {
            let now = kernel::time::now();
            person::ActiveModel {
                id: Set(kernel::cuid::new()),
                person_type: Set(person_type.unwrap_or(EMPLOYEE).to_owned()),
                status: Set("Active".into()),
                user_id: Set(None),
                full_name: Set(String::new()),
                email: Set(None),
                phone: Set(None),
                date_of_birth: Set(None),
                gender: Set(None),
                address: Set(None),
                city: Set(None),
                country: Set(None),
                emergency_contact_name: Set(None),
                emergency_contact_phone: Set(None),
                emergency_contact_email: Set(None),
                notes: Set(None),
                metadata: Set(json!({})),
                last_service_date: Set(None),
                client_id: Set(None),
                employee_role: Set(None),
                employee_department: Set(None),
                employee_id_number: Set(None),
                employment_start_date: Set(None),
                employment_end_date: Set(None),
                employment_status: Set(None),
                primary_employee_id: Set(None),
                relationship_to_employee: Set(None),
                is_employee_dependent: Set(None),
                guardian_id: Set(None),
                staff_organization: Set(None),
                staff_role: Set(None),
                staff_department: Set(None),
                can_manage_clients: Set(None),
                can_manage_services: Set(None),
                can_view_reports: Set(None),
                provider_type: Set(None),
                license_number: Set(None),
                license_expiry: Set(None),
                specializations: Set(None),
                languages_spoken: Set(None),
                hourly_rate: Set(None),
                bio: Set(None),
                is_accepting_new_clients: Set(None),
                max_clients: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                deleted_at: Set(None),
            }
        }
    };
    macro_rules! put {
        ($($field:ident = $value:expr),* $(,)?) => {
            $(if let Some(v) = $value { row.$field = Set(v); })*
        };
    }
    let own_id = current.as_ref().map(|r| r.id.clone());
    let mut guardian_default: Option<person::Model> = None;
    let mut client_for_write: Option<String> = current.as_ref().and_then(|r| r.client_id.clone());
    // Every field is checked whatever the type; only the type's are written.
    let role = c.optional_text("employee_role", input.employee_role, 255);
    let department = c.optional_text("employee_department", input.employee_department, 255);
    let number = c.optional_text("employee_id_number", input.employee_id_number, 100);
    let start = rest::optional_date(&mut c, "employment_start_date", input.employment_start_date);
    let end = rest::optional_date(&mut c, "employment_end_date", input.employment_end_date);
    let employment_status = employment(&mut c, "employment_status", input.employment_status);
    let manager = c.optional_text("manager_id", input.manager_id, 64);
    let relationship: Option<Option<String>> = match input.relationship_to_employee {
        Field::Absent => None,
        other => Some(c.value("relationship_to_employee", other).and_then(|v| {
            match RELATIONSHIPS.parse(&v) {
                Some(r) => Some(r.to_owned()),
                None => {
                    c.error(
                        "relationship_to_employee",
                        format!("\"{v}\" is not a valid choice."),
                    );
                    None
                }
            }
        })),
    };
    let is_dependent = c.boolean("is_employee_dependent", input.is_employee_dependent, true);
    let guardian = c.optional_text("guardian_id", input.guardian_id, 64);
    let org = c.optional_text("staff_organization", input.staff_organization, 255);
    let staff_role = choice_or_blank(&mut c, "staff_role", input.staff_role, STAFF_ROLES);
    let staff_department = c.optional_text("staff_department", input.staff_department, 255);
    let can_clients = c.boolean("can_manage_clients", input.can_manage_clients, false);
    let can_services = c.boolean("can_manage_services", input.can_manage_services, false);
    let can_reports = c.boolean("can_view_reports", input.can_view_reports, false);
    let provider_type = c.optional_text("provider_type", input.provider_type, 100);
    let license = c.optional_text("license_number", input.license_number, 100);
    let expiry = rest::optional_date(&mut c, "license_expiry", input.license_expiry);
    let specializations = texts(&mut c, "specializations", input.specializations);
    let languages = texts(&mut c, "languages_spoken", input.languages_spoken);
    let rate = match input.hourly_rate {
        Field::Absent => None,
        Field::Null => Some(None),
        Field::Value(m) if m.cents() < 0 => {
            c.error(
                "hourly_rate",
                "Ensure this value is greater than or equal to 0.",
            );
            None
        }
        Field::Value(m) => Some(Some(m.cents())),
    };
    let bio = c.optional_text("bio", input.bio, 10_000);
    let accepting = c.boolean(
        "is_accepting_new_clients",
        input.is_accepting_new_clients,
        true,
    );
    let max_clients = match input.max_clients {
        Field::Absent => None,
        Field::Null => Some(None),
        other => c
            .int("max_clients", other, 0, 100_000)
            .map(|v| Some(i32::try_from(v).unwrap_or(0))),
    };
    // Other types' row ids: ids or nothing.
    for (name, field, applies) in [
        ("client_id", &input.client_id, person_type == Some(EMPLOYEE)),
        (
            "primary_employee_id",
            &input.primary_employee_id,
            person_type == Some(DEPENDENT),
        ),
    ] {
        match field {
            Field::Null if !(applies && creating) => c.error(name, kernel::form::NOT_NULL),
            Field::Value(v) if !applies && !crate::rest::is_id(v.trim()) => {
                c.error(name, rest::invalid_pk_message(v));
            }
            _ => {}
        }
    }
    if person_type != Some(DEPENDENT)
        && let Some(Some(g)) = &guardian
        && !crate::rest::is_id(g)
    {
        c.error("guardian_id", rest::invalid_pk_message(g));
    }
    match person_type {
        Some(EMPLOYEE) => {
            let client_id = if creating {
                match input.client_id {
                    Field::Value(v) => Some(v.trim().to_owned()),
                    Field::Null => {
                        c.error("client_id", kernel::form::NOT_NULL);
                        None
                    }
                    Field::Absent => {
                        let message = if kind.is_some() {
                            kernel::form::REQUIRED.to_owned()
                        } else {
                            required_for(EMPLOYEE)
                        };
                        c.error("client_id", message);
                        None
                    }
                }
            } else {
                if let Field::Value(v) = &input.client_id
                    && current.as_ref().and_then(|r| r.client_id.as_deref()) != Some(v.trim())
                {
                    c.error("client_id", FIXED);
                }
                None
            };
            if let Some(id) = &client_id {
                let found = if crate::rest::is_id(id) {
                    client::Entity::find_visible(&**db, me, id.clone())
                        .await
                        .ok()
                } else {
                    None
                };
                match found {
                    None => c.error("client_id", rest::invalid_pk_message(id)),
                    Some(found) if found.status != "Active" => {
                        c.error("client_id", NOT_ACTIVE_CLIENT);
                    }
                    Some(found) => {
                        client_for_write = Some(found.id.clone());
                        row.client_id = Set(Some(found.id));
                    }
                }
            }
            let start = match start {
                Some(None) => Some(Some(today())),
                other => other,
            };
            let final_start = start
                .flatten()
                .or(current.as_ref().and_then(|r| r.employment_start_date));
            let final_end = match end {
                Some(v) => v,
                None => current.as_ref().and_then(|r| r.employment_end_date),
            };
            if let (Some(s), Some(e)) = (final_start, final_end)
                && e < s
            {
                c.error("employment_end_date", END_BEFORE_START);
            }
            let status = match employment_status {
                Some(None) if creating => Some(Some("Active".to_owned())),
                Some(None) => None,
                other => other,
            };
            if let Some(manager) = manager {
                let meta = metadata.get_or_insert_with(|| {
                    current
                        .as_ref()
                        .map(|r| r.metadata.clone())
                        .unwrap_or_else(|| json!({}))
                });
                if !meta.is_object() {
                    *meta = json!({});
                }
                match manager {
                    Some(m) => meta["manager_id"] = json!(m),
                    None => {
                        if let Some(o) = meta.as_object_mut() {
                            o.remove("manager_id");
                        }
                    }
                }
            }
            put!(
                employee_role = role,
                employee_department = department,
                employee_id_number = number,
                employment_start_date = start,
                employment_end_date = end,
                employment_status = status,
            );
        }
        Some(DEPENDENT) => {
            let relationship = match relationship {
                None if creating => {
                    let message = if kind.is_some() {
                        kernel::form::REQUIRED.to_owned()
                    } else {
                        required_for(DEPENDENT)
                    };
                    c.error("relationship_to_employee", message);
                    None
                }
                None => None,
                Some(v) => v.map(Some),
            };
            if creating {
                let primary = match input.primary_employee_id {
                    Field::Value(v) => Some(v.trim().to_owned()),
                    Field::Null => {
                        c.error("primary_employee_id", kernel::form::NOT_NULL);
                        None
                    }
                    Field::Absent => {
                        let message = if kind.is_some() {
                            kernel::form::REQUIRED.to_owned()
                        } else {
                            required_for(DEPENDENT)
                        };
                        c.error("primary_employee_id", message);
                        None
                    }
                };
                if let Some(id) = primary {
                    let found = if crate::rest::is_id(&id) {
                        person::Entity::find_visible(&**db, me, id.clone())
                            .await
                            .ok()
                            .filter(|p| p.person_type == EMPLOYEE)
                    } else {
                        None
                    };
                    match found {
                        None => c.error("primary_employee_id", rest::invalid_pk_message(&id)),
                        Some(p) if p.employment_status.as_deref() != Some("Active") => {
                            c.error("primary_employee_id", NOT_ACTIVE_PRIMARY);
                        }
                        Some(p) => {
                            client_for_write = p.client_id.clone();
                            row.primary_employee_id = Set(Some(p.id.clone()));
                            row.client_id = Set(p.client_id.clone());
                            guardian_default = Some(p);
                        }
                    }
                }
            } else if let Field::Value(v) = &input.primary_employee_id
                && current
                    .as_ref()
                    .and_then(|r| r.primary_employee_id.as_deref())
                    != Some(v.trim())
            {
                c.error("primary_employee_id", FIXED);
            }
            if let Some(Some(g)) = &guardian {
                let live = crate::rest::is_id(g)
                    && user::Entity::find_by_id(g.clone())
                        .filter(user::Column::DeletedAt.is_null())
                        .one(&**db)
                        .await?
                        .is_some();
                if !live {
                    c.error("guardian_id", rest::invalid_pk_message(g));
                }
            }
            put!(
                relationship_to_employee = relationship,
                is_employee_dependent = is_dependent.map(Some),
                guardian_id = guardian,
            );
        }
        Some(STAFF) => {
            if creating && (!email_given || matches!(email, Some(None))) {
                c.error("email", required_for(STAFF));
            }
            put!(
                staff_organization = org,
                staff_role = staff_role,
                staff_department = staff_department,
                can_manage_clients = can_clients.map(Some),
                can_manage_services = can_services.map(Some),
                can_view_reports = can_reports.map(Some),
            );
        }
        Some(PROVIDER) => {
            if creating && (!email_given || matches!(email, Some(None))) {
                c.error("email", required_for(PROVIDER));
            }
            let specializations = specializations.or(creating.then(|| json!([])));
            let languages = languages.or(creating.then(|| json!([])));
            put!(
                provider_type = provider_type,
                license_number = license,
                license_expiry = expiry,
                specializations = specializations.map(Some),
                languages_spoken = languages.map(Some),
                hourly_rate = rate,
                bio = bio,
                is_accepting_new_clients = accepting.map(Some),
                max_clients = max_clients,
            );
        }
        _ => {}
    }
    // The email: one person each.
    if let Some(Some(e)) = &email {
        let taken = person::Entity::find()
            .filter(person::Column::Email.eq(e.as_str()))
            .filter(person::Column::DeletedAt.is_null())
            .filter(match &own_id {
                Some(id) => Condition::all().add(person::Column::Id.ne(id.as_str())),
                None => Condition::all(),
            })
            .one(&**db)
            .await?;
        if taken.is_some() {
            c.error("email", EMAIL_TAKEN);
        }
    }
    c.finish()?;
    if !creating && !may_write(me, client_for_write.as_deref()) {
        return Err(ApiError::forbidden(NO_PERMISSION));
    }

    let now = kernel::time::now();
    let txn = kernel::db::begin_write(db).await?;
    let mut made_user: Option<user::Model> = None;
    let full = full_name
        .clone()
        .or(current.as_ref().map(|r| r.full_name.clone()))
        .unwrap_or_default();
    if let Some(email) = &email {
        let changed = current.as_ref().map(|r| &r.email) != Some(email);
        if changed {
            match email {
                Some(e) => {
                    let (linked, made) = link_user(&txn, e, &full).await?;
                    let linked_elsewhere = person::Entity::find()
                        .filter(person::Column::UserId.eq(linked.id.as_str()))
                        .filter(person::Column::DeletedAt.is_null())
                        .filter(match &own_id {
                            Some(id) => Condition::all().add(person::Column::Id.ne(id.as_str())),
                            None => Condition::all(),
                        })
                        .one(&txn)
                        .await?;
                    if linked_elsewhere.is_some() {
                        return Err(ApiError::field("email", EMAIL_TAKEN));
                    }
                    row.user_id = Set(Some(linked.id.clone()));
                    if made {
                        made_user = Some(linked);
                    }
                }
                None => row.user_id = Set(None),
            }
        }
    }
    // A minor child without a guardian gets the primary employee's user.
    if let Some(primary) = &guardian_default {
        let guardian_unset = !matches!(&row.guardian_id, sea_orm::ActiveValue::Set(Some(_)));
        let dob = date_of_birth.flatten();
        let minor = dob.is_some_and(|d| age_on(d, today()) < 18);
        let child = matches!(&row.relationship_to_employee, sea_orm::ActiveValue::Set(Some(r)) if r == "Child");
        if guardian_unset && minor && child {
            row.guardian_id = Set(primary.user_id.clone());
        }
    }
    put!(
        full_name = full_name,
        email = email,
        phone = phone,
        date_of_birth = date_of_birth,
        gender = gender,
        address = address,
        city = city,
        country = country,
        emergency_contact_name = ec_name,
        emergency_contact_phone = ec_phone,
        emergency_contact_email = ec_email,
        notes = notes,
        metadata = metadata,
    );
    row.updated_at = Set(now);
    let saved = match &current {
        Some(_) => row.update(&txn).await?,
        None => row.insert(&txn).await?,
    };
    let (mut event, status) = Event::saved(
        MODEL,
        &saved.id,
        current.as_ref().map(record),
        record(&saved),
    );
    if let Some(u) = &made_user {
        event = event.also("User", &u.id, Change::created(&crate::users::record(u)));
    }
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, me, saved).await?;
    txn.commit().await?;
    Ok((status, Json(out)))
}

/// The person `id` if the caller may see it.
pub async fn visible(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<person::Model> {
    let id = rest::path_id(id, MODEL)?;
    person::Entity::find_visible(db, me, id).await
}

/// The person `id` for a write: absent unless visible, 403 unless the
/// caller may write it.
async fn writable(db: &impl ConnectionTrait, me: &Me, id: &str) -> ApiResult<person::Model> {
    let row = visible(db, me, id).await?;
    if may_write(me, row.client_id.as_deref()) {
        Ok(row)
    } else {
        Err(ApiError::forbidden(NO_PERMISSION))
    }
}

/// The filters of person lists.
fn filtered(me: &Me, selected: &SelectedClient, list: &List) -> ApiResult<Select<person::Entity>> {
    let mut query = person::Entity::visible(me);
    if let Some(client) = &selected.0 {
        query = query.filter(person::Column::ClientId.eq(client.as_str()));
    }
    if let Some(t) = list.get("person_type") {
        query = query.filter(person::Column::PersonType.eq(TYPES.check("person_type", t)?));
    }
    if let Some(s) = list.get("status") {
        query = query.filter(person::Column::Status.eq(STATUSES.check("status", s)?));
    }
    if let Some(raw) = list.get("employment_status") {
        let mut c = Checker::new();
        let value = employment(&mut c, "employment_status", Field::Value(raw.to_owned()));
        c.finish()?;
        if let Some(Some(v)) = value {
            query = query.filter(person::Column::EmploymentStatus.eq(v));
        }
    }
    if let Some(role) = list.get("employee_role") {
        query = query.filter(person::Column::EmployeeRole.eq(role.trim()));
    }
    if let Some(client) = list.get("client_id").or(list.get("client")) {
        query = query.filter(person::Column::ClientId.eq(client.trim()));
    }
    Ok(list.search(
        query,
        &[
            Expr::col(person::Column::FullName),
            Expr::col(person::Column::Email),
            Expr::col(person::Column::EmployeeIdNumber),
        ],
    ))
}

/// A page of `query`'s persons, `eligible` ones only when given.
async fn paged(
    db: &impl ConnectionTrait,
    me: &Me,
    list: &List,
    query: Select<person::Entity>,
    eligible: Option<bool>,
) -> ApiResult<Page<PersonItem>> {
    let query = list.order(
        query,
        &[
            ("full_name", Expr::col(person::Column::FullName)),
            ("created_at", Expr::col(person::Column::CreatedAt)),
            ("person_type", Expr::col(person::Column::PersonType)),
            ("status", Expr::col(person::Column::Status)),
        ],
        &[("created_at", sea_orm::Order::Desc)],
        person::Column::Id,
    );
    let rows = query.all(db).await?;
    let rel = related(db, me, &rows).await?;
    let items: Vec<PersonItem> = rows
        .iter()
        .filter(|r| eligible.is_none_or(|e| rel.eligible(r) == e))
        .map(|r| rel.item(r))
        .collect();
    rest::page_of(list, items)
}

/// Persons, a page at a time: search name, email, employee_id_number;
/// filters `person_type, status, employment_status, employee_role,
/// client_id` (alias `client`), `is_eligible`; narrowed to `X-Client-ID`.
#[utoipa::path(get, path = "/api/persons/", tag = "persons", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("person_type" = inline(Option<PersonType>), Query), ("status" = inline(Option<PersonStatus>), Query),
        ("employment_status" = inline(Option<EmploymentStatus>), Query), ("employee_role" = Option<String>, Query),
        ("client_id" = Option<String>, Query), ("client" = Option<String>, Query), ("is_eligible" = Option<bool>, Query)),
    responses((status = 200, body = Page<PersonItem>)))]
pub async fn list_persons(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<PersonItem>>> {
    let query = filtered(&me, &selected, &list)?;
    let eligible = rest::flag(&list, "is_eligible")?;
    Ok(Json(paged(&db, &me, &list, query, eligible).await?))
}

/// Eligible persons, a page at a time (the list's filters apply).
#[utoipa::path(get, path = "/api/persons/eligible/", tag = "persons", security(("jwt" = [])),
    params(("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query), ("limit" = Option<u64>, Query),
        ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("person_type" = inline(Option<PersonType>), Query), ("status" = inline(Option<PersonStatus>), Query),
        ("employment_status" = inline(Option<EmploymentStatus>), Query), ("employee_role" = Option<String>, Query),
        ("client_id" = Option<String>, Query), ("client" = Option<String>, Query)),
    responses((status = 200, body = Page<PersonItem>)))]
pub async fn eligible_persons(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    list: List,
) -> ApiResult<Json<Page<PersonItem>>> {
    let query = filtered(&me, &selected, &list)?;
    Ok(Json(paged(&db, &me, &list, query, Some(true)).await?))
}

/// The persons of one client (its employees and their dependents), a page
/// at a time; filters `status, employment_status`.
#[utoipa::path(get, path = "/api/persons/by-client/{client_id}/", tag = "persons", security(("jwt" = [])),
    params(("client_id" = String, Path), ("page" = Option<u64>, Query), ("page_size" = Option<u64>, Query),
        ("limit" = Option<u64>, Query), ("search" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("status" = inline(Option<PersonStatus>), Query), ("employment_status" = inline(Option<EmploymentStatus>), Query)),
    responses((status = 200, body = Page<PersonItem>)))]
pub async fn persons_of_client(
    Db(db): Db,
    me: Me,
    selected: SelectedClient,
    Path(client_id): Path<String>,
    list: List,
) -> ApiResult<Json<Page<PersonItem>>> {
    let client = crate::clients::visible(&db, &me, &client_id).await?;
    let query =
        filtered(&me, &selected, &list)?.filter(person::Column::ClientId.eq(client.id.as_str()));
    Ok(Json(paged(&db, &me, &list, query, None).await?))
}

/// Creates a person of any type (platform users; `hr_manager` for
/// employees and dependents of their granted clients).
#[utoipa::path(post, path = "/api/persons/", tag = "persons", security(("jwt" = [])),
    request_body = PersonCreateIn, responses((status = 201, body = PersonOut)))]
pub async fn create_person(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    input: Result<Json<PersonCreateIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<PersonOut>)> {
    may_write_some(&me)?;
    let Json(input) = input?;
    save(&db, &me, None, None, input.into(), false).await
}

/// Registers a client employee (the client must be Active).
#[utoipa::path(post, path = "/api/persons/create-employee/", tag = "persons", security(("jwt" = [])),
    request_body = EmployeeIn, responses((status = 201, body = PersonOut)))]
pub async fn create_employee(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    input: Result<Json<EmployeeIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<PersonOut>)> {
    may_write_some(&me)?;
    let Json(input) = input?;
    save(&db, &me, None, Some(EMPLOYEE), input.into(), false).await
}

/// Registers a dependent of a client employee whose employment is Active.
#[utoipa::path(post, path = "/api/persons/create-dependent/", tag = "persons", security(("jwt" = [])),
    request_body = DependentIn, responses((status = 201, body = PersonOut)))]
pub async fn create_dependent(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    input: Result<Json<DependentIn>, ApiError>,
) -> ApiResult<(StatusCode, Json<PersonOut>)> {
    may_write_some(&me)?;
    let Json(input) = input?;
    save(&db, &me, None, Some(DEPENDENT), input.into(), false).await
}

/// One person.
#[utoipa::path(get, path = "/api/persons/{id}/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = PersonOut)))]
pub async fn get_person(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonOut>> {
    let row = visible(&db, &me, &id).await?;
    Ok(Json(detail(&db, &me, row).await?))
}

/// Replaces a person's fields.
#[utoipa::path(put, path = "/api/persons/{id}/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = PersonUpdateIn, responses((status = 200, body = PersonOut)))]
pub async fn put_person(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<PersonUpdateIn>, ApiError>,
) -> ApiResult<Json<PersonOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), None, input.into(), false)
        .await
        .map(|(_, j)| j)
}

/// Changes some of a person's fields.
#[utoipa::path(patch, path = "/api/persons/{id}/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = PersonUpdateIn, responses((status = 200, body = PersonOut)))]
pub async fn patch_person(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<PersonUpdateIn>, ApiError>,
) -> ApiResult<Json<PersonOut>> {
    let current = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    save(&db, &me, Some(current), None, input.into(), true)
        .await
        .map(|(_, j)| j)
}

/// Soft-deletes a person.
#[utoipa::path(delete, path = "/api/persons/{id}/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn delete_person(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let before = writable(&db, &me, &id).await?;
    let txn = kernel::db::begin_write(&db).await?;
    rest::delete_recorded::<person::Entity>(&txn, &me, &before.id, record(&before)).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Undeletes a person (platform users).
#[utoipa::path(post, path = "/api/persons/{id}/restore/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = PersonOut)))]
pub async fn restore_person(
    Db(db): Db,
    crate::access::Platform(me): crate::access::Platform,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonOut>> {
    let (txn, before, after) = rest::restore::<person::Entity>(&db, &id, Condition::all()).await?;
    let event = Event::new("Update", MODEL, &after.id).change(Change::action(
        "Restore",
        &record(&before),
        &record(&after),
    ));
    audit::record(&txn, Who::from(&me), event).await?;
    let out = detail(&txn, &me, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// An employee (or a dependent's employee) and the dependents.
#[utoipa::path(get, path = "/api/persons/{id}/family/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), responses((status = 200, body = PersonFamilyOut),
        (status = 400, description = "The person is neither an employee nor a dependent (`invalid_state`).")))]
pub async fn person_family(
    Db(db): Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
) -> ApiResult<Json<PersonFamilyOut>> {
    let row = visible(&db, &me, &id).await?;
    let employee = match row.person_type.as_str() {
        EMPLOYEE => Some(row),
        DEPENDENT => match &row.primary_employee_id {
            Some(p) => {
                person::Entity::find_by_id(p.clone())
                    .filter(person::Entity::scope(&me))
                    .one(&db)
                    .await?
            }
            None => None,
        },
        _ => {
            return Err(rest::invalid_state(
                "Only client employees and dependents have a family",
            ));
        }
    };
    let dependents = match &employee {
        Some(e) => {
            person::Entity::visible(&me)
                .filter(person::Column::PrimaryEmployeeId.eq(e.id.as_str()))
                .filter(person::Column::PersonType.eq(DEPENDENT))
                .all(&db)
                .await?
        }
        None => Vec::new(),
    };
    let mut rows = dependents.clone();
    rows.extend(employee.clone());
    let rel = related(&db, &me, &rows).await?;
    let total = dependents.len() + usize::from(employee.is_some());
    Ok(Json(PersonFamilyOut {
        employee: employee.as_ref().map(|e| rel.item(e)),
        dependents: dependents.iter().map(|d| rel.item(d)).collect(),
        total_members: u64::try_from(total).unwrap_or(0),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PersonReasonIn {
    /// Kept as `metadata.deactivation_reason`.
    #[serde(default)]
    #[schema(schema_with = kernel::form::schema::optional_text::<1000>)]
    reason: Field<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EmploymentStatusIn {
    #[serde(default)]
    #[schema(schema_with = employment_required, required = true)]
    employment_status: Field<String>,
    /// Required (here or already set) for Terminated and Resigned.
    #[serde(default)]
    #[schema(schema_with = schema::optional_date)]
    employment_end_date: Field<String>,
}

fn employment_required() -> utoipa::openapi::Schema {
    kernel::form::schema::choice(EMPLOYMENT_INPUT)
}

/// Writes `after` over `before` with its audit rows (action `change_type`).
async fn act(
    db: &kernel::Db,
    me: &Me,
    before: person::Model,
    row: person::ActiveModel,
    change_type: &'static str,
    reason: Option<String>,
) -> ApiResult<Json<PersonOut>> {
    let txn = kernel::db::begin_write(db).await?;
    let after = row.update(&txn).await?;
    let change = Change::action(change_type, &record(&before), &record(&after)).reason(reason);
    let event = Event::new("Update", MODEL, &after.id).change(change);
    audit::record(&txn, Who::from(me), event).await?;
    let out = detail(&txn, me, after).await?;
    txn.commit().await?;
    Ok(Json(out))
}

/// Activates a person.
#[utoipa::path(post, path = "/api/persons/{id}/activate/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = PersonReasonIn, responses((status = 200, body = PersonOut)))]
pub async fn activate_person(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<PersonReasonIn>, ApiError>,
) -> ApiResult<Json<PersonOut>> {
    let before = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 1000).flatten();
    c.finish()?;
    if before.status == "Active" {
        return Err(rest::invalid_state("Person is already Active"));
    }
    let mut row: person::ActiveModel = before.clone().into();
    row.status = Set("Active".into());
    row.updated_at = Set(kernel::time::now());
    act(&db, &me, before, row, "Activate", reason).await
}

/// Deactivates a person: employees' employment becomes Inactive, providers
/// stop accepting clients; `reason` kept as `metadata.deactivation_reason`.
#[utoipa::path(post, path = "/api/persons/{id}/deactivate/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = PersonReasonIn, responses((status = 200, body = PersonOut)))]
pub async fn deactivate_person(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<PersonReasonIn>, ApiError>,
) -> ApiResult<Json<PersonOut>> {
    let before = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    let mut c = Checker::new();
    let reason = c.optional_text("reason", input.reason, 1000).flatten();
    c.finish()?;
    if before.status == "Inactive" {
        return Err(rest::invalid_state("Person is already Inactive"));
    }
    let mut row: person::ActiveModel = before.clone().into();
    row.status = Set("Inactive".into());
    match before.person_type.as_str() {
        EMPLOYEE => row.employment_status = Set(Some("Inactive".into())),
        PROVIDER => row.is_accepting_new_clients = Set(Some(false)),
        _ => {}
    }
    if let Some(r) = &reason {
        let mut metadata = before.metadata.clone();
        if !metadata.is_object() {
            metadata = json!({});
        }
        metadata["deactivation_reason"] = json!(r);
        row.metadata = Set(metadata);
    }
    row.updated_at = Set(kernel::time::now());
    act(&db, &me, before, row, "Deactivate", reason).await
}

/// Sets an employee's employment status (Terminated and Resigned need an end date).
#[utoipa::path(post, path = "/api/persons/{id}/update-employment-status/", tag = "persons", security(("jwt" = [])),
    params(("id" = String, Path)), request_body = EmploymentStatusIn, responses((status = 200, body = PersonOut)))]
pub async fn update_employment_status(
    db: Db,
    me: Me,
    _selected: SelectedClient,
    Path(id): Path<String>,
    input: Result<Json<EmploymentStatusIn>, ApiError>,
) -> ApiResult<Json<PersonOut>> {
    let before = writable(&*db, &me, &id).await?;
    let Json(input) = input?;
    if before.person_type != EMPLOYEE {
        return Err(rest::invalid_state(
            "Only client employees have an employment status",
        ));
    }
    let mut c = Checker::new();
    let status = match input.employment_status {
        Field::Absent => {
            c.error("employment_status", kernel::form::REQUIRED);
            None
        }
        other => employment(&mut c, "employment_status", other).flatten(),
    };
    let end = rest::optional_date(&mut c, "employment_end_date", input.employment_end_date);
    c.finish()?;
    let Some(status) = status else {
        return Err(ApiError::field("employment_status", kernel::form::NOT_NULL));
    };
    let end = end.flatten().or(before.employment_end_date);
    if matches!(status.as_str(), "Terminated" | "Resigned") && end.is_none() {
        return Err(ApiError::field("employment_end_date", END_REQUIRED));
    }
    if let (Some(s), Some(e)) = (before.employment_start_date, end)
        && e < s
    {
        return Err(ApiError::field("employment_end_date", END_BEFORE_START));
    }
    let mut row: person::ActiveModel = before.clone().into();
    row.employment_status = Set(Some(status));
    row.employment_end_date = Set(end);
    row.updated_at = Set(kernel::time::now());
    act(&db, &me, before, row, "Update", None).await
}

/// A client's live employees (`clients/{id}/stats/` `total_staff`).
pub async fn staff_count(db: &impl ConnectionTrait, client_id: &str) -> ApiResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(person::Entity::find()
        .filter(person::Column::ClientId.eq(client_id))
        .filter(person::Column::PersonType.eq(EMPLOYEE))
        .filter(person::Column::DeletedAt.is_null())
        .count(db)
        .await?)
}
