//! `campus seed-bench clearance`: the benchmark data set of
//! `../shared/peers/README.md` ("Data set"), checked through the API and the
//! database at a small N.

use clearance::Clearance;
use clearance::bench_seed::{PASSWORD, bid, kind};
use clearance::entities::{
    approval, audit_log, clearance as request, department, finance_record, notification, student,
    user,
};
use kernel::System;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::common::*;

/// Enough students for student 42 and for five whole cycles of d(i) = i mod 9.
const N: u64 = 45;

fn id(kind: u64, n: u64) -> String {
    bid(kind, n).to_string()
}

/// d(i): how many offices have approved student i.
fn d(i: u64) -> u64 {
    i % 9
}

const OFFICE_NAMES: [&str; 8] = [
    "Finance Department",
    "Library Services",
    "Mess/Cafeteria",
    "Hostel Office",
    "Academic Affairs",
    "Workshop/Laboratories",
    "Sports & Games",
    "Student Services",
];

db_test!(seeds_the_data_set_of_the_peers_readme, |app| {
    let report = Clearance::seed_bench(&app.state, N).await.unwrap();
    assert!(report.starts_with("seeded 45 students"), "{report}");
    let again = Clearance::seed_bench(&app.state, N).await.unwrap_err();
    assert!(again.contains("freshly migrated database"), "{again}");

    // Counts: the README's N = 10 000 totals, generalised to N.
    let approved: u64 = (0..N).map(d).sum();
    let completed = (0..N).filter(|&i| d(i) == 8).count() as u64;
    let pending = (0..N).filter(|&i| d(i) == 0).count() as u64;
    assert_eq!((approved, completed, pending), (180, 5, 5));
    let db = &app.state.db;
    assert_eq!(user::Entity::find().count(db).await.unwrap(), N + 9);
    assert_eq!(department::Entity::find().count(db).await.unwrap(), 8);
    assert_eq!(student::Entity::find().count(db).await.unwrap(), N);
    assert_eq!(finance_record::Entity::find().count(db).await.unwrap(), N);
    assert_eq!(request::Entity::find().count(db).await.unwrap(), N);
    let requests_in = |status: &'static str| {
        request::Entity::find()
            .filter(request::Column::Status.eq(status))
            .count(db)
    };
    assert_eq!(requests_in("pending").await.unwrap(), pending);
    assert_eq!(requests_in("completed").await.unwrap(), completed);
    assert_eq!(
        requests_in("in_progress").await.unwrap(),
        N - pending - completed
    );
    assert_eq!(approval::Entity::find().count(db).await.unwrap(), 8 * N);
    let approvals_in = |status: &'static str| {
        approval::Entity::find()
            .filter(approval::Column::Status.eq(status))
            .count(db)
    };
    assert_eq!(approvals_in("approved").await.unwrap(), approved);
    assert_eq!(approvals_in("pending").await.unwrap(), 8 * N - approved);
    assert_eq!(
        notification::Entity::find().count(db).await.unwrap(),
        N + approved + completed
    );
    assert_eq!(
        audit_log::Entity::find().count(db).await.unwrap(),
        N + approved
    );
    assert!(
        payments_are_empty(&app).await,
        "the data set has no payments"
    );

    // Exact rows of student 42 (d = 6), in the database.
    let student_user = user::Entity::find_by_id(bid(kind::STUDENT_USER, 42))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(student_user.email, "student42@bench.test");
    assert_eq!(student_user.full_name, "Student 42");
    assert_eq!(
        student_user.admission_number.as_deref(),
        Some("BEN/CS/0042/2000")
    );
    assert!(student_user.password.starts_with("pbkdf2_sha256$"));
    let record = student::Entity::find_by_id(bid(kind::STUDENT, 42))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            record.user_id,
            record.registration_number.as_str(),
            record.admission_year,
            record.graduation_year,
            record.eligibility_status.as_str()
        ),
        (student_user.id, "BEN/CS/0042/2000", 2000, 2004, "pending")
    );
    let finance = finance_record::Entity::find_by_id(bid(kind::FINANCE, 42))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            finance.student_id,
            finance.tuition_balance,
            finance.graduation_fee,
            finance.graduation_fee_status.as_str(),
            finance.verified_by.as_deref()
        ),
        (record.id, 0, 550_000, "verified", Some("Bench Admin"))
    );
    let staff3 = user::Entity::find_by_id(bid(kind::STAFF_USER, 3))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            staff3.email.as_str(),
            staff3.full_name.as_str(),
            staff3.department_id
        ),
        (
            "staff3@bench.test",
            "Mess/Cafeteria Officer",
            Some(bid(kind::OFFICE, 3))
        )
    );
    assert_eq!(
        student_user.password, staff3.password,
        "one hash for every account"
    );
    let note = notification::Entity::find_by_id(bid(kind::NOTIFICATION, 423))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            note.user_id,
            note.title.as_str(),
            note.message.as_str(),
            note.notification_type.as_str(),
            note.related_object_type.as_deref(),
            note.related_object_id,
            note.is_read,
            note.created_at.to_rfc3339()
        ),
        (
            student_user.id,
            "Department Approval: Approved",
            "The Mess/Cafeteria has approved your clearance request.",
            "approval",
            Some("approval"),
            Some(bid(kind::APPROVAL, 423)),
            false,
            "2026-01-05T13:03:00+00:00".to_owned()
        )
    );
    let row = audit_log::Entity::find_by_id(bid(kind::AUDIT, 423))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.user_id,
            row.action.as_str(),
            row.content_type.as_str(),
            row.object_id,
            row.object_str.as_str(),
            row.ip_address.as_deref()
        ),
        (
            Some(staff3.id),
            "approve",
            "ClearanceApproval",
            bid(kind::APPROVAL, 423),
            "Mess/Cafeteria approval for clearance 00000006-0000-4000-8000-000000000042",
            Some("127.0.0.1")
        )
    );
    assert_eq!(
        row.changes,
        Some(json!({"status": ["pending", "approved"],
                    "notes": ["Awaiting approval from Mess/Cafeteria", "Approved"]}))
    );
    let created = audit_log::Entity::find_by_id(bid(kind::AUDIT, 420))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            created.user_id,
            created.action.as_str(),
            created.object_str.as_str(),
            created.changes
        ),
        (
            Some(student_user.id),
            "create",
            "Clearance request of BEN/CS/0042/2000",
            Some(json!({"status": [null, "pending"]}))
        )
    );
    // The last student (d = 8) has the completion notification, j = 9.
    let done = notification::Entity::find_by_id(bid(kind::NOTIFICATION, 449))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.title.as_str(), done.created_at.to_rfc3339()),
        (
            "Clearance Request Approved",
            "2026-01-05T13:28:00+00:00".to_owned()
        )
    );

    // Through the API: every account signs in with the data set's password.
    let admin = app.sign_in("admin@bench.test", PASSWORD).await;
    assert_eq!(admin.id, bid(kind::STAFF_USER, 0));
    let r = app
        .get(&format!("/api/clearances/{}/", id(kind::REQUEST, 42)))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "in_progress");
    assert_eq!(r.json["submission_date"], "2026-01-05T13:00:00Z");
    assert_eq!(r.json["completion_date"], Value::Null);
    let approvals = r.json["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 8);
    for (o, approval) in (1..=8u64).zip(approvals) {
        let name = OFFICE_NAMES[o as usize - 1];
        assert_eq!(approval["id"], id(kind::APPROVAL, 420 + o), "{approval}");
        if o <= d(42) {
            assert_eq!(approval["status"], "approved", "{approval}");
            assert_eq!(approval["notes"], "Approved");
            assert_eq!(approval["approval_date"], format!("2026-01-05T13:0{o}:00Z"));
        } else {
            assert_eq!(approval["status"], "pending", "{approval}");
            assert_eq!(approval["notes"], format!("Awaiting approval from {name}"));
            assert_eq!(approval["approval_date"], Value::Null);
        }
    }
    let r = app
        .get(&format!(
            "/api/clearances/{}/progress/",
            id(kind::REQUEST, 8)
        ))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["overall_status"], "completed");
    assert_eq!(r.json["approved_count"], 8);

    let r = app
        .get("/api/clearances/?page=2")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], N);
    // Newest submission first: page 2 starts with the 21st newest, student 24.
    assert_eq!(r.json["results"][0]["id"], id(kind::REQUEST, N - 21));
    let r = app
        .get("/api/audit-logs/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], N + approved);
    assert_eq!(r.json["results"][0]["id"], id(kind::AUDIT, 448));

    for i in [0, 7, 8, 42, 44] {
        let student = app
            .sign_in(&format!("student{i}@bench.test"), PASSWORD)
            .await;
        assert_eq!(student.id, bid(kind::STUDENT_USER, i));
        let r = app
            .get("/api/notifications/unread-count/")
            .bearer(&student.access)
            .send()
            .await;
        r.assert_status(200);
        let expected = 1 + d(i) + u64::from(d(i) == 8);
        assert_eq!(r.json["unread_count"], expected, "student {i}");
        let r = app
            .get("/api/clearances/")
            .bearer(&student.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["count"], 1);
        assert_eq!(r.json["results"][0]["id"], id(kind::REQUEST, i));
    }

    // approve_write's first requests: round 0 decides office d(i) + 1 of
    // students 0, 1, 2, … with that office's staff; each succeeds.
    let mut staff = Vec::new();
    for o in 1..=8 {
        staff.push(app.sign_in(&format!("staff{o}@bench.test"), PASSWORD).await);
    }
    for i in [0, 1, 2, 3] {
        let o = d(i) + 1;
        let r = app
            .post(&format!(
                "/api/approvals/{}/approve/",
                id(kind::APPROVAL, 10 * i + o)
            ))
            .bearer(&staff[o as usize - 1].access)
            .json(&json!({"notes": "Approved by the benchmark"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["approval"]["status"], "approved");
    }
    // Round 1: student 0's second office, now that its first has approved.
    let r = app
        .post(&format!(
            "/api/approvals/{}/approve/",
            id(kind::APPROVAL, 2)
        ))
        .bearer(&staff[1].access)
        .json(&json!({"notes": "Approved by the benchmark"}))
        .send()
        .await;
    r.assert_status(200);
});

async fn payments_are_empty(app: &TestApp) -> bool {
    use clearance::entities::payment;
    payment::Entity::find().count(&app.state.db).await.unwrap() == 0
}
