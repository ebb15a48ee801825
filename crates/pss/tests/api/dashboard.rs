//! `/api/dashboard/`: the numbers add up.

use crate::common::*;

db_test!(dashboards_add_up, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let done = app.candidate().await;
    let pending = app.candidate().await;
    app.post("/api/intake/submit/")
        .bearer(&done.access)
        .json(&json!({"responses": intake_answers()}))
        .send()
        .await
        .assert_status(201);
    let today = chrono::Utc::now().date_naive();
    let days_ago = |n: u64| (today - chrono::Days::new(n)).to_string();
    for (who, date, mood, energy, barriers) in [
        (&done, days_ago(1), "good", 8, 1),
        (&done, days_ago(10), "difficult", 3, 5),
        (&done, days_ago(40), "okay", 5, 7),
        (&pending, days_ago(2), "very_difficult", 2, 4),
    ] {
        app.journal_entry(
            who,
            json!({"title": "t", "content": "c", "mood": mood, "energy_level": energy, "barrier_count": barriers, "date": date}),
        )
        .await;
    }
    app.note(&admin, done.id, "one").await;
    app.note(&admin, done.id, "two").await;
    app.note(&root, pending.id, "three").await;

    let expected = json!({
        "total_candidates": 2,
        "active_candidates": 1,
        "pending_intake": 1,
        "recent_barriers": 5,
        "recent_entries": 4,
        "total_journal_entries": 4,
        "total_admin_notes": 3,
        "recent_admin_notes": 3,
    });
    for path in ["/api/dashboard/stats/", "/api/dashboard/admin-stats/"] {
        for actor in [&admin, &root] {
            let r = app.get(path).bearer(&actor.access).send().await;
            r.assert_status(200);
            assert_eq!(r.json, expected);
        }
        app.get(path)
            .bearer(&done.access)
            .send()
            .await
            .assert_status(403);
        app.get(path).send().await.assert_status(401);
    }

    let r = app
        .get("/api/dashboard/candidate-stats/")
        .bearer(&done.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({
            "total_entries": 3,
            "last_entry_date": days_ago(1),
            "avg_energy_level": 5.3,
            "recent_barriers": 6,
            "admin_notes_count": 2,
            "mood_distribution": [
                {"mood": "difficult", "count": 1}, {"mood": "good", "count": 1}, {"mood": "okay", "count": 1}
            ],
            "has_completed_intake": true,
        })
    );
    let r = app
        .get("/api/dashboard/candidate-stats/")
        .bearer(&pending.access)
        .send()
        .await;
    assert_eq!(r.json["total_entries"], 1);
    assert_eq!(r.json["admin_notes_count"], 1);
    assert_eq!(r.json["has_completed_intake"], false);
    for actor in [&admin, &root] {
        let r = app
            .get("/api/dashboard/candidate-stats/")
            .bearer(&actor.access)
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "Only candidates have candidate statistics."
        );
    }
    app.get("/api/dashboard/candidate-stats/")
        .send()
        .await
        .assert_status(401);
});

db_test!(an_empty_system_has_zero_everything, |app| {
    let root = app.superuser().await;
    let r = app
        .get("/api/dashboard/stats/")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["total_candidates"], 0);
    assert_eq!(r.json["recent_barriers"], 0);
    let candidate = app.candidate().await;
    let r = app
        .get("/api/dashboard/candidate-stats/")
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(
        r.json,
        json!({"total_entries": 0, "last_entry_date": null, "avg_energy_level": 0.0, "recent_barriers": 0,
               "admin_notes_count": 0, "mood_distribution": [], "has_completed_intake": false})
    );
});
