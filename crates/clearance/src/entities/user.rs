//! `users` (spec §2.1): accounts of students, office staff and administrators.

use sea_orm::entity::prelude::*;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "department_staff")]
    DepartmentStaff,
    #[sea_orm(string_value = "student")]
    Student,
}

impl Role {
    pub const CHOICES: &'static [&'static str] = &["admin", "department_staff", "student"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Self::Admin),
            "department_staff" => Some(Self::DepartmentStaff),
            "student" => Some(Self::Student),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::DepartmentStaff => "department_staff",
            Self::Student => "student",
        }
    }

    /// The label DRF's `get_role_display()` returns.
    pub fn display(self) -> &'static str {
        match self {
            Self::Admin => "Administrator",
            Self::DepartmentStaff => "Department Staff",
            Self::Student => "Student",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub email: String,
    #[sea_orm(unique)]
    pub admission_number: Option<String>,
    pub full_name: String,
    pub password: String,
    pub role: Role,
    /// The clearance office a staff member decides for.
    pub department_id: Option<Uuid>,
    pub is_active: bool,
    /// Bumped on logout and password change: tokens from an older epoch are dead.
    pub token_epoch: i64,
    pub last_login: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::department::Entity",
        from = "Column::DepartmentId",
        to = "super::department::Column::Id",
        on_delete = "SetNull"
    )]
    Department,
    #[sea_orm(has_one = "super::student::Entity")]
    Student,
}

impl Related<super::department::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Department.def()
    }
}

impl Related<super::student::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Student.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl kernel::identity::Account for Model {
    type Id = Uuid;
    const ID: Column = Column::Id;
    const TOKEN_EPOCH: Column = Column::TokenEpoch;
    const EMAIL: Column = Column::Email;
    const PASSWORD: Column = Column::Password;
    const LAST_LOGIN: Column = Column::LastLogin;

    fn account_id(&self) -> Uuid {
        self.id
    }

    fn password_hash(&self) -> &str {
        &self.password
    }

    fn is_active(&self) -> bool {
        self.is_active
    }

    fn token_epoch(&self) -> i64 {
        self.token_epoch
    }
}

impl Model {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_student(&self) -> bool {
        self.role == Role::Student
    }
}
