//! The row counts the database keeps (`kernel::counts`) for the tables an
//! administrator's lists page whole: right after inserts, deletes and
//! foreign-key cascades, answered by those lists, and still right once the
//! per-connection rows are folded (PostgreSQL).

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::common::*;

/// The maintained count of `table` (`None` where counts are not kept) and
/// its real count.
async fn counts(app: &TestApp, table: &str) -> (Option<i64>, i64) {
    let db = &app.state.db;
    let backend = db.get_database_backend();
    let maintained = db
        .query_one_raw(Statement::from_string(
            backend,
            format!(
                "SELECT CAST(SUM(n) AS {}) AS n FROM campus_row_counts WHERE table_name = '{table}'",
                if backend == DbBackend::MySql { "SIGNED" } else { "BIGINT" }
            ),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<Option<i64>>("", "n")
        .unwrap();
    let real = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    (maintained, real)
}

/// Every counted table's maintained count is its real count (none kept on
/// MySQL/MariaDB, whose cascades fire no triggers).
async fn assert_counts_kept(app: &TestApp) {
    let mysql = app.state.db.get_database_backend() == DbBackend::MySql;
    for table in clearance::migration::COUNTED {
        let (maintained, real) = counts(app, table).await;
        if mysql {
            assert_eq!(maintained, None, "{table}");
        } else {
            assert_eq!(maintained, Some(real), "{table}");
        }
    }
}

fn backend_keeps_counts(app: &TestApp) -> bool {
    app.state.db.get_database_backend() != DbBackend::MySql
}

/// Adds `by` to the kept counts of the requests and the audit trail.
async fn shift_kept_count(app: &TestApp, by: i64) {
    let db = &app.state.db;
    db.execute_unprepared(&format!(
        "UPDATE campus_row_counts SET n = n + ({by}) \
         WHERE table_name IN ('clearances', 'audit_logs') AND shard = 0"
    ))
    .await
    .unwrap();
}

async fn listed_count(app: &TestApp, admin: &Actor, path: &str) -> i64 {
    let r = app.get(path).bearer(&admin.access).send().await;
    r.assert_status(200);
    r.json["count"].as_i64().expect("count")
}

db_test!(whole_table_counts_follow_every_write, |app| {
    let admin = app.admin().await;
    app.office(&admin, "LIB", 1, "library").await;
    app.office(&admin, "HOS", 2, "hostel").await;
    let mut students = Vec::new();
    for i in 1..=3 {
        let (student, _) = app.student(&admin, &format!("SCE/CS/000{i}/2022")).await;
        app.submit(&student).await;
        students.push(student);
    }
    assert_counts_kept(&app).await;
    assert_eq!(listed_count(&app, &admin, "/api/clearances/").await, 3);

    // Deleting an account cascades to its student record, request,
    // approvals and notifications: every count follows.
    app.delete(&format!("/api/users/{}/", students[0].id))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    assert_counts_kept(&app).await;
    assert_eq!(listed_count(&app, &admin, "/api/clearances/").await, 2);
    assert_eq!(listed_count(&app, &admin, "/api/students/").await, 2);
    let (_, audit_rows) = counts(&app, "audit_logs").await;
    assert_eq!(
        listed_count(&app, &admin, "/api/audit-logs/").await,
        audit_rows
    );
    // A filtered list counts its own rows.
    assert_eq!(
        listed_count(&app, &admin, "/api/clearances/?status=pending").await,
        2
    );
    assert_eq!(
        listed_count(&app, &admin, "/api/clearances/?status=completed").await,
        0
    );

    // An administrator's whole lists read the kept count (shifted here to
    // tell it from a real count); filtered lists count their rows.
    if backend_keeps_counts(&app) {
        shift_kept_count(&app, 1000).await;
        assert_eq!(listed_count(&app, &admin, "/api/clearances/").await, 1002);
        assert_eq!(
            listed_count(&app, &admin, "/api/audit-logs/").await,
            audit_rows + 1000
        );
        assert_eq!(
            listed_count(&app, &admin, "/api/clearances/?status=pending").await,
            2
        );
        shift_kept_count(&app, -1000).await;
    }

    // Folding leaves each table one row (PostgreSQL) and the same counts.
    let folded = kernel::counts::fold(&app.state.db).await.unwrap();
    let backend = app.state.db.get_database_backend();
    assert_eq!(folded > 0, backend == DbBackend::Postgres);
    assert_counts_kept(&app).await;
    if backend == DbBackend::Postgres {
        let rows = app
            .state
            .db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT COUNT(*) AS n FROM campus_row_counts WHERE shard <> 0",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(rows, 0);
    }
    assert_eq!(listed_count(&app, &admin, "/api/clearances/").await, 2);
});

db_test!(a_migration_counts_the_rows_already_there, |app| {
    // Forgetting and maintaining again (as on a database that had rows
    // before counts were kept) starts from the real count.
    let admin = app.admin().await;
    app.office(&admin, "LIB", 1, "library").await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    app.submit(&student).await;
    let db = &app.state.db;
    for table in clearance::migration::COUNTED {
        kernel::counts::forget(db, table).await.unwrap();
        assert_eq!(counts(&app, table).await.0, None, "{table}");
        kernel::counts::maintain(db, table).await.unwrap();
    }
    assert_counts_kept(&app).await;
    let (other, _) = app.student(&admin, "SCE/CS/0002/2022").await;
    app.submit(&other).await;
    assert_counts_kept(&app).await;
    assert_eq!(listed_count(&app, &admin, "/api/clearances/").await, 2);
});
