//! Issue 3's "done when", as one user journey: a student submits, offices
//! decide in order with evidence, the student pays by M-PESA (a fake Daraja
//! on loopback), finance verifies, the clearance completes, a gown is issued
//! and returned, notifications arrive live, and the audit log and analytics
//! show all of it.

use std::time::Duration;

use axum::routing::{get, post};
use kernel::testing::read_until;

use crate::common::*;

async fn fake_daraja() -> String {
    let router = axum::Router::new()
        .route("/oauth/v1/generate", get(|| async { axum::Json(json!({"access_token": "t", "expires_in": "3599"})) }))
        .route(
            "/mpesa/stkpush/v1/processrequest",
            post(|| async {
                axum::Json(json!({"MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_journey", "ResponseCode": "0", "ResponseDescription": "Success"}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

async fn journey(backend: TestBackend) {
    let daraja = fake_daraja().await;
    let app = TestApp::with_settings(
        backend,
        &[
            ("CAMPUS_MPESA_BASE_URL", &daraja),
            ("CAMPUS_MPESA_CONSUMER_KEY", "k"),
            ("CAMPUS_MPESA_CONSUMER_SECRET", "s"),
            ("CAMPUS_MPESA_PASSKEY", "p"),
            (
                "CAMPUS_MPESA_CALLBACK_URL",
                "https://clearance.mksu.ac.ke/api/finance/mpesa_callback/",
            ),
        ],
    )
    .await;
    let admin = app.admin().await;
    let library = app.office(&admin, "LIB", 1, "library").await;
    let finance = app.office(&admin, "FIN", 2, "finance").await;
    let librarian = app.user(&admin, "department_staff", Some(&library)).await;
    let bursar = app.user(&admin, "department_staff", Some(&finance)).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0042/2022").await;

    // The student watches their notifications live.
    let mut stream = app
        .get("/api/notifications/stream/")
        .bearer(&student.access)
        .stream()
        .await
        .into_body();
    read_until(&mut stream, "event: ready", Duration::from_secs(5)).await;

    let clearance = app.submit(&student).await;
    let lib_approval = app.approval_of(&admin, &clearance, &library).await;
    let fin_approval = app.approval_of(&admin, &clearance, &finance).await;
    assert!(
        read_until(
            &mut stream,
            "Clearance Request Submitted",
            Duration::from_secs(5)
        )
        .await
        .contains("Clearance Request Submitted")
    );

    // Finance waits for the library (order 2 after order 1).
    app.post(&format!("/api/approvals/{fin_approval}/approve/"))
        .bearer(&bursar.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(400);

    // The library attaches evidence and approves.
    let evidence = kernel::testing::Multipart::new().file(
        "evidence_file",
        "books.pdf",
        "application/pdf",
        b"%PDF-1.4 no books owed\n%%EOF",
    );
    app.patch(&format!("/api/approvals/{lib_approval}/"))
        .bearer(&librarian.access)
        .multipart(evidence)
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/approvals/{lib_approval}/approve/"))
        .bearer(&librarian.access)
        .json(&json!({"notes": "No books owed"}))
        .send()
        .await
        .assert_status(200);
    assert!(
        read_until(
            &mut stream,
            "Department Approval: Approved",
            Duration::from_secs(5)
        )
        .await
        .contains("LIB Office")
    );

    // The student pays the graduation fee by M-PESA; Daraja calls back.
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    r.assert_status(200);
    let payment = r.json["payment_id"].as_str().unwrap().to_owned();
    let callback = json!({"Body": {"stkCallback": {"MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_journey", "ResultCode": 0, "ResultDesc": "ok",
        "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 5500}, {"Name": "MpesaReceiptNumber", "Value": "TKJ0URNEY1"}, {"Name": "PhoneNumber", "Value": 254712345678_i64}]}}}});
    app.post("/api/finance/mpesa_callback/")
        .json(&callback)
        .send()
        .await
        .assert_status(200);
    assert!(
        read_until(&mut stream, "Payment Received", Duration::from_secs(5))
            .await
            .contains("TKJ0URNEY1")
    );

    // Finance verifies and clears the student: the clearance completes.
    app.post(&format!("/api/finance/payments/{payment}/verify/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/approvals/{fin_approval}/approve/"))
        .bearer(&bursar.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    assert!(
        read_until(
            &mut stream,
            "Clearance Request Approved",
            Duration::from_secs(5)
        )
        .await
        .contains("Clearance Request Approved")
    );
    let r = app
        .get(&format!("/api/clearances/{clearance}/progress/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["overall_status"], "completed");
    assert_eq!(
        app.get("/api/students/me/")
            .bearer(&student.access)
            .send()
            .await
            .json["eligibility_status"],
        "eligible"
    );

    // A gown is issued and returned, and its deposit refunded.
    let r = app
        .post("/api/gown-issuances/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "gown_size": "L", "deposit_paid": true}))
        .send()
        .await;
    r.assert_status(201);
    let gown = r.json["id"].as_str().unwrap().to_owned();
    assert!(r.json["gown_code"].as_str().unwrap().starts_with("GWN-"));
    assert!(
        read_until(&mut stream, "Gown Issued", Duration::from_secs(5))
            .await
            .contains("Gown Issued")
    );
    app.post(&format!("/api/gown-issuances/{gown}/mark-returned/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/gown-issuances/{gown}/refund-deposit/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .get(&format!("/api/gown-issuances/{gown}/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["is_returned"], true);
    assert_eq!(r.json["deposit_status"], "refunded");

    // The audit log shows every step, and who took it.
    let r = app
        .get(&format!("/api/audit-logs/?object_id={fin_approval}"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["results"][0]["action"], "approve");
    assert_eq!(r.json["results"][0]["user"], bursar.id.to_string());
    assert_eq!(r.json["results"][0]["ip_address"], "127.0.0.1");
    for action in ["create", "update", "approve", "verify"] {
        let r = app
            .get(&format!("/api/audit-logs/?action={action}"))
            .bearer(&admin.access)
            .send()
            .await;
        assert!(r.json["count"].as_u64().unwrap() >= 1, "no {action} rows");
    }

    // Analytics agree.
    let r = app
        .get("/api/analytics/dashboard/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["clearances"]["completed"], 1);
    assert_eq!(r.json["students"]["eligible"], 1);
    assert_eq!(r.json["finance"]["verified_payments"], 1);
    assert_eq!(r.json["gown_issuance"]["returned"], 1);
    let r = app
        .get("/api/analytics/completion-rate/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["summary"]["completion_rate"], 100.0);
    let r = app
        .get("/api/analytics/financial-summary/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["summary"]["verified_payments"], 1);
    let r = app
        .get("/api/analytics/bottlenecks/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_departments"], 2);
    let r = app
        .get("/api/analytics/by-cohort/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_sqlite() {
    journey(TestBackend::Sqlite).await;
}

#[cfg(campus_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_postgres() {
    journey(TestBackend::Postgres).await;
}

#[cfg(campus_mysql)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_mysql() {
    journey(TestBackend::MySql).await;
}
