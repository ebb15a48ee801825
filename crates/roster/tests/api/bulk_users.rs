//! Bulk registration from XLSX and CSV files (contract §1): the template,
//! all-or-nothing uploads with a per-row report, dry runs, invitations and
//! class group placement, and who may upload.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::common::*;

const HEADER: &str = "email,first_name,last_name,role,gender,phone,id_number,admission_number,staff_number,department_code,class_group";

/// An XLSX workbook written the way a user's spreadsheet program would,
/// columns in another order than the template's.
fn workbook(rows: &[[&str; 6]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, title) in [
        "Role",
        "EMAIL",
        " First Name ",
        "last_name",
        "class_group",
        "Phone",
    ]
    .iter()
    .enumerate()
    {
        sheet
            .write_string(0, u16::try_from(col).unwrap(), *title)
            .unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r).unwrap() + 1;
        for (col, value) in row.iter().enumerate() {
            let col = u16::try_from(col).unwrap();
            if col == 5 && !value.is_empty() {
                sheet
                    .write_number(r, col, value.parse::<f64>().unwrap())
                    .unwrap();
            } else {
                sheet.write_string(r, col, *value).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

async fn upload(
    app: &TestApp,
    who: &Actor,
    filename: &str,
    bytes: &[u8],
    query: &str,
) -> kernel::testing::TestResponse {
    let (content_type, body) = multipart_file(filename, bytes);
    app.post(&format!("/api/users/bulk-upload/{query}"))
        .bearer(&who.access)
        .raw(&content_type, body)
        .send()
        .await
}

async fn user_count(app: &TestApp) -> usize {
    roster::entities::user::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .len()
}

db_test!(templates_for_admin_and_hod, |app| {
    let f = app.dept_fixture("ICT", "CS-1A").await;
    let csv = app
        .get("/api/users/bulk-template/?format=csv")
        .bearer(&f.admin.access)
        .send()
        .await;
    csv.assert_status(200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .contains("users-template.csv")
    );
    assert!(String::from_utf8_lossy(&csv.body).starts_with(HEADER));
    let xlsx = app
        .get("/api/users/bulk-template/")
        .bearer(&f.hod.access)
        .send()
        .await;
    xlsx.assert_status(200);
    assert!(
        xlsx.header("content-type")
            .unwrap()
            .contains("spreadsheetml")
    );
    app.get("/api/users/bulk-template/?format=pdf")
        .bearer(&f.admin.access)
        .send()
        .await
        .assert_status(400);
    app.get("/api/users/bulk-template/")
        .bearer(&f.trainer.access)
        .send()
        .await
        .assert_status(403);
    app.get("/api/users/bulk-template/")
        .send()
        .await
        .assert_status(401);
});

db_test!(csv_upload_creates_invites_and_places_trainees, |app| {
    let (node, sink) = mailing(&app).await;
    let f = node.dept_fixture("ICT", "CS-1A").await;
    let csv = format!(
        "{HEADER}\r\nann@example.org,Ann,One,trainee,female,+254700000001,,ADM-1,,ICT,CS-1A\r\n\r\n\"ben@example.org\",Ben,\"Two, Jr\",TRAINER,,,,,ST-2,ICT,\r\n"
    );
    let r = upload(&node, &f.admin, "people.csv", csv.as_bytes(), "").await;
    r.assert_status(201);
    assert_eq!(r.json["created"], 2);
    assert_eq!(r.json["rows"][0]["row"], 2);
    assert_eq!(r.json["rows"][1]["row"], 4);
    assert_eq!(r.json["rows"][1]["status"], "created");
    let ann = id_of(&r.json["rows"][0]);
    let ben = id_of(&r.json["rows"][1]);
    let members = roster::entities::class_group_trainee::Entity::find()
        .filter(roster::entities::class_group_trainee::Column::TraineeId.eq(ann))
        .all(node.db())
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].class_group_id, f.class_group);
    let shown = node
        .get(&format!("/api/users/{ben}/"))
        .bearer(&f.admin.access)
        .send()
        .await;
    assert_eq!(shown.json["last_name"], "Two, Jr");
    assert_eq!(shown.json["profile"]["departments"], json!([f.department]));
    let messages = deliver(&node, &sink, 2).await;
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.contains("set-password")));
    // One audit row for the upload.
    let audit = node
        .get("/api/audit-logs/?action=bulk_create")
        .bearer(&f.admin.access)
        .send()
        .await;
    assert_eq!(audit.json["count"], 1);
});

db_test!(xlsx_with_bad_rows_writes_nothing, |app| {
    let f = app.dept_fixture("ICT", "CS-1A").await;
    let taken = app.user("trainee").await;
    let before = user_count(&app).await;
    let file = workbook(&[
        [
            "trainee",
            "new1@example.org",
            "New",
            "One",
            "CS-1A",
            "254700000002",
        ],
        ["trainee", "NEW1@example.org", "Dup", "Two", "CS-1A", ""],
        ["wizard", "new3@example.org", "Bad", "Role", "", ""],
        ["trainee", &taken.email, "Taken", "Email", "", ""],
        ["trainee", "new5@example.org", "No", "Group", "Nowhere", ""],
        ["trainee", "new6@example.org", "", "Blank", "", ""],
    ]);
    let r = upload(&app, &f.admin, "people.xlsx", &file, "").await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "5 rows have errors; no user was created.");
    let rows = r.json["rows"].as_array().unwrap();
    let numbers: Vec<i64> = rows.iter().map(|r| r["row"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 4, 5, 6, 7]);
    assert_eq!(rows[0]["email"], "NEW1@example.org");
    assert!(rows[0]["errors"]["email"].is_array());
    assert!(rows[1]["errors"]["role"].is_array());
    assert!(rows[2]["errors"]["email"].is_array());
    assert!(rows[3]["errors"]["class_group"].is_array());
    assert!(rows[4]["errors"]["first_name"].is_array());
    assert_eq!(rows[0]["status"], "error");
    assert_eq!(user_count(&app).await, before);
    // The good row alone goes through, its phone read from a number cell.
    let ok = upload(
        &app,
        &f.admin,
        "people.xlsx",
        &workbook(&[[
            "trainee",
            "new1@example.org",
            "New",
            "One",
            "CS-1A",
            "254700000002",
        ]]),
        "",
    )
    .await;
    ok.assert_status(201);
    let shown = app
        .get(&format!("/api/users/{}/", id_of(&ok.json["rows"][0])))
        .bearer(&f.admin.access)
        .send()
        .await;
    assert_eq!(shown.json["phone"], "254700000002");
});

db_test!(dry_run_and_bad_files_write_nothing, |app| {
    let f = app.dept_fixture("ICT", "CS-1A").await;
    let before = user_count(&app).await;
    let csv = format!("{HEADER}\nd@example.org,D,R,trainee,,,,,,,CS-1A\n");
    let dry = upload(&app, &f.admin, "a.csv", csv.as_bytes(), "?dry_run=true").await;
    dry.assert_status(200);
    assert_eq!(dry.json["created"], 0);
    assert_eq!(dry.json["rows"][0]["status"], "valid");
    assert_eq!(user_count(&app).await, before);
    upload(&app, &f.admin, "a.csv", csv.as_bytes(), "?dry_run=maybe")
        .await
        .assert_status(400);
    for (name, bytes) in [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00binary".to_vec()),
        ("fake.xlsx", b"PK\x03\x04not really a zip".to_vec()),
        ("empty.csv", Vec::new()),
        ("header-only.csv", format!("{HEADER}\n").into_bytes()),
        (
            "missing-columns.csv",
            b"email,role\nx@example.org,trainee\n".to_vec(),
        ),
        ("big.csv", vec![b'a'; 5 * 1024 * 1024 + 1]),
    ] {
        let r = upload(&app, &f.admin, name, &bytes, "").await;
        r.assert_status(400);
        assert!(r.json["file"].is_array(), "{name}: {}", r.json);
    }
    let none = app
        .post("/api/users/bulk-upload/")
        .bearer(&f.admin.access)
        .json(&json!({}))
        .send()
        .await;
    none.assert_status(400);
    assert!(none.json["file"].is_array());
    assert_eq!(user_count(&app).await, before);
});

db_test!(hod_uploads_only_for_own_department, |app| {
    let f = app.dept_fixture("ICT", "CS-1A").await;
    let other = app.department(&f.admin, "OTH", None, &[]).await;
    let _ = other;
    let before = user_count(&app).await;
    let csv = format!(
        "{HEADER}\nh1@example.org,H,One,hod,,,,,,,\nh2@example.org,H,Two,trainer,,,,,,OTH,\nh3@example.org,H,Three,trainee,,,,,,,\n"
    );
    let r = upload(&app, &f.hod, "x.csv", csv.as_bytes(), "").await;
    r.assert_status(400);
    let rows = r.json["rows"].as_array().unwrap();
    assert!(rows[0]["errors"]["role"].is_array());
    assert!(rows[1]["errors"]["department_code"].is_array());
    assert!(rows[2]["errors"]["class_group"].is_array());
    assert_eq!(user_count(&app).await, before);
    let good = format!(
        "{HEADER}\nh4@example.org,H,Four,trainer,,,,,,,\nh5@example.org,H,Five,trainee,,,,,,,CS-1A\n"
    );
    let ok = upload(&app, &f.hod, "x.csv", good.as_bytes(), "").await;
    ok.assert_status(201);
    let trainer = app
        .get(&format!("/api/users/{}/", id_of(&ok.json["rows"][0])))
        .bearer(&f.hod.access)
        .send()
        .await;
    trainer.assert_status(200);
    assert_eq!(
        trainer.json["profile"]["departments"],
        json!([f.department])
    );
    upload(&app, &f.trainer, "x.csv", good.as_bytes(), "")
        .await
        .assert_status(403);
});
