//! `/api/students/` (spec §3.2).

use crate::common::*;

fn new_student(email: &str, registration: &str) -> Value {
    json!({
        "email": email, "full_name": "Brian Otieno", "password": PASSWORD, "admission_number": "ADM/77",
        "registration_number": registration, "faculty": "Engineering", "program": "BSc Civil Engineering",
        "graduation_year": 2027
    })
}

db_test!(admin_creates_user_and_record_together, |app| {
    let admin = app.admin().await;
    let r = app
        .post("/api/students/")
        .bearer(&admin.access)
        .json(&new_student(
            "brian@students.mksu.ac.ke",
            "SCE/CE/0042/2023",
        ))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["registration_number"], "SCE/CE/0042/2023");
    assert_eq!(
        r.json["admission_year"], 2023,
        "taken from the registration number"
    );
    assert_eq!(r.json["eligibility_status"], "pending");
    assert_eq!(r.json["user"]["role"], "student");
    assert_eq!(r.json["user"]["email"], "brian@students.mksu.ac.ke");
    assert_eq!(r.json["school"], Value::Null);
    // The new student can sign in and see their own record.
    let student = app.sign_in("brian@students.mksu.ac.ke", PASSWORD).await;
    let me = app
        .get("/api/students/me/")
        .bearer(&student.access)
        .send()
        .await;
    me.assert_status(200);
    assert_eq!(me.json["id"], r.json["id"]);
});

db_test!(creation_is_all_or_nothing, |app| {
    let admin = app.admin().await;
    app.student(&admin, "SCE/CS/0001/2022").await;
    // The record's registration number is taken: no account may be left behind.
    let r = app
        .post("/api/students/")
        .bearer(&admin.access)
        .json(&new_student("orphan@mksu.ac.ke", "SCE/CS/0001/2022"))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"registration_number": ["Student with this registration number already exists."]})
    );
    app.post("/api/auth/token/")
        .json(&json!({"email": "orphan@mksu.ac.ke", "password": PASSWORD}))
        .send()
        .await
        .assert_status(401);
    let users = app
        .get("/api/users/?search=orphan")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(users.json["count"], 0);
});

db_test!(student_input_is_validated, |app| {
    let admin = app.admin().await;
    let r = app
        .post("/api/students/")
        .bearer(&admin.access)
        .json(&json!({"email": "x@mksu.ac.ke", "full_name": "X", "password": PASSWORD, "registration_number": "sce/cs/1/2024", "faculty": "F", "program": "P", "graduation_year": "soon"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"graduation_year": ["A valid integer is required."]})
    );
    let r = app
        .post("/api/students/")
        .bearer(&admin.access)
        .json(&json!({"email": "x@mksu.ac.ke", "full_name": "X", "password": PASSWORD, "registration_number": "sce/cs/1/2024", "faculty": "F", "graduation_year": 2020, "school": Uuid::new_v4(), "eligibility_status": "maybe"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["registration_number"],
        json!([
            "Registration number must follow format SCHOOL/DEPT/NNNN/YYYY (e.g., SCE/CS/0001/2024)"
        ])
    );
    assert_eq!(r.json["program"], json!(["This field is required."]));
    assert!(
        r.json["school"][0]
            .as_str()
            .unwrap()
            .starts_with("Invalid pk")
    );
    assert_eq!(
        r.json["eligibility_status"],
        json!(["\"maybe\" is not a valid choice."])
    );
    let mut body = new_student("early@mksu.ac.ke", "SCE/CS/0002/2024");
    body["graduation_year"] = json!(2020);
    let r = app
        .post("/api/students/")
        .bearer(&admin.access)
        .json(&body)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"graduation_year": ["Graduation year cannot be before the admission year."]})
    );
    let r = app.get("/api/students/").bearer(&admin.access).send().await;
    assert_eq!(r.json["count"], 0);
});

db_test!(students_see_only_themselves, |app| {
    let admin = app.admin().await;
    let (alice, alice_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (_bob, bob_id) = app.student(&admin, "SCE/CS/0002/2022").await;

    let r = app.get("/api/students/").bearer(&alice.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["id"], alice_id.as_str());
    app.get(&format!("/api/students/{alice_id}/"))
        .bearer(&alice.access)
        .send()
        .await
        .assert_status(200);
    let r = app
        .get(&format!("/api/students/{bob_id}/"))
        .bearer(&alice.access)
        .send()
        .await;
    r.assert_status(404);
    // Writes are administrators' (403 before any record is looked up).
    app.patch(&format!("/api/students/{bob_id}/"))
        .bearer(&alice.access)
        .json(&json!({"faculty": "Hacked"}))
        .send()
        .await
        .assert_status(403);
    app.delete(&format!("/api/students/{bob_id}/"))
        .bearer(&alice.access)
        .send()
        .await
        .assert_status(403);
    // Not even their own record is theirs to edit.
    let r = app
        .patch(&format!("/api/students/{alice_id}/"))
        .bearer(&alice.access)
        .json(&json!({"eligibility_status": "eligible"}))
        .send()
        .await;
    r.assert_status(403);
    app.post("/api/students/")
        .bearer(&alice.access)
        .json(&new_student("x@mksu.ac.ke", "SCE/CS/0009/2022"))
        .send()
        .await
        .assert_status(403);
    let r = app
        .get(&format!("/api/students/{alice_id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["eligibility_status"], "pending");
    app.get("/api/students/").send().await.assert_status(401);
});

db_test!(staff_read_every_record_but_write_none, |app| {
    let admin = app.admin().await;
    let staff = app.user(&admin, "department_staff", None).await;
    let (_s, id) = app.student(&admin, "SCE/CS/0001/2022").await;
    app.student(&admin, "EDU/AR/0005/2021").await;
    let r = app.get("/api/students/").bearer(&staff.access).send().await;
    assert_eq!(r.json["count"], 2);
    app.get(&format!("/api/students/{id}/"))
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(200);
    app.put(&format!("/api/students/{id}/"))
        .bearer(&staff.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(403);
    let r = app
        .get("/api/students/me/")
        .bearer(&staff.access)
        .send()
        .await;
    r.assert_status(403);
    assert_eq!(r.json["detail"], "Only students can access this endpoint");
});

db_test!(admin_updates_filters_and_deletes, |app| {
    let admin = app.admin().await;
    let (_s, id) = app.student(&admin, "SCE/CS/0001/2022").await;
    app.student(&admin, "EDU/AR/0005/2021").await;

    let r = app
        .patch(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"eligibility_status": "eligible", "registration_number": "SCE/CS/0001/2021"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["eligibility_status"], "eligible");
    assert_eq!(r.json["admission_year"], 2021);
    assert_eq!(r.json["faculty"], "Engineering");

    let r = app
        .get("/api/students/?eligibility_status=eligible")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/students/?admission_year=2021")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    let r = app
        .get("/api/students/?search=EDU/AR")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/students/?search=stu%20dent")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2, "search matches the user's name");
    let r = app
        .get("/api/students/?graduation_year=next")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .get("/api/students/?ordering=registration_number")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(
        r.json["results"][0]["registration_number"],
        "EDU/AR/0005/2021"
    );

    let r = app
        .put(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"faculty": "Science"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json["registration_number"],
        json!(["This field is required."])
    );

    app.delete(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    let r = app.get("/api/students/").bearer(&admin.access).send().await;
    assert_eq!(r.json["count"], 1);
});

db_test!(me_without_a_record_is_404, |app| {
    let r = app
        .post("/api/auth/register/")
        .json(&json!({"email": "new@mksu.ac.ke", "full_name": "New Student", "password": PASSWORD}))
        .send()
        .await;
    let access = r.json["access"].as_str().unwrap();
    let r = app.get("/api/students/me/").bearer(access).send().await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "Student record not found");
});

db_test!(eligible_list_and_clearance_status, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    let staff = app.user(&admin, "department_staff", Some(&lib)).await;
    let (student, id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (other, other_id) = app.student(&admin, "SCE/CS/0002/2022").await;

    let r = app
        .get(&format!("/api/students/{id}/clearance_status/"))
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "No clearance request submitted yet");
    assert_eq!(r.json["clearance_id"], Value::Null);
    let clearance = app.submit(&student).await;
    let approval = app.approval_of(&admin, &clearance, &lib).await;
    app.post(&format!("/api/approvals/{approval}/approve/"))
        .bearer(&staff.access)
        .json(&json!({"notes": "ok"}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .get(&format!("/api/students/{id}/clearance-status/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["clearance_id"], clearance.as_str());
    assert_eq!(r.json["status"], "completed");
    assert_eq!(r.json["completion_percentage"], 100.0);
    assert_eq!(r.json["approvals"][0]["department"], "LIB Office");
    assert!(r.json.get("message").is_none());
    app.get(&format!("/api/students/{id}/clearance_status/"))
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("/api/students/{other_id}/clearance_status/"))
        .bearer(&staff.access)
        .send()
        .await
        .assert_status(200);
    app.get(&format!("/api/students/{id}/clearance_status/"))
        .send()
        .await
        .assert_status(401);

    let r = app
        .get("/api/students/eligible/")
        .bearer(&staff.access)
        .send()
        .await;
    r.assert_status(200);
    let eligible = r.json.as_array().unwrap();
    assert_eq!(eligible.len(), 1);
    assert_eq!(eligible[0]["id"], id.as_str());
    app.get("/api/students/eligible/")
        .bearer(&student.access)
        .send()
        .await
        .assert_status(403);
});
