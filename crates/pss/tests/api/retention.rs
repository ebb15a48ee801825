//! The retention policy: unused candidate accounts are warned, warned again,
//! and erased unless their owner signs in.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use kernel::testing::SmtpSink;
use pss::entities::{deletion_request, retention_notice, user};
use pss::retention::{RetentionReport, enforce};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::common::*;

const TWO_YEARS: TimeDelta = TimeDelta::days(730);

/// Pretends `id` last signed in (or, with `None`, joined) long ago.
async fn age(app: &TestApp, id: i64, last_login: Option<chrono::DateTime<Utc>>) {
    let long_ago = Utc::now() - TimeDelta::days(800);
    let mut update =
        user::Entity::update_many().col_expr(user::Column::LastLogin, Expr::value(last_login));
    if last_login.is_none() {
        update = update.col_expr(user::Column::CreatedAt, Expr::value(long_ago));
    }
    update
        .filter(user::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .unwrap();
}

async fn apply(node: &TestApp, at: chrono::DateTime<Utc>) -> RetentionReport {
    enforce(&node.state, TWO_YEARS, at).await.unwrap()
}

db_test!(
    unused_accounts_are_warned_then_erased_unless_their_owner_returns,
    |app| {
        let sink = SmtpSink::start().await;
        let node = TestApp::on(&app.url, &[("CAMPUS_EMAIL_URL", &sink.url)]).await;
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let long_ago = Utc::now() - TimeDelta::days(800);

        let idle = app.candidate().await;
        app.journal_entry(
            &idle,
            json!({"title": "Old", "content": "Long forgotten", "mood": "okay", "energy_level": 5}),
        )
        .await;
        age(&app, idle.id, Some(long_ago)).await;
        let never = app.candidate().await;
        age(&app, never.id, None).await;
        // Its owner asked for erasure long ago; nobody reviewed it.
        app.post("/api/popia/deletion-requests/create/")
            .bearer(&never.access)
            .json(&json!({"reason": "Please delete me"}))
            .send()
            .await
            .assert_status(201);
        let returning = app.candidate().await;
        age(&app, returning.id, Some(long_ago)).await;
        let fresh = app.candidate().await;
        // Staff are exempt however long they were away.
        age(&app, admin.id, Some(long_ago)).await;

        let now = Utc::now();
        let report = apply(&node, now).await;
        assert_eq!(
            report,
            RetentionReport {
                warned: 3,
                ..RetentionReport::default()
            }
        );
        let notices = retention_notice::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap();
        let mut noticed: Vec<i64> = notices.iter().map(|n| n.user_id).collect();
        noticed.sort_unstable();
        assert_eq!(noticed, vec![idle.id, never.id, returning.id]);
        assert!(notices.iter().all(|n| {
            (n.scheduled_for - (now + TimeDelta::days(30)))
                .num_milliseconds()
                .abs()
                < 1
        }));
        pss::job_worker(&node.state)
            .run_due(&node.state.db)
            .await
            .unwrap();
        let mail = sink.wait_for(3, Duration::from_secs(10)).await;
        assert!(
            mail.iter()
                .all(|m| m.contains("Your PSS account will be deleted"))
        );
        assert!(
            !mail
                .iter()
                .any(|m| m.contains(&fresh.email) || m.contains(&admin.email))
        );
        // Warned once only.
        assert_eq!(apply(&node, now).await, RetentionReport::default());

        // One owner comes back in time; the others get a last reminder a week before.
        app.sign_in(&returning.email, PASSWORD).await;
        let report = apply(&node, now + TimeDelta::days(24)).await;
        assert_eq!(
            report,
            RetentionReport {
                final_warnings: 2,
                cancelled: 1,
                ..RetentionReport::default()
            }
        );
        assert_eq!(
            apply(&node, now + TimeDelta::days(24)).await,
            RetentionReport::default()
        );
        pss::job_worker(&node.state)
            .run_due(&node.state.db)
            .await
            .unwrap();
        let mail = sink.wait_for(5, Duration::from_secs(10)).await;
        assert_eq!(
            mail.iter().filter(|m| m.contains("Last reminder")).count(),
            2
        );

        // Thirty days after the first warning, the unused accounts are erased.
        let report = apply(&node, now + TimeDelta::days(31)).await;
        assert_eq!(
            report,
            RetentionReport {
                erased: 2,
                ..RetentionReport::default()
            }
        );
        for gone in [&idle, &never] {
            let account = user::Entity::find_by_id(gone.id)
                .one(&app.state.db)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(account.email, format!("deleted_{}@deleted.local", gone.id));
            assert!(!account.is_active);
            app.get("/api/auth/me/")
                .bearer(&gone.access)
                .send()
                .await
                .assert_status(401);
        }
        let stored = crate::popia::everything_stored(&app).await;
        assert!(!stored.contains("Long forgotten") && !stored.contains(&idle.email));
        // The proof says why, and who: no one but the policy.
        let requests = deletion_request::Entity::find()
            .filter(deletion_request::Column::UserId.eq(idle.id))
            .all(&app.state.db)
            .await
            .unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].status, "completed");
        assert!(requests[0].reason.contains("retention policy"));
        // An open request completes instead of a second one.
        let theirs = deletion_request::Entity::find()
            .filter(deletion_request::Column::UserId.eq(never.id))
            .all(&app.state.db)
            .await
            .unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!(
            (theirs[0].status.as_str(), theirs[0].reason.as_str()),
            ("completed", "Please delete me")
        );
        assert!(
            requests[0]
                .deletion_proof
                .as_deref()
                .unwrap()
                .contains("\"deleted_by\":null")
        );
        let erased = app.audit_rows("User", idle.id).await.pop().unwrap();
        assert_eq!((erased.action.as_str(), erased.actor_id), ("delete", None));
        let changes = erased.changes.unwrap();
        assert_eq!(changes["retention_policy"], true);
        assert_eq!(changes["deletion_request"]["status"][1], "completed");
        pss::job_worker(&node.state)
            .run_due(&node.state.db)
            .await
            .unwrap();
        let mail = sink.wait_for(7, Duration::from_secs(10)).await;
        assert_eq!(
            mail.iter()
                .filter(|m| m.contains("Your personal data has been deleted"))
                .count(),
            2
        );

        // The others are untouched.
        for kept in [&returning, &fresh, &admin] {
            app.get("/api/auth/me/")
                .bearer(&kept.access)
                .send()
                .await
                .assert_status(200);
        }
        assert!(
            retention_notice::Entity::find()
                .all(&app.state.db)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            apply(&node, now + TimeDelta::days(32)).await,
            RetentionReport::default()
        );
    }
);

#[test]
fn retention_is_off_unless_configured_and_never_short() {
    let url = "sqlite::memory:";
    assert_eq!(test_config(url, &[]).retention, None);
    assert_eq!(
        test_config(url, &[("CAMPUS_PSS_RETENTION_DAYS", "off")]).retention,
        None
    );
    assert_eq!(
        test_config(
            url,
            &[
                ("CAMPUS_PSS_RETENTION_DAYS", "730"),
                ("CAMPUS_EMAIL_URL", "console")
            ]
        )
        .retention,
        Some(TimeDelta::days(730))
    );
    // Without email nobody would be warned.
    for bad in ["30", "two years", "-5", "730"] {
        let error = pss::Config::from_lookup(|key| match key {
            "CAMPUS_DATABASE_URL" => Some(url.to_owned()),
            "CAMPUS_SECRET_KEY" => Some("campus-test-secret-key-0123456789".to_owned()),
            "CAMPUS_FIELD_ENCRYPTION_KEY" => Some(KEY.to_owned()),
            "CAMPUS_PSS_RETENTION_DAYS" => Some(bad.to_owned()),
            "CAMPUS_EMAIL_URL" if bad != "730" => Some("console".to_owned()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(error.name, "CAMPUS_PSS_RETENTION_DAYS");
    }
}
