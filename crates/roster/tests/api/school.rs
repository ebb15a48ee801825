//! The school (contract §2): single instance, aliases, logo, coordinates.

use crate::common::*;

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

fn multipart(field: &str, filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    kernel::testing::Multipart::new()
        .file(field, filename, "application/octet-stream", bytes)
        .finish()
}

db_test!(school_is_a_single_instance, |app| {
    let admin = app.admin().await;
    let trainer = app.user("trainer").await;
    app.get("/api/school/").send().await.assert_status(401);
    let none = app.get("/api/school/").bearer(&trainer.access).send().await;
    none.assert_status(404);

    let denied = app
        .post("/api/school/")
        .bearer(&trainer.access)
        .json(&json!({"name": "Nope"}))
        .send()
        .await;
    denied.assert_status(403);

    let id = app.school(&admin).await;
    let r = app.get("/api/school/").bearer(&trainer.access).send().await;
    r.assert_status(200);
    assert_eq!(r.json["id"], id.to_string());
    assert_eq!(r.json["geofence_radius_m"], 200);
    assert_eq!(r.json["timezone"], "UTC");
    assert_eq!(r.json["logo"], Value::Null);
    assert_eq!(r.json["stats"]["total_trainers"], 1);
    assert_eq!(r.json["stats"]["total_departments"], 0);

    let second = app
        .post("/api/school/")
        .bearer(&admin.access)
        .json(&json!({"name": "Another"}))
        .send()
        .await;
    second.assert_status(400);
    assert_eq!(
        second.json,
        json!({"non_field_errors": ["Only one school can exist."]})
    );

    let delete = app
        .delete("/api/school/")
        .bearer(&admin.access)
        .send()
        .await;
    delete.assert_status(405);
    assert_eq!(delete.json["detail"], "The school cannot be deleted.");

    let list = app
        .get("/api/schools/")
        .bearer(&trainer.access)
        .send()
        .await;
    list.assert_status(200);
    assert_eq!(list.json["count"], 1);
    assert_eq!(list.json["results"][0]["id"], id.to_string());
    let one = app
        .get(&format!("/api/schools/{id}/"))
        .bearer(&trainer.access)
        .send()
        .await;
    one.assert_status(200);
    app.get(&format!("/api/schools/{}/", Uuid::new_v4()))
        .bearer(&trainer.access)
        .send()
        .await
        .assert_status(404);
    app.get("/api/schools/not-a-uuid/")
        .bearer(&trainer.access)
        .send()
        .await
        .assert_status(404);
    let patched = app
        .patch(&format!("/api/schools/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"code": "NEW"}))
        .send()
        .await;
    patched.assert_status(200);
    assert_eq!(patched.json["code"], "NEW");
    app.delete(&format!("/api/schools/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(405);
});

db_test!(school_fields_are_validated, |app| {
    let admin = app.admin().await;
    let missing = app
        .post("/api/school/")
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    missing.assert_status(400);
    assert_eq!(missing.json["name"][0], "This field is required.");

    let half = app
        .post("/api/school/")
        .bearer(&admin.access)
        .json(&json!({"name": "X", "latitude": 1.0}))
        .send()
        .await;
    half.assert_status(400);
    assert!(
        half.json["non_field_errors"][0]
            .as_str()
            .unwrap()
            .contains("latitude and longitude")
    );

    let far = app
        .post("/api/school/")
        .bearer(&admin.access)
        .json(&json!({"name": "X", "latitude": 91.0, "longitude": 181.0, "timezone": "Mars/Base"}))
        .send()
        .await;
    far.assert_status(400);
    assert!(far.json["latitude"].is_array());
    assert!(far.json["longitude"].is_array());
    assert!(far.json["timezone"].is_array());

    let wrong_type = app
        .post("/api/school/")
        .bearer(&admin.access)
        .json(&json!({"name": "X", "latitude": "north"}))
        .send()
        .await;
    wrong_type.assert_status(400);
    app.get("/api/school/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);

    app.school(&admin).await;
    let clear = app
        .patch("/api/school/")
        .bearer(&admin.access)
        .json(&json!({"latitude": null}))
        .send()
        .await;
    clear.assert_status(400);
    let both = app
        .patch("/api/school/")
        .bearer(&admin.access)
        .json(&json!({"latitude": null, "longitude": null, "timezone": "Africa/Nairobi"}))
        .send()
        .await;
    both.assert_status(200);
    assert_eq!(both.json["latitude"], Value::Null);
    assert_eq!(both.json["timezone"], "Africa/Nairobi");
    let trainee = app.user("trainee").await;
    app.patch("/api/school/")
        .bearer(&trainee.access)
        .json(&json!({"name": "Mine"}))
        .send()
        .await
        .assert_status(403);
});

db_test!(school_logo_upload, |app| {
    let admin = app.admin().await;
    let (ct, body) = multipart("logo", "logo.png", PNG);
    app.post("/api/school/logo/")
        .bearer(&admin.access)
        .raw(&ct, body.clone())
        .send()
        .await
        .assert_status(404);
    app.school(&admin).await;
    let hod = app.user("hod").await;
    app.post("/api/school/logo/")
        .bearer(&hod.access)
        .raw(&ct, body.clone())
        .send()
        .await
        .assert_status(403);
    let r = app
        .post("/api/school/logo/")
        .bearer(&admin.access)
        .raw(&ct, body)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["logo"], "/api/school/logo/");
    let image = app
        .get("/api/school/logo/")
        .bearer(&hod.access)
        .send()
        .await;
    image.assert_status(200);
    assert_eq!(image.header("content-type"), Some("image/png"));

    let (ct, text) = multipart("logo", "logo.png", b"not an image at all");
    let bad = app
        .post("/api/school/logo/")
        .bearer(&admin.access)
        .raw(&ct, text)
        .send()
        .await;
    bad.assert_status(400);
    assert!(bad.json["logo"].is_array());
    let mut big = PNG.to_vec();
    big.resize(2 * 1024 * 1024 + 10, 0);
    let (ct, big) = multipart("logo", "big.png", &big);
    let too_big = app
        .post("/api/school/logo/")
        .bearer(&admin.access)
        .raw(&ct, big)
        .send()
        .await;
    too_big.assert_status(400);
    assert!(too_big.json["logo"][0].as_str().unwrap().contains("2 MB"));
});
