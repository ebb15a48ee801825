//! `/api/auth/sessions/…` and `/api/auth/admin/…`: one session per
//! refresh-token family; ending one ends its tokens at once.

use crate::common::*;

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

/// Signs in from a device (and, with a trusted proxy, an address).
async fn sign_in_from(app: &TestApp, email: &str, ua: &str, ip: &str) -> Actor {
    let r = app
        .post("/api/auth/login/")
        .header("user-agent", ua)
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await;
    r.assert_status(200);
    Actor {
        id: r.json["user"]["id"].as_i64().unwrap(),
        email: email.to_owned(),
        access: r.json["access"].as_str().unwrap().to_owned(),
        refresh: r.json["refresh"].as_str().unwrap().to_owned(),
    }
}

async fn sessions(app: &TestApp, actor: &Actor) -> Value {
    let r = app
        .get("/api/auth/sessions/")
        .bearer(&actor.access)
        .send()
        .await;
    r.assert_status(200);
    r.json.clone()
}

async fn refresh(app: &TestApp, token: &str) -> TestResponseLite {
    let r = app
        .post("/api/auth/refresh/")
        .json(&json!({"refresh": token}))
        .send()
        .await;
    TestResponseLite {
        status: r.status.as_u16(),
        json: r.json.clone(),
    }
}

struct TestResponseLite {
    status: u16,
    json: Value,
}

fn current_id(list: &Value) -> i64 {
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["is_current"] == true)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

db_test!(
    sessions_are_listed_with_device_info,
    settings = &[("CAMPUS_TRUSTED_PROXIES", "1")],
    |app| {
        let user = app.candidate().await;
        let laptop = sign_in_from(&app, &user.email, CHROME_WINDOWS, "203.0.113.5").await;
        let phone = sign_in_from(&app, &user.email, SAFARI_IPHONE, "198.51.100.7").await;
        let list = sessions(&app, &laptop).await;
        // Registration opened one session too.
        assert_eq!(list["count"], 3, "{list}");
        let all = list["sessions"].as_array().unwrap();
        let laptop_row = all
            .iter()
            .find(|s| s["ip_address"] == "203.0.113.5")
            .unwrap();
        assert_eq!(laptop_row["device_type"], "pc");
        assert_eq!(laptop_row["browser"], "Chrome");
        assert_eq!(laptop_row["os"], "Windows");
        assert_eq!(laptop_row["is_current"], true);
        assert_eq!(laptop_row["is_active"], true);
        assert_eq!(laptop_row["time_since_activity"], "Just now");
        let phone_row = all
            .iter()
            .find(|s| s["ip_address"] == "198.51.100.7")
            .unwrap();
        assert_eq!(phone_row["device_type"], "mobile");
        assert_eq!(phone_row["browser"], "Safari");
        assert_eq!(phone_row["os"], "iOS");
        assert_eq!(phone_row["is_current"], false);
        // A new address and a new device for a user with history.
        assert_eq!(phone_row["is_suspicious"], true);
        assert_eq!(laptop_row["is_suspicious"], true);
        // The same device again from a new address is not suspicious.
        let again = sign_in_from(&app, &user.email, SAFARI_IPHONE, "192.0.2.1").await;
        let list = sessions(&app, &phone).await;
        let row = list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["ip_address"] == "192.0.2.1")
            .unwrap()
            .clone();
        assert_eq!(row["is_suspicious"], false);
        assert_eq!(current_id(&sessions(&app, &again).await), row["id"]);
        // No token or secret in the listing.
        let text = list.to_string();
        assert!(!text.contains(&laptop.refresh) && !text.contains(&laptop.access));
    }
);

db_test!(ending_a_session_ends_its_tokens_only, |app| {
    let user = app.candidate().await;
    let a = sign_in_from(&app, &user.email, CHROME_WINDOWS, "").await;
    let b = sign_in_from(&app, &user.email, FIREFOX_LINUX, "").await;
    let b_id = current_id(&sessions(&app, &b).await);
    // The current session cannot be ended here.
    let r = app
        .delete(&format!("/api/auth/sessions/{b_id}/"))
        .bearer(&b.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["detail"],
        "Cannot delete current session. Use /auth/logout/ to logout."
    );
    let r = app
        .delete(&format!("/api/auth/sessions/{b_id}/"))
        .bearer(&a.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Session terminated successfully");
    assert_eq!(r.json["device"], "pc");
    assert_eq!(r.json["browser"], "Firefox");
    // B's access and refresh tokens are dead at once.
    app.get("/api/users/me/")
        .bearer(&b.access)
        .send()
        .await
        .assert_status(401);
    let r = refresh(&app, &b.refresh).await;
    assert_eq!(r.status, 401, "{}", r.json);
    // A keeps working, across refresh rotation too, in the same session.
    app.get("/api/users/me/")
        .bearer(&a.access)
        .send()
        .await
        .assert_status(200);
    let a_id = current_id(&sessions(&app, &a).await);
    let r = refresh(&app, &a.refresh).await;
    assert_eq!(r.status, 200, "{}", r.json);
    let rotated = Actor {
        access: r.json["access"].as_str().unwrap().to_owned(),
        refresh: r.json["refresh"].as_str().unwrap().to_owned(),
        ..a.clone()
    };
    let list = sessions(&app, &rotated).await;
    assert_eq!(current_id(&list), a_id);
    assert!(
        list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != b_id),
        "ended sessions are not listed"
    );
    // Ending it again: 404.
    app.delete(&format!("/api/auth/sessions/{b_id}/"))
        .bearer(&a.access)
        .send()
        .await
        .assert_status(404);
    let rows = app.audit_rows("UserSession", b_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].actor_id.as_deref(),
        Some(user.id.to_string().as_str())
    );
});

db_test!(other_users_sessions_are_not_found, |app| {
    let one = app.candidate().await;
    let other = app.candidate().await;
    let theirs = current_id(&sessions(&app, &other).await);
    let r = app
        .delete(&format!("/api/auth/sessions/{theirs}/"))
        .bearer(&one.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "Session not found");
    for path in ["/api/auth/sessions/999999/", "/api/auth/sessions/abc/"] {
        app.delete(path)
            .bearer(&one.access)
            .send()
            .await
            .assert_status(404);
    }
    app.get("/api/users/me/")
        .bearer(&other.access)
        .send()
        .await
        .assert_status(200);
    app.get("/api/auth/sessions/")
        .send()
        .await
        .assert_status(401);
});

db_test!(all_except_current_and_all, |app| {
    let user = app.candidate().await;
    let b = sign_in_from(&app, &user.email, FIREFOX_LINUX, "").await;
    let c = sign_in_from(&app, &user.email, SAFARI_IPHONE, "").await;
    let r = app
        .delete("/api/auth/sessions/all-except-current/")
        .bearer(&c.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2);
    assert_eq!(r.json["message"], "Terminated 2 other session(s)");
    assert_eq!(r.json["terminated_devices"].as_array().unwrap().len(), 2);
    for dead in [&user, &b] {
        app.get("/api/users/me/")
            .bearer(&dead.access)
            .send()
            .await
            .assert_status(401);
        assert_eq!(refresh(&app, &dead.refresh).await.status, 401);
    }
    app.get("/api/users/me/")
        .bearer(&c.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .delete("/api/auth/sessions/all-except-current/")
        .bearer(&c.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json,
        json!({"message": "No sessions to terminate", "count": 0})
    );
    let r = app
        .delete("/api/auth/sessions/all/")
        .bearer(&c.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "All sessions terminated successfully");
    assert_eq!(r.json["count"], 1);
    assert_eq!(
        r.json["detail"],
        "You have been logged out from all devices."
    );
    app.get("/api/users/me/")
        .bearer(&c.access)
        .send()
        .await
        .assert_status(401);
    assert_eq!(refresh(&app, &c.refresh).await.status, 401);
    // Signing in again opens a fresh session.
    let d = app.sign_in(&user.email, PASSWORD).await;
    assert_eq!(sessions(&app, &d).await["count"], 1);
});

db_test!(logout_ends_the_sessions, |app| {
    let user = app.candidate().await;
    app.post("/api/auth/logout/")
        .bearer(&user.access)
        .json(&json!({"refresh": user.refresh}))
        .send()
        .await
        .assert_status(200);
    let again = app.sign_in(&user.email, PASSWORD).await;
    let list = sessions(&app, &again).await;
    assert_eq!(list["count"], 1, "{list}");
});

db_test!(a_repeated_query_parameter_takes_its_last_value, |app| {
    let root = app.superuser().await;
    let user = app.candidate().await;
    let r = app
        .get(&format!(
            "/api/auth/admin/sessions/?user_email=nobody%40example.org&active_only=false&user_email={}&active_only=true&page=1&page=2",
            user.email
        ))
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1, "{}", r.json);
    assert_eq!(r.json["filters"]["user_email"], user.email.as_str());
    assert_eq!(r.json["filters"]["active_only"], true);
    // Lists too: the last page asked for is the one served.
    let r = app
        .get("/api/users/?page=2&page=1&page_size=1&page_size=2")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2, "{}", r.json);
    assert_eq!(r.json["results"].as_array().unwrap().len(), 2);
});

db_test!(admins_list_sessions_and_force_logout, |app| {
    let root = app.superuser().await;
    let admin = app.admin(&root).await;
    let user = app.candidate().await;
    let second = sign_in_from(&app, &user.email, SAFARI_IPHONE, "").await;

    // Candidates may not.
    app.get("/api/auth/admin/sessions/")
        .bearer(&user.access)
        .send()
        .await
        .assert_status(403);
    app.post("/api/auth/admin/force-logout/")
        .bearer(&user.access)
        .json(&json!({"user_id": admin.id, "reason": "x"}))
        .send()
        .await
        .assert_status(403);

    let r = app
        .get(&format!(
            "/api/auth/admin/sessions/?user_email={}&active_only=true",
            user.email
        ))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 2, "{}", r.json);
    assert_eq!(r.json["filters"]["active_only"], true);
    assert_eq!(r.json["filters"]["suspicious_only"], false);
    let row = &r.json["sessions"][0];
    assert_eq!(row["user_email"], user.email.as_str());
    assert_eq!(row["user_role"], "candidate");
    let r = app
        .get("/api/auth/admin/sessions/")
        .bearer(&root.access)
        .send()
        .await;
    r.assert_status(200);
    assert!(r.json["count"].as_u64().unwrap() >= 4);

    // Bad input.
    let r = app
        .post("/api/auth/admin/force-logout/")
        .bearer(&admin.access)
        .json(&json!({"reason": "x"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "user_id is required");
    let r = app
        .post("/api/auth/admin/force-logout/")
        .bearer(&admin.access)
        .json(&json!({"user_id": user.id, "reason": "  "}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "reason is required for audit compliance");
    let r = app
        .post("/api/auth/admin/force-logout/")
        .bearer(&admin.access)
        .json(&json!({"user_id": "abc", "reason": "x"}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .post("/api/auth/admin/force-logout/")
        .bearer(&admin.access)
        .json(&json!({"user_id": 123456789, "reason": "x"}))
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "User not found");
    let root_id = root.id;
    let r = app
        .post("/api/auth/admin/force-logout/")
        .bearer(&admin.access)
        .json(&json!({"user_id": root_id, "reason": "x"}))
        .send()
        .await;
    r.assert_status(403);
    assert_eq!(r.json["detail"], "Cannot force logout a superuser");

    let r = app
        .post("/api/auth/admin/force-logout/")
        .bearer(&admin.access)
        .json(&json!({"user_id": user.id, "reason": "Lost phone reported"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["message"],
        format!("Force logged out {}", user.email)
    );
    assert_eq!(r.json["sessions_terminated"], 2);
    assert_eq!(r.json["reason"], "Lost phone reported");
    for dead in [&user, &second] {
        app.get("/api/users/me/")
            .bearer(&dead.access)
            .send()
            .await
            .assert_status(401);
        assert_eq!(refresh(&app, &dead.refresh).await.status, 401);
    }
    app.get("/api/users/me/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(200);
    let rows = app.audit_rows("User", user.id).await;
    let last = rows.last().unwrap();
    assert_eq!(
        last.actor_id.as_deref(),
        Some(admin.id.to_string().as_str())
    );
    assert_eq!(last.changes.as_ref().unwrap()["sessions_terminated"], 2);
    assert_eq!(
        last.changes.as_ref().unwrap()["reason"],
        "Lost phone reported"
    );
    let r = app
        .get(&format!(
            "/api/auth/admin/sessions/?user_email={}&active_only=true",
            user.email
        ))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
});

db_test!(long_ended_sessions_are_forgotten, |app| {
    use pss::entities::session;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let me = app.candidate().await;
    let laptop = app.sign_in(&me.email, PASSWORD).await;
    let phone = app.sign_in(&me.email, PASSWORD).await;
    let list = sessions(&app, &laptop).await;
    let laptop_id = current_id(&list);
    let phone_id = current_id(&sessions(&app, &phone).await);
    app.delete("/api/auth/sessions/all-except-current/")
        .bearer(&laptop.access)
        .send()
        .await
        .assert_status(200);
    // The phone's session ended 91 days ago; the registration's just now.
    let long_ago = chrono::Utc::now() - chrono::TimeDelta::days(91);
    session::Entity::update_many()
        .col_expr(session::Column::TerminatedAt, Expr::value(long_ago))
        .filter(session::Column::Id.eq(phone_id))
        .exec(&app.state.db)
        .await
        .unwrap();

    pss::purge_stale(&app.state.db).await.unwrap();
    let left: Vec<i64> = session::Entity::find()
        .filter(session::Column::UserId.eq(me.id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(!left.contains(&phone_id));
    assert!(left.contains(&laptop_id));
    assert_eq!(
        left.len(),
        2,
        "the recently ended registration session stays"
    );
    app.get("/api/auth/me/")
        .bearer(&laptop.access)
        .send()
        .await
        .assert_status(200);
});
