//! What the original MksU system's clients send and read (its Angular
//! frontend and `BACKEND/test_*.py` scripts): the original's notification
//! types, a student's own payment list, and `error` beside `detail`.

use crate::common::*;

db_test!(
    the_originals_notification_types_are_accepted_as_the_specs,
    |app| {
        let admin = app.admin().await;
        let (student, _) = app.student(&admin, "SCE/CS/0101/2021").await;
        for (original, stored) in [
            ("general", "status_update"),
            ("payment_verified", "payment"),
            ("clearance_approved", "approval"),
            ("clearance_rejected", "rejection"),
            ("approval", "approval"),
        ] {
            let r = app
                .post("/api/notifications/")
                .bearer(&admin.access)
                .json(
                    &json!({"recipient_id": student.id, "notification_type": original,
                          "title": "Hello", "message": "From the registry"}),
                )
                .send()
                .await;
            r.assert_status(201);
            assert_eq!(r.json["notification_type"], stored, "{original}");
        }
        let r = app
            .post("/api/notifications/")
            .bearer(&admin.access)
            .json(
                &json!({"recipient_id": student.id, "notification_type": "gossip",
                      "title": "Hello", "message": "x"}),
            )
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(
            r.json,
            json!({"notification_type": ["\"gossip\" is not a valid choice."]})
        );
        let mine = app
            .get("/api/notifications/")
            .bearer(&student.access)
            .send()
            .await;
        assert_eq!(mine.json["count"], 5);
    }
);

db_test!(a_student_lists_their_own_payments_only, |app| {
    let admin = app.admin().await;
    let (ann, ann_id) = app.student(&admin, "SCE/CS/0102/2021").await;
    let (_bob, bob_id) = app.student(&admin, "SCE/CS/0103/2021").await;
    for id in [&ann_id, &bob_id] {
        app.post("/api/finance/payments/")
            .bearer(&admin.access)
            .json(&json!({"student": id, "amount": "5500", "payment_method": "cash"}))
            .send()
            .await
            .assert_status(201);
    }
    let all = app
        .get("/api/finance/payments/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(all.json["count"], 2);
    let own = app
        .get("/api/finance/payments/")
        .bearer(&ann.access)
        .send()
        .await;
    own.assert_status(200);
    assert_eq!(own.json["count"], 1);
    assert_eq!(own.json["results"][0]["student"], ann_id.as_str());
});

db_test!(missing_records_answer_error_beside_detail, |app| {
    let admin = app.admin().await;
    // A student account without a student record (the original's
    // self-registration makes these).
    let bare = app.user(&admin, "student", None).await;
    let r = app
        .get("/api/students/me/")
        .bearer(&bare.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["error"], "Student profile not found");
    assert!(r.json["detail"].is_string());

    let (student, _) = app.student(&admin, "SCE/CS/0104/2021").await;
    for path in [
        "/api/finance/payments/my_payment/",
        "/api/finance/my_payment/",
    ] {
        let r = app.get(path).bearer(&student.access).send().await;
        r.assert_status(404);
        assert_eq!(r.json["detail"], "No payment record found");
        assert_eq!(r.json["error"], "No payment record found");
        assert_eq!(r.json["message"], "No payment record found");
        assert_eq!(r.json["has_paid"], false);
    }
});
