//! Who is asking, and what they reach (contract §0, the scoping table).
//!
//! Roles are `admin`, `dp_academics`, `hod`, `trainer` and `trainee`. Reads
//! outside a caller's reach answer 404 (as if the row did not exist); writes
//! to a row the caller can see but not change answer 403. The helpers here
//! answer the sets a role's scope is built from — the departments a HOD
//! heads, a trainer's departments and enrollments, a trainee's class
//! groups — so every module narrows its queries the same way.

use kernel::ApiError;
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entities::{
    class_group, class_group_trainee, department, department_trainer, enrollment, programme, user,
};
use crate::state::AppState;

/// The signed-in user (the kernel's [`kernel::Current`] over roster's users).
pub type Me = kernel::Current<user::Model>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    DpAcademics,
    Hod,
    Trainer,
    Trainee,
}

impl Role {
    pub const CHOICES: &'static [&'static str] =
        &["admin", "dp_academics", "hod", "trainer", "trainee"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Self::Admin),
            "dp_academics" => Some(Self::DpAcademics),
            "hod" => Some(Self::Hod),
            "trainer" => Some(Self::Trainer),
            "trainee" => Some(Self::Trainee),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::DpAcademics => "dp_academics",
            Self::Hod => "hod",
            Self::Trainer => "trainer",
            Self::Trainee => "trainee",
        }
    }

    /// Admin and deputy principal: every academic row, read and write.
    pub fn is_academic_lead(self) -> bool {
        matches!(self, Self::Admin | Self::DpAcademics)
    }

    /// Anyone but a trainee.
    pub fn is_staff(self) -> bool {
        self != Self::Trainee
    }
}

/// DRF's default refusal.
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";

pub fn forbidden() -> ApiError {
    ApiError::forbidden(NO_PERMISSION)
}

kernel::gate! {
    /// An administrator; anyone else authenticated gets 403.
    pub Admin(Current<user::Model>) for AppState = |me| {
        if me.role() == Role::Admin { Ok(()) } else { Err(forbidden()) }
    }
}

kernel::gate! {
    /// An administrator or the deputy principal (academics).
    pub Lead(Current<user::Model>) for AppState = |me| {
        if me.role().is_academic_lead() { Ok(()) } else { Err(forbidden()) }
    }
}

kernel::gate! {
    /// Admin, deputy principal or a head of department.
    pub Manager(Current<user::Model>) for AppState = |me| {
        if matches!(me.role(), Role::Admin | Role::DpAcademics | Role::Hod) { Ok(()) } else { Err(forbidden()) }
    }
}

kernel::gate! {
    /// Any staff member (not a trainee).
    pub Staff(Current<user::Model>) for AppState = |me| {
        if me.role().is_staff() { Ok(()) } else { Err(forbidden()) }
    }
}

/// The department a HOD heads (none for other roles, or a HOD not yet
/// assigned one).
pub async fn headed_department(
    db: &impl ConnectionTrait,
    me: &user::Model,
) -> Result<Option<Uuid>, sea_orm::DbErr> {
    if me.role() != Role::Hod {
        return Ok(None);
    }
    department::Entity::find()
        .select_only()
        .column(department::Column::Id)
        .filter(department::Column::HodId.eq(me.id))
        .into_tuple::<Uuid>()
        .one(db)
        .await
}

/// The departments a trainer belongs to.
pub async fn trainer_departments(
    db: &impl ConnectionTrait,
    trainer: Uuid,
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    department_trainer::Entity::find()
        .select_only()
        .column(department_trainer::Column::DepartmentId)
        .filter(department_trainer::Column::TrainerId.eq(trainer))
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

/// The class groups a trainee is (or was) in, every academic year.
pub async fn trainee_class_groups(
    db: &impl ConnectionTrait,
    trainee: Uuid,
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    class_group_trainee::Entity::find()
        .select_only()
        .column(class_group_trainee::Column::ClassGroupId)
        .filter(class_group_trainee::Column::TraineeId.eq(trainee))
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

/// The enrollments a trainer teaches.
pub async fn trainer_enrollments(
    db: &impl ConnectionTrait,
    trainer: Uuid,
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::Id)
        .filter(enrollment::Column::TrainerId.eq(trainer))
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

/// The class groups a trainer teaches (through their enrollments).
pub async fn trainer_class_groups(
    db: &impl ConnectionTrait,
    trainer: Uuid,
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    enrollment::Entity::find()
        .select_only()
        .column(enrollment::Column::ClassGroupId)
        .distinct()
        .filter(enrollment::Column::TrainerId.eq(trainer))
        .into_tuple::<Uuid>()
        .all(db)
        .await
}

/// The users of `department` as a condition on `roster_users`: its
/// trainers (the HOD among them when listed), and the trainees of the class
/// groups of its programmes.
pub fn department_members(department: Uuid) -> Condition {
    let trainers = Query::select()
        .column(department_trainer::Column::TrainerId)
        .from(department_trainer::Entity)
        .and_where(department_trainer::Column::DepartmentId.eq(department))
        .to_owned();
    let programmes = Query::select()
        .column(programme::Column::Id)
        .from(programme::Entity)
        .and_where(programme::Column::DepartmentId.eq(department))
        .to_owned();
    let class_groups = Query::select()
        .column(class_group::Column::Id)
        .from(class_group::Entity)
        .and_where(class_group::Column::ProgrammeId.in_subquery(programmes))
        .to_owned();
    let trainees = Query::select()
        .column(class_group_trainee::Column::TraineeId)
        .from(class_group_trainee::Entity)
        .and_where(class_group_trainee::Column::ClassGroupId.in_subquery(class_groups))
        .to_owned();
    Condition::any()
        .add(user::Column::Id.in_subquery(trainers))
        .add(user::Column::Id.in_subquery(trainees))
}
