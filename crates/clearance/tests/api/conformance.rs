//! Clearance's conformance table: every write operation of the document,
//! and the list and detail of every resource, run in order against the real
//! router. Each write leaves exactly one audit row (sessions aside), no
//! secret reaches the audit table, and every success body matches its
//! snapshot in `snapshots/endpoints/`.

use kernel::conformance::{Call, Table};

use crate::common::*;
use crate::daraja::{FakeDaraja, app_with_daraja, callback};

const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/snapshots/endpoints");

/// `body`'s `id`.
fn id(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

impl TestApp {
    /// A POST as `actor` that must answer 201; its body.
    async fn created(&self, actor: &Actor, path: &str, body: Value) -> Value {
        let r = self
            .post(path)
            .bearer(&actor.access)
            .json(&body)
            .send()
            .await;
        r.assert_status(201);
        r.json
    }

    /// An account of `role` with a fixed address, signed in.
    async fn named_user(
        &self,
        admin: &Actor,
        name: &str,
        role: &str,
        department: Option<&str>,
    ) -> Actor {
        let email = format!("{name}@mksu.ac.ke");
        let body = json!({"email": email, "full_name": format!("{name} person"), "password": PASSWORD, "role": role, "department": department});
        self.created(admin, "/api/users/", body).await;
        self.sign_in(&email, PASSWORD).await
    }

    /// Student `n` with a fixed address and registration number, signed in;
    /// and their record's id.
    async fn numbered_student(&self, admin: &Actor, n: u32) -> (Actor, String) {
        let email = format!("student{n}@students.mksu.ac.ke");
        let body = json!({
            "email": email, "full_name": format!("Student {n}"), "password": PASSWORD,
            "registration_number": format!("SCE/CS/{n:04}/2022"), "faculty": "Engineering",
            "program": "BSc Computer Science", "graduation_year": 2026
        });
        let record = id(&self.created(admin, "/api/students/", body).await);
        (self.sign_in(&email, PASSWORD).await, record)
    }

    /// The finance record of student record `student`.
    async fn finance_record(&self, admin: &Actor, student: &str) -> String {
        let r = self
            .get(&format!("/api/finance/records/?student={student}"))
            .bearer(&admin.access)
            .send()
            .await;
        r.assert_status(200);
        id(&r.json["results"][0])
    }
}

async fn run(backend: TestBackend) {
    let daraja = FakeDaraja::start().await;
    let app = app_with_daraja(backend, &daraja, &[]).await;
    clearance::create_superuser(&app.state, "admin@mksu.ac.ke", PASSWORD, "Ada Admin")
        .await
        .unwrap();
    let admin = app.sign_in("admin@mksu.ac.ke", PASSWORD).await;
    let a = &admin.access;

    // Offices, and the students whose requests they decide.
    let lib = app.office(&admin, "LIB", 1, "library").await;
    let hos = app.office(&admin, "HOS", 1, "hostel").await;
    let librarian = app
        .named_user(&admin, "librarian", "department_staff", Some(&lib))
        .await;
    let leaver = app
        .named_user(&admin, "leaver", "department_staff", None)
        .await;
    let quitter = app
        .named_user(&admin, "quitter", "department_staff", None)
        .await;
    let changer = app
        .named_user(&admin, "changer", "department_staff", None)
        .await;
    let poster = app
        .named_user(&admin, "poster", "department_staff", None)
        .await;
    let (s1, s1_record) = app.numbered_student(&admin, 1).await;
    let (s2, s2_record) = app.numbered_student(&admin, 2).await;
    let (s3, s3_record) = app.numbered_student(&admin, 3).await;
    let (s4, s4_record) = app.numbered_student(&admin, 4).await;
    let (_, s5_record) = app.numbered_student(&admin, 5).await;
    let (s6, _) = app.numbered_student(&admin, 6).await;
    let c1 = app.submit(&s1).await;
    let c2 = app.submit(&s2).await;
    let c3 = app.submit(&s3).await;
    let c1_lib = app.approval_of(&admin, &c1, &lib).await;
    let c1_hos = app.approval_of(&admin, &c1, &hos).await;
    let c2_lib = app.approval_of(&admin, &c2, &lib).await;
    let c2_hos = app.approval_of(&admin, &c2, &hos).await;
    let c3_hos = app.approval_of(&admin, &c3, &hos).await;
    // An office no request waits on, to update and delete.
    let old = app.office(&admin, "OLD", 5, "other").await;

    // Money and gowns.
    let s1_finance = app.finance_record(&admin, &s1_record).await;
    let s4_finance = app.finance_record(&admin, &s4_record).await;
    let payment = |student: &str, n: u32| json!({"student": student, "amount": "5500.00", "payment_method": "cash", "transaction_id": format!("CASH-000{n}")});
    let p2 = id(&app
        .created(&admin, "/api/finance/payments/", payment(&s2_record, 2))
        .await);
    let p3 = id(&app
        .created(&admin, "/api/finance/payments/", payment(&s3_record, 3))
        .await);
    let g2 = id(&app
        .created(&admin, "/api/gown-issuances/", json!({"student": s2_record, "gown_size": "M", "deposit_paid": true, "deposit_amount": "1000.00"}))
        .await);
    let g3 = id(&app
        .created(
            &admin,
            "/api/gown-issuances/",
            json!({"student": s3_record, "gown_size": "L"}),
        )
        .await);

    // Notifications of student 1.
    let note = |title: &str| json!({"user": s1.id, "title": title, "message": format!("{title}.")});
    let n1 = id(&app
        .created(&admin, "/api/notifications/", note("First"))
        .await);
    let n2 = id(&app
        .created(&admin, "/api/notifications/", note("Second"))
        .await);

    // Schools, academic departments and courses.
    let school = id(&app
        .created(
            &admin,
            "/api/academics/schools/",
            json!({"name": "Engineering", "code": "SEN"}),
        )
        .await);
    let department = id(&app
        .created(
            &admin,
            "/api/academics/departments/",
            json!({"school": school, "name": "Computing", "code": "CS"}),
        )
        .await);
    let course = id(&app
        .created(
            &admin,
            "/api/academics/courses/",
            json!({"department": department, "name": "BSc Information Technology", "code": "BIT"}),
        )
        .await);
    let spare_school = id(&app
        .created(
            &admin,
            "/api/academics/schools/",
            json!({"name": "Spare", "code": "SPS"}),
        )
        .await);
    let spare_department = id(&app
        .created(
            &admin,
            "/api/academics/departments/",
            json!({"school": school, "name": "Spare", "code": "SPD"}),
        )
        .await);
    let spare_course = id(&app
        .created(
            &admin,
            "/api/academics/courses/",
            json!({"department": department, "name": "Spare", "code": "SPC"}),
        )
        .await);

    let first_audit = {
        use clearance::entities::audit_log;
        use sea_orm::{EntityTrait, QueryOrder};
        let first = audit_log::Entity::find()
            .order_by_asc(audit_log::Column::CreatedAt)
            .one(&app.state.db)
            .await
            .unwrap();
        first.unwrap().id
    };
    let u = librarian.id;
    let calls = vec![
        // Sessions: they change who is signed in, not the data.
        Call::post("/api/auth/register/")
            .json(json!({"email": "newcomer@students.mksu.ac.ke", "full_name": "New Comer", "password": PASSWORD, "password_confirm": PASSWORD}))
            .answers(201),
        Call::post("/api/auth/token/")
            .json(json!({"email": "admin@mksu.ac.ke", "password": PASSWORD}))
            .unaudited("sign-in: starts a session, changes no data"),
        Call::post("/api/auth/login/")
            .json(json!({"email": "admin@mksu.ac.ke", "password": PASSWORD}))
            .unaudited("sign-in: starts a session, changes no data"),
        Call::post("/api/auth/token/refresh/")
            .json(json!({"refresh": admin.refresh}))
            .unaudited("token refresh: rotates a session's token, changes no data"),
        Call::post("/api/auth/verify/")
            .by(a)
            .unaudited("token check: reads the session, changes nothing"),
        Call::post("/api/auth/logout/")
            .by(&quitter.access)
            .json(json!({"refresh": quitter.refresh}))
            .unaudited("logout: ends a session, changes no data"),
        // The caller's own account.
        Call::put("/api/auth/profile/")
            .by(&librarian.access)
            .json(json!({"full_name": "Lib Rarian", "admission_number": "STAFF-001"})),
        Call::patch("/api/auth/profile/")
            .by(&librarian.access)
            .json(json!({"full_name": "Lib Rarian-Otieno"})),
        Call::put("/api/auth/change-password/")
            .by(&changer.access)
            .json(json!({"old_password": PASSWORD, "new_password": "Changed-Passw0rd-1"})),
        Call::post("/api/auth/change-password/")
            .by(&poster.access)
            .json(json!({"old_password": PASSWORD, "new_password": "Changed-Passw0rd-2", "new_password_confirm": "Changed-Passw0rd-2"})),
        // Accounts.
        Call::post("/api/users/")
            .by(a)
            .json(json!({"email": "registrar@mksu.ac.ke", "full_name": "Reg Istrar", "password": PASSWORD, "role": "department_staff", "department": hos}))
            .answers(201),
        Call::put(format!("/api/users/{u}/"))
            .by(a)
            .json(json!({"email": "librarian@mksu.ac.ke", "full_name": "Lib Rarian", "role": "department_staff", "department": lib})),
        Call::patch(format!("/api/users/{u}/"))
            .by(a)
            .json(json!({"full_name": "Head Librarian"})),
        Call::delete(format!("/api/users/{}/", leaver.id)).by(a),
        Call::get("/api/users/").by(a),
        Call::get(format!("/api/users/{u}/")).by(a),
        // Students.
        Call::post("/api/students/")
            .by(a)
            .json(json!({
                "email": "student7@students.mksu.ac.ke", "full_name": "Student 7", "password": PASSWORD,
                "registration_number": "SCE/CS/0007/2022", "faculty": "Engineering",
                "program": "BSc Computer Science", "graduation_year": 2026
            }))
            .answers(201),
        Call::put(format!("/api/students/{s1_record}/"))
            .by(a)
            .json(json!({"registration_number": "SCE/CS/0001/2022", "faculty": "Engineering", "program": "BSc Software Engineering", "graduation_year": 2026})),
        Call::patch(format!("/api/students/{s1_record}/"))
            .by(a)
            .json(json!({"graduation_year": 2027})),
        Call::delete(format!("/api/students/{s5_record}/")).by(a),
        Call::get("/api/students/").by(a),
        Call::get(format!("/api/students/{s1_record}/")).by(a),
        // Offices.
        Call::post("/api/departments/")
            .by(a)
            .json(json!({"name": "Sports Office", "code": "SPT", "department_type": "other", "head_email": "sports@mksu.ac.ke", "approval_order": 2}))
            .answers(201),
        Call::put(format!("/api/departments/{old}/"))
            .by(a)
            .json(json!({"name": "Old Office", "code": "OLD", "department_type": "other", "head_email": "old@mksu.ac.ke", "approval_order": 5, "is_active": false})),
        Call::patch(format!("/api/departments/{old}/"))
            .by(a)
            .json(json!({"description": "Closed"})),
        Call::delete(format!("/api/departments/{old}/")).by(a),
        Call::get("/api/departments/").by(a),
        Call::get(format!("/api/departments/{lib}/")).by(a),
        // Requests and their approvals.
        Call::post("/api/clearances/").by(&s4.access).answers(201),
        Call::put(format!("/api/clearances/{c1}/"))
            .by(a)
            .json(json!({"rejection_reason": "Checked by the registry"})),
        Call::patch(format!("/api/clearances/{c1}/"))
            .by(a)
            .json(json!({"rejection_reason": "Checked again"})),
        Call::post("/api/approvals/").by(a).answers(405),
        Call::post(format!("/api/approvals/{c1_lib}/approve/"))
            .by(&librarian.access)
            .json(json!({"notes": "No books owed"})),
        Call::post(format!("/api/approvals/{c1_hos}/reject/"))
            .by(a)
            .json(json!({"rejection_reason": "Room key not returned"})),
        Call::post(format!("/api/approvals/{c2_lib}/approve_reject/"))
            .by(a)
            .json(json!({"action": "approve", "notes": "Cleared"})),
        Call::post("/api/approvals/bulk_approve/")
            .by(a)
            .json(json!({"approval_ids": [c2_hos], "notes": "Term cleared"})),
        Call::put(format!("/api/approvals/{c1_lib}/"))
            .by(a)
            .json(json!({"notes": "Checked twice"})),
        Call::patch(format!("/api/approvals/{c1_lib}/"))
            .by(a)
            .json(json!({"notes": "Checked thrice"})),
        Call::delete(format!("/api/approvals/{c3_hos}/")).by(a),
        Call::delete(format!("/api/clearances/{c3}/")).by(a),
        Call::get("/api/clearances/").by(a),
        Call::get(format!("/api/clearances/{c1}/")).by(a),
        Call::get(format!("/api/approvals/?clearance_request={c1}&department={lib}")).by(a),
        Call::get(format!("/api/approvals/{c1_lib}/")).by(a),
        // Money.
        Call::delete(format!("/api/finance/records/{s4_finance}/")).by(a),
        Call::post("/api/finance/records/")
            .by(a)
            .json(json!({"student": s4_record, "tuition_balance": "1200.00"}))
            .answers(201),
        Call::put(format!("/api/finance/records/{s1_finance}/"))
            .by(a)
            .json(json!({"tuition_balance": "0.00", "graduation_fee": "5500.00", "graduation_fee_status": "pending", "notes": "Cleared tuition"})),
        Call::patch(format!("/api/finance/records/{s1_finance}/"))
            .by(a)
            .json(json!({"notes": "Checked"})),
        Call::post("/api/finance/payments/")
            .by(a)
            .json(payment(&s1_record, 1))
            .answers(201),
        Call::put(format!("/api/finance/payments/{p2}/"))
            .by(a)
            .json(json!({"amount": "5500.00", "payment_method": "bank", "transaction_id": "BANK-0002", "notes": "Bank slip"})),
        Call::patch(format!("/api/finance/payments/{p2}/"))
            .by(a)
            .json(json!({"notes": "Bank slip seen"})),
        Call::post(format!("/api/finance/payments/{p2}/verify/"))
            .by(a)
            .json(json!({"notes": "Matched statement"})),
        Call::delete(format!("/api/finance/payments/{p3}/")).by(a),
        Call::post("/api/finance/mpesa/stk-push/")
            .by(&s6.access)
            .json(json!({"phone_number": "0712345678"})),
        Call::post("/api/finance/mpesa_callback/")
            .json(callback("ws_CO_20261121120001", 0, "TKL3XYZ123", 5500)),
        Call::get("/api/finance/records/").by(a),
        Call::get(format!("/api/finance/records/{s1_finance}/")).by(a),
        Call::get("/api/finance/payments/").by(a),
        Call::get(format!("/api/finance/payments/{p2}/")).by(a),
        // Gowns.
        Call::post("/api/gown-issuances/")
            .by(a)
            .json(json!({"student": s1_record, "gown_size": "S"}))
            .answers(201),
        Call::put(format!("/api/gown-issuances/{g2}/"))
            .by(a)
            .json(json!({"gown_size": "L", "deposit_paid": true, "deposit_amount": "1000.00", "notes": "Swapped"})),
        Call::patch(format!("/api/gown-issuances/{g2}/"))
            .by(a)
            .json(json!({"notes": "Swapped for a larger one"})),
        Call::post(format!("/api/gown-issuances/{g2}/mark-returned/"))
            .by(a)
            .json(json!({"notes": "Good condition"})),
        Call::post(format!("/api/gown-issuances/{g2}/refund-deposit/")).by(a),
        Call::delete(format!("/api/gown-issuances/{g3}/")).by(a),
        Call::get("/api/gown-issuances/").by(a),
        Call::get(format!("/api/gown-issuances/{g2}/")).by(a),
        // Notifications.
        Call::post("/api/notifications/")
            .by(a)
            .json(json!({"user": s1.id, "title": "Welcome", "message": "Your account is ready."}))
            .answers(201),
        Call::put(format!("/api/notifications/{n1}/mark-read/")).by(&s1.access),
        Call::post(format!("/api/notifications/{n2}/mark-read/")).by(&s1.access),
        Call::post(format!("/api/notifications/{n1}/mark-unread/")).by(&s1.access),
        Call::delete(format!("/api/notifications/{n2}/")).by(&s1.access),
        Call::get("/api/notifications/").by(&s1.access),
        Call::get(format!("/api/notifications/{n1}/")).by(&s1.access),
        Call::post("/api/notifications/mark-all-read/").by(&s1.access),
        Call::delete("/api/notifications/delete-all-read/")
            .by(&s1.access)
            .answers(200),
        // Schools, academic departments and courses.
        Call::post("/api/academics/schools/")
            .by(a)
            .json(json!({"name": "Science", "code": "SSC", "email": "science@mksu.ac.ke"}))
            .answers(201),
        Call::post("/api/academics/departments/")
            .by(a)
            .json(json!({"school": school, "name": "Mathematics", "code": "MAT"}))
            .answers(201),
        Call::post("/api/academics/courses/")
            .by(a)
            .json(json!({"department": department, "name": "BSc Computer Science", "code": "BCS", "duration_years": 4}))
            .answers(201),
        Call::delete(format!("/api/academics/courses/{spare_course}/")).by(a),
        Call::delete(format!("/api/academics/departments/{spare_department}/")).by(a),
        Call::delete(format!("/api/academics/schools/{spare_school}/")).by(a),
        Call::get("/api/academics/schools/").by(a),
        Call::get(format!("/api/academics/schools/{school}/")).by(a),
        Call::get("/api/academics/departments/").by(a),
        Call::get(format!("/api/academics/departments/{department}/")).by(a),
        Call::get("/api/academics/courses/").by(a),
        Call::get(format!("/api/academics/courses/{course}/")).by(a),
        // The audit trail itself: the newest rows, and the first one.
        Call::get("/api/audit-logs/?page_size=5").by(a),
        Call::get(format!("/api/audit-logs/{first_audit}/")).by(a),
    ];
    Table::new(SNAPSHOTS)
        .calls(calls)
        .run::<clearance::Clearance>(&app)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_audited_once_and_every_body_pinned_sqlite() {
    run(TestBackend::Sqlite).await;
}

#[cfg(campus_postgres)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_audited_once_and_every_body_pinned_postgres() {
    run(TestBackend::Postgres).await;
}

#[cfg(campus_mysql)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_audited_once_and_every_body_pinned_mysql() {
    run(TestBackend::MySql).await;
}
