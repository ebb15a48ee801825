//! A new user's way through PSS, end to end.

use crate::common::*;

db_test!(register_intake_journal_admin_notes_dashboards, |app| {
    // A superuser exists (`campus createsuperuser pss`) and promotes a staff member.
    let root = app.superuser().await;
    let admin = app.admin(&root).await;

    // A candidate registers, completes intake and keeps a journal.
    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "lindiwe@example.org", "password": "Sunrise-Over-Table-9", "first_name": "Lindiwe", "last_name": "Dube"}))
        .send()
        .await;
    r.assert_status(201);
    let lindiwe = app
        .sign_in("lindiwe@example.org", "Sunrise-Over-Table-9")
        .await;
    let r = app
        .post("/api/intake/submit/")
        .bearer(&lindiwe.access)
        .json(&json!({"responses": {"diagnosis": "Low vision", "assistive_technology": "Screen magnifier", "emergency_contact_name": "Sibusiso Dube", "emergency_contact_phone": "0721234567"}}))
        .send()
        .await;
    r.assert_status(201);
    for (title, mood, energy, barriers) in
        [("Week one", "good", 7, 1), ("Exams", "difficult", 4, 3)]
    {
        app.journal_entry(
            &lindiwe,
            json!({"title": title, "content": "Notes", "mood": mood, "energy_level": energy, "barrier_count": barriers}),
        )
        .await;
    }

    // Another candidate sees none of it.
    let stranger = app.candidate().await;
    let r = app
        .get("/api/journal/")
        .bearer(&stranger.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
    for path in [
        format!("/api/users/{}/", lindiwe.id),
        format!("/api/users/{}/profile/", lindiwe.id),
        format!("/api/intake/{}/", lindiwe.id),
    ] {
        app.get(&path)
            .bearer(&stranger.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get("/api/admin-notes/")
        .bearer(&stranger.access)
        .send()
        .await
        .assert_status(403);

    // The administrator finds her, reads her profile and journal, writes notes.
    let r = app
        .get("/api/users/candidates/?search=lindiwe")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["has_completed_intake"], true);
    let r = app
        .get(&format!("/api/users/{}/", lindiwe.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["profile"]["diagnosis"], "Low vision");
    assert_eq!(r.json["profile"]["emergency_contact_phone"], "0721234567");
    let r = app
        .get(&format!("/api/journal/?user={}", lindiwe.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    app.note(&admin, lindiwe.id, "Arrange large-print exam papers")
        .await;
    let r = app
        .get(&format!("/api/admin-notes/candidate/{}/", lindiwe.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json["results"][0]["note_text"],
        "Arrange large-print exam papers"
    );

    // The dashboards add up.
    let r = app
        .get("/api/dashboard/stats/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_candidates"], 2);
    assert_eq!(r.json["active_candidates"], 1);
    assert_eq!(r.json["pending_intake"], 1);
    assert_eq!(r.json["recent_entries"], 2);
    assert_eq!(r.json["recent_barriers"], 4);
    assert_eq!(r.json["total_admin_notes"], 1);
    let r = app
        .get("/api/dashboard/candidate-stats/")
        .bearer(&lindiwe.access)
        .send()
        .await;
    assert_eq!(r.json["total_entries"], 2);
    assert_eq!(r.json["avg_energy_level"], 5.5);
    assert_eq!(r.json["recent_barriers"], 4);
    assert_eq!(r.json["admin_notes_count"], 1);
    assert_eq!(r.json["has_completed_intake"], true);

    // The superuser sees the administrator's reads in the audit log.
    let r = app
        .get(&format!("/api/audit-logs/?action=read&actor={}", admin.id))
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["object_type"], "UserProfile");
    assert!(!r.json.to_string().contains("Low vision"));

    // She logs out; her tokens stop working.
    app.post("/api/auth/logout/")
        .bearer(&lindiwe.access)
        .json(&json!({"refresh": lindiwe.refresh}))
        .send()
        .await
        .assert_status(200);
    app.get("/api/users/me/")
        .bearer(&lindiwe.access)
        .send()
        .await
        .assert_status(401);
});
