//! The admin user CRUD at `/api/users/` (contract §1): creation with role
//! profiles and invitations, uniqueness, filters and scoping, role changes,
//! deactivation, and the audit trail at `/api/audit-logs/`.

use sea_orm::EntityTrait;

use crate::common::*;

fn trainee_body(email: &str, admission: &str) -> Value {
    json!({"email": email, "first_name": "Tom", "last_name": "Mboya", "role": "trainee",
           "password": PASSWORD, "email_verified": true, "gender": "male", "phone": "+254700000001",
           "profile": {"admission_number": admission, "status": "active", "enrollment_date": "2026-01-10"}})
}

db_test!(admin_creates_users_with_role_profiles, |app| {
    let admin = app.admin().await;
    let email = format!("Tom-{}@Example.org", tag());
    let r = app
        .post("/api/users/")
        .bearer(&admin.access)
        .json(&trainee_body(&email, "ADM-001"))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["email"], email.to_lowercase());
    assert_eq!(r.json["profile"]["admission_number"], "ADM-001");
    assert_eq!(r.json["profile"]["class_group"], Value::Null);
    assert_eq!(r.json["email_verified"], true);
    app.sign_in(&email, PASSWORD).await;
    let t = app.post("/api/users/").bearer(&admin.access)
        .json(&json!({"email": format!("tr-{}@example.org", tag()), "first_name": "T", "last_name": "R",
                       "role": "trainer", "profile": {"staff_number": "STF-9", "max_weekly_hours": 30,
                       "employment_type": "part_time", "specialization": "Networks"}}))
        .send().await;
    t.assert_status(201);
    assert_eq!(t.json["profile"]["max_weekly_hours"], 30);
    assert_eq!(t.json["profile"]["current_weekly_hours"], 0.0);
    assert_eq!(t.json["profile"]["departments"], json!([]));
    assert_eq!(t.json["email_verified"], false);
    let bad_hours = app.post("/api/users/").bearer(&admin.access)
        .json(&json!({"email": "h@example.org", "first_name": "T", "last_name": "R", "role": "trainer",
                       "profile": {"max_weekly_hours": 61}})).send().await;
    bad_hours.assert_status(400);
    assert!(bad_hours.json["max_weekly_hours"].is_array());
});

db_test!(invited_user_sets_password_from_the_email, |app| {
    let (node, sink) = mailing(&app).await;
    let admin = node.admin().await;
    let email = format!("inv-{}@example.org", tag());
    let r = node
        .post("/api/users/")
        .bearer(&admin.access)
        .json(&json!({"email": email, "first_name": "I", "last_name": "V", "role": "hod"}))
        .send()
        .await;
    r.assert_status(201);
    let id = id_of(&r.json);
    let messages = deliver(&node, &sink, 1).await;
    assert_eq!(messages.len(), 1);
    let token = link_param(&messages[0], "token");
    node.post("/api/auth/password/reset/confirm/")
        .json(&json!({"uid": id, "token": token, "new_password": "Brighter-Morning-77!"}))
        .send()
        .await
        .assert_status(200);
    assert!(node.user_row(id).await.email_verified);
    node.sign_in(&email, "Brighter-Morning-77!").await;
    let notes = roster::entities::notification::Entity::find()
        .all(node.db())
        .await
        .unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.user_id == id && n.notification_type == "account")
    );
});

db_test!(uniqueness_is_a_field_error, |app| {
    let admin = app.admin().await;
    let email = format!("u-{}@example.org", tag());
    let mut first = trainee_body(&email, "ADM-77");
    first["id_number"] = json!("ID-1");
    app.post("/api/users/")
        .bearer(&admin.access)
        .json(&first)
        .send()
        .await
        .assert_status(201);
    let users = roster::entities::user::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len();
    let mut dup = trainee_body(&email.to_uppercase(), "ADM-77");
    dup["id_number"] = json!("ID-1");
    let r = app
        .post("/api/users/")
        .bearer(&admin.access)
        .json(&dup)
        .send()
        .await;
    r.assert_status(400);
    for field in ["email", "admission_number", "id_number"] {
        assert!(r.json[field].is_array(), "{field} in {}", r.json);
    }
    let staff = app.user("trainer").await;
    let staff_number = app
        .get(&format!("/api/users/{}/", staff.id))
        .bearer(&admin.access)
        .send()
        .await
        .json["profile"]["staff_number"]
        .clone();
    let s = app.post("/api/users/").bearer(&admin.access)
        .json(&json!({"email": "s2@example.org", "first_name": "S", "last_name": "T", "role": "dp_academics",
                       "profile": {"staff_number": staff_number}})).send().await;
    s.assert_status(400);
    assert!(s.json["staff_number"].is_array());
    for body in [
        json!({}),
        json!({"email": "z@example.org", "first_name": "Z", "last_name": "Z", "role": "boss"}),
        json!([1]),
        json!("x"),
    ] {
        app.post("/api/users/")
            .bearer(&admin.access)
            .json(&body)
            .send()
            .await
            .assert_status(400);
    }
    assert_eq!(
        roster::entities::user::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .len(),
        users + 1
    );
});

db_test!(who_may_use_the_user_list, |app| {
    let trainer = app.user("trainer").await;
    let trainee = app.user("trainee").await;
    let dp = app.user("dp_academics").await;
    app.get("/api/users/").send().await.assert_status(401);
    for actor in [&trainer, &trainee, &dp] {
        app.get("/api/users/")
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(403);
        app.get(&format!("/api/users/{}/", trainee.id))
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(403);
        app.post("/api/users/")
            .bearer(&actor.access)
            .json(&trainee_body("q@example.org", "A-1"))
            .send()
            .await
            .assert_status(403);
        app.delete(&format!("/api/users/{}/", trainee.id))
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(403);
    }
    let admin = app.admin().await;
    app.get("/api/users/not-a-uuid/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("/api/users/{}/", Uuid::new_v4()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(filters_search_and_hod_scope, |app| {
    let f = app.dept_fixture("ICT", "CS-1A").await;
    let trainee = app.user("trainee").await;
    let outsider = app.user("trainee").await;
    let other_trainer = app.user("trainer").await;
    app.department(&f.admin, "OTH", None, &[&other_trainer])
        .await;
    app.post(&format!("/api/class-groups/{}/trainees/", f.class_group))
        .bearer(&f.admin.access)
        .json(&json!({"trainee_ids": [trainee.id]}))
        .send()
        .await
        .assert_status(200);
    let list = |q: String, who: &Actor| {
        let req = app.get(&format!("/api/users/{q}")).bearer(&who.access);
        async move { req.send().await }
    };
    let r = list("?role=trainer".into(), &f.admin).await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    list("?role=boss".into(), &f.admin).await.assert_status(400);
    list("?is_active=maybe".into(), &f.admin)
        .await
        .assert_status(400);
    list("?department=xyz".into(), &f.admin)
        .await
        .assert_status(400);
    let by_group = list(format!("?class_group={}", f.class_group), &f.admin).await;
    assert_eq!(by_group.json["count"], 1);
    assert_eq!(by_group.json["results"][0]["id"], trainee.id.to_string());
    assert_eq!(
        by_group.json["results"][0]["profile"]["class_group"],
        f.class_group.to_string()
    );
    assert_eq!(
        list(format!("?programme={}", f.programme), &f.admin)
            .await
            .json["count"],
        1
    );
    let admission = app
        .get(&format!("/api/users/{}/", trainee.id))
        .bearer(&f.admin.access)
        .send()
        .await
        .json["profile"]["admission_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let found = list(format!("?search={}", admission.to_lowercase()), &f.admin).await;
    assert_eq!(found.json["count"], 1);
    // The HOD reads their department's trainer and trainee only.
    let hod = list(String::new(), &f.hod).await;
    hod.assert_status(200);
    let ids: Vec<&str> = hod.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(hod.json["count"], 2, "{ids:?}");
    assert!(ids.contains(&trainee.id.to_string().as_str()));
    assert!(ids.contains(&f.trainer.id.to_string().as_str()));
    app.get(&format!("/api/users/{}/", trainee.id))
        .bearer(&f.hod.access)
        .send()
        .await
        .assert_status(200);
    for other in [&outsider, &other_trainer, &f.admin] {
        app.get(&format!("/api/users/{}/", other.id))
            .bearer(&f.hod.access)
            .send()
            .await
            .assert_status(404);
    }
    app.patch(&format!("/api/users/{}/", trainee.id))
        .bearer(&f.hod.access)
        .json(&json!({"first_name": "X"}))
        .send()
        .await
        .assert_status(403);
    let hod_me = app.get("/api/auth/me/").bearer(&f.hod.access).send().await;
    assert_eq!(
        hod_me.json["profile"]["department"],
        f.department.to_string()
    );
});

db_test!(
    role_change_recreates_profile_and_delete_deactivates,
    |app| {
        let admin = app.admin().await;
        let user = app.user("trainee").await;
        let url = format!("/api/users/{}/", user.id);
        let r = app
            .patch(&url)
            .bearer(&admin.access)
            .json(&json!({"role": "trainer", "profile": {"staff_number": "ST-55"}}))
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["role"], "trainer");
        assert_eq!(r.json["profile"]["staff_number"], "ST-55");
        assert_eq!(r.json["profile"]["max_weekly_hours"], 20);
        assert!(r.json["profile"].get("admission_number").is_none());
        app.get("/api/auth/me/")
            .bearer(&user.access)
            .send()
            .await
            .assert_status(401);
        let again = app.sign_in(&user.email, PASSWORD).await;
        app.patch(&url)
            .bearer(&admin.access)
            .json(&json!({"email": admin.email.to_uppercase()}))
            .send()
            .await
            .assert_status(400);
        app.patch(&url)
            .bearer(&admin.access)
            .json(&json!({"role": "boss"}))
            .send()
            .await
            .assert_status(400);
        app.put(&url)
            .bearer(&admin.access)
            .json(&json!({"first_name": "Only"}))
            .send()
            .await
            .assert_status(400);
        // Own admin access cannot be removed.
        app.patch(&format!("/api/users/{}/", admin.id))
            .bearer(&admin.access)
            .json(&json!({"role": "trainee"}))
            .send()
            .await
            .assert_status(400);
        app.delete(&format!("/api/users/{}/", admin.id))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(400);
        app.delete(&url)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(204);
        assert!(!app.user_row(user.id).await.is_active);
        app.get("/api/auth/me/")
            .bearer(&again.access)
            .send()
            .await
            .assert_status(401);
        app.post("/api/auth/token/")
            .json(&json!({"email": user.email, "password": PASSWORD}))
            .send()
            .await
            .assert_status(401);
        app.delete("/api/users/nope/")
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);
        let listed = app
            .get("/api/users/?is_active=false")
            .bearer(&admin.access)
            .send()
            .await;
        assert_eq!(listed.json["count"], 1);
    }
);

db_test!(audit_logs_are_admin_only_and_newest_first, |app| {
    let admin = app.admin().await;
    let trainer = app.user("trainer").await;
    app.get("/api/audit-logs/").send().await.assert_status(401);
    app.get("/api/audit-logs/")
        .bearer(&trainer.access)
        .send()
        .await
        .assert_status(403);
    let a = app
        .post("/api/users/")
        .bearer(&admin.access)
        .json(&trainee_body("a1@example.org", "A-1"))
        .send()
        .await;
    let b = app
        .post("/api/users/")
        .bearer(&admin.access)
        .json(&trainee_body("a2@example.org", "A-2"))
        .send()
        .await;
    let r = app
        .get("/api/audit-logs/?resource_type=user")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    assert_eq!(
        r.json["results"][0]["resource_id"],
        id_of(&b.json).to_string()
    );
    assert_eq!(
        r.json["results"][1]["resource_id"],
        id_of(&a.json).to_string()
    );
    assert_eq!(r.json["results"][0]["action"], "create");
    assert_eq!(r.json["results"][0]["actor"], admin.id.to_string());
    let mine = app
        .get(&format!("/api/audit-logs/?actor={}", trainer.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(mine.json["count"], 0);
    assert!(!r.json.to_string().contains(PASSWORD));
});
