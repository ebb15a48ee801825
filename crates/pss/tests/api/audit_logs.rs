//! `/api/audit-logs/`: superusers read who did what, never medical values.

use crate::common::*;

db_test!(superusers_read_the_audit_trail, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    app.patch(&format!("/api/users/{}/profile/", candidate.id))
        .bearer(&candidate.access)
        .json(&json!({"diagnosis": "Cerebral palsy"}))
        .send()
        .await
        .assert_status(200);
    app.get(&format!("/api/users/{}/profile/", candidate.id))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);

    let r = app
        .get("/api/audit-logs/")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    let results = r.json["results"].as_array().unwrap();
    // One row per write (three accounts, a promotion, a profile change) and
    // one for the read of someone else's profile.
    assert_eq!(r.json["count"], 6);
    let newest = &results[0];
    assert_eq!(newest["action"], "read");
    assert_eq!(newest["object_type"], "UserProfile");
    assert_eq!(newest["actor"], admin.id);
    assert_eq!(newest["actor_email"], admin.email);
    assert_eq!(newest["ip_address"], "127.0.0.1");
    assert!(!r.json.to_string().contains("Cerebral"));

    let r = app
        .get(&format!(
            "/api/audit-logs/?action=update&object_type=UserProfile&actor={}",
            candidate.id
        ))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(
        r.json["results"][0]["changes"],
        json!({"diagnosis": "changed"})
    );
    let id = r.json["results"][0]["id"].as_i64().unwrap();
    let r = app
        .get(&format!("/api/audit-logs/{id}/"))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["object_type"], "UserProfile");

    let today = chrono::Utc::now().date_naive();
    let r = app
        .get(&format!(
            "/api/audit-logs/?created_after={today}&ordering=created_at"
        ))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["results"][0]["action"], "create");
    let r = app
        .get("/api/audit-logs/?created_before=2000-01-01")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
    let r = app
        .get("/api/audit-logs/?action=steal&created_after=soon&actor=x")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);

    for actor in [&admin, &candidate] {
        app.get("/api/audit-logs/")
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(403);
        app.get(&format!("/api/audit-logs/{id}/"))
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(403);
    }
    app.get("/api/audit-logs/").send().await.assert_status(401);
    for bad in ["/api/audit-logs/x/", "/api/audit-logs/999999/"] {
        app.get(bad)
            .bearer(&root.access)
            .send()
            .await
            .assert_status(404);
    }
});
