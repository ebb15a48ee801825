//! `/api/finance/…` and M-PESA against a fake Daraja served on loopback.

use base64::Engine;

use crate::common::*;
use crate::daraja::*;

async fn finance_record_of(app: &TestApp, admin: &Actor, student_id: &str) -> Value {
    let r = app
        .get(&format!("/api/finance/records/?student={student_id}"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    r.json["results"][0].clone()
}

async fn run_full_payment_flow(backend: TestBackend) {
    let daraja = FakeDaraja::start().await;
    let app = app_with_daraja(backend, &daraja, &[]).await;
    let admin = app.admin().await;
    let fin = app.office(&admin, "FIN", 0, "finance").await;
    let bursar = app.user(&admin, "department_staff", Some(&fin)).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let clearance = app.submit(&student).await;
    let approval = app.approval_of(&admin, &clearance, &fin).await;

    let record = finance_record_of(&app, &admin, &student_id).await;
    assert_eq!(
        record["graduation_fee"], "5500.00",
        "created with the student"
    );
    assert_eq!(record["graduation_fee_status"], "pending");
    let r = app
        .post(&format!("/api/approvals/{approval}/approve/"))
        .bearer(&bursar.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "Cannot approve: the graduation fee has not been paid and verified."
    );
    app.get("/api/finance/my_payment/")
        .bearer(&student.access)
        .send()
        .await
        .assert_status(404);

    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712 345 678"}))
        .send()
        .await;
    r.assert_status(200);
    let checkout = r.json["checkout_request_id"].as_str().unwrap().to_owned();
    let payment_id = r.json["payment_id"].as_str().unwrap().to_owned();
    let pushes = daraja.pushes();
    assert_eq!(pushes.len(), 1);
    let push = &pushes[0];
    assert_eq!(push["BusinessShortCode"], "174379");
    assert_eq!(push["TransactionType"], "CustomerPayBillOnline");
    assert_eq!(push["Amount"], 5500);
    assert_eq!(push["PartyA"], "254712345678");
    assert_eq!(push["PhoneNumber"], "254712345678");
    assert_eq!(push["PartyB"], "174379");
    assert_eq!(push["AccountReference"], "SCE/CS/0001/2022");
    assert_eq!(
        push["CallBackURL"],
        "https://clearance.mksu.ac.ke/api/finance/mpesa_callback/"
    );
    let timestamp = push["Timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), 14);
    let password =
        base64::engine::general_purpose::STANDARD.encode(format!("174379{PASSKEY}{timestamp}"));
    assert_eq!(push["Password"], password.as_str());

    let r = app
        .get("/api/finance/my_payment/")
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["status"], "pending");
    assert_eq!(r.json["checkout_request_id"], checkout.as_str());

    let r = app
        .post("/api/finance/mpesa_callback/")
        .json(&callback(&checkout, 0, "TKL3XYZ123", 5500))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, json!({"ResultCode": 0, "ResultDesc": "Accepted"}));
    let r = app
        .get(&format!("/api/finance/payments/{payment_id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "paid");
    assert_eq!(r.json["transaction_id"], "TKL3XYZ123");
    assert_eq!(r.json["amount"], "5500.00");
    assert!(r.json["payment_date"].is_string());
    let record = finance_record_of(&app, &admin, &student_id).await;
    assert_eq!(record["graduation_fee_status"], "paid");
    assert_eq!(record["mpesa_code"], "TKL3XYZ123");
    assert!(
        app.notification_titles(&student)
            .await
            .contains(&"Payment Received".to_owned())
    );

    // A replayed callback is acknowledged and changes nothing.
    let r = app
        .post("/api/finance/mpesa_callback/")
        .json(&callback(&checkout, 0, "TKL3XYZ999", 1))
        .send()
        .await;
    assert_eq!(r.json, json!({"ResultCode": 0, "ResultDesc": "Accepted"}));
    let r = app
        .get(&format!("/api/finance/payments/{payment_id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["transaction_id"], "TKL3XYZ123");
    assert_eq!(r.json["amount"], "5500.00");
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "You have already paid the graduation fee."
    );

    // Finance verifies; the finance office can now clear the student.
    app.post(&format!("/api/finance/payments/{payment_id}/verify/"))
        .bearer(&bursar.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(403);
    let r = app
        .post(&format!("/api/finance/payments/{payment_id}/verify/"))
        .bearer(&admin.access)
        .json(&json!({"notes": "Matched statement"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Payment verified successfully");
    assert_eq!(r.json["payment"]["is_verified"], true);
    assert!(r.json["payment"]["verified_by_name"].is_string());
    let r = app
        .post(&format!("/api/finance/payments/{payment_id}/verify/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"non_field_errors": ["Payment is already verified"]})
    );
    let record = finance_record_of(&app, &admin, &student_id).await;
    assert_eq!(record["graduation_fee_status"], "verified");
    assert_eq!(record["is_cleared"], true);
    assert!(
        app.notification_titles(&student)
            .await
            .contains(&"Payment Verified".to_owned())
    );
    assert_eq!(app.audit_rows("verify", &payment_id).await.len(), 1);

    let r = app
        .post(&format!("/api/approvals/{approval}/approve/"))
        .bearer(&bursar.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .get(&format!("/api/clearances/{clearance}/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "completed");
    assert_eq!(r.json["payment_info"]["is_verified"], true);
    let r = app
        .get("/api/finance/payments/statistics/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_payments"], 1);
    assert_eq!(r.json["verified_payments"], 1);
    assert_eq!(r.json["total_amount"], "5500.00");
    assert_eq!(r.json["payment_methods"]["mpesa"], 1);
    assert_eq!(r.json["verification_rate"], 100.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_payment_flow_sqlite() {
    run_full_payment_flow(TestBackend::Sqlite).await;
}

#[cfg(campus_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_payment_flow_postgres() {
    run_full_payment_flow(TestBackend::Postgres).await;
}

#[cfg(campus_mysql)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_payment_flow_mysql() {
    run_full_payment_flow(TestBackend::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_unknown_callbacks() {
    let daraja = FakeDaraja::start().await;
    let app = app_with_daraja(TestBackend::Sqlite, &daraja, &[]).await;
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "254712345678", "amount": 100}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(daraja.pushes()[0]["Amount"], 100);
    let checkout = r.json["checkout_request_id"].as_str().unwrap().to_owned();

    let r = app
        .post("/api/finance/mpesa_callback/")
        .json(&callback("ws_CO_unknown", 0, "ZZZ", 100))
        .send()
        .await;
    assert_eq!(r.json, json!({"ResultCode": 0, "ResultDesc": "Accepted"}));
    for bad in [
        "not json",
        "{}",
        "{\"Body\": {\"stkCallback\": {\"ResultCode\": 0}}}",
        "[1,2,3]",
    ] {
        let r = app
            .post("/api/finance/mpesa_callback/")
            .raw("application/json", bad)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json["ResultCode"], 1);
    }
    let r = app
        .get("/api/finance/my_payment/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(
        r.json["status"], "pending",
        "nothing above touched the payment"
    );

    let r = app
        .post("/api/finance/mpesa_callback/")
        .json(&callback(&checkout, 1032, "", 0))
        .send()
        .await;
    assert_eq!(r.json, json!({"ResultCode": 0, "ResultDesc": "Accepted"}));
    let r = app
        .get("/api/finance/my_payment/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "failed");
    assert!(
        app.notification_titles(&student)
            .await
            .contains(&"Payment Failed".to_owned())
    );
    // The student may try again; the same payment row is reused.
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    r.assert_status(200);
    let again = app
        .get("/api/finance/my_payment/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(again.json["status"], "pending");
    assert_eq!(again.json["amount"], "5500.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daraja_down_or_refusing_is_a_502_and_writes_nothing() {
    let daraja = FakeDaraja::start().await;
    let app = app_with_daraja(TestBackend::Sqlite, &daraja, &[]).await;
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    daraja.set(Mode::Refuse);
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    r.assert_status(502);
    assert_eq!(
        r.json["detail"],
        "M-PESA refused the payment request: Bad Request - Invalid PhoneNumber"
    );
    daraja.set(Mode::Broken);
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    r.assert_status(502);
    app.get("/api/finance/my_payment/")
        .bearer(&student.access)
        .send()
        .await
        .assert_status(404);

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = TestApp::with_settings(
        TestBackend::Sqlite,
        &[
            ("CAMPUS_MPESA_BASE_URL", &dead_url),
            ("CAMPUS_MPESA_CONSUMER_KEY", "k"),
            ("CAMPUS_MPESA_CONSUMER_SECRET", "s"),
            ("CAMPUS_MPESA_PASSKEY", "p"),
            ("CAMPUS_MPESA_CALLBACK_URL", "https://x.org/cb"),
        ],
    )
    .await;
    let admin = down.admin().await;
    let (student, _) = down.student(&admin, "SCE/CS/0001/2022").await;
    let r = down
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    r.assert_status(502);
    assert_eq!(
        r.json["detail"],
        "M-PESA could not be reached. Please try again shortly."
    );
    down.get("/api/finance/my_payment/")
        .bearer(&student.access)
        .send()
        .await
        .assert_status(404);

    let unconfigured = TestApp::new(TestBackend::Sqlite).await;
    let admin = unconfigured.admin().await;
    let (student, _) = unconfigured.student(&admin, "SCE/CS/0001/2022").await;
    let r = unconfigured
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    r.assert_status(503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_hardening_token_and_addresses() {
    let daraja = FakeDaraja::start().await;
    let app = app_with_daraja(
        TestBackend::Sqlite,
        &daraja,
        &[("CAMPUS_MPESA_CALLBACK_TOKEN", "s3cret-callback-token")],
    )
    .await;
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await;
    let checkout = r.json["checkout_request_id"].as_str().unwrap().to_owned();
    let body = callback(&checkout, 0, "RCPT1", 5500);
    app.post("/api/finance/mpesa_callback/")
        .json(&body)
        .send()
        .await
        .assert_status(403);
    app.post("/api/finance/mpesa_callback/?token=wrong")
        .json(&body)
        .send()
        .await
        .assert_status(403);
    assert_eq!(
        app.get("/api/finance/my_payment/")
            .bearer(&student.access)
            .send()
            .await
            .json["status"],
        "pending"
    );
    app.post("/api/finance/mpesa_callback/?token=s3cret-callback-token")
        .json(&body)
        .send()
        .await
        .assert_status(200);
    assert_eq!(
        app.get("/api/finance/my_payment/")
            .bearer(&student.access)
            .send()
            .await
            .json["status"],
        "paid"
    );

    let fenced = app_with_daraja(
        TestBackend::Sqlite,
        &daraja,
        &[(
            "CAMPUS_MPESA_ALLOWED_IPS",
            "196.201.214.200, 196.201.214.206",
        )],
    )
    .await;
    fenced
        .post("/api/finance/mpesa_callback/")
        .json(&body)
        .send()
        .await
        .assert_status(403);
    let local = app_with_daraja(
        TestBackend::Sqlite,
        &daraja,
        &[("CAMPUS_MPESA_ALLOWED_IPS", "127.0.0.1")],
    )
    .await;
    local
        .post("/api/finance/mpesa_callback/")
        .json(&callback("ws_CO_x", 0, "R", 1))
        .send()
        .await
        .assert_status(200);
}

db_test!(stk_push_input_and_roles, |app| {
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    app.post("/api/finance/mpesa/stk-push/")
        .bearer(&admin.access)
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await
        .assert_status(403);
    app.post("/api/finance/mpesa/stk-push/")
        .json(&json!({"phone_number": "0712345678"}))
        .send()
        .await
        .assert_status(401);
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "12345"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["phone_number"][0]
            .as_str()
            .unwrap()
            .starts_with("Enter a valid Safaricom number")
    );
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(r.json, json!({"phone_number": ["This field is required."]}));
    let r = app
        .post("/api/finance/mpesa/stk-push/")
        .bearer(&student.access)
        .json(&json!({"phone_number": "0712345678", "amount": "lots"}))
        .send()
        .await;
    assert_eq!(r.json, json!({"amount": ["A valid number is required."]}));
    for bad in [json!(0), json!(10.5), json!(150001)] {
        let r = app
            .post("/api/finance/mpesa/stk-push/")
            .bearer(&student.access)
            .json(&json!({"phone_number": "0712345678", "amount": bad}))
            .send()
            .await;
        r.assert_status(400);
        assert!(r.json["amount"].is_array(), "{}", r.json);
    }
});

db_test!(admins_record_and_verify_offline_payments, |app| {
    let admin = app.admin().await;
    let staff = app.user(&admin, "department_staff", None).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (_other, other_id) = app.student(&admin, "SCE/CS/0002/2022").await;

    let r = app
        .post("/api/finance/payments/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "amount": "5500", "payment_method": "mpesa"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"phone_number": ["A phone number is required for M-PESA payments."]})
    );
    let r = app
        .post("/api/finance/payments/")
        .bearer(&admin.access)
        .json(&json!({"student_id": student_id, "amount": "5500.00", "payment_method": "bank", "transaction_id": "BANK-001"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["status"], "paid");
    assert_eq!(r.json["is_verified"], false);
    let payment = r.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        finance_record_of(&app, &admin, &student_id).await["graduation_fee_status"],
        "paid"
    );
    let r = app
        .post("/api/finance/payments/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "amount": "1", "payment_method": "cash"}))
        .send()
        .await;
    assert_eq!(
        r.json,
        json!({"student": ["Payment record already exists for this student. Use update instead."]})
    );
    let r = app.post("/api/finance/payments/").bearer(&admin.access).json(&json!({"student": other_id, "amount": "-5", "payment_method": "cash", "transaction_id": "BANK-001"})).send().await;
    assert_eq!(
        r.json["amount"],
        json!(["Ensure this value is greater than 0."])
    );
    assert_eq!(
        r.json["transaction_id"],
        json!(["Payment with this transaction id already exists."])
    );
    let r = app
        .post("/api/finance/payments/")
        .bearer(&admin.access)
        .json(&json!({"student": Uuid::new_v4(), "amount": "1.005"}))
        .send()
        .await;
    assert_eq!(r.json["amount"], json!(["A valid number is required."]));
    let r = app.post("/api/finance/payments/").bearer(&admin.access).json(&json!({"student": other_id, "amount": "1", "payment_method": "cash", "payment_date": "2099-01-01T00:00:00Z"})).send().await;
    assert_eq!(
        r.json,
        json!({"payment_date": ["Payment date cannot be in the future."]})
    );
    let r = app.post("/api/finance/payments/").bearer(&admin.access).json(&json!({"student": other_id, "amount": "1", "payment_method": "cash", "payment_date": "yesterday"})).send().await;
    assert!(
        r.json["payment_date"][0]
            .as_str()
            .unwrap()
            .starts_with("Datetime has wrong format.")
    );

    let r = app
        .get("/api/finance/payments/unverified/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .patch(&format!("/api/finance/payments/{payment}/"))
        .bearer(&admin.access)
        .json(&json!({"notes": "Slip #88"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["notes"], "Slip #88");
    app.post(&format!("/api/finance/payments/{payment}/verify/"))
        .bearer(&admin.access)
        .json(&json!({"verify": false}))
        .send()
        .await
        .assert_status(400);
    app.post(&format!("/api/finance/payments/{payment}/verify/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .patch(&format!("/api/finance/payments/{payment}/"))
        .bearer(&admin.access)
        .json(&json!({"amount": "1"}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .get("/api/finance/payments/unverified/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);

    // Who sees what: staff outside the finance office nothing, the student
    // their own.
    let r = app
        .get("/api/finance/payments/")
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
    let r = app
        .get("/api/finance/payments/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    app.get(&format!("/api/finance/payments/{payment}/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(200);
    app.post("/api/finance/payments/")
        .bearer(&staff.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(403);
    app.get("/api/finance/payments/statistics/")
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(403);
    let r = app
        .get("/api/finance/payments/my_payment/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["id"], payment.as_str());
    app.get("/api/finance/my_payment/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(403);
    let r = app
        .get("/api/finance/payments/?payment_method=bank&is_verified=true")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/finance/payments/?search=0002")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
    app.get(&format!("/api/finance/payments/{}/", Uuid::new_v4()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("/api/finance/payments/{payment}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    assert_eq!(app.audit_rows("delete", &payment).await.len(), 1);
});

db_test!(finance_records_and_the_tuition_rule, |app| {
    let admin = app.admin().await;
    let fin = app.office(&admin, "FIN", 0, "finance").await;
    let staff = app.user(&admin, "department_staff", Some(&fin)).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let record = finance_record_of(&app, &admin, &student_id).await;
    let id = record["id"].as_str().unwrap().to_owned();

    let r = app
        .patch(&format!("/api/finance/records/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"tuition_balance": "12000.50", "graduation_fee_status": "verified"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["tuition_balance"], "12000.50");
    assert_eq!(r.json["total_outstanding"], "12000.50");
    assert_eq!(r.json["is_cleared"], false);
    assert!(r.json["verified_by"].is_string());
    let clearance = app.submit(&student).await;
    let approval = app.approval_of(&admin, &clearance, &fin).await;
    let r = app
        .post(&format!("/api/approvals/{approval}/approve/"))
        .bearer(&staff.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "Cannot approve: the student has an outstanding tuition balance of KES 12000.50."
    );
    app.patch(&format!("/api/finance/records/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"tuition_balance": 0}))
        .send()
        .await
        .assert_status(200);
    app.post(&format!("/api/approvals/{approval}/approve/"))
        .bearer(&staff.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);

    let r = app
        .get("/api/finance/my_record/")
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], id.as_str());
    let r = app
        .get("/api/finance/records/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], id.as_str());
    app.patch(&format!("/api/finance/records/{id}/"))
        .bearer(&staff.access)
        .json(&json!({"tuition_balance": 0}))
        .send()
        .await
        .assert_status(403);
    let r = app.patch(&format!("/api/finance/records/{id}/")).bearer(&admin.access).json(&json!({"graduation_fee_status": "waived", "graduation_fee": "-1", "student": Uuid::new_v4()})).send().await;
    r.assert_status(400);
    assert_eq!(
        r.json["graduation_fee_status"],
        json!(["\"waived\" is not a valid choice."])
    );
    assert!(r.json["graduation_fee"].is_array());
    assert!(r.json["student"].is_array());
    let r = app
        .post("/api/finance/records/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id}))
        .send()
        .await;
    assert_eq!(
        r.json,
        json!({"student": ["This student already has a finance record."]})
    );
    app.delete(&format!("/api/finance/records/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    let r = app
        .post("/api/finance/records/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "tuition_balance": "100"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["graduation_fee"], "5500.00");
    assert_eq!(r.json["total_outstanding"], "5600.00");
});

db_test!(
    only_admins_the_finance_office_and_the_owner_read_finances,
    |app| {
        let admin = app.admin().await;
        let fin = app.office(&admin, "FIN", 0, "finance").await;
        let lib = app.office(&admin, "LIB", 0, "library").await;
        let bursar = app.user(&admin, "department_staff", Some(&fin)).await;
        let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
        let officeless = app.user(&admin, "department_staff", None).await;
        let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
        let (other, _) = app.student(&admin, "SCE/CS/0002/2022").await;
        let record = finance_record_of(&app, &admin, &student_id).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = app
        .post("/api/finance/payments/")
        .bearer(&admin.access)
        .json(&json!({"student": student_id, "amount": "5500", "payment_method": "mpesa", "phone_number": "0712345678", "transaction_id": "QK12AB34CD"}))
        .send()
        .await;
        r.assert_status(201);
        let payment = r.json["id"].as_str().unwrap().to_owned();

        for (actor, records, payments) in [
            (&admin, 2, 1),
            (&bursar, 2, 1),
            (&librarian, 0, 0),
            (&officeless, 0, 0),
            (&student, 1, 1),
            (&other, 1, 0),
        ] {
            for (path, expected) in [
                ("/api/finance/records/", records),
                ("/api/finance/payments/", payments),
            ] {
                let r = app.get(path).bearer(&actor.access).send().await;
                r.assert_status(200);
                assert_eq!(r.json["count"], expected, "{path} as {}", actor.email);
            }
        }
        // A filter cannot widen the scope.
        let r = app
            .get(&format!("/api/finance/payments/?student={student_id}"))
            .bearer(&librarian.access)
            .send()
            .await;
        assert_eq!(r.json["count"], 0);

        for (actor, status) in [
            (&bursar, 200),
            (&student, 200),
            (&librarian, 404),
            (&officeless, 404),
            (&other, 404),
        ] {
            let r = app
                .get(&format!("/api/finance/payments/{payment}/"))
                .bearer(&actor.access)
                .send()
                .await;
            r.assert_status(status);
            if status == 200 {
                assert_eq!(r.json["phone_number"], "254712345678");
            } else {
                assert!(r.json.get("transaction_id").is_none());
            }
            app.get(&format!("/api/finance/records/{record}/"))
                .bearer(&actor.access)
                .send()
                .await
                .assert_status(status);
        }

        // A clearance request shows the payment only to those who may read it.
        let clearance = app.submit(&student).await;
        for (actor, shown) in [
            (&admin, true),
            (&bursar, true),
            (&student, true),
            (&librarian, false),
        ] {
            let r = app
                .get(&format!("/api/clearances/{clearance}/"))
                .bearer(&actor.access)
                .send()
                .await;
            r.assert_status(200);
            assert_eq!(
                r.json["payment_info"]["transaction_id"] == "QK12AB34CD",
                shown,
                "{}: {}",
                actor.email,
                r.json["payment_info"]
            );
        }
    }
);
