//! `/api/users/`: lists for administrators, self-service, role changes.

use crate::common::*;

db_test!(lists_are_for_administrators_and_scoped, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let first = app.candidate().await;
    let second = app.candidate().await;

    let r = app.get("/api/users/").bearer(&admin.access).send().await;
    r.assert_status(200);
    // Administrators see candidates and themselves, not the superuser.
    let ids: Vec<i64> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(r.json["count"], 3);
    for id in [admin.id, first.id, second.id] {
        assert!(ids.contains(&id));
    }
    assert!(!ids.contains(&root.id));
    assert!(
        r.json["results"][0].get("profile").is_none(),
        "lists carry no profile"
    );

    let r = app.get("/api/users/").bearer(&root.access).send().await;
    assert_eq!(r.json["count"], 4);
    let r = app
        .get("/api/users/?role=admin")
        .bearer(&root.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], admin.id);
    let r = app
        .get("/api/users/?role=boss")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"role": ["Select a valid choice. boss is not one of the available choices."]})
    );

    let r = app
        .get("/api/users/candidates/")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    assert!(
        r.json["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["role"] == "candidate")
    );
    let r = app
        .get(&format!(
            "/api/users/candidates/?search={}",
            &first.email[..13]
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], first.id);
    let r = app
        .get("/api/users/candidates/?has_completed_intake=true")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
    let r = app
        .get("/api/users/candidates/?ordering=-email&page_size=1&page=2")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["results"].as_array().unwrap().len(), 1);
    assert!(r.json["previous"].is_string());
    let r = app
        .get("/api/users/candidates/?page=9")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "Invalid page.");

    for path in ["/api/users/", "/api/users/candidates/"] {
        app.get(path)
            .bearer(&first.access)
            .send()
            .await
            .assert_status(403);
        app.get(path).send().await.assert_status(401);
    }
});

db_test!(a_candidate_edits_itself_but_never_its_role, |app| {
    let candidate = app.candidate().await;
    let path = format!("/api/users/{}/", candidate.id);
    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"first_name": "Thandiwe", "role": "candidate", "is_active": true}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["first_name"], "Thandiwe");
    assert_eq!(r.json["profile"]["user"], candidate.id);

    for body in [
        json!({"role": "admin"}),
        json!({"role": "superuser"}),
        json!({"is_active": false}),
    ] {
        let r = app
            .patch(&path)
            .bearer(&candidate.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "Only administrators can change role or is_active."
        );
    }
    let me = app
        .get("/api/users/me/")
        .bearer(&candidate.access)
        .send()
        .await;
    assert_eq!(me.json["role"], "candidate");
    assert_eq!(me.json["is_active"], true);

    // PUT needs the email; unknown fields are ignored (no mass assignment).
    let r = app
        .put(&path)
        .bearer(&candidate.access)
        .json(&json!({"first_name": "T"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"email": ["This field is required."]}));
    let r = app
        .put(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": candidate.email, "first_name": "Thandi", "last_name": "N", "id": 999, "password": "x", "token_epoch": 5}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["id"], candidate.id);
    assert_eq!(r.json["last_name"], "N");
    app.sign_in(&candidate.email, PASSWORD).await;

    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": "broken", "role": "boss", "is_active": "maybe"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"is_active": ["Must be a valid boolean."]}));
    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": "broken", "role": "boss"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"email": ["Enter a valid email address."], "role": ["\"boss\" is not a valid choice."]})
    );
    let other = app.candidate().await;
    let r = app
        .patch(&path)
        .bearer(&candidate.access)
        .json(&json!({"email": other.email}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"email": ["User with this email already exists."]})
    );
});

db_test!(
    administrators_manage_candidates_superusers_grant_superuser,
    |app| {
        let root = app.superuser().await;
        let admin = app.admin(&root).await;
        let candidate = app.candidate().await;
        let path = format!("/api/users/{}/", candidate.id);

        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"role": "superuser"}))
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "Only superusers can grant the superuser role."
        );

        let r = app
            .patch(&path)
            .bearer(&admin.access)
            .json(&json!({"is_active": false}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["is_active"], false);
        let rows = app.audit_rows("User", candidate.id).await;
        let update = rows.iter().rfind(|r| r.action == "update").unwrap();
        assert_eq!(
            update.actor_id.as_deref(),
            Some(admin.id.to_string().as_str())
        );
        assert_eq!(update.changes, Some(json!({"is_active": [true, false]})));
        assert_eq!(update.ip_address.as_deref(), Some("127.0.0.1"));
        app.patch(&path)
            .bearer(&admin.access)
            .json(&json!({"is_active": true}))
            .send()
            .await
            .assert_status(200);

        // Nobody changes their own role or deactivates themselves.
        for actor in [&admin, &root] {
            let r = app
                .patch(&format!("/api/users/{}/", actor.id))
                .bearer(&actor.access)
                .json(&json!({"role": "candidate"}))
                .send()
                .await;
            r.assert_status(400);
            assert_eq!(
                r.json,
                json!({"non_field_errors": ["You cannot change your own role or deactivate your own account."]})
            );
        }

        // Administrators cannot reach other administrators or superusers.
        let other_admin = app.admin(&root).await;
        for id in [other_admin.id, root.id] {
            let r = app
                .get(&format!("/api/users/{id}/"))
                .bearer(&admin.access)
                .send()
                .await;
            r.assert_status(404);
            app.patch(&format!("/api/users/{id}/"))
                .bearer(&admin.access)
                .json(&json!({"is_active": false}))
                .send()
                .await
                .assert_status(404);
        }

        let r = app
            .patch(&path)
            .bearer(&root.access)
            .json(&json!({"role": "superuser"}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["role"], "superuser");
        assert_eq!(r.json["is_staff"], true);
        assert_eq!(r.json["is_superuser"], true);
    }
);

db_test!(malformed_and_unknown_ids_are_404, |app| {
    let root = app.superuser().await;
    for path in [
        "/api/users/abc/",
        "/api/users/0/",
        "/api/users/-1/",
        "/api/users/99999999/",
        "/api/users/99999999999999999999999/",
        "/api/users/1.5/",
        "/api/users/99999999/profile/",
        "/api/users/x/profile/",
    ] {
        let r = app.get(path).bearer(&root.access).send().await;
        r.assert_status(404);
    }
});
