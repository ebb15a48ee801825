//! `/api/journal/`: own entries, administrators' reach, filters, statistics.

use crate::common::*;

fn entry(title: &str, mood: &str, energy: i64) -> Value {
    json!({"title": title, "content": "Today went fine", "mood": mood, "energy_level": energy})
}

db_test!(writing_and_reading_own_entries, |app| {
    let candidate = app.candidate().await;
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .json(&json!({"title": "First day", "content": "Met the team", "mood": "good", "energy_level": 7,
                      "activities": "Orientation", "barrier_count": 1, "user": 999, "id": 5}))
        .send()
        .await;
    r.assert_status(201);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(r.json["user"], candidate.id);
    assert_eq!(r.json["date"], today);
    assert_eq!(r.json["title"], "First day");
    assert_eq!(r.json["activities"], "Orientation");
    assert_eq!(r.json["challenges"], "");
    assert_eq!(r.json["barrier_count"], 1);
    let id = r.json["id"].as_i64().unwrap();
    assert_ne!(id, 5);

    let r = app
        .patch(&format!("/api/journal/{id}/"))
        .bearer(&candidate.access)
        .json(&json!({"mood": "excellent", "challenges": "Noise"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["mood"], "excellent");
    assert_eq!(r.json["challenges"], "Noise");
    assert_eq!(r.json["title"], "First day");

    let r = app
        .put(&format!("/api/journal/{id}/"))
        .bearer(&candidate.access)
        .json(&json!({"title": "Day one", "content": "Rewritten", "mood": "okay", "energy_level": 5, "date": "2025-01-02"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["date"], "2025-01-02");
    assert_eq!(
        r.json["challenges"], "Noise",
        "PUT keeps optional fields left out"
    );

    let r = app
        .get(&format!("/api/journal/{id}/"))
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(r.json["content"], "Rewritten");
    let rows = app.audit_rows("JournalEntry", id).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["create", "update", "update"],
        "own reads are not audited"
    );
    assert_eq!(
        rows[1].changes,
        Some(json!({"mood": "changed", "challenges": "changed"}))
    );

    app.delete(&format!("/api/journal/{id}/"))
        .bearer(&candidate.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/journal/{id}/"))
        .bearer(&candidate.access)
        .send()
        .await
        .assert_status(404);
    assert_eq!(
        app.audit_rows("JournalEntry", id)
            .await
            .last()
            .unwrap()
            .action,
        "delete"
    );
});

db_test!(bad_entries_are_refused_and_change_nothing, |app| {
    let candidate = app.candidate().await;
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({
            "title": ["This field is required."],
            "content": ["This field is required."],
            "mood": ["This field is required."],
            "energy_level": ["This field is required."],
        })
    );
    // The original's Postman sample uses a mood it never accepted.
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .json(&json!({"title": "t", "content": "c", "mood": "happy", "energy_level": 11, "barrier_count": -1,
                      "date": "2999-01-01", "notes": "n".repeat(10_001), "title2": 1}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({
            "notes": ["Ensure this field has no more than 10000 characters."],
            "mood": ["Invalid mood: \"happy\". Must be one of: excellent, good, okay, difficult, very_difficult"],
            "energy_level": ["Ensure this value is less than or equal to 10."],
            "barrier_count": ["Ensure this value is greater than or equal to 0."],
            "date": ["Date cannot be in the future."],
        })
    );
    for (body, field, message) in [
        (
            json!({"energy_level": "high"}),
            "energy_level",
            "A valid integer is required.",
        ),
        (
            json!({"date": "02/01/2025"}),
            "date",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        (json!({"date": null}), "date", "This field may not be null."),
        (
            json!({"title": "   "}),
            "title",
            "This field may not be blank.",
        ),
        (
            json!({"energy_level": 0}),
            "energy_level",
            "Ensure this value is greater than or equal to 1.",
        ),
    ] {
        let mut full = entry("t", "good", 5);
        for (k, v) in body.as_object().unwrap() {
            full[k] = v.clone();
        }
        let r = app
            .post("/api/journal/")
            .bearer(&candidate.access)
            .json(&full)
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json, json!({field: [message]}), "{body}");
    }
    let id = app
        .journal_entry(&candidate, entry("kept", "good", 5))
        .await;
    let r = app
        .patch(&format!("/api/journal/{id}/"))
        .bearer(&candidate.access)
        .json(&json!({"mood": "sad", "title": "changed"}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .get("/api/journal/")
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["title"], "kept");
});

db_test!(
    entries_are_reached_by_owner_and_administrators_only,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let candidate = app.candidate().await;
        let other = app.candidate().await;
        let id = app
            .journal_entry(&candidate, entry("Mine", "good", 6))
            .await;
        let admin_entry = app
            .journal_entry(&admin, entry("Admin's own", "okay", 5))
            .await;
        let path = format!("/api/journal/{id}/");

        let r = app.get("/api/journal/").bearer(&other.access).send().await;
        assert_eq!(r.json["count"], 0);
        app.get(&path)
            .bearer(&other.access)
            .send()
            .await
            .assert_status(404);
        app.patch(&path)
            .bearer(&other.access)
            .json(&json!({"title": "x"}))
            .send()
            .await
            .assert_status(404);
        app.delete(&path)
            .bearer(&other.access)
            .send()
            .await
            .assert_status(404);
        app.get(&path).send().await.assert_status(401);

        let r = app.get("/api/journal/").bearer(&admin.access).send().await;
        assert_eq!(r.json["count"], 2);
        let r = app.get(&path).bearer(&admin.access).send().await;
        r.assert_status(200);
        assert_eq!(r.json["title"], "Mine");
        let reads: Vec<_> = app
            .audit_rows("JournalEntry", id)
            .await
            .into_iter()
            .filter(|r| r.action == "read")
            .collect();
        assert_eq!(reads.len(), 1);

        // Another administrator does not reach an administrator's own entry; the superuser does.
        let other_admin = app.admin(&root).await;
        app.get(&format!("/api/journal/{admin_entry}/"))
            .bearer(&other_admin.access)
            .send()
            .await
            .assert_status(404);
        app.get(&format!("/api/journal/{admin_entry}/"))
            .bearer(&root.access)
            .send()
            .await
            .assert_status(200);
        let r = app.get("/api/journal/").bearer(&root.access).send().await;
        assert_eq!(r.json["count"], 2);

        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"notes": "Reviewed"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["user"], candidate.id, "the author stays");
        app.delete(&path)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(204);
        for bad in [
            "/api/journal/abc/",
            "/api/journal/0/",
            "/api/journal/77777/",
        ] {
            app.get(bad)
                .bearer(&root.access)
                .send()
                .await
                .assert_status(404);
        }
    }
);

db_test!(lists_filter_by_date_and_mood_and_order_by_date, |app| {
    let candidate = app.candidate().await;
    for (date, mood, energy) in [
        ("2025-03-01", "good", 6),
        ("2025-03-05", "difficult", 3),
        ("2025-03-10", "good", 8),
        ("2025-02-20", "very_difficult", 2),
    ] {
        let mut body = entry(date, mood, energy);
        body["date"] = json!(date);
        app.journal_entry(&candidate, body).await;
    }
    let dates = |r: &kernel::testing::TestResponse| -> Vec<String> {
        r.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["date"].as_str().unwrap().to_owned())
            .collect()
    };
    let get = |q: &str| {
        app.get(&format!("/api/journal/{q}"))
            .bearer(&candidate.access)
            .send()
    };
    let r = get("").await;
    assert_eq!(
        dates(&r),
        ["2025-03-10", "2025-03-05", "2025-03-01", "2025-02-20"]
    );
    let r = get("?ordering=date").await;
    assert_eq!(
        dates(&r),
        ["2025-02-20", "2025-03-01", "2025-03-05", "2025-03-10"]
    );
    let r = get("?mood=good").await;
    assert_eq!(dates(&r), ["2025-03-10", "2025-03-01"]);
    let r = get("?date_after=2025-03-01&date_before=2025-03-05").await;
    assert_eq!(dates(&r), ["2025-03-05", "2025-03-01"]);
    let r = get("?start_date=2025-03-02&end_date=2025-12-31&ordering=energy_level").await;
    assert_eq!(dates(&r), ["2025-03-05", "2025-03-10"]);
    let r = get("?date=2025-02-20").await;
    assert_eq!(dates(&r), ["2025-02-20"]);
    let r = get("?date_after=yesterday&mood=sad").await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"mood": ["Select a valid choice. sad is not one of the available choices."]})
    );
    let r = get("?date_after=yesterday").await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"date_after": ["Enter a valid date."]}));
    let r = get("?page_size=3").await;
    assert_eq!(r.json["count"], 4);
    assert!(r.json["next"].as_str().unwrap().contains("page=2"));
});

db_test!(statistics_add_up, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let candidate = app.candidate().await;
    let other = app.candidate().await;
    let today = chrono::Utc::now().date_naive();
    let days_ago = |n: u64| (today - chrono::Days::new(n)).to_string();
    for (date, mood, energy, barriers) in [
        (days_ago(0), "good", 7, 2),
        (days_ago(3), "difficult", 4, 3),
        (days_ago(20), "good", 6, 10),
    ] {
        app.journal_entry(
            &candidate,
            json!({"title": "t", "content": "c", "mood": mood, "energy_level": energy, "barrier_count": barriers, "date": date}),
        )
        .await;
    }
    app.journal_entry(
        &other,
        json!({"title": "t", "content": "c", "mood": "okay", "energy_level": 9, "barrier_count": 4}),
    )
    .await;

    let r = app
        .get("/api/journal/stats/")
        .bearer(&candidate.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({
            "total_entries": 3,
            "last_entry_date": today.to_string(),
            "recent_barriers": 5,
            "avg_energy_level": 5.7,
            "mood_distribution": [{"mood": "difficult", "count": 1}, {"mood": "good", "count": 2}],
        })
    );
    let r = app
        .get("/api/journal/stats/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_entries"], 4);
    assert_eq!(r.json["recent_barriers"], 9);
    assert_eq!(r.json["avg_energy_level"], 6.5);

    let empty = app.candidate().await;
    let r = app
        .get("/api/journal/stats/")
        .bearer(&empty.access)
        .send()
        .await;
    assert_eq!(
        r.json,
        json!({"total_entries": 0, "last_entry_date": null, "recent_barriers": 0, "avg_energy_level": 0.0, "mood_distribution": []})
    );
    app.get("/api/journal/stats/")
        .send()
        .await
        .assert_status(401);
});

db_test!(timestamps_are_rendered_to_the_microsecond, |app| {
    let candidate = app.candidate().await;
    let r = app
        .post("/api/journal/")
        .bearer(&candidate.access)
        .json(&entry("Timed", "good", 5))
        .send()
        .await;
    r.assert_status(201);
    let created = r.json["created_at"].as_str().unwrap().to_owned();
    // DRF renders six digits; chrono writes ".123" for ".123000" (and none
    // for a whole second), never more than six.
    let time = created.strip_suffix('Z').unwrap_or(&created);
    let digits = time.split_once('.').map_or("", |(_, d)| d);
    assert!(
        digits.len() <= 6 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{created}"
    );
    // The value written is the value stored: every database keeps microseconds.
    let id = r.json["id"].as_i64().unwrap();
    let r = app
        .get(&format!("/api/journal/{id}/"))
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(r.json["created_at"], created.as_str());
    assert_eq!(r.json["updated_at"], created.as_str());
});
