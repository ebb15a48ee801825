//! The OpenAPI document says what the server does: the fields it refuses
//! null or blank for, the answers of lists, each input's own schema.
//! `.ci/schemathesis.sh` checks the same at large.

use crate::common::*;

fn document() -> Value {
    serde_json::to_value(clearance::openapi()).unwrap()
}

fn request_schema(document: &Value, method: &str, path: &str) -> String {
    document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("#/components/schemas/")
        .to_owned()
}

#[test]
fn the_document_keeps_the_kernels_promises() {
    assert_eq!(
        kernel::docs::lint(&clearance::openapi()),
        Vec::<String>::new()
    );
}

#[test]
fn schools_departments_and_courses_each_have_their_own_input() {
    let doc = document();
    for (path, name, required, absent) in [
        (
            "/api/academics/schools/",
            "SchoolIn",
            json!(["name", "code"]),
            "department",
        ),
        (
            "/api/academics/departments/",
            "AcademicDepartmentIn",
            json!(["school", "name", "code"]),
            "duration_years",
        ),
        (
            "/api/academics/courses/",
            "CourseIn",
            json!(["department", "name", "code"]),
            "email",
        ),
    ] {
        assert_eq!(request_schema(&doc, "post", path), name);
        let schema = &doc["components"]["schemas"][name];
        assert_eq!(schema["required"], required, "{name}");
        assert!(
            schema["properties"].get(absent).is_none(),
            "{name} has no {absent}"
        );
    }
    let course = &doc["components"]["schemas"]["CourseIn"]["properties"];
    assert_eq!(course["duration_years"]["minimum"], 1);
    assert_eq!(course["duration_years"]["maximum"], 10);
    assert_eq!(course["code"]["maxLength"], 20);
}

#[test]
fn updates_document_what_they_take() {
    let doc = document();
    // A PATCH takes any of PUT's fields; PUT needs no password.
    assert_eq!(
        request_schema(&doc, "put", "/api/users/{id}/"),
        "UserUpdateIn"
    );
    assert_eq!(
        request_schema(&doc, "patch", "/api/users/{id}/"),
        "PatchedUserUpdateIn"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["UserIn"]["required"],
        json!(["email", "full_name", "password", "role"])
    );
    assert_eq!(
        schemas["UserUpdateIn"]["required"],
        json!(["email", "full_name", "role"])
    );
    assert!(schemas["PatchedUserUpdateIn"].get("required").is_none());
    // Notes may be blank, never null.
    assert_eq!(
        schemas["FinanceRecordIn"]["properties"]["notes"]["type"],
        "string"
    );
    assert_eq!(
        schemas["PaymentIn"]["properties"]["notes"]["type"],
        "string"
    );
}

db_test!(academic_inputs_are_what_the_document_says, |app| {
    let admin = app.admin().await;
    // A school's address may be null (documented nullable) but not blank.
    let r = app
        .post("/api/academics/schools/")
        .bearer(&admin.access)
        .json(&json!({"name": "Engineering", "code": "sen", "email": null}))
        .send()
        .await;
    r.assert_status(201);
    let school = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/academics/schools/")
        .bearer(&admin.access)
        .json(&json!({"name": "Science", "code": "ssc", "email": ""}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"email": ["This field may not be blank."]}));
    let r = app
        .post("/api/academics/departments/")
        .bearer(&admin.access)
        .json(&json!({"school": school, "name": "Computing", "code": "cs"}))
        .send()
        .await;
    r.assert_status(201);
    let department = r.json["id"].as_str().unwrap().to_owned();
    // A course has no address: one sent is not its field and is ignored; a
    // whole float is an integer, as in JSON Schema and DRF.
    let r = app
        .post("/api/academics/courses/")
        .bearer(&admin.access)
        .json(&json!({"department": department, "name": "BSc CS", "code": "bcs", "email": "nonsense", "duration_years": 3.0}))
        .send()
        .await;
    r.assert_status(201);
    assert_eq!(r.json["duration_years"], 3);
    let r = app
        .post("/api/academics/courses/")
        .bearer(&admin.access)
        .json(&json!({"department": department, "name": "BSc IT", "code": "bit", "duration_years": 3.5}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"duration_years": ["A valid integer is required."]})
    );
    let r = app
        .get("/api/academics/courses/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1, "nothing half-written");
});

db_test!(notes_refuse_null_as_documented, |app| {
    let admin = app.admin().await;
    let (_, record) = app.student(&admin, "SCE/CS/0001/2024").await;
    let r = app
        .get(&format!("/api/finance/records/?student={record}"))
        .bearer(&admin.access)
        .send()
        .await;
    let id = r.json["results"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(&format!("/api/finance/records/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"notes": null}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"notes": ["This field may not be null."]}));
    let r = app
        .patch(&format!("/api/finance/records/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"notes": "", "tuition_balance": 1200.0}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["notes"], "");
    assert_eq!(r.json["tuition_balance"], "1200.00");
});

db_test!(lists_answer_what_they_document, |app| {
    let admin = app.admin().await;
    app.department(&admin, "LIB", 1).await;
    // Documented 404 for a page out of range, 400 for a malformed filter.
    let r = app
        .get("/api/departments/?page=0")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(404);
    assert_eq!(r.json["detail"], "Invalid page.");
    let r = app
        .get("/api/departments/?is_active=maybe")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"is_active": ["Enter a valid boolean."]}));
    // Documented `allowEmptyValue`: blank reads as absent; `last` is a page.
    let r = app
        .get("/api/departments/?is_active=&department_type=&page=last&page_size=abc")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["count"], 1);
    // Documented choices are the ones the filter takes.
    let doc = document();
    let types = doc["paths"]["/api/departments/"]["get"]["parameters"][0].clone();
    assert_eq!(types["name"], "department_type");
    for kind in types["schema"]["enum"].as_array().unwrap() {
        let url = format!(
            "/api/departments/?department_type={}",
            kind.as_str().unwrap()
        );
        app.get(&url)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);
    }
});

db_test!(mpesa_callbacks_read_whole_float_result_codes, |app| {
    let callback = |code: Value| json!({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_unknown", "ResultCode": code}}});
    let r = app
        .post("/api/finance/mpesa_callback/")
        .json(&callback(json!(0.0)))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json, json!({"ResultCode": 0, "ResultDesc": "Accepted"}));
    let r = app
        .post("/api/finance/mpesa_callback/")
        .json(&callback(json!(1.5)))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"ResultCode": 1, "ResultDesc": "Malformed callback"})
    );
});

db_test!(registration_numbers_take_ascii_digits_only, |app| {
    let admin = app.admin().await;
    let r = app
        .post("/api/students/")
        .bearer(&admin.access)
        .json(&json!({
            "email": "arabic@students.mksu.ac.ke", "full_name": "Stu Dent", "password": PASSWORD,
            "registration_number": "SCE/CS/\u{661}\u{662}\u{663}\u{664}/2024", "faculty": "Engineering",
            "program": "BSc", "graduation_year": 2026
        }))
        .send()
        .await;
    r.assert_status(400);
    assert!(r.json["registration_number"].is_array());
    let r = app.get("/api/users/").bearer(&admin.access).send().await;
    assert_eq!(r.json["count"], 1, "no account without its record");
});
