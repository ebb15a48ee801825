"""Seed the ORIGINAL MksU Clearance System (Django, BACKEND/) with a small realistic data set,
using ITS models, managers, management commands, notification helpers and (for a few requests)
its own API views through Django's test client, so that hashes, defaults, audit rows and
notifications are what the original writes.

Run by build.sh with DJANGO_SETTINGS_MODULE=local_settings (cwd = BACKEND/, migrated db).
The same script runs on SQLite and on PostgreSQL.  It is deterministic: a fake clock
(django.utils.timezone.now) and seeded UUID defaults make ids and timestamps identical on
both backends (only password salts, JWT token rows and Argon2 hashes differ).
"""
import datetime as dt
import decimal
import io
import os
import random
import uuid

import django.utils.timezone as tzmod

# ---------------------------------------------------------------- deterministic clock
UTC = dt.timezone.utc
_CLOCK = {'t': dt.datetime(2025, 9, 1, 6, 0, 0, tzinfo=UTC)}


def _fake_now():
    _CLOCK['t'] += dt.timedelta(milliseconds=137)
    return _CLOCK['t']


def at(y, m, d, hh=9, mm=0):
    """Jump the clock (UTC)."""
    _CLOCK['t'] = dt.datetime(y, m, d, hh, mm, 0, tzinfo=UTC)


tzmod.now = _fake_now  # before the models are imported (GownIssuance default=timezone.now)

import django  # noqa: E402

django.setup()

from django.apps import apps as django_apps  # noqa: E402
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import models as djm  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

# ---------------------------------------------------------------- deterministic uuids
_RNG = random.Random(20251130)


def _det_uuid4():
    return uuid.UUID(int=_RNG.getrandbits(128), version=4)


for _m in django_apps.get_models():
    _pk = _m._meta.pk
    if isinstance(_pk, djm.UUIDField) and _pk.default is uuid.uuid4:
        _pk.default = _det_uuid4
        _pk.__dict__.pop('_get_default', None)

from apps.academics.models import AcademicDepartment, Course, School  # noqa: E402
from apps.approvals.models import ClearanceApproval  # noqa: E402
from apps.audit_logs.models import AuditLog  # noqa: E402
from apps.clearances.models import ClearanceRequest  # noqa: E402
from apps.departments.models import Department  # noqa: E402
from apps.finance.models import Payment  # noqa: E402
from apps.gown_issuance.models import GownIssuance  # noqa: E402
from apps.notifications.models import Notification  # noqa: E402
from apps.notifications.utils import (create_notification, notify_approval_action,  # noqa: E402
                                      notify_approval_pending)
from apps.students.models import Student  # noqa: E402
from apps.users.models import User  # noqa: E402

PW_ADMIN = 'Admin#Mksu2025'
PW_STAFF = 'Staff#Mksu2025'
PW_STUDENT = 'Student#Mksu2025'
PASSWORDS = {}  # email -> (password, hasher)


# ---------------------------------------------------------------- tiny real files
def pdf_bytes(title):
    """A minimal valid one-page PDF with a line of text."""
    text = title.replace('(', '[').replace(')', ']')
    stream = f'BT /F1 14 Tf 50 750 Td ({text}) Tj ET'.encode()
    objs = [
        b'<< /Type /Catalog /Pages 2 0 R >>',
        b'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        b'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R '
        b'/Resources << /Font << /F1 5 0 R >> >> >>',
        b'<< /Length %d >>\nstream\n' % len(stream) + stream + b'\nendstream',
        b'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ]
    out = io.BytesIO()
    out.write(b'%PDF-1.4\n')
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(out.tell())
        out.write(b'%d 0 obj\n' % i + o + b'\nendobj\n')
    xref = out.tell()
    out.write(b'xref\n0 %d\n0000000000 65535 f \n' % (len(objs) + 1))
    for o in offs:
        out.write(b'%010d 00000 n \n' % o)
    out.write(b'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' % (len(objs) + 1, xref))
    return out.getvalue()


def png_bytes(seed):
    from PIL import Image, ImageDraw
    img = Image.new('RGB', (120, 60), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.rectangle([4, 4, 115, 55], outline=(0, 90, 50))
    d.text((10, 22), seed[:16], fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format='PNG', optimize=False)
    return buf.getvalue()


# ---------------------------------------------------------------- users
def set_password(user, pw, hasher='default'):
    if hasher == 'pbkdf2_260000':
        user.password = PBKDF2PasswordHasher().encode(pw, 'mksuFixtureSalt260k', iterations=260000)
    elif hasher == 'argon2':
        user.password = make_password(pw, hasher='argon2')
    else:
        user.password = make_password(pw)
    user.save()
    PASSWORDS[user.email] = (pw, {'default': 'pbkdf2_sha256 600000'}.get(hasher, hasher))


def mk_user(email, full_name, role, pw, dept=None, hasher='default', **extra):
    u = User.objects.create_user(username=email, email=email, password=None,
                                 full_name=full_name, role=role, department=dept, **extra)
    set_password(u, pw, hasher)
    return u


def main():
    # ---------------------------------------------------------- their commands
    at(2025, 9, 1, 6, 0)
    call_command('create_superuser_auto')          # admin@mksu.ac.ke / admin123456
    su = User.objects.get(email='admin@mksu.ac.ke')
    PASSWORDS[su.email] = ('admin123456', 'pbkdf2_sha256 600000')
    at(2025, 9, 1, 6, 5)
    call_command('seed_departments')               # 8 offices, capitalised department_type values
    D = {d.code: d for d in Department.objects.all()}

    # an extra office created the normal way (lowercase type), later deactivated
    at(2025, 9, 1, 6, 10)
    gowns = Department.objects.create(
        name='Graduation Gown Store', code='GOWNS', department_type='other',
        head_email='gowns@mksu.ac.ke', description='Issues and receives graduation gowns',
        approval_order=9)
    D['GOWNS'] = gowns

    # ---------------------------------------------------------- academics
    at(2025, 9, 1, 7, 0)
    sce = School.objects.create(name='School of Engineering and Technology', code='SCE',
                                dean_email='dean.sce@mksu.ac.ke', description='Engineering & computing')
    sbs = School.objects.create(name='School of Business and Economics', code='SBE',
                                dean_email=None, description='')
    cs = AcademicDepartment.objects.create(school=sce, name='Computer Science', code='CS',
                                           head_email='hod.cs@mksu.ac.ke')
    ee = AcademicDepartment.objects.create(school=sce, name='Electrical Engineering', code='EE')
    acc = AcademicDepartment.objects.create(school=sbs, name='Accounting and Finance', code='ACC',
                                            head_email='hod.acc@mksu.ac.ke')
    bsc_cs = Course.objects.create(department=cs, code='BSC-CS', name='BSc Computer Science')
    bsc_it = Course.objects.create(department=cs, code='BSC-IT', name='BSc Information Technology')
    bsc_ee = Course.objects.create(department=ee, code='BSC-EE', name='BSc Electrical Engineering',
                                   duration_years=5)
    bcom = Course.objects.create(department=acc, code='BCOM', name='Bachelor of Commerce',
                                 is_active=False)

    # ---------------------------------------------------------- admins & staff
    at(2025, 9, 2, 8, 0)
    registrar = mk_user('registrar@mksu.ac.ke', 'Grace Mutheu', 'admin', PW_ADMIN, is_staff=True)
    staff = {}
    staff['finance_staff'] = mk_user('finance.officer@mksu.ac.ke', 'John Kilonzo', 'finance_staff',
                                     PW_STAFF, D['FINANCE'])
    staff['library_staff'] = mk_user('library.officer@mksu.ac.ke', 'Esther Nduku', 'library_staff',
                                     PW_STAFF, D['LIBRARY'], hasher='pbkdf2_260000')
    staff['hostel_staff'] = mk_user('hostel.officer@mksu.ac.ke', 'Peter Musyoka', 'hostel_staff',
                                    PW_STAFF, D['HOSTEL'])
    staff['academic_staff'] = mk_user('academic.officer@mksu.ac.ke', 'Dr. Ann Wambua', 'academic_staff',
                                      PW_STAFF, D['ACADEMIC'])
    staff['gown_issuance_staff'] = mk_user('gown.officer@mksu.ac.ke', 'Faith Mwikali',
                                           'gown_issuance_staff', PW_STAFF, D['GOWNS'])
    staff['department_staff'] = mk_user('mess.staff@mksu.ac.ke', 'Joseph Mutua', 'department_staff',
                                        PW_STAFF, D['MESS'])
    staff['department_staff_2'] = mk_user('workshop.staff@mksu.ac.ke', 'Daniel Kioko', 'department_staff',
                                          PW_STAFF, D['WORKSHOP'])
    staff['department_staff_3'] = mk_user('sports.staff@mksu.ac.ke', 'Lucy Mwende', 'department_staff',
                                          PW_STAFF, D['SPORTS'])
    staff['department_staff_4'] = mk_user('studentservices.staff@mksu.ac.ke', 'Agnes Katee',
                                          'department_staff', PW_STAFF, D['STUDENT_SERVICES'])
    # clearance officer: a campus-wide role in the original's UI, but it has NO department
    staff['clearance_officer'] = mk_user('clearance.officer@mksu.ac.ke', 'Samuel Mutiso',
                                         'clearance_officer', PW_STAFF, None)

    # ---------------------------------------------------------- students
    spec = [
        # email, name, reg no, school, dept, course, program, grad year, eligibility, hasher
        ('mary.wanjiku@students.mksu.ac.ke', 'Mary Wanjiku', 'SCE/CS/0001/2021', sce, cs, bsc_cs,
         'BSc Computer Science', 2025, 'eligible', 'default'),
        ('brian.otieno@students.mksu.ac.ke', 'Brian Otieno', 'SCE/CS/0002/2021', sce, cs, bsc_cs,
         'BSc Computer Science', 2025, 'eligible', 'argon2'),
        ('cynthia.akinyi@students.mksu.ac.ke', 'Cynthia Akinyi', 'SCE/CS/0014/2021', sce, cs, bsc_it,
         'BSc Information Technology', 2025, 'eligible', 'default'),
        ('dennis.kiprop@students.mksu.ac.ke', 'Dennis Kiprop', 'SCE/EE/0003/2020', sce, ee, bsc_ee,
         'BSc Electrical Engineering', 2025, 'eligible', 'default'),
        ('eunice.njeri@students.mksu.ac.ke', 'Eunice Njeri', 'SBE/ACC/0007/2021', sbs, acc, bcom,
         'Bachelor of Commerce', 2025, 'eligible', 'default'),
        ('felix.mwangi@students.mksu.ac.ke', 'Felix Mwangi', 'SBE/ACC/0011/2021', sbs, acc, bcom,
         'Bachelor of Commerce', 2025, 'pending', 'default'),
        ('gladys.chebet@students.mksu.ac.ke', 'Gladys Chebet', 'SCE/EE/0009/2020', sce, ee, bsc_ee,
         'BSc Electrical Engineering', 2025, 'eligible', 'default'),
        ('hassan.omar@students.mksu.ac.ke', 'Hassan Omar', 'SCE/CS/0021/2022', sce, cs, bsc_cs,
         'BSc Computer Science', 2026, 'pending', 'default'),
        ('irene.wairimu@students.mksu.ac.ke', 'Irene Wairimu', 'SBE/ACC/0015/2022', sbs, acc, bcom,
         'Bachelor of Commerce', 2026, 'ineligible', 'default'),
        ('james.mutuku@students.mksu.ac.ke', 'James Mutuku', 'SCE/CS/0030/2021', sce, cs, bsc_it,
         'BSc Information Technology', 2025, 'eligible', 'default'),
        # legacy record: no academic FKs, free-text faculty only
        ('kevin.maina@students.mksu.ac.ke', 'Kevin Maina', 'SCE/IT/0005/2019', None, None, None,
         'Diploma in IT (legacy)', 2024, 'eligible', 'default'),
        # inactive account
        ('lilian.nyambura@students.mksu.ac.ke', 'Lilian Nyambura', 'SBE/ACC/0019/2021', sbs, acc, None,
         'Bachelor of Commerce', 2025, 'ineligible', 'default'),
    ]
    S = []
    for i, (email, name, reg, school, dep, course, program, gy, elig, hasher) in enumerate(spec):
        at(2025, 9, 3 + i // 4, 9 + i % 4, 15)
        u = mk_user(email, name, 'student', PW_STUDENT, None, hasher=hasher, admission_number=reg,
                    is_active=(email != 'lilian.nyambura@students.mksu.ac.ke'))
        s = Student.objects.create(
            user=u, registration_number=reg, school=school, department=dep, course=course,
            faculty=school.name if school else 'Faculty of Computing (legacy)', program=program,
            graduation_year=gy, eligibility_status=elig)
        S.append(s)

    # students without a profile (self-registered via /api/auth/register/, which creates no Student)
    at(2025, 9, 8, 10, 0)
    noprof = mk_user('peter.kamau@students.mksu.ac.ke', 'Peter Kamau', 'student', PW_STUDENT, None,
                     admission_number='SCE/CS/0044/2023')
    # EXPECTED PROBLEM 1: e-mail differing only in letter case from mary.wanjiku@ (also no profile)
    at(2025, 9, 8, 10, 30)
    dup = mk_user('Mary.Wanjiku@students.mksu.ac.ke', 'Mary W. Wanjiku', 'student', PW_STUDENT, None)

    # EXPECTED PROBLEM 2: registration number that fails the original's own validator
    # (Student.save() does not run validators, so the original stores it)
    at(2025, 9, 8, 11, 0)
    u = mk_user('oscar.kyalo@students.mksu.ac.ke', 'Oscar Kyalo', 'student', PW_STUDENT, None,
                admission_number='sce-cs-77-2023')
    bad_reg = Student.objects.create(user=u, registration_number='sce-cs-77-2023', school=sce,
                                     department=cs, course=bsc_cs, faculty=sce.name,
                                     program='BSc Computer Science', graduation_year=2027)
    S.append(bad_reg)  # index 12; admission_year stays NULL (regex did not match)

    # ---------------------------------------------------------- API client helpers
    def client_for(user=None):
        c = APIClient(raise_request_exception=False)
        if user is not None:
            c.force_authenticate(user=user)
        return c

    # anonymous health check (middleware row with actor NULL), admin login via their JWT view
    at(2025, 9, 10, 7, 0)
    client_for().get('/api/health/')
    client_for().post('/api/auth/login/', {'email': 'admin@mksu.ac.ke', 'password': 'admin123456'},
                      format='json')
    client_for().post('/api/auth/login/', {'email': 'registrar@mksu.ac.ke', 'password': 'wrong-password'},
                      format='json')

    # ---------------------------------------------------------- clearance helpers (mirror their code)
    def create_request(student, when, via_api=False):
        at(*when)
        if via_api:
            r = client_for(student.user).post('/api/clearances/', {'student_id': str(student.id)},
                                              format='json')
            assert r.status_code == 201, (r.status_code, r.content)
            cr = ClearanceRequest.objects.filter(student=student).order_by('-created_at').first()
        else:
            # same writes as ClearanceRequestCreateSerializer.create()
            cr = ClearanceRequest.objects.create(student=student, status='pending')
            for dept in Department.objects.filter(is_active=True).order_by('approval_order'):
                ClearanceApproval.objects.create(clearance_request=cr, department=dept, status='pending',
                                                 notes=f'Awaiting approval from {dept.name}')
        if via_api:  # the original's create writes no notification
            return cr
        # notify_clearance_submitted() crashes in the original (clearance_request.academic_year does
        # not exist) after nothing was written; write the notifications it intends, via its helper.
        create_notification(recipient=student.user, notification_type='clearance_submitted',
                            title='Clearance Request Submitted',
                            message='Your clearance request has been submitted successfully. '
                                    'It is now pending approval.', clearance=cr, send_email=True)
        for adm in User.objects.filter(role='admin', is_active=True):
            create_notification(recipient=adm, notification_type='clearance_submitted',
                                title='New Clearance Request',
                                message=f'Student {student.user.get_full_name()} ({student.registration_number}) '
                                        f'has submitted a clearance request.', clearance=cr, send_email=False)
        for ap in cr.approvals.filter(status='pending'):
            notify_approval_pending(ap)  # works in the original (department_staff of that office)
        return cr

    def officer_for(dept):
        return User.objects.filter(department=dept).exclude(role='student').order_by('email').first() or registrar

    def act(cr, code, action, when, notes='', reason='', via_api=False):
        at(*when)
        ap = cr.approvals.get(department__code=code)
        who = officer_for(ap.department)
        if via_api:
            body = {'action': action, 'notes': notes}
            if reason:
                body['rejection_reason'] = reason
            r = client_for(who).post(f'/api/approvals/{ap.id}/approve_reject/', body, format='json')
            return r.status_code
        # same writes as ClearanceApprovalViewSet.approve_reject()
        if action == 'approve':
            ap.status, ap.approved_by, ap.approval_date = 'approved', who, tzmod.now()
            ap.notes = notes or 'Approved'
            ap.save()
            cr.status = 'in_progress'
            cr.save()
            pending = cr.approvals.filter(status='pending').count()
            if pending == 0:
                cr.status = 'completed'
                cr.completion_date = tzmod.now()
                cr.save()
                notify_approval_action(ap)
                create_notification(recipient=cr.student.user, notification_type='clearance_approved',
                                    title='Clearance Request Approved',
                                    message='Congratulations! Your clearance request has been fully approved.',
                                    clearance=cr, send_email=True)
            AuditLog.log_action(actor=who, action='approve', entity='ClearanceApproval', entity_id=ap.id,
                                description=f'Approval #{ap.id} approved for clearance #{cr.id}',
                                changes={'notes': notes}, ip_address='10.0.4.17')
            if pending:
                notify_approval_action(ap)
        else:
            ap.status, ap.approved_by, ap.approval_date = 'rejected', who, tzmod.now()
            ap.rejection_reason, ap.notes = reason, notes
            ap.save()
            cr.status = 'rejected'
            cr.save()
            create_notification(recipient=cr.student.user, notification_type='clearance_rejected',
                                title='Clearance Request Rejected',
                                message='Your clearance request has been rejected. Please check the '
                                        'approval details for more information.', clearance=cr, send_email=True)
            AuditLog.log_action(actor=who, action='reject', entity='ClearanceApproval', entity_id=ap.id,
                                description=f'Approval #{ap.id} rejected for clearance #{cr.id}',
                                changes={'notes': notes, 'rejection_reason': reason}, ip_address=None)
        return 200

    ALL9 = ['FINANCE', 'LIBRARY', 'MESS', 'HOSTEL', 'ACADEMIC', 'WORKSHOP', 'SPORTS', 'STUDENT_SERVICES', 'GOWNS']

    # -- Mary: completed (all 9 offices approved)
    cr_mary = create_request(S[0], (2025, 9, 15, 8, 30))
    for k, code in enumerate(ALL9):
        act(cr_mary, code, 'approve', (2025, 9, 16 + k // 3, 9 + k, 5),
            notes='' if k % 2 else f'{code.title()} cleared, no outstanding items')
    # -- Brian: completed
    cr_brian = create_request(S[1], (2025, 9, 15, 10, 0))
    for k, code in enumerate(reversed(ALL9)):
        act(cr_brian, code, 'approve', (2025, 9, 18, 8 + k, 40))
    # -- Cynthia: in_progress (4 approved)
    cr_cyn = create_request(S[2], (2025, 9, 20, 9, 0))
    for k, code in enumerate(['FINANCE', 'LIBRARY', 'MESS', 'HOSTEL']):
        act(cr_cyn, code, 'approve', (2025, 9, 22, 9 + k, 0))
    # -- Dennis: rejected by LIBRARY (2 approved, 1 rejected, rest pending); then a 2nd request
    cr_den = create_request(S[3], (2025, 9, 20, 11, 0))
    act(cr_den, 'FINANCE', 'approve', (2025, 9, 21, 9, 0))
    act(cr_den, 'MESS', 'approve', (2025, 9, 21, 10, 0))
    act(cr_den, 'LIBRARY', 'reject', (2025, 9, 21, 11, 0), notes='See library desk',
        reason='3 overdue books: Signals & Systems, Control Engineering, Circuit Analysis')
    # -- Eunice: rejected by HOSTEL straight away
    cr_eun = create_request(S[4], (2025, 9, 23, 9, 0))
    act(cr_eun, 'HOSTEL', 'reject', (2025, 9, 24, 14, 0), reason='Damaged room furniture (KES 3,500 outstanding)')
    # -- Gladys: in_progress, one approval through the REAL API view (middleware + audit + notification)
    cr_gla = create_request(S[6], (2025, 9, 25, 9, 0))
    act(cr_gla, 'FINANCE', 'approve', (2025, 9, 26, 9, 0))
    code_api_approve = act(cr_gla, 'ACADEMIC', 'approve', (2025, 9, 26, 10, 0), notes='All units passed',
                           via_api=True)

    # evidence file on one approval (upload_to evidence/<dept code>/<reg no>/<file>)
    at(2025, 9, 26, 11, 0)
    ev = cr_mary.approvals.get(department__code='LIBRARY')
    ev.evidence_file.save('library_clearance_slip.pdf', ContentFile(pdf_bytes('Library clearance slip SCE/CS/0001/2021')))

    # the Gown Store office is retired: existing approvals keep pointing to an inactive office
    at(2025, 10, 1, 8, 0)
    gowns.is_active = False
    gowns.save()

    # -- requests created through the REAL API view (8 active offices -> 8 approvals each)
    cr_fel = create_request(S[5], (2025, 10, 2, 9, 0), via_api=True)     # pending
    cr_has = create_request(S[7], (2025, 10, 3, 9, 0), via_api=True)     # pending, then one api reject
    code_api_reject = act(cr_has, 'SPORTS', 'reject', (2025, 10, 4, 9, 0), notes='Kit not returned',
                          reason='Football kit #14 not returned', via_api=True)
    cr_jam = create_request(S[9], (2025, 10, 5, 9, 0))                   # pending
    cr_den2 = create_request(S[3], (2025, 10, 6, 9, 0))                  # Dennis again, after returning books
    act(cr_den2, 'LIBRARY', 'approve', (2025, 10, 7, 9, 0), notes='Books returned')
    cr_kev = create_request(S[10], (2025, 10, 8, 9, 0))                   # legacy student, completed
    for k, code in enumerate(ALL9[:8]):
        act(cr_kev, code, 'approve', (2025, 10, 9, 8 + k, 0))

    # ---------------------------------------------------------- payments (receipts + fee statements)
    fin = staff['finance_staff']
    pay_spec = [
        # student idx, amount, method, txn, phone, verified_by, receipt kind, fee statement
        (0, '10000.00', 'mpesa', 'QJK4T7XN2P', '254712345001', fin, 'pdf', True),
        (1, '10000.00', 'bank', 'EQB-FT-88213409', '', registrar, 'png', True),
        (2, '5500.50', 'mpesa', 'QJL9R2MM8A', '254722000014', None, 'pdf', True),
        (3, '7250.75', 'cash', 'CASH-0091', '', fin, None, True),
        (4, '10000.00', 'mpesa', 'QJM1C5BV0Z', '254733100007', 'stk', None, False),
        (6, '9999.99', 'bank', 'KCB-2025-771', '', None, 'png', False),
        (10, '10000.00', 'cash', 'CASH-0102', '', fin, 'pdf', True),
        # EXPECTED PROBLEM 3: zero amount (Payment.full_clean() has no minimum, so the original stores it)
        (7, '0.00', 'mpesa', '', '254700000021', None, None, False),
    ]
    P = []
    for k, (si, amount, method, txn, phone, ver, rkind, fstmt) in enumerate(pay_spec):
        at(2025, 9, 10 + k, 12, 30)
        st = S[si]
        p = Payment(student=st, amount=amount, payment_method=method, transaction_id=txn,
                    phone_number=phone, payment_date=tzmod.now() if txn else None,
                    notes='M-PESA STK Push initiated' if ver == 'stk' else '')
        slug = st.registration_number.replace('/', '_')
        if rkind == 'pdf':
            p.receipt.save(f'receipt_{slug}.pdf', ContentFile(pdf_bytes(f'Receipt {txn} KES {amount}')), save=False)
        elif rkind == 'png':
            p.receipt.save(f'receipt_{slug}.png', ContentFile(png_bytes(txn)), save=False)
        if fstmt:
            p.fee_statement.save(f'fee_statement_{slug}.pdf',
                                 ContentFile(pdf_bytes(f'Fee statement {st.registration_number} balance 0.00')),
                                 save=False)
        p.save()
        if ver is not None:
            at(2025, 9, 10 + k, 16, 45)
            if ver == 'stk':  # M-PESA callback path: auto-verified, no verified_by
                p.transaction_id = txn
                p.is_verified = True
                p.notes += f'\nM-PESA Payment successful. Receipt: {txn}'
                p.save()
            else:             # /verify/ path
                p.is_verified, p.verified_by, p.verification_date = True, ver, tzmod.now()
                p.notes = (p.notes + '\n' if p.notes else '') + f'Verified by {ver.full_name}'
                p.save()
            create_notification(recipient=st.user, notification_type='payment_verified', title='Payment Verified',
                                message=f'Your payment of {p.amount} has been verified. You can now submit '
                                        f'your clearance request.', payment=p, send_email=True)
        P.append(p)
    # payment_received (student + finance staff) and the "Payment Failed" one the callback writes
    at(2025, 10, 10, 9, 0)
    create_notification(recipient=S[6].user, notification_type='payment_received', title='Payment Received',
                        message=f'Your payment of {P[5].amount} has been received. Transaction ID: '
                                f'{P[5].transaction_id}. Awaiting verification.', payment=P[5], send_email=True)
    create_notification(recipient=fin, notification_type='payment_received', title='New Payment Received',
                        message=f'Payment of {P[5].amount} received from {S[6].user.get_full_name()}. '
                                f'Awaiting verification.', payment=P[5], send_email=False)
    create_notification(recipient=S[7].user, notification_type='payment_received', title='Payment Failed',
                        message=f'Your payment of {P[7].amount} has failed. Please try again or contact '
                                f'finance office.', payment=P[7], send_email=True)
    # payment_failed is a declared type the original never emits itself: an admin-sent one
    create_notification(recipient=S[7].user, notification_type='payment_failed', title='M-PESA payment failed',
                        message='Request cancelled by user (ResultCode 1032).', payment=P[7], send_email=False)

    # ---------------------------------------------------------- gowns
    gown_spec = [
        # student idx, number, size, deposit_paid, receipt, expected return, state
        (0, 'GWN-2025-001', 'M', True, 'DEP-5001', dt.date(2025, 12, 20), 'issued'),
        (1, 'GWN-2025-002', 'L', True, 'DEP-5002', dt.date(2025, 11, 1), 'returned_refunded'),
        (2, 'GWN-2025-003', 'S', True, 'DEP-5003', dt.date(2025, 11, 1), 'returned'),
        (3, 'GWN-2025-004', 'XL', False, '', dt.date(2025, 10, 15), 'issued'),      # overdue, deposit unpaid
        (4, 'GWN-2025-005', 'XS', True, 'DEP-5005', dt.date(2025, 11, 1), 'damaged'),
        (10, 'GWN-2025-006', 'XXL', True, 'DEP-5006', dt.date(2025, 11, 1), 'lost'),
    ]
    gown_officer = staff['gown_issuance_staff']
    for k, (si, num, size, paid, rcpt, ret, state) in enumerate(gown_spec):
        at(2025, 10, 12, 9, 10 * k)
        g = GownIssuance.objects.create(student=S[si], gown_number=num, gown_size=size, deposit_paid=paid,
                                        deposit_receipt=rcpt, issued_by=gown_officer if k % 2 == 0 else registrar,
                                        expected_return_date=ret,
                                        notes='Graduation ceremony 2025' if k < 3 else '')
        if state in ('returned', 'returned_refunded', 'damaged'):
            at(2025, 10, 28, 10, 5 * k)
            g.mark_returned(returned_to=gown_officer,
                            condition_notes='Good condition' if state != 'damaged' else 'Torn sleeve, wine stain')
            if state == 'damaged':
                g.status = 'damaged'
                g.save()
            if state in ('returned_refunded', 'damaged'):
                at(2025, 10, 29, 11, 5 * k)
                g.process_refund(decimal.Decimal('2000.00') if state == 'returned_refunded' else decimal.Decimal('1250.50'))
        elif state == 'lost':
            g.status = 'lost'
            g.condition_notes = 'Reported lost by student'
            g.save()

    # ---------------------------------------------------------- general notifications (admin POST via API)
    at(2025, 10, 15, 8, 0)
    r = client_for(registrar).post('/api/notifications/', {
        'recipient_id': str(S[0].user.id), 'notification_type': 'general',
        'title': 'Graduation rehearsal', 'message': 'Rehearsal is on 18 Dec at 9:00 in the main grounds.'},
        format='json')
    assert r.status_code == 201, (r.status_code, r.content)
    for st in (S[1], S[2]):
        create_notification(recipient=st.user, notification_type='general', title='Gown collection',
                            message='Collect your gown from the Student Centre.', send_email=False)
    # one deleted via the API (DELETE row in the audit log)
    tmp = create_notification(recipient=S[9].user, notification_type='general', title='Test',
                              message='Please ignore.', send_email=False)
    at(2025, 10, 15, 8, 30)
    client_for(registrar).delete(f'/api/notifications/{tmp.id}/')
    # a few read (their model method) and a couple of API reads
    at(2025, 10, 16, 7, 0)
    for n in Notification.objects.filter(recipient__in=[S[0].user, S[3].user]).order_by('created_at')[:6]:
        n.mark_as_read()
    client_for(S[0].user).get('/api/notifications/unread_count/')
    client_for(registrar).get('/api/approvals/statistics/')

    # ---------------------------------------------------------- audit rows from their update mixin style
    at(2025, 10, 17, 9, 0)
    s = S[5]
    s.eligibility_status = 'eligible'
    s.save()
    AuditLog.log_action(actor=registrar, action='update', entity='Student', entity_id=s.id,
                        description='Updated Student via API',
                        changes={'data': {'id': str(s.id), 'eligibility_status': 'eligible'}},
                        ip_address='2001:db8::17')

    # last_login for a few accounts (their JWT views set it; force_authenticate does not)
    at(2025, 10, 20, 7, 30)
    for u in (registrar, fin, S[0].user):
        u.last_login = tzmod.now()
        u.save(update_fields=['last_login'])

    # ---------------------------------------------------------- report
    print('api approve status', code_api_approve, 'api reject status', code_api_reject)
    for m in (User, Department, School, AcademicDepartment, Course, Student, ClearanceRequest, ClearanceApproval,
              Payment, GownIssuance, Notification, AuditLog):
        print(f'{m._meta.db_table:24s} {m.objects.count()}')
    with open(os.path.join(os.environ['FIXTURE_MEDIA_ROOT'], '..', f'passwords-{os.environ.get("FIXTURE_DB", "sqlite")}.txt'), 'w') as f:
        for email, (pw, h) in PASSWORDS.items():
            u = User.objects.get(email=email)
            f.write(f'{email}\t{u.role}\t{pw}\t{h}\t{u.password.split("$")[0]}\n')


if __name__ == '__main__':
    main()
