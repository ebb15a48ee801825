//! `/api/clearances/` and `/api/approvals/`: the clearance workflow.

use crate::common::*;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

fn multipart(
    field: &str,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
    notes: Option<&str>,
) -> (String, Vec<u8>) {
    let form = kernel::testing::Multipart::new();
    let form = match notes {
        Some(notes) => form.text("notes", notes),
        None => form,
    };
    form.file(field, filename, content_type, bytes).finish()
}

db_test!(
    submission_creates_one_pending_approval_per_active_office,
    |app| {
        let admin = app.admin().await;
        let lib = app.office(&admin, "LIB", 1, "library").await;
        app.office(&admin, "HOS", 1, "hostel").await;
        let old = app.office(&admin, "OLD", 1, "other").await;
        app.patch(&format!("/api/departments/{old}/"))
            .bearer(&admin.access)
            .json(&json!({"is_active": false}))
            .send()
            .await
            .assert_status(200);
        let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
        let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;

        let r = app
            .post("/api/clearances/")
            .bearer(&student.access)
            .send()
            .await;
        r.assert_status(201);
        assert_eq!(r.json["status"], "pending");
        assert_eq!(r.json["student"], student_id.as_str());
        assert_eq!(r.json["completion_percentage"], 0.0);
        assert_eq!(
            r.json["approvals"].as_array().unwrap().len(),
            2,
            "the inactive office takes no part"
        );
        assert!(
            r.json["approvals"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["status"] == "pending")
        );
        assert_eq!(r.json["current_department"]["approval_order"], 1);
        let id = r.json["id"].as_str().unwrap().to_owned();

        let again = app
            .post("/api/clearances/")
            .bearer(&student.access)
            .send()
            .await;
        again.assert_status(400);
        assert_eq!(
            again.json["detail"],
            "You already have a clearance request in progress."
        );

        assert!(
            app.notification_titles(&student)
                .await
                .contains(&"Clearance Request Submitted".to_owned())
        );
        assert!(
            app.notification_titles(&admin)
                .await
                .contains(&"New Clearance Request".to_owned())
        );
        assert!(
            app.notification_titles(&librarian)
                .await
                .contains(&"Clearance Awaiting Approval".to_owned())
        );
        assert_eq!(app.audit_rows("create", &id).await.len(), 1);
    }
);

db_test!(only_students_with_a_record_submit, |app| {
    let admin = app.admin().await;
    app.department(&admin, "LIB", 1).await;
    let staff = app.user(&admin, "department_staff", None).await;
    let r = app
        .post("/api/clearances/")
        .bearer(&staff.access)
        .send()
        .await;
    r.assert_status(403);
    app.post("/api/clearances/")
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(403);
    app.post("/api/clearances/").send().await.assert_status(401);
    let r = app.post("/api/auth/register/").json(&json!({"email": "norecord@mksu.ac.ke", "full_name": "No Record", "password": PASSWORD})).send().await;
    let access = r.json["access"].as_str().unwrap().to_owned();
    let r = app.post("/api/clearances/").bearer(&access).send().await;
    r.assert_status(400);
    let (student, id) = app.student(&admin, "SCE/CS/0002/2022").await;
    app.patch(&format!("/api/students/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"eligibility_status": "ineligible"}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/clearances/")
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"student_id": ["Student is not eligible for clearance. Status: Ineligible"]})
    );
    let r = app
        .get("/api/clearances/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);
});

db_test!(offices_decide_in_order_parallel_within_an_order, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 1, "library").await;
    let hos = app.office(&admin, "HOS", 1, "hostel").await;
    let sport = app.office(&admin, "SPO", 2, "sports").await;
    let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
    let warden = app.user(&admin, "department_staff", Some(&hos)).await;
    let coach = app.user(&admin, "department_staff", Some(&sport)).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let id = app.submit(&student).await;
    let a_lib = app.approval_of(&admin, &id, &lib).await;
    let a_hos = app.approval_of(&admin, &id, &hos).await;
    let a_spo = app.approval_of(&admin, &id, &sport).await;

    // The sports office waits for both order-1 offices.
    let r = app
        .post(&format!("/api/approvals/{a_spo}/approve/"))
        .bearer(&coach.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert!(
        r.json["detail"].as_str().unwrap().contains("LIB Office"),
        "{}",
        r.json
    );
    let r = app
        .get("/api/approvals/pending/")
        .bearer(&coach.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0, "not decidable yet");
    let r = app
        .get("/api/approvals/pending/")
        .bearer(&librarian.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);

    let r = app
        .post(&format!("/api/approvals/{a_lib}/approve/"))
        .bearer(&librarian.access)
        .json(&json!({"notes": "No books owed"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["message"], "Approved! 2 department(s) remaining.");
    assert_eq!(r.json["approval"]["status"], "approved");
    assert_eq!(r.json["approval"]["notes"], "No books owed");
    assert!(r.json["approval"]["approved_by_name"].is_string());
    let progress = app
        .get(&format!("/api/clearances/{id}/progress/"))
        .bearer(&student.access)
        .send()
        .await;
    progress.assert_status(200);
    assert_eq!(progress.json["overall_status"], "in_progress");
    assert_eq!(progress.json["completion_percentage"], 33.33);
    assert_eq!(progress.json["approved_count"], 1);
    assert_eq!(progress.json["pending_count"], 2);
    assert_eq!(progress.json["total_departments"], 3);
    assert_eq!(progress.json["progress"][2]["order"], 2);

    app.post(&format!("/api/approvals/{a_spo}/approve/"))
        .bearer(&coach.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(400);
    app.post(&format!("/api/approvals/{a_hos}/approve/"))
        .bearer(&warden.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    assert!(
        app.notification_titles(&coach)
            .await
            .contains(&"Clearance Awaiting Approval".to_owned()),
        "the next office is told"
    );
    let r = app
        .post(&format!("/api/approvals/{a_spo}/approve/"))
        .bearer(&coach.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["message"],
        "Approved! All departments have cleared this student."
    );

    let r = app
        .get(&format!("/api/clearances/{id}/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "completed");
    assert_eq!(r.json["completion_percentage"], 100.0);
    assert!(r.json["completion_date"].is_string());
    assert_eq!(r.json["current_department"], Value::Null);
    let r = app
        .get(&format!("/api/students/{student_id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["eligibility_status"], "eligible");
    let titles = app.notification_titles(&student).await;
    assert!(titles.contains(&"Clearance Request Approved".to_owned()));
    assert_eq!(
        titles
            .iter()
            .filter(|t| *t == "Department Approval: Approved")
            .count(),
        3
    );
    assert_eq!(app.audit_rows("approve", &a_spo).await.len(), 1);

    let r = app
        .post(&format!("/api/approvals/{a_spo}/approve/"))
        .bearer(&coach.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "This approval is already approved.");
    let r = app
        .post("/api/clearances/")
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json["detail"], "Your clearance is already completed.");
});

db_test!(rejection_needs_a_reason_and_can_be_reviewed, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    app.office(&admin, "MESS", 0, "mess").await;
    let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let id = app.submit(&student).await;
    let a_lib = app.approval_of(&admin, &id, &lib).await;

    let r = app
        .post(&format!("/api/approvals/{a_lib}/reject/"))
        .bearer(&librarian.access)
        .json(&json!({"notes": "hm"}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"rejection_reason": ["Rejection reason is required when rejecting"]})
    );
    // The original frontend sends `reason`.
    let r = app
        .post(&format!("/api/approvals/{a_lib}/reject/"))
        .bearer(&librarian.access)
        .json(&json!({"reason": "Two books overdue"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["message"],
        "Rejected. Clearance request has been rejected."
    );
    let r = app
        .get(&format!("/api/clearances/{id}/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "rejected");
    assert_eq!(r.json["rejection_reason"], "Two books overdue");
    assert!(r.json["completion_date"].is_string());
    assert!(
        app.notification_titles(&student)
            .await
            .contains(&"Clearance Request Rejected".to_owned())
    );
    assert_eq!(app.audit_rows("reject", &a_lib).await.len(), 1);
    let r = app
        .post(&format!("/api/approvals/{a_lib}/reject/"))
        .bearer(&librarian.access)
        .json(&json!({"rejection_reason": "again"}))
        .send()
        .await;
    r.assert_status(400);

    // After review the office approves; the request is no longer rejected.
    let r = app
        .post(&format!("/api/approvals/{a_lib}/approve_reject/"))
        .bearer(&librarian.access)
        .json(&json!({"action": "approve"}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .get(&format!("/api/clearances/{id}/"))
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "in_progress");
    assert_eq!(r.json["rejection_reason"], Value::Null);
    let r = app
        .post(&format!("/api/approvals/{a_lib}/approve_reject/"))
        .bearer(&librarian.access)
        .json(&json!({"action": "maybe"}))
        .send()
        .await;
    r.assert_status(400);
});

db_test!(a_new_request_is_allowed_after_a_rejection, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let first = app.submit(&student).await;
    let a = app.approval_of(&admin, &first, &lib).await;
    app.post(&format!("/api/approvals/{a}/reject/"))
        .bearer(&admin.access)
        .json(&json!({"rejection_reason": "Fine unpaid"}))
        .send()
        .await
        .assert_status(200);
    let second = app.submit(&student).await;
    assert_ne!(first, second);
    let r = app
        .get("/api/clearances/")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    let r = app
        .get("/api/clearances/?status=rejected")
        .bearer(&student.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
});

db_test!(only_the_office_or_an_admin_decides, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    let hos = app.office(&admin, "HOS", 0, "hostel").await;
    let warden = app.user(&admin, "department_staff", Some(&hos)).await;
    let officeless = app.user(&admin, "department_staff", None).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (other, _) = app.student(&admin, "SCE/CS/0002/2022").await;
    let id = app.submit(&student).await;
    let a_lib = app.approval_of(&admin, &id, &lib).await;

    app.post(&format!("/api/approvals/{a_lib}/approve/"))
        .bearer(&warden.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(404);
    app.post(&format!("/api/approvals/{a_lib}/approve/"))
        .bearer(&officeless.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(404);
    let r = app
        .post(&format!("/api/approvals/{a_lib}/approve/"))
        .bearer(&student.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(403);
    app.post(&format!("/api/approvals/{a_lib}/approve/"))
        .json(&json!({}))
        .send()
        .await
        .assert_status(401);
    app.get(&format!("/api/approvals/{a_lib}/"))
        .bearer(&warden.access)
        .send()
        .await
        .assert_status(404);
    // Students are refused by the gate, their own request's approval too.
    let r = app
        .get(&format!("/api/approvals/{a_lib}/"))
        .bearer(&student.access)
        .send()
        .await;
    r.assert_status(403);
    assert_eq!(
        r.json["detail"],
        "You do not have permission to approve this clearance."
    );
    app.get("/api/approvals/")
        .bearer(&student.access)
        .send()
        .await
        .assert_status(403);
    let r = app
        .get("/api/approvals/")
        .bearer(&warden.access)
        .send()
        .await;
    assert_eq!(
        r.json["count"], 1,
        "staff see their own office's approvals only"
    );
    let r = app
        .get(&format!("/api/approvals/by-department/?department={lib}"))
        .bearer(&warden.access)
        .send()
        .await;
    r.assert_status(403);
    let r = app
        .get(&format!("/api/departments/{hos}/approvals/"))
        .bearer(&warden.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .post("/api/approvals/")
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(r.json["detail"], "Method \"POST\" not allowed.");
    app.post(&format!("/api/approvals/{}/approve/", Uuid::new_v4()))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(404);
    app.post("/api/approvals/not-a-uuid/approve/")
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(404);

    // Other students never see the request.
    app.get(&format!("/api/clearances/{id}/"))
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    app.get(&format!("/api/clearances/{id}/progress/"))
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    let r = app
        .get("/api/clearances/")
        .bearer(&other.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 0);

    let r = app
        .post(&format!("/api/approvals/{a_lib}/approve/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await;
    r.assert_status(200);
    let r = app
        .get(&format!("/api/approvals/{a_lib}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "approved");
    assert_eq!(r.json["notes"], "Approved");
});

db_test!(concurrent_decisions_never_lose_an_update, |app| {
    let admin = app.admin().await;
    let mut offices = Vec::new();
    for code in ["A1", "A2", "A3", "A4"] {
        offices.push(app.office(&admin, code, 0, "other").await);
    }
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let id = app.submit(&student).await;
    let mut approvals = Vec::new();
    for office in &offices {
        approvals.push(app.approval_of(&admin, &id, office).await);
    }
    let tasks: Vec<_> = approvals
        .iter()
        .map(|a| {
            let client = app.client.clone();
            let (path, token) = (format!("/api/approvals/{a}/approve/"), admin.access.clone());
            tokio::spawn(async move {
                client
                    .post(&path)
                    .bearer(&token)
                    .json(&json!({}))
                    .send()
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let r = app
        .get(&format!("/api/clearances/{id}/"))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["status"], "completed");
    assert_eq!(r.json["completion_percentage"], 100.0);
});

db_test!(evidence_is_checked_stored_and_guarded, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    let hos = app.office(&admin, "HOS", 0, "hostel").await;
    let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
    let warden = app.user(&admin, "department_staff", Some(&hos)).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (other, _) = app.student(&admin, "SCE/CS/0002/2022").await;
    let id = app.submit(&student).await;
    let a_lib = app.approval_of(&admin, &id, &lib).await;
    let path = format!("/api/approvals/{a_lib}/");

    let (ct, body) = multipart(
        "evidence_file",
        "receipt.pdf",
        "application/pdf",
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        None,
    );
    let r = app
        .patch(&path)
        .bearer(&librarian.access)
        .raw(&ct, body)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"evidence_file": ["Unsupported file type. Upload a PDF, PNG or JPEG file."]})
    );
    let mut big = PDF.to_vec();
    big.resize(5 * 1024 * 1024 + 1, b' ');
    let (ct, body) = multipart("evidence_file", "big.pdf", "application/pdf", &big, None);
    let r = app
        .patch(&path)
        .bearer(&librarian.access)
        .raw(&ct, body)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"evidence_file": ["File size must not exceed 5 MB."]})
    );
    let (ct, body) = multipart(
        "evidence_file",
        "x.pdf",
        "application/pdf",
        PDF,
        Some("Cleared at desk 3"),
    );
    app.patch(&path)
        .bearer(&warden.access)
        .raw(&ct, body)
        .send()
        .await
        .assert_status(404);
    let r = app.get(&path).bearer(&admin.access).send().await;
    assert_eq!(
        r.json["evidence_file"],
        Value::Null,
        "refused uploads changed nothing"
    );

    let (ct, body) = multipart(
        "evidence_file",
        "../../etc/passwd.pdf",
        "application/pdf",
        PDF,
        Some("Cleared at desk 3"),
    );
    let r = app
        .put(&path)
        .bearer(&librarian.access)
        .raw(&ct, body)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["notes"], "Cleared at desk 3");
    let url = r.json["evidence_file"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/api/approvals/{a_lib}/evidence/"));
    assert_eq!(app.audit_rows("update", &a_lib).await.len(), 1);

    for allowed in [&student, &librarian, &admin] {
        let r = app.get(&url).bearer(&allowed.access).send().await;
        r.assert_status(200);
        assert_eq!(r.body, PDF);
        assert_eq!(r.header("content-type"), Some("application/pdf"));
        assert!(
            r.header("content-disposition")
                .unwrap()
                .starts_with("attachment;")
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    app.get(&url)
        .bearer(&other.access)
        .send()
        .await
        .assert_status(404);
    app.get(&url)
        .bearer(&warden.access)
        .send()
        .await
        .assert_status(404);
    app.get(&url).send().await.assert_status(401);

    // JSON updates work too, and null removes the evidence.
    let r = app
        .patch(&path)
        .bearer(&librarian.access)
        .json(&json!({"notes": "Updated", "evidence_file": null}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["evidence_file"], Value::Null);
    app.get(&url)
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
});

db_test!(bulk_decisions_are_all_or_nothing, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    app.office(&admin, "LATE", 5, "other").await;
    let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let (student, _) = app.student(&admin, &format!("SCE/CS/000{n}/2022")).await;
        let id = app.submit(&student).await;
        ids.push(app.approval_of(&admin, &id, &lib).await);
    }
    let r = app
        .post("/api/approvals/bulk_approve/")
        .bearer(&librarian.access)
        .json(&json!({"approval_ids": [ids[0], Uuid::new_v4()]}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"approval_ids": ["Some approval IDs are invalid"]})
    );
    app.post(&format!("/api/approvals/{}/approve/", ids[2]))
        .bearer(&librarian.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .post("/api/approvals/bulk_approve/")
        .bearer(&librarian.access)
        .json(&json!({"approval_ids": ids}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .get("/api/approvals/?status=approved")
        .bearer(&librarian.access)
        .send()
        .await;
    assert_eq!(
        r.json["count"], 1,
        "nothing of the failed batch was applied"
    );

    let r = app
        .post("/api/approvals/bulk_approve/")
        .bearer(&librarian.access)
        .json(&json!({"approval_ids": [ids[0], ids[1]], "notes": "Term cleared"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["success_count"], 2);
    let r = app
        .get("/api/approvals/?status=approved")
        .bearer(&librarian.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 3);
    let r = app
        .post("/api/approvals/bulk_approve/")
        .bearer(&librarian.access)
        .json(&json!({"approval_ids": []}))
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .post("/api/approvals/bulk_approve/")
        .bearer(&librarian.access)
        .json(&json!({"approval_ids": ["nope"]}))
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(
        r.json,
        json!({"approval_ids[0]": ["Must be a valid UUID."]})
    );
});

db_test!(lists_filter_search_and_count, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    let (s1, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (s2, _) = app.student(&admin, "EDU/AR/0002/2022").await;
    let c1 = app.submit(&s1).await;
    app.submit(&s2).await;
    let a1 = app.approval_of(&admin, &c1, &lib).await;
    app.post(&format!("/api/approvals/{a1}/approve/"))
        .bearer(&admin.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);

    let r = app
        .get("/api/clearances/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 2);
    let r = app
        .get("/api/clearances/?search=EDU/AR")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(
        r.json["results"][0]["registration_number"],
        "EDU/AR/0002/2022"
    );
    let r = app
        .get("/api/clearances/?status=completed")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    assert_eq!(r.json["results"][0]["completion_percentage"], 100.0);
    let r = app
        .get("/api/clearances/?status=bogus")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    let r = app
        .get("/api/approvals/?clearance_status=pending")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/approvals/?search=sce/cs")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["count"], 1);
    let r = app
        .get("/api/clearances/statistics/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_requests"], 2);
    assert_eq!(r.json["status_breakdown"]["completed"], 1);
    assert_eq!(r.json["completion_rate"], 50.0);
    app.get("/api/clearances/statistics/")
        .bearer(&s1.access)
        .send()
        .await
        .assert_status(403);
    let r = app
        .get("/api/approvals/statistics/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["total_approvals"], 2);
    assert_eq!(r.json["approved_count"], 1);
    assert!(r.json["average_approval_time_hours"].is_number());
    let r = app
        .get("/api/clearances/my_clearances/")
        .bearer(&s1.access)
        .send()
        .await;
    assert_eq!(r.json.as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("/api/clearances/{c1}/approval_progress/"))
        .bearer(&s1.access)
        .send()
        .await;
    assert_eq!(r.json["overall_status"], "completed");
});

db_test!(admins_annotate_and_delete_requests, |app| {
    let admin = app.admin().await;
    let lib = app.office(&admin, "LIB", 0, "library").await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let id = app.submit(&student).await;
    app.patch(&format!("/api/clearances/{id}/"))
        .bearer(&student.access)
        .json(&json!({"rejection_reason": "x"}))
        .send()
        .await
        .assert_status(403);
    let r = app
        .patch(&format!("/api/clearances/{id}/"))
        .bearer(&admin.access)
        .json(&json!({"rejection_reason": "Checked by registry", "status": "completed"}))
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(
        r.json["status"], "pending",
        "status follows the approvals only"
    );
    // An office with approvals cannot be deleted; deactivating is the way.
    let r = app
        .delete(&format!("/api/departments/{lib}/"))
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(409);
    app.delete(&format!("/api/clearances/{id}/"))
        .bearer(&student.access)
        .send()
        .await
        .assert_status(403);
    app.delete(&format!("/api/clearances/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
    app.get(&format!("/api/clearances/{id}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(404);
    assert_eq!(app.audit_rows("delete", &id).await.len(), 1);
    app.delete(&format!("/api/departments/{lib}/"))
        .bearer(&admin.access)
        .send()
        .await
        .assert_status(204);
});

db_test!(the_original_frontend_lists_by_account_id, |app| {
    let admin = app.admin().await;
    let lib = app.department(&admin, "LIB", 1).await;
    let staff = app.user(&admin, "department_staff", Some(&lib)).await;
    let (student, student_id) = app.student(&admin, "SCE/CS/0001/2022").await;
    let (other, _) = app.student(&admin, "SCE/CS/0002/2022").await;
    let mine = app.submit(&student).await;
    let theirs = app.submit(&other).await;

    for key in [student.id.to_string(), student_id.clone()] {
        let r = app
            .get(&format!("/api/clearances/?student={key}"))
            .bearer(&staff.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["count"], 1, "{key}");
        assert_eq!(r.json["results"][0]["id"], mine.as_str());
    }
    // A student's own list is never emptied by the filter.
    for key in [
        student.id.to_string(),
        student_id.clone(),
        other.id.to_string(),
        "1".to_owned(),
    ] {
        let r = app
            .get(&format!("/api/clearances/?student={key}"))
            .bearer(&student.access)
            .send()
            .await;
        r.assert_status(200);
        assert_eq!(r.json["count"], 1, "{key}");
        assert_eq!(r.json["results"][0]["id"], mine.as_str());
    }
    let r = app
        .get(&format!("/api/clearances/?student={}", other.id))
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["results"][0]["id"], theirs.as_str());
    let r = app
        .get("/api/clearances/?student=nope")
        .bearer(&admin.access)
        .send()
        .await;
    r.assert_status(400);
    assert_eq!(r.json, json!({"student": ["Enter a valid UUID."]}));
});

db_test!(the_original_pending_approvals_route_is_served, |app| {
    let admin = app.admin().await;
    let lib = app.department(&admin, "LIB", 1).await;
    let sports = app.department(&admin, "SPORTS", 2).await;
    let librarian = app.user(&admin, "department_staff", Some(&lib)).await;
    let coach = app.user(&admin, "department_staff", Some(&sports)).await;
    let officeless = app.user(&admin, "department_staff", None).await;
    let (student, _) = app.student(&admin, "SCE/CS/0001/2022").await;
    let clearance = app.submit(&student).await;

    // A fresh request shows at once (the original waited for a status it never set).
    let r = app
        .get("/api/clearances/pending_approvals/")
        .bearer(&librarian.access)
        .send()
        .await;
    r.assert_status(200);
    assert_eq!(r.json["department"], "LIB Office");
    assert_eq!(r.json["pending_count"], 1);
    assert_eq!(r.json["clearances"][0]["id"], clearance.as_str());
    // A later office waits for the earlier ones, as /api/approvals/pending/ does.
    let r = app
        .get("/api/clearances/pending_approvals/")
        .bearer(&coach.access)
        .send()
        .await;
    assert_eq!(r.json["pending_count"], 0);
    let approval = app.approval_of(&admin, &clearance, &lib).await;
    app.post(&format!("/api/approvals/{approval}/approve/"))
        .bearer(&librarian.access)
        .json(&json!({}))
        .send()
        .await
        .assert_status(200);
    let r = app
        .get("/api/clearances/pending_approvals/")
        .bearer(&coach.access)
        .send()
        .await;
    assert_eq!(r.json["pending_count"], 1);
    let r = app
        .get("/api/clearances/pending_approvals/")
        .bearer(&librarian.access)
        .send()
        .await;
    assert_eq!(r.json["pending_count"], 0);
    let r = app
        .get("/api/clearances/pending_approvals/")
        .bearer(&admin.access)
        .send()
        .await;
    assert_eq!(r.json["department"], "All Departments");
    assert_eq!(r.json["pending_count"], 1);

    let r = app
        .get("/api/clearances/pending_approvals/")
        .bearer(&officeless.access)
        .send()
        .await;
    r.assert_status(400);
    app.get("/api/clearances/pending_approvals/")
        .bearer(&student.access)
        .send()
        .await
        .assert_status(403);
});
