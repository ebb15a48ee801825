//! The daily expiry job: contracts and documents past their dates become
//! Expired (audited, the system acting), and reminders go out by email 30
//! and 7 days ahead, once each.

use axis::entities::expiry_reminder as reminder;
use axis::entities::{client, contract, document};
use axis::expiry::{self, Report};
use chrono::{NaiveDate, TimeDelta};
use kernel::testing::SmtpSink;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::common::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2030, 6, 1).unwrap()
}

fn ahead(days: i64) -> NaiveDate {
    today() + TimeDelta::days(days)
}

/// A contract of `client_id` inserted directly; its id.
async fn contract(
    app: &TestApp,
    client_id: &str,
    number: &str,
    status: &str,
    end: NaiveDate,
) -> String {
    let now = kernel::time::now();
    let id = kernel::cuid::new();
    contract::ActiveModel {
        id: Set(id.clone()),
        client_id: Set(client_id.to_owned()),
        title: Set(format!("Wellness {number}")),
        description: Set(None),
        contract_number: Set(number.to_owned()),
        start_date: Set(NaiveDate::from_ymd_opt(2029, 1, 1).unwrap()),
        end_date: Set(end),
        renewal_date: Set(None),
        billing_amount: Set(150_000),
        currency: Set("ZAR".into()),
        billing_frequency: Set("Monthly".into()),
        payment_status: Set("Pending".into()),
        payment_terms: Set(None),
        last_billing_date: Set(None),
        next_billing_date: Set(None),
        auto_renew: Set(false),
        is_renewable: Set(true),
        renewal_notice_days: Set(30),
        document_url: Set(None),
        signed_by: Set(None),
        signed_at: Set(None),
        status: Set(status.to_owned()),
        termination_reason: Set(None),
        notes: Set(None),
        metadata: Set(json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
        tombstone: Set(String::new()),
    }
    .insert(app.conn())
    .await
    .unwrap();
    id
}

/// A document uploaded by `uploader` inserted directly; its id.
async fn document(
    app: &TestApp,
    uploader: &str,
    title: &str,
    status: &str,
    expiry: Option<NaiveDate>,
    is_latest: bool,
) -> String {
    let now = kernel::time::now();
    let id = kernel::cuid::new();
    document::ActiveModel {
        id: Set(id.clone()),
        title: Set(title.to_owned()),
        description: Set(None),
        doc_type: Set("certification".into()),
        file: Set(None),
        url: Set(Some("https://files.example/doc.pdf".into())),
        file_size: Set(None),
        file_type: Set(None),
        filename: Set(None),
        file_extension: Set(None),
        version: Set(1),
        is_latest: Set(is_latest),
        previous_version_id: Set(None),
        status: Set(status.to_owned()),
        expiry_date: Set(expiry),
        is_confidential: Set(false),
        tags: Set("[\"hr\"]".into()),
        uploaded_by_id: Set(Some(uploader.to_owned())),
        client_id: Set(None),
        contract_id: Set(None),
        metadata: Set(json!({})),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(app.conn())
    .await
    .unwrap();
    id
}

async fn contract_status(app: &TestApp, id: &str) -> String {
    contract::Entity::find_by_id(id.to_owned())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn document_status(app: &TestApp, id: &str) -> String {
    document::Entity::find_by_id(id.to_owned())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap()
        .status
}

async fn client_email(app: &TestApp, id: &str) -> String {
    client::Entity::find_by_id(id.to_owned())
        .one(app.conn())
        .await
        .unwrap()
        .unwrap()
        .email
        .unwrap()
}

/// Runs the queued jobs; how many ran.
async fn send_queued(app: &TestApp) -> usize {
    axis::job_worker(&app.state)
        .run_due(&app.state.db)
        .await
        .unwrap()
}

/// The one audit row of a system change of `entity_type` `id` from `old` to
/// `new` status, with its entity and field changes.
async fn assert_expired_by_system(app: &TestApp, entity_type: &str, id: &str, old: &str) {
    let logs = app.audit_logs_of(entity_type, id).await;
    assert_eq!(logs.len(), 1, "{entity_type} {id}: {logs:?}");
    assert_eq!(logs[0].action, "Update");
    assert_eq!(logs[0].user_id, None);
    assert_eq!(logs[0].data["changes"]["status"], json!([old, "Expired"]));
    let changes = app.entity_changes_of(entity_type, id).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].change_type, "Update");
    assert_eq!(changes[0].changed_by, None);
    assert_eq!(changes[0].metadata["audit_log_id"], json!(logs[0].id));
    let fields = app.field_changes_of(&changes[0].id).await;
    let names: Vec<&str> = fields.iter().map(|f| f.field_name.as_str()).collect();
    assert_eq!(names, vec!["status"], "{fields:?}");
    assert_eq!(fields[0].old_value, Some(json!(old)));
    assert_eq!(fields[0].new_value, Some(json!("Expired")));
}

db_test!(
    contracts_and_documents_expire_and_are_reminded_once,
    backend | backend | {
        let sink = SmtpSink::start().await;
        let app = TestApp::start(backend, &[("CAMPUS_EMAIL_URL", &sink.url)]).await;
        let root = app.superuser().await;
        let uploader = app.user(&root, "uploader@axis.example", &["manager"]).await;
        let uploader_email = "uploader@axis.example";

        let plain = app.client("Plain Co").await;
        let plain_email = client_email(&app, &plain).await;
        let contacted = app.client("Contacted Co").await;
        client::Entity::update_many()
            .col_expr(
                client::Column::ContactEmail,
                Expr::value("hr@contacted.example"),
            )
            .filter(client::Column::Id.eq(contacted.clone()))
            .exec(app.conn())
            .await
            .unwrap();

        // Contracts past their end in every expiring status, and others.
        let yesterday = ahead(-1);
        let mut expiring = Vec::new();
        for status in ["Active", "Renewed", "Suspended", "Pending"] {
            let number = format!("CTR-PAST-{}", status.to_uppercase());
            expiring.push((
                contract(&app, &plain, &number, status, yesterday).await,
                status,
            ));
        }
        let draft = contract(&app, &plain, "CTR-DRAFT", "Draft", yesterday).await;
        let terminated = contract(&app, &plain, "CTR-TERM", "Terminated", yesterday).await;
        let ends_today = contract(&app, &plain, "CTR-TODAY", "Active", today()).await;
        let in_30 = contract(&app, &contacted, "CTR-IN-30", "Active", ahead(30)).await;
        let in_7 = contract(&app, &plain, "CTR-IN-7", "Renewed", ahead(7)).await;
        let in_29 = contract(&app, &plain, "CTR-IN-29", "Active", ahead(29)).await;
        let suspended_30 = contract(&app, &plain, "CTR-SUSP-30", "Suspended", ahead(30)).await;

        // Documents.
        let past_published = document(
            &app,
            &uploader.id,
            "Old policy",
            "Published",
            Some(yesterday),
            true,
        )
        .await;
        let past_draft = document(
            &app,
            &uploader.id,
            "Old draft",
            "Draft",
            Some(yesterday),
            false,
        )
        .await;
        let past_archived = document(
            &app,
            &uploader.id,
            "Archived one",
            "Archived",
            Some(yesterday),
            true,
        )
        .await;
        let no_expiry = document(&app, &uploader.id, "Forever", "Published", None, true).await;
        let doc_today = document(
            &app,
            &uploader.id,
            "Ends today",
            "Published",
            Some(today()),
            true,
        )
        .await;
        let doc_30 = document(
            &app,
            &uploader.id,
            "Safety certificate",
            "Published",
            Some(ahead(30)),
            true,
        )
        .await;
        let doc_7 = document(
            &app,
            &uploader.id,
            "Draft certificate",
            "Draft",
            Some(ahead(7)),
            true,
        )
        .await;
        let doc_7_old = document(
            &app,
            &uploader.id,
            "Superseded",
            "Published",
            Some(ahead(7)),
            false,
        )
        .await;
        let doc_30_archived = document(
            &app,
            &uploader.id,
            "Shelved",
            "Archived",
            Some(ahead(30)),
            true,
        )
        .await;

        let report = expiry::run(&app.state, today()).await.unwrap();
        assert_eq!(
            report,
            Report {
                contracts_expired: 4,
                documents_expired: 2,
                reminders: 4
            }
        );
        for (id, old) in &expiring {
            assert_eq!(contract_status(&app, id).await, "Expired");
            assert_expired_by_system(&app, "Contract", id, old).await;
        }
        for (id, status) in [
            (&draft, "Draft"),
            (&terminated, "Terminated"),
            (&ends_today, "Active"),
            (&in_30, "Active"),
            (&in_7, "Renewed"),
            (&in_29, "Active"),
            (&suspended_30, "Suspended"),
        ] {
            assert_eq!(contract_status(&app, id).await, status);
            assert!(app.audit_logs_of("Contract", id).await.is_empty());
        }
        assert_eq!(document_status(&app, &past_published).await, "Expired");
        assert_expired_by_system(&app, "Document", &past_published, "Published").await;
        assert_eq!(document_status(&app, &past_draft).await, "Expired");
        assert_expired_by_system(&app, "Document", &past_draft, "Draft").await;
        for (id, status) in [
            (&past_archived, "Archived"),
            (&no_expiry, "Published"),
            (&doc_today, "Published"),
            (&doc_30, "Published"),
            (&doc_7, "Draft"),
            (&doc_7_old, "Published"),
            (&doc_30_archived, "Archived"),
        ] {
            assert_eq!(document_status(&app, id).await, status);
            assert!(app.audit_logs_of("Document", id).await.is_empty());
        }

        // The reminders: queued in the job queue, sent by the worker.
        assert!(sink.messages().is_empty());
        assert_eq!(send_queued(&app).await, 4);
        let mail = sink.messages();
        assert_eq!(mail.len(), 4, "{mail:?}");
        let to = |address: &str| -> Vec<String> {
            mail.iter()
                .filter(|m| m.lines().any(|l| l == format!("To: {address}")))
                .cloned()
                .collect()
        };
        let contacted_mail = to("hr@contacted.example");
        assert_eq!(contacted_mail.len(), 1, "{mail:?}");
        assert!(contacted_mail[0].contains("CTR-IN-30"));
        assert!(contacted_mail[0].contains(&ahead(30).to_string()));
        let plain_mail = to(&plain_email);
        assert_eq!(plain_mail.len(), 1, "{mail:?}");
        assert!(plain_mail[0].contains("CTR-IN-7"));
        assert!(plain_mail[0].contains(&ahead(7).to_string()));
        let uploader_mail = to(uploader_email);
        assert_eq!(uploader_mail.len(), 2, "{mail:?}");
        assert!(
            uploader_mail
                .iter()
                .any(|m| m.contains("Safety certificate") && m.contains(&ahead(30).to_string()))
        );
        assert!(
            uploader_mail
                .iter()
                .any(|m| m.contains("Draft certificate") && m.contains(&ahead(7).to_string()))
        );
        for absent in ["CTR-IN-29", "CTR-SUSP-30", "Superseded", "Shelved"] {
            assert!(!mail.iter().any(|m| m.contains(absent)), "{absent}");
        }
        let recorded = reminder::Entity::find().all(app.conn()).await.unwrap();
        assert_eq!(recorded.len(), 4);

        // A second run the same day changes nothing and sends nothing.
        let trail = app.trail_counts().await;
        assert_eq!(
            expiry::run(&app.state, today()).await.unwrap(),
            Report::default()
        );
        assert_eq!(send_queued(&app).await, 0);
        assert_eq!(sink.messages().len(), 4);
        assert_eq!(app.trail_counts().await, trail);

        // 23 days later the 30-day reminders are 7 days ahead: reminded again,
        // once; the contract ending in 7 days has expired meanwhile.
        let later = ahead(23);
        let report = expiry::run(&app.state, later).await.unwrap();
        assert_eq!(report.reminders, 2);
        assert_eq!(contract_status(&app, &in_7).await, "Expired");
        assert_eq!(document_status(&app, &doc_7).await, "Expired");
        assert_eq!(send_queued(&app).await, 2);
        let mail = sink.messages();
        assert_eq!(mail.len(), 6);
        let second_round = &mail[4..];
        assert!(
            second_round
                .iter()
                .any(|m| m.contains("CTR-IN-30") && m.contains("in 7 days"))
        );
        assert!(
            second_round
                .iter()
                .any(|m| m.contains("Safety certificate") && m.contains("in 7 days"))
        );
        assert_eq!(
            expiry::run(&app.state, later).await.unwrap(),
            Report::default()
        );
        assert_eq!(send_queued(&app).await, 0);
        assert_eq!(sink.messages().len(), 6);
    }
);

db_test!(nothing_is_queued_without_mail, |app| {
    let root = app.superuser().await;
    let client_id = app.client("Quiet Co").await;
    let ending = contract(&app, &client_id, "CTR-QUIET", "Active", ahead(30)).await;
    let past = contract(&app, &client_id, "CTR-GONE", "Active", ahead(-3)).await;
    let doc = document(
        &app,
        &root.id,
        "Quiet certificate",
        "Published",
        Some(ahead(7)),
        true,
    )
    .await;
    assert!(app.state.mailer.is_none());

    let report = expiry::run(&app.state, today()).await.unwrap();
    assert_eq!(
        report,
        Report {
            contracts_expired: 1,
            documents_expired: 0,
            reminders: 0
        }
    );
    assert_eq!(contract_status(&app, &past).await, "Expired");
    assert_eq!(contract_status(&app, &ending).await, "Active");
    assert_eq!(document_status(&app, &doc).await, "Published");
    let counts = app.row_counts().await;
    assert_eq!(counts["campus_jobs"], 0);
    assert_eq!(counts["axis_expiry_reminders"], 0);
    assert_eq!(send_queued(&app).await, 0);
});
