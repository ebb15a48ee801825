//! `/api/analytics/`: exact figures over a known campus.

use chrono::{DateTime, Duration, Timelike, Utc};
use clearance::entities as e;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};

use crate::common::*;

const ADMIN_ONLY: &str = "You must be an administrator to perform this action.";

const REPORTS: &[&str] = &[
    "/api/analytics/dashboard/",
    "/api/analytics/completion-rate/",
    "/api/analytics/clearance-completion/",
    "/api/analytics/bottlenecks/",
    "/api/analytics/department-bottlenecks/",
    "/api/analytics/financial-summary/",
    "/api/analytics/by-cohort/",
];

/// A whole second, so every database stores it exactly.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap()
}

struct Campus {
    admin: Actor,
    lib: String,
    /// Student record ids, S1..S6.
    students: Vec<String>,
    /// When S4's library approval was (back-)dated.
    lib_oldest_pending: DateTime<Utc>,
}

async fn decide(app: &TestApp, admin: &Actor, clearance: &str, office: &str, reject: bool) {
    let approval = app.approval_of(admin, clearance, office).await;
    let (path, body) = if reject {
        (
            "reject",
            json!({"rejection_reason": "Room key not returned"}),
        )
    } else {
        ("approve", json!({}))
    };
    app.post(&format!("/api/approvals/{approval}/{path}/"))
        .bearer(&admin.access)
        .json(&body)
        .send()
        .await
        .assert_status(200);
}

async fn graduating(app: &TestApp, admin: &Actor, student: &str, year: i64) {
    app.patch(&format!("/api/students/{student}/"))
        .bearer(&admin.access)
        .json(&json!({"graduation_year": year}))
        .send()
        .await
        .assert_status(200);
}

fn uuid(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap()
}

/// Four offices (LIB and HOS at order 1, SPO at 2; OLD inactive), six students:
///
/// | student | admitted | graduates | clearance | decisions |
/// |---|---|---|---|---|
/// | S1 | 2022 | 2026 | completed | LIB, HOS, SPO approve |
/// | S2 | 2022 | 2026 | in progress | LIB approves |
/// | S3 | 2021 | 2025 | rejected | HOS rejects |
/// | S4 | 2021 | 2025 | pending (submitted 10 days ago) | none |
/// | S5 | 2023 | 2027 | none (marked eligible) | |
/// | S6 | 2022 | 2026 | completed | all approve |
///
/// Then an active GYM office with no approvals yet; payments, fees and gowns
/// written directly (their API is built elsewhere); dates moved so durations
/// are known: S1 took 48 h and S6 84 h to complete; the library decided
/// after 2, 4 and 6 hours; S4's library approval is 10 days old.
async fn campus(app: &TestApp) -> Campus {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 1, "library").await;
    let hos = app.office(&admin, "HOS", 1, "hostel").await;
    let spo = app.office(&admin, "SPO", 2, "sports").await;
    let old = app.office(&admin, "OLD", 1, "other").await;
    app.patch(&format!("/api/departments/{old}/"))
        .bearer(&admin.access)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .assert_status(200);

    let mut actors = Vec::new();
    let mut students = Vec::new();
    for reg in [
        "SCE/CS/0001/2022",
        "SCE/CS/0002/2022",
        "SCE/CS/0003/2021",
        "SCE/CS/0004/2021",
        "SCE/CS/0005/2023",
        "SCE/CS/0006/2022",
    ] {
        let (actor, id) = app.student(&admin, reg).await;
        actors.push(actor);
        students.push(id);
    }
    graduating(app, &admin, &students[2], 2025).await;
    graduating(app, &admin, &students[3], 2025).await;
    graduating(app, &admin, &students[4], 2027).await;
    app.patch(&format!("/api/students/{}/", students[4]))
        .bearer(&admin.access)
        .json(&json!({"eligibility_status": "eligible"}))
        .send()
        .await
        .assert_status(200);

    let c1 = app.submit(&actors[0]).await;
    let c2 = app.submit(&actors[1]).await;
    let c3 = app.submit(&actors[2]).await;
    let c4 = app.submit(&actors[3]).await;
    let c6 = app.submit(&actors[5]).await;
    for c in [&c1, &c6] {
        decide(app, &admin, c, &lib, false).await;
        decide(app, &admin, c, &hos, false).await;
        decide(app, &admin, c, &spo, false).await;
    }
    decide(app, &admin, &c2, &lib, false).await;
    decide(app, &admin, &c3, &hos, true).await;
    app.office(&admin, "GYM", 3, "sports").await;

    let db = &app.state.db;
    let now = whole_second(Utc::now());
    let ten_days_ago = now - Duration::days(10);

    // Durations: S1 48 h and S6 84 h from submission to completion.
    for (c, hours) in [(&c1, 48), (&c6, 84)] {
        let row = e::clearance::Entity::find_by_id(uuid(c))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let done = whole_second(row.completion_date.unwrap());
        let mut m = row.into_active_model();
        m.completion_date = Set(Some(done));
        m.submission_date = Set(done - Duration::hours(hours));
        m.update(db).await.unwrap();
    }
    let row = e::clearance::Entity::find_by_id(uuid(&c4))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut m = row.into_active_model();
    m.submission_date = Set(ten_days_ago);
    m.update(db).await.unwrap();

    // The library decided after 2, 4 and 6 hours; S4's library approval waits since 10 days.
    let decided = e::approval::Entity::find()
        .filter(e::approval::Column::DepartmentId.eq(uuid(&lib)))
        .filter(e::approval::Column::Status.eq("approved"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(decided.len(), 3);
    for (row, hours) in decided.into_iter().zip([2, 4, 6]) {
        let mut m = row.into_active_model();
        let created = now - Duration::days(1);
        m.created_at = Set(created);
        m.approval_date = Set(Some(created + Duration::hours(hours)));
        m.update(db).await.unwrap();
    }
    let waiting = e::approval::Entity::find()
        .filter(e::approval::Column::DepartmentId.eq(uuid(&lib)))
        .filter(e::approval::Column::ClearanceRequestId.eq(uuid(&c4)))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut m = waiting.into_active_model();
    m.created_at = Set(ten_days_ago);
    m.update(db).await.unwrap();

    // Fees: S2 owes 12 500.50 of tuition, S3 is in credit; S1 and S6 verified, S2 paid.
    for (i, tuition, status) in [
        (0, 0, "verified"),
        (1, 1_250_050, "paid"),
        (2, -20_000, "pending"),
        (5, 0, "verified"),
    ] {
        let record = e::finance_record::Entity::find()
            .filter(e::finance_record::Column::StudentId.eq(uuid(&students[i])))
            .one(db)
            .await
            .unwrap()
            .unwrap();
        let mut m = record.into_active_model();
        m.tuition_balance = Set(tuition);
        m.graduation_fee_status = Set(status.to_owned());
        m.update(db).await.unwrap();
    }
    // Payments: three received (two verified), one STK push awaiting, one failed 10 days ago.
    for (i, cents, method, status, verified, created) in [
        (0, 550_000, "mpesa", "paid", true, now),
        (5, 550_000, "bank", "paid", true, now),
        (1, 550_000, "mpesa", "paid", false, now),
        (2, 100_000, "mpesa", "pending", false, now),
        (3, 25_050, "cash", "failed", false, ten_days_ago),
    ] {
        e::payment::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(uuid(&students[i])),
            amount: Set(cents),
            payment_method: Set(method.to_owned()),
            status: Set(status.to_owned()),
            transaction_id: Set(None),
            phone_number: Set(None),
            payment_date: Set((status == "paid").then_some(created)),
            is_verified: Set(verified),
            verified_by_id: Set(verified.then_some(admin.id)),
            verification_date: Set(verified.then_some(created)),
            notes: Set(String::new()),
            receipt: Set(None),
            fee_statement: Set(None),
            checkout_request_id: Set(None),
            merchant_request_id: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
        }
        .insert(db)
        .await
        .unwrap();
    }
    // Gowns: S1's returned, S6's overdue, S2's due tomorrow.
    for (i, code, returned, due) in [
        (0, "G-001", true, now - Duration::days(2)),
        (5, "G-002", false, now - Duration::days(1)),
        (1, "G-003", false, now + Duration::days(1)),
    ] {
        e::gown::ActiveModel {
            id: Set(Uuid::new_v4()),
            student_id: Set(uuid(&students[i])),
            gown_size: Set("M".to_owned()),
            gown_code: Set(code.to_owned()),
            issue_date: Set(now - Duration::days(5)),
            return_date: Set(Some(due)),
            deposit_amount: Set(100_000),
            deposit_paid: Set(true),
            deposit_refund_date: Set(None),
            deposit_status: Set("pending".to_owned()),
            is_returned: Set(returned),
            returned_date: Set(returned.then_some(now)),
            issued_by_id: Set(Some(admin.id)),
            overdue_notified_at: Set(None),
            notes: Set(String::new()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }
    Campus {
        admin,
        lib,
        students,
        lib_oldest_pending: ten_days_ago,
    }
}

async fn report(app: &TestApp, admin: &Actor, path: &str) -> Value {
    let r = app.get(path).bearer(&admin.access).send().await;
    r.assert_status(200);
    r.json
}

db_test!(analytics_are_for_administrators_only, |app| {
    let admin = app.admin().await;
    let office = app.department(&admin, "LIB", 1).await;
    let staff = app.user(&admin, "department_staff", Some(&office)).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    for path in REPORTS {
        let r = app.get(path).send().await;
        r.assert_status(401);
        assert_eq!(
            r.json["detail"],
            "Authentication credentials were not provided."
        );
        for who in [&staff, &student] {
            let r = app.get(path).bearer(&who.access).send().await;
            r.assert_status(403);
            assert_eq!(r.json["detail"], ADMIN_ONLY, "{path}");
        }
        report(&app, &admin, path).await;
    }
});

db_test!(an_empty_campus_reports_zeros, |app| {
    let admin = app.admin().await;
    assert_eq!(
        report(&app, &admin, "/api/analytics/dashboard/").await,
        json!({
            "students": {"total": 0, "eligible": 0, "eligibility_rate": 0.0},
            "clearances": {"total": 0, "completed": 0, "in_progress": 0, "pending": 0, "rejected": 0, "completion_rate": 0.0},
            "approvals": {"total": 0, "pending": 0, "approved": 0, "rejected": 0, "processing_rate": 0.0},
            "finance": {"total_payments": 0, "verified_payments": 0, "total_revenue": "0.00", "verification_rate": 0.0},
            "gown_issuance": {"total_issued": 0, "returned": 0, "overdue": 0},
            "recent_activity": {"clearances_last_7_days": 0, "payments_last_7_days": 0}
        })
    );
    assert_eq!(
        report(&app, &admin, "/api/analytics/completion-rate/").await,
        json!({"summary": {"total_clearances": 0, "completed": 0, "in_progress": 0, "rejected": 0, "pending": 0,
                           "completion_rate": 0.0, "average_completion_days": null},
               "by_graduation_year": []})
    );
    assert_eq!(
        report(&app, &admin, "/api/analytics/bottlenecks/").await,
        json!({"departments": [], "total_departments": 0})
    );
    assert_eq!(
        report(&app, &admin, "/api/analytics/financial-summary/").await,
        json!({
            "summary": {"total_students": 0, "students_with_payments": 0, "students_without_payments": 0,
                        "total_payments": 0, "verified_payments": 0, "pending_payments": 0,
                        "total_amount_paid": "0.00", "total_graduation_fees": "0.00", "outstanding_tuition": "0.00",
                        "payment_compliance_rate": 0.0},
            "by_payment_method": [
                {"payment_method": "mpesa", "count": 0, "total_amount": "0.00"},
                {"payment_method": "bank", "count": 0, "total_amount": "0.00"},
                {"payment_method": "cash", "count": 0, "total_amount": "0.00"}],
            "by_fee_status": [
                {"graduation_fee_status": "pending", "count": 0},
                {"graduation_fee_status": "paid", "count": 0},
                {"graduation_fee_status": "verified", "count": 0}]
        })
    );
    assert_eq!(
        report(&app, &admin, "/api/analytics/by-cohort/").await,
        json!({"by_admission_year": [], "by_graduation_year": []})
    );
});

db_test!(the_dashboard_counts_everything, |app| {
    let c = campus(&app).await;
    assert_eq!(
        report(&app, &c.admin, "/api/analytics/dashboard/").await,
        json!({
            "students": {"total": 6, "eligible": 3, "eligibility_rate": 50.0},
            "clearances": {"total": 5, "completed": 2, "in_progress": 1, "pending": 1, "rejected": 1, "completion_rate": 40.0},
            "approvals": {"total": 15, "pending": 7, "approved": 7, "rejected": 1, "processing_rate": 53.33},
            "finance": {"total_payments": 5, "verified_payments": 2, "total_revenue": "11000.00", "verification_rate": 40.0},
            "gown_issuance": {"total_issued": 3, "returned": 1, "overdue": 1},
            "recent_activity": {"clearances_last_7_days": 4, "payments_last_7_days": 4}
        })
    );
});

db_test!(completion_rates_overall_and_by_year, |app| {
    let c = campus(&app).await;
    let all = report(&app, &c.admin, "/api/analytics/completion-rate/").await;
    assert_eq!(
        all,
        json!({
            "summary": {"total_clearances": 5, "completed": 2, "in_progress": 1, "rejected": 1, "pending": 1,
                        "completion_rate": 40.0, "average_completion_days": 2.75},
            "by_graduation_year": [
                {"graduation_year": 2025, "total": 2, "completed": 0, "in_progress": 0, "rejected": 1, "pending": 1, "completion_rate": 0.0},
                {"graduation_year": 2026, "total": 3, "completed": 2, "in_progress": 1, "rejected": 0, "pending": 0, "completion_rate": 66.67}
            ]
        })
    );
    assert_eq!(
        report(&app, &c.admin, "/api/analytics/clearance-completion/").await,
        all,
        "the original's path"
    );
    assert_eq!(
        report(
            &app,
            &c.admin,
            "/api/analytics/completion-rate/?graduation_year=2026"
        )
        .await,
        json!({
            "summary": {"total_clearances": 3, "completed": 2, "in_progress": 1, "rejected": 0, "pending": 0,
                        "completion_rate": 66.67, "average_completion_days": 2.75},
            "by_graduation_year": [
                {"graduation_year": 2026, "total": 3, "completed": 2, "in_progress": 1, "rejected": 0, "pending": 0, "completion_rate": 66.67}
            ]
        })
    );
    let admitted_2021 = report(
        &app,
        &c.admin,
        "/api/analytics/clearance-completion/?admission_year=2021",
    )
    .await;
    assert_eq!(
        admitted_2021["summary"],
        json!({"total_clearances": 2, "completed": 0, "in_progress": 0, "rejected": 1, "pending": 1,
               "completion_rate": 0.0, "average_completion_days": null})
    );
    let none = report(
        &app,
        &c.admin,
        "/api/analytics/completion-rate/?graduation_year=2027&admission_year=2023",
    )
    .await;
    assert_eq!(none["summary"]["total_clearances"], 0);
    assert_eq!(none["by_graduation_year"], json!([]));
    for bad in ["graduation_year=soon", "admission_year=20x1"] {
        let r = app
            .get(&format!("/api/analytics/completion-rate/?{bad}"))
            .bearer(&c.admin.access)
            .send()
            .await;
        r.assert_status(400);
        let field = bad.split('=').next().unwrap();
        assert_eq!(r.json, json!({field: ["Enter a whole number."]}));
    }
});

db_test!(bottlenecks_rank_offices_by_waiting_approvals, |app| {
    let c = campus(&app).await;
    let r = report(&app, &c.admin, "/api/analytics/bottlenecks/").await;
    assert_eq!(r["total_departments"], 4, "OLD is inactive and unused");
    let offices = r["departments"].as_array().unwrap();
    let codes: Vec<&str> = offices
        .iter()
        .map(|d| d["department_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["SPO", "LIB", "HOS", "GYM"], "most pending first");

    let mut spo = offices[0].clone();
    assert!(spo["oldest_pending"].is_string());
    spo["oldest_pending"] = Value::Null;
    assert_eq!(spo["department_name"], "SPO Office");
    assert_eq!(spo["department_type"], "sports");
    assert_eq!(spo["approval_order"], 2);
    for (key, value) in [
        ("total_approvals", json!(5)),
        ("pending", json!(3)),
        ("approved", json!(2)),
        ("rejected", json!(0)),
        ("overdue_pending", json!(0)),
        ("approval_rate", json!(40.0)),
        ("rejection_rate", json!(0.0)),
        ("average_decision_hours", json!(0.0)),
    ] {
        assert_eq!(spo[key], value, "SPO {key}");
    }

    let lib = &offices[1];
    assert_eq!(lib["department_id"], c.lib.as_str());
    let oldest: DateTime<Utc> = lib["oldest_pending"].as_str().unwrap().parse().unwrap();
    assert_eq!(oldest, c.lib_oldest_pending);
    let mut lib = lib.clone();
    lib["oldest_pending"] = Value::Null;
    lib["department_id"] = Value::Null;
    assert_eq!(
        lib,
        json!({"department_id": null, "department_name": "LIB Office", "department_code": "LIB",
               "department_type": "library", "approval_order": 1, "total_approvals": 5, "pending": 2,
               "approved": 3, "rejected": 0, "overdue_pending": 1, "approval_rate": 60.0, "rejection_rate": 0.0,
               "average_decision_hours": 4.0, "oldest_pending": null})
    );

    let hos = &offices[2];
    for (key, value) in [
        ("total_approvals", json!(5)),
        ("pending", json!(2)),
        ("approved", json!(2)),
        ("rejected", json!(1)),
        ("overdue_pending", json!(0)),
        ("approval_rate", json!(40.0)),
        ("rejection_rate", json!(20.0)),
        ("average_decision_hours", json!(0.0)),
    ] {
        assert_eq!(hos[key], value, "HOS {key}");
    }

    let mut gym = offices[3].clone();
    assert!(gym["department_id"].is_string());
    gym["department_id"] = Value::Null;
    assert_eq!(
        gym,
        json!({"department_id": null, "department_name": "GYM Office", "department_code": "GYM",
               "department_type": "sports", "approval_order": 3, "total_approvals": 0, "pending": 0,
               "approved": 0, "rejected": 0, "overdue_pending": 0, "approval_rate": 0.0, "rejection_rate": 0.0,
               "average_decision_hours": null, "oldest_pending": null})
    );

    let alias = report(&app, &c.admin, "/api/analytics/department-bottlenecks/").await;
    assert_eq!(alias, r, "the original's path");
});

db_test!(the_financial_summary_adds_up, |app| {
    let c = campus(&app).await;
    assert_eq!(
        report(&app, &c.admin, "/api/analytics/financial-summary/").await,
        json!({
            "summary": {"total_students": 6, "students_with_payments": 3, "students_without_payments": 3,
                        "total_payments": 5, "verified_payments": 2, "pending_payments": 2,
                        "total_amount_paid": "16500.00", "total_graduation_fees": "33000.00",
                        "outstanding_tuition": "12500.50", "payment_compliance_rate": 50.0},
            "by_payment_method": [
                {"payment_method": "mpesa", "count": 2, "total_amount": "11000.00"},
                {"payment_method": "bank", "count": 1, "total_amount": "5500.00"},
                {"payment_method": "cash", "count": 0, "total_amount": "0.00"}],
            "by_fee_status": [
                {"graduation_fee_status": "pending", "count": 3},
                {"graduation_fee_status": "paid", "count": 1},
                {"graduation_fee_status": "verified", "count": 2}]
        })
    );
    // Deleting a student drops their fee and payment from every figure.
    app.delete(&format!("/api/students/{}/", c.students[1]))
        .bearer(&c.admin.access)
        .send()
        .await
        .assert_status(204);
    let r = report(&app, &c.admin, "/api/analytics/financial-summary/").await;
    assert_eq!(r["summary"]["total_students"], 5);
    assert_eq!(r["summary"]["students_with_payments"], 2);
    assert_eq!(r["summary"]["total_amount_paid"], "11000.00");
    assert_eq!(r["summary"]["total_graduation_fees"], "27500.00");
    assert_eq!(r["summary"]["outstanding_tuition"], "0.00");
    assert_eq!(r["summary"]["payment_compliance_rate"], 40.0);
});

db_test!(cohorts_by_admission_and_graduation_year, |app| {
    let c = campus(&app).await;
    assert_eq!(
        report(&app, &c.admin, "/api/analytics/by-cohort/").await,
        json!({
            "by_admission_year": [
                {"admission_year": 2021, "students": 2, "clearances": 2, "completed": 0, "completion_rate": 0.0},
                {"admission_year": 2022, "students": 3, "clearances": 3, "completed": 2, "completion_rate": 66.67},
                {"admission_year": 2023, "students": 1, "clearances": 0, "completed": 0, "completion_rate": 0.0}
            ],
            "by_graduation_year": [
                {"graduation_year": 2025, "students": 2, "clearances": 2, "completed": 0, "eligible": 0, "completion_rate": 0.0},
                {"graduation_year": 2026, "students": 3, "clearances": 3, "completed": 2, "eligible": 2, "completion_rate": 66.67},
                {"graduation_year": 2027, "students": 1, "clearances": 0, "completed": 0, "eligible": 1, "completion_rate": 0.0}
            ]
        })
    );
});
