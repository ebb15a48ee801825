//! `/api/departments/` (spec §3.5).

use crate::common::*;

fn office(code: &str, order: i64) -> Value {
    json!({"name": format!("{code} Office"), "code": code, "department_type": "library", "head_email": "head@mksu.ac.ke", "approval_order": order, "description": "Books and fines"})
}

db_test!(admins_create_and_everyone_reads, |app| {
    let admin = app.admin().await;
    let staff = app.user(&admin, "department_staff", None).await;
    let r = app.post("/api/departments/").bearer(&admin.access).json(&json!({"name": "Finance", "code": "fin", "department_type": "finance", "head_email": "FIN@MKSU.ac.ke"})).send().await;
    r.assert_status(201);
    assert_eq!(r.json["code"], "FIN", "codes are upper-cased");
    assert_eq!(r.json["approval_order"], 0);
    assert_eq!(r.json["is_active"], true);
    assert_eq!(r.json["description"], "");
    assert_eq!(r.json["head_email"], "fin@mksu.ac.ke");
    let fin = r.json["id"].as_str().unwrap().to_owned();
    app.post("/api/departments/")
        .bearer(&admin.access)
        .json(&office("LIB", 2))
        .send()
        .await
        .assert_status(201);
    app.post("/api/departments/")
        .bearer(&admin.access)
        .json(&office("HOS", 1))
        .send()
        .await
        .assert_status(201);

    let r = app
        .get("/api/departments/")
        .bearer(&staff.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 3);
    let codes: Vec<&str> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["FIN", "HOS", "LIB"],
        "ordered by approval order, then name"
    );
    let r = app
        .get("/api/departments/?ordering=-code")
        .bearer(&staff.access)
        .send()
        .await;
    let codes: Vec<&str> = r.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["LIB", "HOS", "FIN"]);
    let r = app
        .get("/api/departments/?department_type=finance")
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/departments/?search=hos")
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get(&format!("/api/departments/{fin}/"))
        .bearer(&staff.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["name"], "Finance");
});

db_test!(only_admins_write, |app| {
    let admin = app.admin().await;
    let staff = app.user(&admin, "department_staff", None).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let id = app.department(&admin, "MESS", 1).await;
    for actor in [&staff, &student] {
        let r = app
            .post("/api/departments/")
            .bearer(&actor.access)
            .json(&office("X", 1))
            .send()
            .await;
        r.assert_status(403);
        assert_eq!(
            r.json["detail"],
            "Only administrators can modify this resource."
        );
        app.patch(&format!("/api/departments/{id}/"))
            .bearer(&actor.access)
            .json(&json!({"name": "Y"}))
            .send()
            .await
            .assert_status(403);
        app.delete(&format!("/api/departments/{id}/"))
            .bearer(&actor.access)
            .send()
            .await
            .assert_status(403);
    }
    app.get("/api/departments/").send().await.assert_status(401);
    let r = app
        .get(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json["name"], "MESS Office",
        "refused writes changed nothing"
    );
});

db_test!(updates_and_deletes, |app| {
    let admin = app.admin().await;
    let id = app.department(&admin, "SPO", 3).await;
    let r = app
        .patch(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"is_active": false, "approval_order": 0}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["is_active"], false);
    assert_eq!(r.json["approval_order"], 0);
    assert_eq!(r.json["code"], "SPO");
    let r = app
        .put(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"name": "Sports"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["code"], json!(["This field is required."]));
    let mut full = office("SPORT", 4);
    full["department_type"] = json!("sports");
    let r = app
        .put(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .json(&full)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["code"], "SPORT");
    let r = app
        .get("/api/departments/?is_active=false")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json["count"], 1,
        "a PUT leaves the omitted is_active as it was, as DRF skips it"
    );

    // Staff of a deleted office simply lose it.
    let staff = app.user(&admin, "department_staff", Some(&id)).await;
    app.delete(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/departments/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .get("/api/auth/profile/")
        .bearer(&staff.access)
        .send()
        .await;
    assert_eq!(r.json["department"], Value::Null);
});

db_test!(department_input_is_validated, |app| {
    let admin = app.admin().await;
    app.department(&admin, "FIN", 1).await;
    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"name": "", "code": "fin", "department_type": "casino", "head_email": "nope", "approval_order": -1}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({
            "name": ["This field may not be blank."],
            "code": ["Department with this code already exists."],
            "department_type": ["\"casino\" is not a valid choice."],
            "head_email": ["Enter a valid email address."],
            "approval_order": ["Ensure this value is greater than or equal to 0."],
        })
    );
    let r = app
        .post("/api/departments/")
        .bearer(&admin.access)
        .json(&json!({"approval_order": "first"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"approval_order": ["A valid integer is required."]})
    );
    let r = app.post("/api/departments/").bearer(&admin.access).json(&json!({"code": "X".repeat(21), "name": "n", "department_type": "other", "head_email": "a@b.org"})).send().await;
    assert_eq!(
        r.json["code"],
        json!(["Ensure this field has no more than 20 characters."])
    );
    let r = app
        .get("/api/departments/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1, "nothing was written");
    app.get("/api/departments/12345/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .get(&format!("/api/departments/{}/", Uuid::new_v4()))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "No Department matches the given query.");
});

db_test!(pagination_is_drf_shaped, |app| {
    let admin = app.admin().await;
    for i in 0..25 {
        app.department(&admin, &format!("D{i:02}"), i).await;
    }
    let r = app
        .get("/api/departments/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 25);
    assert_eq!(r.json["results"].as_array().unwrap().len(), 20);
    assert_eq!(r.json["previous"], Value::Null);
    assert_eq!(r.json["next"], "http://localhost/api/departments/?page=2");
    let r = app
        .get("/api/departments/?page=2")
        .header("host", "api.mksu.ac.ke")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"].as_array().unwrap().len(), 5);
    assert_eq!(r.json["next"], Value::Null);
    assert_eq!(r.json["previous"], "http://api.mksu.ac.ke/api/departments/");
    let r = app
        .get("/api/departments/?page_size=10&page=3&ordering=-approval_order")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"].as_array().unwrap().len(), 5);
    assert_eq!(r.json["results"][0]["code"], "D04");
    let r = app
        .get("/api/departments/?page_size=1000")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json["results"].as_array().unwrap().len(),
        25,
        "capped at 100, which is more than 25"
    );
    for bad in ["3", "0", "-1", "abc"] {
        let r = app
            .get(&format!("/api/departments/?page={bad}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(404);
        assert_eq!(r.json["detail"], "Invalid page.");
    }
    let r = app
        .get("/api/departments/?page=last")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"].as_array().unwrap().len(), 5);
});

db_test!(workflow_staff_and_statistics_views, |app| {
    let admin = app.admin().await;
    let fac = app.office(&admin, "FAC", 2, "faculty").await;
    let lib = app.office(&admin, "LIB", 1, "library").await;
    let off = app.office(&admin, "OFF", 0, "other").await;
    app.patch(&format!("/api/departments/{off}/"))
        .bearer(&admin.access)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .assert_status(200);
    let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;

    let r = app
        .get("/api/departments/approval_workflow/")
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["total_steps"], 2,
        "inactive offices are not part of the workflow"
    );
    assert_eq!(r.json["workflow"][0]["code"], "LIB");
    assert_eq!(r.json["workflow"][0]["order"], 1);
    assert_eq!(r.json["workflow"][1]["type"], "faculty");
    assert_eq!(r.json["workflow"][1]["contact"], "head@mksu.ac.ke");
    let r = app
        .get("/api/departments/academic/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["id"], fac.as_str());
    let r = app
        .get("/api/departments/administrative/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);

    let r = app
        .get(&format!("/api/departments/{lib}/staff/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    assert_eq!(r.json[0]["email"], librarian.email.as_str());
    app.get(&format!("/api/departments/{lib}/staff/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(403);
    app.get(&format!("/api/departments/{}/staff/", Uuid::new_v4()))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);

    let clearance = app.submit(&student).await;
    let approval = app.approval_of(&admin, &clearance, &lib).await;
    app.post(&format!("/api/approvals/{approval}/reject/"))
        .bearer(&librarian.access)
        .json(&json!({"rejection_reason": "Fine"}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .get(&format!("/api/departments/{lib}/statistics/"))
        .bearer(&librarian.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["department"]["code"], "LIB");
    assert_eq!(
        r.json["statistics"],
        json!({"total_approvals": 1, "pending_approvals": 0, "approved_count": 0, "rejected_count": 1, "approval_rate": 0.0})
    );
    app.get(&format!("/api/departments/{lib}/statistics/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(403);
    app.get("/api/departments/approval_workflow/")
        .send()
        .await
        .assert_status(401);
});
