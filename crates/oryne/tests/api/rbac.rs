//! Roles as data: the catalogue, system roles, custom roles, no escalation,
//! permissions read at check time, plan limits and audit rows.

use super::common::*;

db_test!(system_roles_are_seeded_and_guarded, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let r = app
        .at(&alpha, "GET", "/api/v1/permissions/")
        .bearer(admin)
        .send()
        .await;
    r.assert_status(200);
    let codes: Vec<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    for code in [
        "students:read",
        "students:read:own",
        "students:read:children",
        "students:read:class",
        "attendance:mark",
        "tenant:manage",
        "audit:read",
    ] {
        assert!(codes.contains(&code), "{code}");
    }
    assert!(
        r.json.get("meta").is_some() && r.json["meta"].get("pagination").is_none(),
        "unpaginated"
    );
    let r = app
        .at(&alpha, "GET", "/api/v1/roles/")
        .bearer(admin)
        .send()
        .await;
    let names: Vec<&str> = r.json["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["TenantAdmin", "Teacher", "Student", "Parent", "Staff"]
    );
    let teacher = r.json["data"][1]["id"].as_i64().unwrap();
    let tenant_admin = r.json["data"][0]["id"].as_i64().unwrap();
    let r = app
        .at(&alpha, "DELETE", &format!("/api/v1/roles/{teacher}/"))
        .bearer(admin)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/roles/{teacher}/"))
        .bearer(admin)
        .json(&json!({"name": "Tutor"}))
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/roles/{tenant_admin}/"))
        .bearer(admin)
        .json(&json!({"permissions": []}))
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    // A system role's permissions may be edited.
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/roles/{teacher}/"))
        .bearer(admin)
        .json(&json!({"permissions": ["students:read:class", "timetable:read"]}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["data"]["permissions"],
        json!(["students:read:class", "timetable:read"])
    );
    // The last TenantAdmin stays.
    let r = app
        .at(
            &alpha,
            "PATCH",
            &format!("/api/v1/users/{}/", alpha.admin.id),
        )
        .bearer(admin)
        .json(&json!({"roles": ["Staff"]}))
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = app
        .at(
            &alpha,
            "PATCH",
            &format!("/api/v1/users/{}/", alpha.admin.id),
        )
        .bearer(admin)
        .json(&json!({"is_active": false}))
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    let r = app
        .at(
            &alpha,
            "DELETE",
            &format!("/api/v1/users/{}/", alpha.admin.id),
        )
        .bearer(admin)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
});

db_test!(custom_roles_grant_only_what_their_maker_holds, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let r = app.at(&alpha, "POST", "/api/v1/roles/").bearer(admin)
        .json(&json!({"name": "Registrar", "description": "Front office", "permissions": ["users:read", "users:write", "roles:read", "roles:write", "users:read"]})).send().await;
    r.assert_status(201);
    let registrar_role = r.json["data"]["id"].as_i64().unwrap();
    assert_eq!(
        r.json["data"]["permissions"],
        json!(["roles:read", "roles:write", "users:read", "users:write"])
    );
    let r = app
        .at(&alpha, "POST", "/api/v1/roles/")
        .bearer(admin)
        .json(&json!({"name": "Bad", "permissions": ["students:fly"]}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["permissions"].is_array());
    let r = app
        .at(&alpha, "POST", "/api/v1/roles/")
        .bearer(admin)
        .json(&json!({"name": "Registrar", "permissions": []}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let registrar = app.member(&alpha, "reg@alpha.test", &["Registrar"]).await;
    // No escalation: a role with a permission the registrar lacks, or granting TenantAdmin.
    let r = app
        .at(&alpha, "POST", "/api/v1/roles/")
        .bearer(&registrar.access)
        .json(&json!({"name": "Cashier", "permissions": ["fees:refund"]}))
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app.at(&alpha, "POST", "/api/v1/users/").bearer(&registrar.access)
        .json(&json!({"email": "boss@alpha.test", "first_name": "B", "last_name": "B", "roles": ["TenantAdmin"]})).send().await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app.at(&alpha, "POST", "/api/v1/users/").bearer(&registrar.access)
        .json(&json!({"email": "clerk@alpha.test", "first_name": "C", "last_name": "Clerk", "roles": ["Registrar"], "is_superuser": true})).send().await;
    r.assert_status(201);
    assert_eq!(r.json["data"]["is_superuser"], false);
    let r = app.at(&alpha, "POST", "/api/v1/users/").bearer(&registrar.access)
        .json(&json!({"email": "x@alpha.test", "first_name": "X", "last_name": "X", "roles": ["Wizard"]})).send().await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    assert!(r.json["error"]["details"]["roles"].is_array());
    // Permissions are read at check time: revoking applies to a live token.
    app.at(&alpha, "GET", "/api/v1/users/")
        .bearer(&registrar.access)
        .send()
        .await
        .assert_status(200);
    app.at(&alpha, "PATCH", &format!("/api/v1/roles/{registrar_role}/"))
        .bearer(admin)
        .json(&json!({"permissions": ["roles:read"]}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .at(&alpha, "GET", "/api/v1/users/")
        .bearer(&registrar.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    // A role in use cannot be deleted.
    let r = app
        .at(
            &alpha,
            "DELETE",
            &format!("/api/v1/roles/{registrar_role}/"),
        )
        .bearer(admin)
        .send()
        .await;
    assert_error(&r, 409, "ERR_CONFLICT_01");
    // A role with no holders can; a renamed custom role follows its holders.
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/roles/{registrar_role}/"))
        .bearer(admin)
        .json(&json!({"name": "Front Office"}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .at(&alpha, "GET", &format!("/api/v1/users/{}/", registrar.id))
        .bearer(admin)
        .send()
        .await;
    assert_eq!(r.json["data"]["roles"], json!(["Front Office"]));
    // Every write left its audit row, readable with audit:read.
    let r = app
        .at(&alpha, "GET", "/api/v1/audit-logs/?resource_type=Role")
        .bearer(admin)
        .send()
        .await;
    r.assert_status(200);
    assert!(r.json["meta"]["pagination"]["total"].as_u64().unwrap() >= 3);
    let r = app
        .at(&alpha, "GET", "/api/v1/audit-logs/?action=login")
        .bearer(admin)
        .send()
        .await;
    assert!(r.json["meta"]["pagination"]["total"].as_u64().unwrap() >= 2);
    assert!(!r.json.to_string().contains("pbkdf2") && !r.json.to_string().contains("argon2"));
    let r = app
        .at(&alpha, "GET", "/api/v1/audit-logs/")
        .bearer(&registrar.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "GET", "/api/v1/audit-logs/?from=yesterday")
        .bearer(admin)
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
});

db_test!(plan_limits_hold_new_users, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    app.patch(&format!("/api/v1/tenants/{}/", alpha.id))
        .bearer(&root.access)
        .json(&json!({"max_users": 2}))
        .send()
        .await
        .assert_status(200);
    app.member(&alpha, "one@alpha.test", &["Staff"]).await;
    let r = app.at(&alpha, "POST", "/api/v1/users/").bearer(&alpha.admin.access)
        .json(&json!({"email": "two@alpha.test", "first_name": "T", "last_name": "T", "roles": ["Staff"]})).send().await;
    assert_error(&r, 403, "ERR_TENANT_03");
    let r = app
        .at(
            &alpha,
            "GET",
            "/api/v1/users/?is_active=true&role=Staff&search=one",
        )
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let r = app
        .at(&alpha, "GET", "/api/v1/users/?is_active=maybe")
        .bearer(&alpha.admin.access)
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
});

db_test!(users_are_managed_and_deactivation_ends_tokens, |app| {
    let root = app.platform_admin().await;
    let alpha = app.school(&root, "alpha").await;
    let admin = &alpha.admin.access;
    let staff = app.member(&alpha, "office@alpha.test", &["Staff"]).await;
    let teacher = app.member(&alpha, "teach@alpha.test", &["Teacher"]).await;
    // Staff read users; a teacher reads only themself.
    app.at(&alpha, "GET", "/api/v1/users/")
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .at(&alpha, "GET", "/api/v1/users/")
        .bearer(&teacher.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    app.at(&alpha, "GET", &format!("/api/v1/users/{}/", teacher.id))
        .bearer(&teacher.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .at(&alpha, "GET", &format!("/api/v1/users/{}/", staff.id))
        .bearer(&teacher.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "GET", "/api/v1/users/999/")
        .bearer(admin)
        .send()
        .await;
    assert_error(&r, 404, "ERR_NOT_FOUND_01");
    // PUT replaces names and phone; PATCH changes roles and activity.
    let r = app
        .at(&alpha, "PUT", &format!("/api/v1/users/{}/", teacher.id))
        .bearer(admin)
        .json(&json!({"first_name": "Tess", "last_name": "Teacher", "phone": "0711"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["full_name"], "Tess Teacher");
    let r = app
        .at(&alpha, "PUT", &format!("/api/v1/users/{}/", teacher.id))
        .bearer(admin)
        .json(&json!({"first_name": ""}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/users/{}/", teacher.id))
        .bearer(&staff.access)
        .json(&json!({"roles": ["Teacher", "Staff"]}))
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "PATCH", &format!("/api/v1/users/{}/", teacher.id))
        .bearer(admin)
        .json(&json!({"roles": ["Teacher", "Staff"], "profile_data": {"bio": "x"}}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["roles"], json!(["Staff", "Teacher"]));
    // Deactivation ends the user's tokens; activation brings the account back.
    app.at(&alpha, "DELETE", &format!("/api/v1/users/{}/", teacher.id))
        .bearer(admin)
        .send()
        .await
        .assert_status(204);
    let r = app
        .at(&alpha, "GET", "/api/v1/auth/profile/")
        .bearer(&teacher.access)
        .send()
        .await;
    assert_eq!(r.status.as_u16(), 401);
    let r = app
        .at(&alpha, "DELETE", &format!("/api/v1/users/{}/", teacher.id))
        .bearer(&staff.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(
            &alpha,
            "POST",
            &format!("/api/v1/users/{}/activate/", teacher.id),
        )
        .bearer(admin)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["data"]["is_active"], true);
    app.login("alpha", "teach@alpha.test", PASSWORD).await;
    // The school's settings belong to tenant:manage holders.
    let r = app
        .at(&alpha, "PATCH", "/api/v1/tenant/")
        .bearer(&staff.access)
        .json(&json!({"settings": {}}))
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
    let r = app
        .at(&alpha, "PATCH", "/api/v1/tenant/")
        .bearer(admin)
        .json(&json!({"settings": "x", "admin_phone": "1".repeat(30)}))
        .send()
        .await;
    assert_error(&r, 400, "ERR_VALIDATION_01");
    let r = app
        .at(&alpha, "PATCH", "/api/v1/tenant/")
        .bearer(admin)
        .json(&json!({"admin_phone": "0700", "name": "Renamed"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["data"]["name"], "alpha school",
        "name is the platform's to change"
    );
    let r = app
        .at(&alpha, "GET", "/api/v1/audit-logs/?resource_type=Tenant")
        .bearer(admin)
        .send()
        .await;
    assert_eq!(r.json["meta"]["pagination"]["total"], 1);
    let id = r.json["data"][0]["id"].as_i64().unwrap();
    app.at(&alpha, "GET", &format!("/api/v1/audit-logs/{id}/"))
        .bearer(admin)
        .send()
        .await
        .assert_status(200);
    let r = app
        .at(&alpha, "GET", &format!("/api/v1/audit-logs/{id}/"))
        .bearer(&staff.access)
        .send()
        .await;
    assert_error(&r, 403, "ERR_PERM_01");
});
