//! Roles and permissions (contract §2): the catalogue, the five system
//! roles, and the caller with the permissions their roles hold *now*.
//!
//! A code is `resource:action[:scope]`. No scope reaches every row of the
//! tenant; `:own` the caller's rows, `:children` a parent's linked students'
//! rows, `:class` the students of a teacher's class assignments. A user's
//! reach is the union over all their roles' codes; the token's claims are
//! never trusted for it.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kernel::{ApiError, ApiResult, Current};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entities::{role, user};
use crate::state::AppState;

/// Every resource of the catalogue, with its module.
pub const RESOURCES: &[(&str, &str)] = &[
    ("users", "core"),
    ("roles", "core"),
    ("students", "erp"),
    ("parents", "erp"),
    ("teachers", "erp"),
    ("staff", "erp"),
    ("academics", "erp"),
    ("admissions", "erp"),
    ("attendance", "erp"),
    ("leave", "erp"),
    ("timetable", "erp"),
    ("fees", "erp"),
    ("courses", "lms"),
    ("enrollments", "lms"),
    ("assignments", "lms"),
    ("submissions", "lms"),
    ("discussions", "lms"),
    ("live_classes", "lms"),
    ("products", "estore"),
    ("orders", "estore"),
    ("inventory", "estore"),
    ("hostel", "hostel"),
    ("library", "library"),
    ("transport", "transport"),
    ("events", "events"),
    ("notifications", "core"),
    ("reports", "core"),
    ("analytics", "core"),
    ("audit", "core"),
    ("ai", "ai"),
    ("tenant", "core"),
];

/// Named actions beyond read/write/delete.
const NAMED: &[&str] = &[
    "submissions:grade",
    "submissions:grade:class",
    "attendance:mark",
    "attendance:mark:class",
    "fees:collect",
    "fees:refund",
    "fees:pay:own",
    "fees:pay:children",
    "admissions:review",
    "library:issue",
    "notifications:send",
    "reports:generate",
    "ai:use",
    "tenant:manage",
];

const SCOPES: &[&str] = &["own", "children", "class"];

/// The whole catalogue: `(code, module)`.
pub fn catalogue() -> Vec<(String, &'static str)> {
    let mut codes = Vec::new();
    for (resource, module) in RESOURCES {
        for action in ["read", "write", "delete"] {
            codes.push((format!("{resource}:{action}"), *module));
            if action != "delete" {
                for scope in SCOPES {
                    codes.push((format!("{resource}:{action}:{scope}"), *module));
                }
            }
        }
    }
    for code in NAMED {
        let resource = code.split(':').next().unwrap_or_default();
        let module = RESOURCES
            .iter()
            .find(|(r, _)| *r == resource)
            .map_or("core", |(_, m)| *m);
        if !codes.iter().any(|(c, _)| c == code) {
            codes.push(((*code).to_owned(), module));
        }
    }
    codes
}

/// A readable name of `code`.
pub fn describe(code: &str) -> (String, String) {
    let mut parts = code.split(':');
    let resource = parts.next().unwrap_or_default().replace('_', " ");
    let action = parts.next().unwrap_or_default();
    let scope = parts.next();
    let name = format!("{} {resource}", capitalise(action));
    let description = match scope {
        None => format!("May {action} every {resource} row of the school."),
        Some("own") => format!("May {action} their own {resource} rows."),
        Some("children") => format!("May {action} the {resource} rows of their linked children."),
        Some(_) => format!("May {action} the {resource} rows of their classes."),
    };
    (
        match scope {
            Some(scope) => format!("{name} ({scope})"),
            None => name,
        },
        description,
    )
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub const TENANT_ADMIN: &str = "TenantAdmin";
pub const TEACHER: &str = "Teacher";
pub const STUDENT: &str = "Student";
pub const PARENT: &str = "Parent";
pub const STAFF: &str = "Staff";

/// The five system roles and their seeded codes (TenantAdmin: all).
pub fn system_roles() -> Vec<(&'static str, &'static str, Vec<String>)> {
    let all: Vec<String> = catalogue().into_iter().map(|(c, _)| c).collect();
    let list = |codes: &[&str]| codes.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
    let mut staff = Vec::new();
    for resource in [
        "students",
        "parents",
        "teachers",
        "staff",
        "admissions",
        "library",
        "hostel",
        "transport",
        "events",
        "products",
        "orders",
        "inventory",
    ] {
        staff.push(format!("{resource}:read"));
        staff.push(format!("{resource}:write"));
    }
    staff.extend(list(&[
        "admissions:review",
        "attendance:read",
        "fees:read",
        "fees:collect",
        "library:issue",
        "notifications:send",
        "reports:generate",
        "academics:read",
        "timetable:read",
        "leave:read",
        "users:read",
        "notifications:read:own",
    ]));
    vec![
        (TENANT_ADMIN, "Runs the school: every permission.", all),
        (
            TEACHER,
            "Teaches classes: their students, attendance, courses and grading.",
            list(&[
                "students:read:class",
                "parents:read:class",
                "attendance:read:class",
                "attendance:mark:class",
                "academics:read",
                "timetable:read",
                "library:read",
                "events:read",
                "courses:read:own",
                "courses:write:own",
                "assignments:read:own",
                "assignments:write:own",
                "submissions:read:class",
                "submissions:grade:class",
                "enrollments:read:class",
                "teachers:read:own",
                "leave:read:own",
                "leave:read:class",
                "leave:write:own",
                "notifications:read:own",
                "ai:use",
            ]),
        ),
        (
            STUDENT,
            "A learner: their own records.",
            list(&[
                "students:read:own",
                "enrollments:read:own",
                "submissions:read:own",
                "submissions:write:own",
                "fees:read:own",
                "fees:pay:own",
                "attendance:read:own",
                "library:read",
                "orders:read:own",
                "orders:write:own",
                "hostel:read:own",
                "transport:read:own",
                "events:read",
                "courses:read",
                "assignments:read",
                "products:read",
                "timetable:read",
                "academics:read",
                "leave:read:own",
                "leave:write:own",
                "notifications:read:own",
            ]),
        ),
        (
            PARENT,
            "A guardian: their linked children's records.",
            list(&[
                "students:read:children",
                "attendance:read:children",
                "fees:read:children",
                "fees:pay:children",
                "submissions:read:children",
                "enrollments:read:children",
                "leave:read:children",
                "leave:write:children",
                "hostel:read:children",
                "transport:read:children",
                "events:read",
                "products:read",
                "orders:read:own",
                "orders:write:own",
                "parents:read:own",
                "timetable:read",
                "academics:read",
                "notifications:read:own",
            ]),
        ),
        (STAFF, "School office staff.", staff),
    ]
}

/// Which rows of a resource a caller reaches for an action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reach {
    pub all: bool,
    pub own: bool,
    pub children: bool,
    pub class: bool,
}

impl Reach {
    pub fn any(self) -> bool {
        self.all || self.own || self.children || self.class
    }
}

/// The codes a caller holds now.
#[derive(Debug, Clone, Default)]
pub struct Perms(pub HashSet<String>);

impl Perms {
    pub fn has(&self, code: &str) -> bool {
        self.0.contains(code)
    }

    /// The reach of `resource:action` over every scope held.
    pub fn reach(&self, resource: &str, action: &str) -> Reach {
        let base = format!("{resource}:{action}");
        Reach {
            all: self.has(&base),
            own: self.has(&format!("{base}:own")),
            children: self.has(&format!("{base}:children")),
            class: self.has(&format!("{base}:class")),
        }
    }

    /// The codes, sorted.
    pub fn sorted(&self) -> Vec<String> {
        self.0
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// The codes the roles named `names` hold now.
pub async fn perms_of(db: &impl ConnectionTrait, names: &[String]) -> Result<Perms, DbErr> {
    if names.is_empty() {
        return Ok(Perms::default());
    }
    let roles = role::Entity::find()
        .filter(role::Column::Name.is_in(names.iter().cloned()))
        .all(db)
        .await?;
    Ok(Perms(roles.iter().flat_map(role::Model::codes).collect()))
}

/// The signed-in tenant user with the permissions of their roles, read
/// once per request.
#[derive(Debug, Clone)]
pub struct Me {
    pub user: user::Model,
    pub perms: Arc<Perms>,
}

impl Me {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn can(&self, code: &str) -> bool {
        self.perms.has(code)
    }

    /// `code` held, else 403.
    pub fn require(&self, code: &str) -> ApiResult<()> {
        if self.can(code) {
            Ok(())
        } else {
            Err(ApiError::no_permission())
        }
    }

    /// The reach of `resource:action`; 403 when it reaches nothing.
    pub fn reach(&self, resource: &str, action: &str) -> ApiResult<Reach> {
        let reach = self.perms.reach(resource, action);
        if reach.any() {
            Ok(reach)
        } else {
            Err(ApiError::no_permission())
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.has_role(TENANT_ADMIN)
    }

    pub fn actor(&self, ip: Option<std::net::IpAddr>) -> kernel::audit::Actor {
        kernel::audit::Actor::user(self.user.id, ip)
    }
}

impl FromRequestParts<AppState> for Me {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(me) = parts.extensions.get::<Me>() {
            return Ok(me.clone());
        }
        if AppState::tenant_id().is_none() {
            return Err(crate::envelope::tenant_not_found());
        }
        let Current(user) = Current::<user::Model>::from_request_parts(parts, state).await?;
        let db = kernel::Db::of(parts, state);
        let perms = perms_of(&*db, &user.role_names()).await?;
        let me = Me {
            user,
            perms: Arc::new(perms),
        };
        parts.extensions.insert(me.clone());
        Ok(me)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_covers_every_system_role() {
        let codes: HashSet<String> = catalogue().into_iter().map(|(c, _)| c).collect();
        for (name, _, granted) in system_roles() {
            for code in granted {
                assert!(
                    codes.contains(&code),
                    "{name} holds {code}, not in the catalogue"
                );
            }
        }
        let unique: HashSet<_> = catalogue().into_iter().map(|(c, _)| c).collect();
        assert_eq!(unique.len(), catalogue().len());
    }

    #[test]
    fn reach_is_the_union_of_scopes() {
        let perms = Perms(
            ["students:read:own", "students:read:children"]
                .map(String::from)
                .into(),
        );
        let reach = perms.reach("students", "read");
        assert!(!reach.all && reach.own && reach.children && !reach.class);
        assert!(!perms.reach("students", "write").any());
    }
}
