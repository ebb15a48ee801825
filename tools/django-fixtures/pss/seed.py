"""Seed the ORIGINAL PSS backend (Clickatell4/Pss-backendN) with fixture data.

Run from the original's work tree (see build.sh):
    DJANGO_SETTINGS_MODULE=local_settings PSS_DB=sqlite|postgres python seed.py

Everything goes through the original's own models, managers, serializers and helpers
(User.objects.create_user/create_superuser, UserProfileSerializer + apps.intake.utils.complete_intake,
JournalEntrySerializer, AdminNoteSerializer, UserConsent.withdraw, DataDeletionRequest.approve/reject,
PasswordResetToken.generate_token, ...) so that Fernet ciphertexts, password hashes, groups,
password-history rows and django-auditlog entries are exactly what the original writes.
Dates given explicitly are fixed; auto_now/auto_now_add timestamps are the time of the run.
"""
import datetime as dt
import hashlib
import os
import sys

sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "local_settings")

import django  # noqa: E402

django.setup()

from auditlog.context import set_actor  # noqa: E402
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.admin_notes.serializers import AdminNoteSerializer  # noqa: E402
from apps.authentication.models import PasswordResetToken, TwoFactorBackupCode  # noqa: E402
from apps.intake.utils import complete_intake  # noqa: E402
from apps.journal.models import JournalEntry  # noqa: E402
from apps.journal.serializers import JournalEntrySerializer  # noqa: E402
from apps.users.models import AccountDeletionSchedule, User, UserProfile  # noqa: E402
from apps.users.popia_models import (  # noqa: E402
    DataDeletionRequest,
    DataExportRequest,
    PrivacyPolicyVersion,
    UserConsent,
)
from apps.users.serializers import UserProfileSerializer  # noqa: E402

TZ = dt.timezone.utc


def at(y, m, d, hh=9, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=TZ)


# ---------------------------------------------------------------------------
# Known test-only secrets
# ---------------------------------------------------------------------------
TOTP = {
    "thabo.mokoena@capaciti.org.za": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    "lerato.khumalo@capaciti.org.za": "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU",
}
BACKUP_CODES = {
    "thabo.mokoena@capaciti.org.za": [
        "AB12-CD34", "EF56-GH78", "JK90-LM12", "NP34-QR56", "ST78-UV90",
        "WX12-YZ34", "A1B2-C3D4", "E5F6-G7H8", "J9K0-L1M2", "N3P4-Q5R6",
    ],
    "lerato.khumalo@capaciti.org.za": [
        "LK11-AA22", "LK33-BB44", "LK55-CC66", "LK77-DD88", "LK99-EE00",
        "LKAA-1111", "LKBB-2222", "LKCC-3333", "LKDD-4444", "LKEE-5555",
    ],
}
RESET_TOKEN_PLAIN = "fixture-reset-token-unused-0001"

# email, first, last, role, password, hasher, extra
USERS = [
    ("nomvula.dlamini@capaciti.org.za", "Nomvula", "Dlamini", "superuser", "Sup3r#Admin!2025", "pbkdf2_600000", {}),
    ("thabo.mokoena@capaciti.org.za", "Thabo", "Mokoena", "admin", "Adm1n#Secure!2025", "pbkdf2_600000", {}),
    ("ayesha.patel@capaciti.org.za", "Ayesha", "Patel", "admin", "Argon#Admin!2025", "argon2", {}),
    ("pieter.vanwyk@capaciti.org.za", "Pieter", "van Wyk", "admin", "Retired#Adm1n!24", "pbkdf2_600000", {"is_active": False}),
    ("lerato.khumalo@capaciti.org.za", "Lerato", "Khumalo", "candidate", "Cand1date#Pass!01", "pbkdf2_600000", {}),
    ("sipho.ndlovu@capaciti.org.za", "Sipho", "Ndlovu", "candidate", "Cand1date#Pass!02", "pbkdf2_260000", {}),
    ("Sipho.Ndlovu@capaciti.org.za", "Sipho", "Ndlovu", "candidate", "Cand1date#Pass!03", "pbkdf2_600000", {}),
    ("anel.duplessis@capaciti.org.za", "Anél", "du Plessis", "candidate", "Cand1date#Pass!04", "pbkdf2_600000", {}),
    ("kagiso.molefe@capaciti.org.za", "Kagiso", "Molefe", "candidate", "Cand1date#Pass!05", "pbkdf2_600000", {}),
    ("fatima.isaacs@capaciti.org.za", "Fatima", "Isaacs", "candidate", "Cand1date#Pass!06", "pbkdf2_600000", {}),
    ("johan.obrien@capaciti.org.za", "Johan", "O'Brien", "candidate", "Cand1date#Pass!07", "pbkdf2_600000", {}),
    ("zanele.mthembu@capaciti.org.za", "Zanele", "Mthembu", "candidate", "Cand1date#Pass!08", "pbkdf2_600000", {}),
    ("bongani.zulu@capaciti.org.za", "Bongani", "Zulu", "candidate", "Cand1date#Pass!09", "pbkdf2_600000", {"is_active": False}),
    ("naledi.sithole@capaciti.org.za", "Naledi", "Sithole", "candidate", "Cand1date#Pass!10", "pbkdf2_600000", {}),
    ("candidate.test@capaciti.org.za", "", "", "candidate", "TestPass123!", "pbkdf2_600000", {}),
    ("admin.test@capaciti.org.za", "", "", "admin", "AdminPass123!", "pbkdf2_600000", {}),
]

FULL_INTAKE = {
    "lerato.khumalo@capaciti.org.za": {
        "id_number": "9801155800087",
        "contact_number": "+27821234567",
        "address": "12 Long Street, Cape Town, 8001",
        "emergency_contact": "Grace Khumalo (mother)",
        "emergency_phone": "0834567890",
        "diagnosis": "ADHD (combined presentation)",
        "medications": "Methylphenidate 10mg, mornings",
        "allergies": "Penicillin",
        "medical_notes": "Diagnosed 2016. Benefits from short breaks every 45 minutes.",
        "doctor_name": "Dr. N. Pillay",
        "doctor_phone": "021 555 0101",
        "accommodations": "Extra time on assessments; quiet room",
        "assistive_technology": "Noise-cancelling headphones",
        "learning_style": "Visual",
        "support_needs": "Weekly check-in with facilitator",
        "communication_preferences": "WhatsApp messages, no phone calls before 9am",
    },
    "sipho.ndlovu@capaciti.org.za": {
        "id_number": "0003025123081",
        "contact_number": "0712345678",
        "address": "45 Vilakazi St, Orlando West, Soweto",
        "emergency_contact": "Mandla Ndlovu",
        "emergency_phone": "+27 72 987 6543",
        "diagnosis": "Hearing impairment (moderate, bilateral)",
        "medications": "None",
        "allergies": "None known",
        "medical_notes": "Uses hearing aids; prefers seat at front <near presenter>.",
        "doctor_name": "Dr. T. Mahlangu",
        "doctor_phone": "011-555-0202",
        "accommodations": "Captions on all video content & written instructions",
        "assistive_technology": "Hearing aids; live-caption app",
        "learning_style": "Reading/Writing",
        "support_needs": "Sign-language interpreter for large sessions",
        "communication_preferences": "Email or text only",
    },
    "anel.duplessis@capaciti.org.za": {
        "id_number": "9507300123084",
        "contact_number": "0829876543",
        "address": "7 Église Road, Stellenbosch",
        "emergency_contact": "Marié du Plessis",
        "emergency_phone": "0215550303",
        "diagnosis": "Generalised anxiety disorder",
        "medications": "Escitalopram 10mg",
        "allergies": "Latex; peanuts",
        "medical_notes": "Panic episodes triggered by public speaking. Has a plan with \"Dr. O'Neill\".",
        "doctor_name": "Dr. S. O'Neill",
        "doctor_phone": "+27215550404",
        "accommodations": "Option to present in small groups",
        "assistive_technology": "",
        "learning_style": "Kinesthetic",
        "support_needs": "Access to counsellor",
        "communication_preferences": "Email",
    },
    "kagiso.molefe@capaciti.org.za": {
        "id_number": "9912316200188",
        "contact_number": "0631112222",
        "address": "Plot 9, Mahikeng",
        "emergency_contact": "Dineo Molefe",
        "emergency_phone": "0631113333",
        "diagnosis": "Type 1 diabetes",
        "medications": "Insulin (basal-bolus)",
        "allergies": "Sulfa drugs",
        "medical_notes": "Needs to eat at regular intervals; glucose tablets in bag.",
        "doctor_name": "Dr. K. Sebego",
        "doctor_phone": "0185550505",
        "accommodations": "Permission to eat during sessions",
        "assistive_technology": "CGM app on phone",
        "learning_style": "Auditory",
        "support_needs": "Fridge access for insulin",
        "communication_preferences": "Phone",
    },
    "fatima.isaacs@capaciti.org.za": {
        "id_number": "0105154800083",
        "contact_number": "0745556666",
        "address": "3 Bo-Kaap Lane, Cape Town",
        "emergency_contact": "Yusuf Isaacs",
        "emergency_phone": "0745557777",
        "diagnosis": "Dyslexia",
        "medications": "",
        "allergies": "",
        "medical_notes": "",
        "doctor_name": "",
        "doctor_phone": "",
        "accommodations": "Text-to-speech software; extra reading time",
        "assistive_technology": "NVDA screen reader, Read&Write",
        "learning_style": "Auditory",
        "support_needs": "",
        "communication_preferences": "Voice notes",
    },
    # Intake done but only the minimum: encrypted medical columns stay NULL.
    "johan.obrien@capaciti.org.za": {
        "contact_number": "0799990000",
        "address": "18 Main Rd, Gqeberha",
        "learning_style": "Visual",
    },
    "candidate.test@capaciti.org.za": {
        "id_number": "9001015009087",
        "contact_number": "0821110000",
        "emergency_contact": "Test Contact",
        "emergency_phone": "0821110001",
        "diagnosis": "Test diagnosis",
        "medications": "Test medication",
        "allergies": "None",
        "medical_notes": "Postman test candidate",
        "doctor_name": "Dr. Test",
        "doctor_phone": "0821110002",
    },
}

# Candidates WITHOUT intake (has_completed_intake stays False)
PARTIAL_PROFILE = {
    # filled contact details + some encrypted columns through the profile endpoint, no intake
    "zanele.mthembu@capaciti.org.za": {
        "contact_number": "0607778888",
        "emergency_contact": "Sibusiso Mthembu",
        "emergency_phone": "0607779999",
    },
    # Sipho.Ndlovu (upper-case duplicate), bongani.zulu, naledi.sithole: untouched profiles (all NULL)
}

MOODS = ["excellent", "good", "okay", "difficult", "very_difficult"]

JOURNAL = [
    # email, date, mood, energy, activities, challenges, achievements, notes, barriers_faced, barrier_count
    ("lerato.khumalo@capaciti.org.za", "2025-11-03", "good", 7, "Python basics module; pair programming", "Lost focus after lunch", "Finished exercise set 1", "", "", 0),
    ("lerato.khumalo@capaciti.org.za", "2025-11-04", "okay", 5, "SQL joins workshop", "Noisy venue", "", "Asked for quiet room", "Noise in open-plan venue", 1),
    ("lerato.khumalo@capaciti.org.za", "2025-11-05", "excellent", 9, "Built first REST endpoint", "", "Demoed to cohort", "Great day!", "", 0),
    ("lerato.khumalo@capaciti.org.za", "2025-11-06", "difficult", 3, "Git branching", "Merge conflicts & medication wore off early", "", "", "Medication timing; long session", 2),
    ("lerato.khumalo@capaciti.org.za", "2025-11-07", "very_difficult", 1, "Missed morning session", "Migraine", "", "Left early", "Health", 1),
    ("sipho.ndlovu@capaciti.org.za", "2025-11-03", "okay", 6, "Orientation", "Video had no captions", "", "", "No captions on onboarding video", 1),
    ("sipho.ndlovu@capaciti.org.za", "2025-11-04", "good", 8, "HTML/CSS", "", "Built a landing page", "", "", 0),
    ("sipho.ndlovu@capaciti.org.za", "2025-11-05", "difficult", 4, "Group stand-up", "Couldn't follow fast conversation", "", "Interpreter was absent", "Interpreter unavailable; fast group talk", 2),
    ("sipho.ndlovu@capaciti.org.za", "2025-11-10", "excellent", 10, "JavaScript DOM", "", "Top score in quiz", "", "", 0),
    ("anel.duplessis@capaciti.org.za", "2025-11-03", "difficult", 4, "Presentation skills", "Anxiety before presenting", "Presented to small group", "", "Public speaking", 1),
    ("anel.duplessis@capaciti.org.za", "2025-11-04", "okay", 5, "Agile ceremonies", "", "", "", "", 0),
    ("anel.duplessis@capaciti.org.za", "2025-11-05", "good", 6, "Scrum simulation <team red>", "", "Was scrum master", "Felt \"in control\"", "", 0),
    ("kagiso.molefe@capaciti.org.za", "2025-11-03", "very_difficult", 2, "Data analysis intro", "Low blood sugar mid-morning", "", "", "Hypo episode; no break scheduled", 3),
    ("kagiso.molefe@capaciti.org.za", "2025-11-04", "good", 7, "Pandas dataframes", "", "Cleaned dataset", "", "", 0),
    ("kagiso.molefe@capaciti.org.za", "2025-11-05", "excellent", 8, "Visualisation with matplotlib", "", "Chart used in team report", "", "", 0),
    ("fatima.isaacs@capaciti.org.za", "2025-11-03", "okay", 5, "Reading requirements docs", "Long dense documents", "", "Used text-to-speech", "Dense documents", 1),
    ("fatima.isaacs@capaciti.org.za", "2025-11-04", "good", 6, "UX wireframes", "", "Wireframe approved", "", "", 0),
    ("johan.obrien@capaciti.org.za", "2025-11-04", "good", 7, "Cloud fundamentals", "", "", "", "", 0),
    ("johan.obrien@capaciti.org.za", "2025-11-05", "okay", 6, "AWS lab", "Load-shedding at home", "", "", "Power outage (load-shedding); no data", 5),
    ("zanele.mthembu@capaciti.org.za", "2025-11-05", "difficult", 3, "Catch-up on missed work", "Transport strike", "", "", "Transport", 1),
    ("candidate.test@capaciti.org.za", "2025-11-05", "good", 7, "Testing the API", "", "", "", "", 0),
]

NOTES = [
    # candidate, admin, category, title, content, is_important
    ("lerato.khumalo@capaciti.org.za", "thabo.mokoena@capaciti.org.za", "progress", "Week 1 progress", "Lerato completed all week-1 exercises.", False),
    ("lerato.khumalo@capaciti.org.za", "thabo.mokoena@capaciti.org.za", "medical", "Medication timing", "Medication wears off after ~6h; schedule demanding work in mornings.", True),
    ("sipho.ndlovu@capaciti.org.za", "ayesha.patel@capaciti.org.za", "accommodation", "Interpreter booking", "Book SASL interpreter for all plenary sessions & stand-ups.", True),
    ("sipho.ndlovu@capaciti.org.za", "ayesha.patel@capaciti.org.za", "achievement", "Quiz top score", "Top score in the JavaScript DOM quiz.", False),
    ("anel.duplessis@capaciti.org.za", "thabo.mokoena@capaciti.org.za", "concern", "Presentation anxiety", "Visible distress before presenting; offered small-group option.", True),
    ("kagiso.molefe@capaciti.org.za", "nomvula.dlamini@capaciti.org.za", "medical", "Hypo episode on 3 Nov", "Glucose tablets given; facilitator informed about regular breaks.", True),
    ("kagiso.molefe@capaciti.org.za", "thabo.mokoena@capaciti.org.za", "general", "Fridge access", "Arranged fridge space in kitchen for insulin.", False),
    ("fatima.isaacs@capaciti.org.za", "ayesha.patel@capaciti.org.za", "accommodation", "Read&Write licence", "Licence issued for Read&Write <desktop>.", False),
    ("johan.obrien@capaciti.org.za", "thabo.mokoena@capaciti.org.za", "concern", "Connectivity", "Load-shedding affects home study; suggested campus lab.", False),
    ("zanele.mthembu@capaciti.org.za", "ayesha.patel@capaciti.org.za", "general", "Intake outstanding", "Reminded Zanele to complete the intake form.", False),
    ("naledi.sithole@capaciti.org.za", "nomvula.dlamini@capaciti.org.za", "progress", "Late start", "Joined cohort in week 2.", False),
]


def make_users():
    users = {}
    for email, first, last, role, password, hasher, extra in USERS:
        kwargs = dict(first_name=first, last_name=last, role=role)
        if role == "superuser":
            u = User.objects.create_superuser(email=email, password=password, **kwargs)
        else:
            if role == "admin":
                kwargs["is_staff"] = True
            u = User.objects.create_user(email=email, password=password, **kwargs)
        if hasher == "pbkdf2_260000":
            u.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt(), iterations=260000)
            u.save()
        elif hasher == "argon2":
            u.password = make_password(password, hasher="argon2")
            u.save()
        for k, v in extra.items():
            setattr(u, k, v)
        if extra:
            u.save()
        users[email] = u
    return users


def enable_totp(user, secret, codes, when):
    # what AuthViews.verify_setup does: store secret (encrypted by the field), enable, backup codes
    user.totp_secret = secret
    user.totp_enabled = True
    user.totp_enabled_at = when
    user.save()
    TwoFactorBackupCode.objects.filter(user=user).delete()
    for c in codes:
        TwoFactorBackupCode.objects.create(user=user, code_hash=hashlib.sha256(c.encode()).hexdigest())


def run():
    users = make_users()
    U = users.__getitem__
    superuser, thabo, ayesha = U("nomvula.dlamini@capaciti.org.za"), U("thabo.mokoena@capaciti.org.za"), U("ayesha.patel@capaciti.org.za")

    # Admin logged in once through Django admin (last_login is excluded from auditlog)
    superuser.last_login = at(2025, 11, 10, 7, 30)
    superuser.save(update_fields=["last_login"])

    # --- 2FA ---------------------------------------------------------------
    for email, secret in TOTP.items():
        enable_totp(U(email), secret, BACKUP_CODES[email], at(2025, 11, 1, 8, 0))
    # one backup code of each user already used (TwoFactorBackupCode.verify_code path)
    TwoFactorBackupCode.verify_code(thabo, BACKUP_CODES["thabo.mokoena@capaciti.org.za"][0])
    TwoFactorBackupCode.verify_code(U("lerato.khumalo@capaciti.org.za"), "lk11aa22")
    thabo.totp_last_used = at(2025, 11, 10, 8, 0)
    thabo.save()

    # --- password change by a candidate (PasswordHistory keeps the old hash) -----
    kagiso = U("kagiso.molefe@capaciti.org.za")
    kagiso.set_password("Cand1date#Pass!05b")
    kagiso.save()
    kagiso.set_password("Cand1date#Pass!05")  # changed back: two history rows
    kagiso.save()

    # --- intake (same path as POST /api/intake/) ------------------------------
    for email, data in FULL_INTAKE.items():
        ser = UserProfileSerializer(data=data, partial=True)
        if not ser.is_valid():
            raise SystemExit(f"intake invalid for {email}: {ser.errors}")
        with set_actor(U(email)):
            complete_intake(U(email), ser.validated_data)

    for email, data in PARTIAL_PROFILE.items():
        ser = UserProfileSerializer(data=data, partial=True)
        if not ser.is_valid():
            raise SystemExit(f"profile invalid for {email}: {ser.errors}")
        with set_actor(U(email)):
            profile = UserProfile.objects.get(user=U(email))
            for k, v in ser.validated_data.items():
                setattr(profile, k, v)
            profile.save()

    # Admin updates medical fields afterwards -> auditlog entry with plain old/new values
    with set_actor(thabo, remote_addr="10.0.0.5"):
        p = UserProfile.objects.get(user=U("lerato.khumalo@capaciti.org.za"))
        p.medications = "Methylphenidate 20mg (dose increased 2025-11-08)"
        p.medical_notes = p.medical_notes + " Dose reviewed on 2025-11-08."
        p.save()
        p = UserProfile.objects.get(user=U("kagiso.molefe@capaciti.org.za"))
        p.allergies = "Sulfa drugs; bee stings"
        p.save()

    # --- journal (same path as POST /api/journal/) ---------------------------
    for email, date, mood, energy, act, chal, ach, notes, barriers, bcount in JOURNAL:
        ser = JournalEntrySerializer(data=dict(
            date=date, mood=mood, energy_level=energy, activities=act, challenges=chal,
            achievements=ach, notes=notes, barriers_faced=barriers, barrier_count=bcount))
        if not ser.is_valid():
            raise SystemExit(f"journal invalid {email} {date}: {ser.errors}")
        with set_actor(U(email)):
            ser.save(user=U(email))
    # a PATCH of an entry (auditlog update)
    with set_actor(U("anel.duplessis@capaciti.org.za")):
        e = JournalEntry.objects.get(user=U("anel.duplessis@capaciti.org.za"), date="2025-11-04")
        ser = JournalEntrySerializer(e, data={"mood": "good", "energy_level": 6, "achievements": "Led retro"}, partial=True)
        assert ser.is_valid(), ser.errors
        ser.save()
    # EXPECTED PROBLEM: energy_level outside 1..10. The API refuses it, but the column is a plain
    # integer with no CHECK constraint; written through the model (e.g. Django admin/shell).
    JournalEntry.objects.create(
        user=U("naledi.sithole@capaciti.org.za"), date=dt.date(2025, 11, 6), mood="good", energy_level=11,
        activities="Onboarding paperwork", challenges="", achievements="", notes="", barriers_faced="",
        barrier_count=0)

    # --- admin notes (same path as POST /api/admin-notes/) -------------------
    for cand, adm, cat, title, content, imp in NOTES:
        ser = AdminNoteSerializer(data=dict(candidate=U(cand).id, category=cat, title=title,
                                            content=content, is_important=imp))
        if not ser.is_valid():
            raise SystemExit(f"note invalid: {ser.errors}")
        with set_actor(U(adm)):
            ser.save(admin=U(adm))

    # --- POPIA -----------------------------------------------------------------
    with set_actor(superuser):
        v1 = PrivacyPolicyVersion.objects.create(
            version="1.0", title="PSS Privacy Policy", content="Initial privacy policy (POPIA).",
            effective_date=at(2025, 1, 1, 0, 0), is_active=True)
        v2 = PrivacyPolicyVersion.objects.create(
            version="2.0", title="PSS Privacy Policy", content="Updated policy: medical data processing section added.",
            effective_date=at(2025, 9, 1, 0, 0), is_active=True)  # save() deactivates v1
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
    consents = [
        ("lerato.khumalo@capaciti.org.za", "data_processing", v2, True, "196.21.45.10"),
        ("lerato.khumalo@capaciti.org.za", "medical_data", v2, True, "196.21.45.10"),
        ("lerato.khumalo@capaciti.org.za", "communications", v2, True, "196.21.45.10"),  # withdrawn below
        ("sipho.ndlovu@capaciti.org.za", "data_processing", v1, True, "2001:db8::42"),
        ("sipho.ndlovu@capaciti.org.za", "medical_data", v1, True, "2001:db8::42"),
        ("anel.duplessis@capaciti.org.za", "data_processing", v2, True, None),
        ("anel.duplessis@capaciti.org.za", "data_sharing", v2, False, None),
        ("kagiso.molefe@capaciti.org.za", "data_processing", v2, True, "41.13.0.7"),
        ("kagiso.molefe@capaciti.org.za", "medical_data", v2, True, "41.13.0.7"),
        ("fatima.isaacs@capaciti.org.za", "data_processing", v2, True, "41.13.0.8"),
    ]
    for email, ctype, ver, granted, ip in consents:
        with set_actor(U(email)):
            UserConsent.objects.create(user=U(email), consent_type=ctype, privacy_policy_version=ver,
                                       granted=granted, ip_address=ip, user_agent=ua if ip else "")
    with set_actor(U("lerato.khumalo@capaciti.org.za")):
        UserConsent.objects.get(user=U("lerato.khumalo@capaciti.org.za"), consent_type="communications").withdraw()

    # deletion requests: pending, approved, rejected, cancelled
    with set_actor(U("bongani.zulu@capaciti.org.za")):
        DataDeletionRequest.objects.create(user=U("bongani.zulu@capaciti.org.za"), reason="Leaving the programme.")
    with set_actor(U("johan.obrien@capaciti.org.za")):
        r_app = DataDeletionRequest.objects.create(user=U("johan.obrien@capaciti.org.za"), reason="")
    with set_actor(U("zanele.mthembu@capaciti.org.za")):
        r_rej = DataDeletionRequest.objects.create(user=U("zanele.mthembu@capaciti.org.za"), reason="Please remove my data")
    with set_actor(U("naledi.sithole@capaciti.org.za")):
        r_can = DataDeletionRequest.objects.create(user=U("naledi.sithole@capaciti.org.za"), reason="Changed my mind later")
    with set_actor(superuser):
        r_app.approve(superuser, notes="Approved; execute after cohort ends.")
    with set_actor(ayesha):
        r_rej.reject(ayesha, reason="Active programme participant; records needed for funding compliance.")
    with set_actor(U("naledi.sithole@capaciti.org.za")):
        r_can.status = "cancelled"
        r_can.save()

    # export requests: as GET /api/popia/data-export/ logs them
    now = timezone.now()
    with set_actor(U("lerato.khumalo@capaciti.org.za")):
        DataExportRequest.objects.create(user=U("lerato.khumalo@capaciti.org.za"), status="completed",
                                         completed_at=now, expires_at=now + dt.timedelta(hours=48), download_count=1)
    with set_actor(U("kagiso.molefe@capaciti.org.za")):
        DataExportRequest.objects.create(user=U("kagiso.molefe@capaciti.org.za"), status="failed",
                                         error_message="'UserProfile' object has no attribute 'date_of_birth'")
        DataExportRequest.objects.create(user=U("kagiso.molefe@capaciti.org.za"), status="pending")
        DataExportRequest.objects.create(user=U("kagiso.molefe@capaciti.org.za"), status="processing",
                                         file_path="exports/my_data_kagiso.json")

    # inactive-account schedule (cleanup_inactive_accounts command output)
    AccountDeletionSchedule.objects.create(user=U("bongani.zulu@capaciti.org.za"),
                                           scheduled_deletion_date=at(2025, 12, 31, 0, 0),
                                           first_warning_sent=at(2025, 12, 1, 6, 0))
    AccountDeletionSchedule.objects.create(user=U("naledi.sithole@capaciti.org.za"),
                                           scheduled_deletion_date=at(2026, 1, 15, 0, 0), exempted=True,
                                           exemption_reason="Re-joined programme")

    # password reset tokens (hash of the plain token only)
    tok = PasswordResetToken.objects.create(
        user=U("fatima.isaacs@capaciti.org.za"),
        token_hash=hashlib.sha256(RESET_TOKEN_PLAIN.encode()).hexdigest(),
        expires_at=at(2030, 1, 1, 0, 0), ip_address="196.21.45.11", user_agent=ua)
    _, used = PasswordResetToken.generate_token(U("sipho.ndlovu@capaciti.org.za"), ip_address="2001:db8::42", user_agent=ua)
    used.mark_as_used()
    del tok


if __name__ == "__main__":
    with transaction.atomic():
        run()
    print("seeded:", {m.__name__: m.objects.count() for m in (
        User, UserProfile, JournalEntry, UserConsent, DataDeletionRequest, DataExportRequest,
        PrivacyPolicyVersion, TwoFactorBackupCode, PasswordResetToken, AccountDeletionSchedule)})
