//! The ERP (`/api/v1/erp/`, module `erp`, contract §3): people, academic
//! structure, admissions, attendance, leave and the timetable.
//!
//! Row scope is one spelling for every ERP resource: [`students_in_reach`]
//! turns a caller's [`Reach`] (`:own`, `:children`, `:class`, or every row)
//! into a condition on `students`, and [`student_ids`] into the ids other
//! tables (attendance, leave) filter by.

pub mod academics;
pub mod admissions;
pub mod attendance;
pub mod leave;
pub mod parents;
pub mod staff;
pub mod students;
pub mod teachers;
pub mod timetable;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use utoipa_axum::router::OpenApiRouter;

use crate::entities::{
    parent, school_class, section, student, student_parent, teacher, teacher_assignment,
};
use crate::rbac::{Me, Reach};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(students::router())
        .merge(parents::router())
        .merge(teachers::router())
        .merge(staff::router())
        .merge(academics::router())
        .merge(admissions::router())
        .merge(attendance::router())
        .merge(leave::router())
        .merge(timetable::router())
}

/// The teacher row of user `user_id`, if they are one.
pub async fn teacher_of(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<teacher::Model>, DbErr> {
    teacher::Entity::find()
        .filter(teacher::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// The parent row of user `user_id`, if they are one.
pub async fn parent_of(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Option<parent::Model>, DbErr> {
    parent::Entity::find()
        .filter(parent::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// The (class, section) pairs teacher `teacher_id` teaches or leads.
pub async fn classes_of(
    db: &impl ConnectionTrait,
    teacher_id: i64,
) -> Result<Vec<(String, String)>, DbErr> {
    let mut pairs: Vec<(String, String)> = teacher_assignment::Entity::find()
        .select_only()
        .column(teacher_assignment::Column::ClassName)
        .column(teacher_assignment::Column::Section)
        .filter(teacher_assignment::Column::TeacherId.eq(teacher_id))
        .into_tuple()
        .all(db)
        .await?;
    let led = section::Entity::find()
        .filter(section::Column::ClassTeacherId.eq(teacher_id))
        .all(db)
        .await?;
    if !led.is_empty() {
        let classes = school_class::Entity::find()
            .filter(school_class::Column::Id.is_in(led.iter().map(|s| s.school_class_id)))
            .all(db)
            .await?;
        for s in led {
            if let Some(c) = classes.iter().find(|c| c.id == s.school_class_id) {
                pairs.push((c.name.clone(), s.name));
            }
        }
    }
    pairs.sort();
    pairs.dedup();
    Ok(pairs)
}

/// The ids of the students linked to parent `parent_id`.
pub async fn children_of(db: &impl ConnectionTrait, parent_id: i64) -> Result<Vec<i64>, DbErr> {
    student_parent::Entity::find()
        .select_only()
        .column(student_parent::Column::StudentId)
        .filter(student_parent::Column::ParentId.eq(parent_id))
        .into_tuple()
        .all(db)
        .await
}

/// The condition on `students` a caller's `reach` allows: `None` for every
/// row, else the union of their scopes (nothing when none applies).
pub async fn students_in_reach(
    db: &impl ConnectionTrait,
    me: &Me,
    reach: Reach,
) -> Result<Option<Condition>, DbErr> {
    if reach.all {
        return Ok(None);
    }
    let mut any = Condition::any();
    if reach.own {
        any = any.add(student::Column::UserId.eq(me.id()));
    }
    if reach.children
        && let Some(p) = parent_of(db, me.id()).await?
    {
        let ids = children_of(db, p.id).await?;
        if !ids.is_empty() {
            any = any.add(student::Column::Id.is_in(ids));
        }
    }
    if reach.class
        && let Some(t) = teacher_of(db, me.id()).await?
    {
        for (class_name, section) in classes_of(db, t.id).await? {
            any = any.add(
                Condition::all()
                    .add(student::Column::ClassName.eq(class_name))
                    .add(student::Column::Section.eq(section)),
            );
        }
    }
    Ok(Some(if any.is_empty() {
        kernel::scope::none()
    } else {
        any
    }))
}

/// The ids of the students a caller's `reach` allows (`None`: every student).
pub async fn student_ids(
    db: &impl ConnectionTrait,
    me: &Me,
    reach: Reach,
) -> Result<Option<Vec<i64>>, DbErr> {
    let Some(condition) = students_in_reach(db, me, reach).await? else {
        return Ok(None);
    };
    let ids = student::Entity::find()
        .select_only()
        .column(student::Column::Id)
        .filter(condition)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Some(ids))
}
