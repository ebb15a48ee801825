//! `/api/notifications/`: own notifications, live stream, email delivery.

use std::time::Duration;

use kernel::testing::{SmtpSink, read_until};

use crate::common::*;

async fn send(app: &TestApp, admin: &Actor, to: &Actor, title: &str) -> String {
    let r = app
        .post("/api/notifications/")
        .bearer(&admin.access)
        .json(&json!({"user": to.id, "title": title, "message": format!("{title} body"), "notification_type": "status_update"}))
        .send()
        .await;
    r.assert_status(201);
    r.json["id"].as_str().unwrap().to_owned()
}

db_test!(users_see_and_manage_only_their_own, |app| {
    let admin = app.admin().await;
    let staff = app.user(&admin, "department_staff", None).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let mine = send(&app, &admin, &student, "Hello").await;
    send(&app, &admin, &student, "Second").await;
    let theirs = send(&app, &admin, &staff, "For staff").await;

    let r = app
        .get("/api/notifications/")
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    assert_eq!(r.json["results"][0]["title"], "Second", "newest first");
    app.get(&format!("/api/notifications/{theirs}/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(404);
    app.put(&format!("/api/notifications/{theirs}/mark-read/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(404);
    app.delete(&format!("/api/notifications/{theirs}/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(404);
    app.get("/api/notifications/")
        .send()
        .await
        .assert_status(401);

    let r = app
        .get("/api/notifications/unread-count/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json, json!({"unread_count": 2}));
    let r = app
        .put(&format!("/api/notifications/{mine}/mark-read/"))
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["notification"]["is_read"], true);
    assert!(r.json["notification"]["read_at"].is_string());
    for alias in ["mark_as_read", "mark-as-read", "mark_read"] {
        app.post(&format!("/api/notifications/{mine}/{alias}/"))
            .bearer(&student.access)
            .send()
            .await
            .assert_status(200);
    }
    let r = app
        .get("/api/notifications/unread_count/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["unread_count"], 1);
    let r = app
        .get("/api/notifications/?is_read=false")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/notifications/unread/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    app.post(&format!("/api/notifications/{mine}/mark-unread/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/notifications/mark-all-read/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["message"], "2 notification(s) marked as read");
    let r = app
        .post("/api/notifications/mark_all_as_read/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["message"], "0 notification(s) marked as read");
    let r = app
        .get("/api/notifications/unread-count/")
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(
        r.json["unread_count"], 1,
        "other users' notifications were not touched"
    );

    app.delete(&format!("/api/notifications/{mine}/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(204);
    let r = app
        .delete("/api/notifications/delete-all-read/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["message"], "1 read notification(s) deleted");
    let r = app
        .get("/api/notifications/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
});

db_test!(only_admins_send_and_input_is_checked, |app| {
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let r = app
        .post("/api/notifications/")
        .bearer(&student.access)
        .json(&json!({"user": student.id, "title": "x", "message": "y"}))
        .send()
        .await;
    r.assert_status(403);
    let r = app
        .post("/api/notifications/")
        .bearer(&admin.access)
        .json(&json!({"user": Uuid::new_v4(), "title": "", "notification_type": "spam"}))
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["user"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid pk")
    );
    assert_eq!(r.json["title"], json!(["This field may not be blank."]));
    assert_eq!(r.json["message"], json!(["This field is required."]));
    assert_eq!(
        r.json["notification_type"],
        json!(["\"spam\" is not a valid choice."])
    );
    let r = app
        .post("/api/notifications/")
        .bearer(&admin.access)
        .json(&json!({"recipient_id": student.id, "title": "Hi", "message": "There"}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["notification_type"], "status_update");
    app.get("/api/notifications/not-a-uuid/")
        .bearer(&student.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .get("/api/notifications/?notification_type=nope")
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(400);
});

db_test!(a_repeated_query_parameter_takes_its_last_value, |app| {
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let response = app
        .get(&format!(
            "/api/notifications/stream/?token=forged&token={}",
            student.access
        ))
        .stream()
        .await;
    assert_eq!(response.status(), 200);
    app.get(&format!(
        "/api/notifications/stream/?token={}&token=forged",
        student.access
    ))
    .send()
    .await
    .assert_status(401);
});

db_test!(new_notifications_arrive_on_the_live_stream, |app| {
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (other, _) = app.student(&admin, "SCE/CS/0002/2022").await;
    app.get("/api/notifications/stream/")
        .send()
        .await
        .assert_status(401);
    app.get("/api/notifications/stream/?token=forged")
        .send()
        .await
        .assert_status(401);

    let response = app
        .get(&format!(
            "/api/notifications/stream/?token={}",
            student.access
        ))
        .stream()
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let ready = read_until(&mut body, "event: ready", Duration::from_secs(5)).await;
    assert!(ready.contains("event: ready"), "{ready}");

    send(&app, &admin, &other, "Not yours").await;
    let started = std::time::Instant::now();
    send(&app, &admin, &student, "Live one").await;
    let seen = read_until(&mut body, "Live one", Duration::from_secs(5)).await;
    assert!(
        seen.contains("event: notification") && seen.contains("Live one"),
        "{seen}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "pushed within a second, took {:?}",
        started.elapsed()
    );
    assert!(!seen.contains("Not yours"));

    // The header works too, and workflow notifications arrive the same way.
    let response = app
        .get("/api/notifications/stream/")
        .bearer(&student.access)
        .stream()
        .await;
    let mut body = response.into_body();
    read_until(&mut body, "event: ready", Duration::from_secs(5)).await;
    app.department(&admin, "LIB", 0).await;
    app.submit(&student).await;
    let seen = read_until(
        &mut body,
        "Clearance Request Submitted",
        Duration::from_secs(5),
    )
    .await;
    assert!(seen.contains("Clearance Request Submitted"), "{seen}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_are_emailed_once_through_smtp() {
    let sink = SmtpSink::start().await;
    let app = TestApp::with_settings(
        TestBackend::Sqlite,
        &[
            ("CAMPUS_EMAIL_URL", &sink.url),
            ("CAMPUS_EMAIL_FROM", "MksU Clearance <clearance@mksu.ac.ke>"),
        ],
    )
    .await;
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    send(&app, &admin, &student, "Gown collection").await;
    let messages = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert!(message.contains("Subject: Gown collection"), "{message}");
    assert!(
        message.contains(&format!("To: {}", student.email)),
        "{message}"
    );
    assert!(
        message.contains("From: \"MksU Clearance\" <clearance@mksu.ac.ke>")
            || message.contains("From: MksU Clearance <clearance@mksu.ac.ke>"),
        "{message}"
    );
    assert!(message.contains("Gown collection body"));
    // The job is gone once sent: nothing is sent twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    use sea_orm::{EntityTrait, PaginatorTrait};
    assert_eq!(
        kernel::jobs::job::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_survives_an_smtp_outage() {
    // Nothing listens on this port yet: the job fails and stays queued.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = probe.local_addr().unwrap();
    drop(probe);
    let app = TestApp::with_settings(
        TestBackend::Sqlite,
        &[("CAMPUS_EMAIL_URL", &format!("smtp://{address}"))],
    )
    .await;
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    send(&app, &admin, &student, "Queued").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    use sea_orm::EntityTrait;
    let jobs = kernel::jobs::job::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].attempts >= 1);
    assert!(jobs[0].last_error.is_some());
}

/// The fractional digits of an RFC 3339 UTC timestamp.
fn fraction(timestamp: &str) -> &str {
    let time = timestamp.strip_suffix('Z').unwrap_or(timestamp);
    time.split_once('.').map_or("", |(_, digits)| digits)
}

db_test!(timestamps_are_rendered_to_the_microsecond, |app| {
    let admin = app.admin().await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let response = app
        .get("/api/notifications/stream/")
        .bearer(&student.access)
        .stream()
        .await;
    let mut body = response.into_body();
    read_until(&mut body, "event: ready", Duration::from_secs(5)).await;

    let r = app
        .post("/api/notifications/")
        .bearer(&admin.access)
        .json(&json!({"user": student.id, "title": "Timed", "message": "When?"}))
        .send()
        .await;
    r.assert_status(201);
    let created = r.json["created_at"].as_str().unwrap().to_owned();
    // DRF renders six digits; chrono writes ".123" for ".123000" (and none
    // for a whole second), never more than six.
    let digits = fraction(&created);
    assert!(
        digits.len() <= 6 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{created}"
    );

    // The value written is the value stored: every database keeps microseconds.
    let id = r.json["id"].as_str().unwrap();
    let r = app
        .get(&format!("/api/notifications/{id}/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["created_at"], created.as_str());

    // The live stream serialises the row itself.
    let seen = read_until(&mut body, "Timed", Duration::from_secs(5)).await;
    let data = seen
        .lines()
        .filter(|line| line.contains("Timed"))
        .find_map(|line| line.strip_prefix("data:"))
        .map(|d| serde_json::from_str::<Value>(d.trim()).unwrap())
        .unwrap();
    assert_eq!(data["created_at"], created.as_str(), "{seen}");
});
