"""Seed the ORIGINAL hspiira/axis Django project with a small, realistic data set for
campus's `import-django axis` tests.  Run inside the original's venv:

    DJANGO_SETTINGS_MODULE=local_settings python seed.py

Uses the original's own models, managers, management command and model methods so that
hashes, defaults, JSON metadata and CUID ids are exactly what the original writes.
"""
import os
import sys
import io
import datetime as dt
from decimal import Decimal

sys.path.insert(0, os.getcwd())
import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.contrib.auth.hashers import make_password, PBKDF2PasswordHasher  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from apps.authentication.models import (  # noqa: E402
    User, Profile, Account, Session, Role, Permission, RolePermission, UserRole, UserClient)
from apps.clients.models import Industry, Client, ClientTag, ClientContact, ClientActivity  # noqa: E402
from apps.contracts.models import Contract  # noqa: E402
from apps.persons.models import Person  # noqa: E402
from apps.services_app.models import (  # noqa: E402
    ServiceCategory, Service, ServiceProvider, ServiceAssignment, ServiceSession, SessionFeedback)
from apps.documents.models import Document  # noqa: E402
from apps.kpis.models import KPIType, KPI, KPIAssignment  # noqa: E402
from apps.audit.models import AuditLog, EntityChange, FieldChange  # noqa: E402

TODAY = timezone.now().date()
NOW = timezone.now()
D = dt.date
UTC = dt.timezone.utc


def days(n):
    return TODAY + dt.timedelta(days=n)


def at(y, m, d, hh=9, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=UTC)


PASSWORDS = {}  # email -> (password, hasher)


def set_pw(user, pw, hasher='default'):
    if hasher in ('pbkdf2_260000', 'pbkdf2_600000'):
        it = int(hasher.split('_')[1])
        user.password = PBKDF2PasswordHasher().encode(pw, PBKDF2PasswordHasher().salt(), iterations=it)
    elif hasher == 'argon2':
        user.password = make_password(pw, hasher='argon2')
    elif hasher == 'none':
        user.password = None
    else:
        user.password = make_password(pw)
    user.save()
    PASSWORDS[user.email] = (pw if hasher != 'none' else None, hasher)


def mkuser(email, pw='Axis-Pass-2024!', hasher='default', **kw):
    u = User.objects.create_user(email=email, password=pw, **kw)
    set_pw(u, pw, hasher)
    return u


@transaction.atomic
def seed():
    # ------------------------------------------------------------------ roles & permissions
    roles = {}
    for name, desc in [('admin', 'Platform administrator'), ('manager', 'Account manager'),
                       ('hr_manager', 'Client HR manager'), ('document_manager', 'Manages documents'),
                       ('auditor', None)]:
        roles[name] = Role.objects.create(name=name, description=desc)
    perms = {}
    for name, desc in [('manage_documents', 'Create/publish/archive documents'),
                       ('view_reports', 'View utilisation reports'), ('manage_clients', None)]:
        perms[name] = Permission.objects.create(name=name, description=desc)
    for r in ('admin', 'manager', 'document_manager'):
        roles[r].add_permission(perms['manage_documents'])
    roles['admin'].add_permission(perms['view_reports'])
    roles['admin'].add_permission(perms['manage_clients'])
    roles['manager'].add_permission(perms['view_reports'])
    roles['auditor'].soft_delete()  # a soft-deleted role

    # ------------------------------------------------------------------ superuser via THEIR command
    call_command('create_test_user', email='admin@axis.test', password='Admin-Axis-2024!', username='admin',
                 stdout=io.StringIO())
    admin = User.objects.get(email='admin@axis.test')
    admin.first_name, admin.last_name = 'Ada', 'Admin'
    admin.verify_email()
    admin.save()
    set_pw(admin, 'Admin-Axis-2024!')
    UserRole.objects.create(user=admin, role=roles['admin'])

    manager = mkuser('mary.manager@axis.test', 'Manager-Pass-2024!', 'pbkdf2_260000', username='mmanager',
                     first_name='Mary', last_name='Mugisha', preferred_language='English', timezone='Africa/Kampala')
    manager.verify_email()
    UserRole.objects.create(user=manager, role=roles['manager'])

    hr = mkuser('harriet.hr@axis.test', 'Hr-Argon-2024!', 'argon2', username='hharriet',
                first_name='Harriet', last_name='Namubiru', preferred_language='French')
    hr.verify_email()
    UserRole.objects.create(user=hr, role=roles['hr_manager'])

    docs = mkuser('dan.docs@axis.test', 'Docs-Pass-2024!', 'pbkdf2_600000', username='ddocs', first_name='Daniel', last_name='Okello',
                  preferred_language='Spanish', is_two_factor_enabled=True)
    docs.verify_email()
    UserRole.objects.create(user=docs, role=roles['document_manager'])
    UserRole.objects.create(user=docs, role=roles['hr_manager'])  # multi-role user

    staff = mkuser('sam.staff@axis.test', 'Staff-Pass-2024!', username='sstaff', first_name='Sam', last_name='Ssali',
                   is_staff=True, preferred_language='German')
    staff.verify_email()

    pending = mkuser('peter.pending@axis.test', 'Pending-Pass-2024!', username=None, first_name='Peter',
                     last_name='Pending')  # default status 'Pending Verification', no username
    suspended = mkuser('susan.suspended@axis.test', 'Suspended-Pass-2024!', username='ssuspended',
                       first_name='Susan', last_name='Achieng')
    suspended.verify_email()
    suspended.suspend('Repeated failed logins')
    banned = mkuser('ben.banned@axis.test', 'Banned-Pass-2024!', username='bbanned', first_name='Ben', last_name='Kato')
    banned.ban('Abusive behaviour towards counsellors')
    inactive = mkuser('irene.inactive@axis.test', 'Inactive-Pass-2024!', username='iinactive', first_name='Irene',
                      last_name='Auma', preferred_language='Other')
    inactive.verify_email()
    inactive.deactivate('Left the organisation')
    inactive.is_active = False
    inactive.save()
    deleted_user = mkuser('old.account@axis.test', 'Deleted-Pass-2024!', username='oldacct', first_name='Olga',
                          last_name='Old')
    deleted_user.soft_delete()
    oauth = mkuser('olivia.oauth@axis.test', 'unused', 'none', username='oliviao', first_name='Olivia',
                   last_name='Oauth')  # password column NULL (OAuth-only)
    oauth.verify_email()
    Account.objects.create(user=oauth, type='oauth', provider='microsoft',
                           provider_account_id='00000000-0000-0000-0000-00000000a1a1',
                           access_token='fixture-access-token', refresh_token=None, expires_at=1893456000,
                           token_type='Bearer', scope='openid profile email User.Read', id_token=None,
                           session_state=None, last_login_at=at(2025, 10, 1))
    Account.objects.create(user=manager, type='oauth', provider='microsoft',
                           provider_account_id='00000000-0000-0000-0000-00000000b2b2')
    unusable = User.objects.create_user(email='no.password@axis.test', password=None, username='nopw',
                                        first_name='Nora', last_name='Nopass')  # unusable '!...' hash
    PASSWORDS[unusable.email] = (None, 'unusable (!)')
    # Expected problem: two users whose emails differ only in case (User.email unique is case-sensitive)
    dup1 = mkuser('grace.nakato@acme.test', 'Grace-Pass-2024!', username='gnakato', first_name='Grace',
                  last_name='Nakato')
    dup1.verify_email()
    dup2 = mkuser('Grace.Nakato@Acme.test', 'Grace-Pass-2024!', username='gnakato2', first_name='Grace',
                  last_name='Nakato')

    for u, full in [(manager, 'Mary Mugisha'), (hr, 'Harriet Namubiru'), (docs, 'Daniel Okello')]:
        Profile.objects.create(user=u, full_name=full, preferred_name=full.split()[0], email=u.email,
                               phone='+256772000111', gender='Female' if full[0] in 'MH' else 'Male',
                               preferred_language='English', preferred_contact_method='Email',
                               image='https://cdn.axis.test/avatars/%s.png' % u.username)

    for s, expires, valid in [('sess-token-admin-1', NOW + dt.timedelta(hours=2), True),
                              ('sess-token-admin-0', NOW - dt.timedelta(days=3), False),
                              ('sess-token-mgr-1', NOW + dt.timedelta(hours=1), True)]:
        Session.objects.create(session_token=s, user=admin if 'admin' in s else manager, expires=expires,
                               ip_address='10.0.0.5' if valid else None,
                               user_agent='Mozilla/5.0 (fixture)' if valid else None, is_valid=valid)

    # ------------------------------------------------------------------ industries (tree)
    ind = {}
    for name, code, parent, ext in [('Finance', 'FIN', None, 'ISIC-K'), ('Banking', 'FIN-BNK', 'Finance', None),
                                    ('Insurance', 'FIN-INS', 'Finance', None), ('Technology', 'TECH', None, 'ISIC-J'),
                                    ('Software', 'TECH-SW', 'Technology', None), ('Telecommunications', 'TECH-TEL',
                                                                                  'Technology', None),
                                    ('Healthcare', 'HLTH', None, 'ISIC-Q'), ('Manufacturing', 'MFG', None, None),
                                    ('Agriculture', None, None, None), ('Education', 'EDU', None, None),
                                    ('Mobile Money', 'FIN-BNK-MM', 'Banking', None)]:
        ind[name] = Industry.objects.create(name=name, code=code, parent=ind.get(parent), external_id=ext,
                                            description=None if code is None else '%s sector' % name,
                                            metadata={'source': 'seed'} if ext else {})
    legacy = Industry.objects.create(name='Legacy Mining', code='MIN', description='Retired category')
    legacy.soft_delete()

    # ------------------------------------------------------------------ tags
    tags = {}
    for name, slug, color, system in [('VIP', 'vip', '#DC2626', True), ('Enterprise', 'enterprise', '#2563EB', False),
                                      ('SME', 'sme', '#6B7280', False), ('Government', 'government', '#059669', False),
                                      ('At Risk', '', '#F59E0B', False)]:  # original API leaves slug "" (clean() not run)
        tags[name] = ClientTag.objects.create(name=name, slug=slug, color=color, is_system=system,
                                              description=None if not system else 'System tag')

    # ------------------------------------------------------------------ clients
    def client(name, **kw):
        tg = kw.pop('tags', [])
        c = Client.objects.create(name=name, **kw)
        if tg:
            c.tags.set([tags[t] for t in tg])
        return c

    axis_org = client('AXIS EAP Ltd', email='info@axis.test', phone='+256414000000', website='https://axis.test',
                      industry=ind['Healthcare'], preferred_contact_method='Email', timezone='Africa/Kampala',
                      address='Plot 1, Kampala Road, Kampala', tax_id='1000000001', tags=['VIP'])
    axis_org.verify('admin@axis.test')
    acme = client('Acme Bank Uganda', email='hr@acmebank.test', phone='+256414111222', website='https://acmebank.test',
                  address='Plot 12, Nakasero', billing_address='P.O. Box 123, Kampala', timezone='Africa/Kampala',
                  tax_id='1000123456', contact_person='Grace Nakato', contact_email='grace.nakato@acme.test',
                  contact_phone='+256772111222', industry=ind['Banking'], preferred_contact_method='Email',
                  notes='Flagship banking client', metadata={'segment': 'enterprise'}, tags=['VIP', 'Enterprise'])
    acme.verify('mary.manager@axis.test')
    acme_sub = client('Acme Insurance Brokers', email='info@acmeins.test', industry=ind['Insurance'],
                      parent_client=acme, preferred_contact_method='Phone', phone='+256414111333', tags=['Enterprise'])
    techno = client('Technova Software', email='people@technova.test', phone='+256700123456',
                    industry=ind['Software'], preferred_contact_method='WhatsApp', website='https://technova.test',
                    tags=['SME'])
    techno.verify()
    telco = client('Lakeside Telecom', email='wellness@lakeside.test', industry=ind['Telecommunications'],
                   preferred_contact_method='SMS', contact_person='Joseph Mukasa', contact_phone='+256755000111')
    farm = client('Green Valley Farms', phone='+256782333444', industry=ind['Agriculture'],
                  preferred_contact_method='Phone', tags=['SME', 'At Risk'])
    farm.deactivate('Contract lapsed; awaiting budget')
    ministry = client('Ministry of Education (Pilot)', email='eap@education.go.test', industry=ind['Education'],
                      preferred_contact_method='Other', tags=['Government'])
    pending_c = client('Nile Breweries Prospect', status='Pending', contact_email='procurement@nile.test',
                       industry=ind['Manufacturing'])
    archived_c = client('Old Textiles Co', email='admin@oldtextiles.test', industry=ind['Manufacturing'])
    archived_c.archive('Company closed 2024')
    deleted_status_c = client('Withdrawn Client', status='Deleted', email='withdrawn@example.test')
    # Expected problem: Active client with no contact method at all (rule enforced only by the serializer)
    bare = client('Bare Minimum Ltd')
    # Expected problem: duplicate client email differing only in case
    dupmail = client('ACME BANK (duplicate entry)', email='HR@AcmeBank.test', industry=ind['Banking'])
    softdel = client('Soft Deleted Clinic', email='clinic@deleted.test', industry=ind['Healthcare'])
    softdel.soft_delete()
    mm = client('PayQuick Mobile Money', email='ops@payquick.test', industry=ind['Mobile Money'],
                preferred_contact_method='Email', last_contact_date=at(2025, 9, 30, 14, 30))

    # ------------------------------------------------------------------ user-client grants
    UserClient.objects.create(user=hr, client=acme, granted_by=admin, notes='HR lead for Acme')
    UserClient.objects.create(user=hr, client=acme_sub, granted_by=admin)
    UserClient.objects.create(user=docs, client=techno, granted_by=manager, notes=None)
    UserClient.objects.create(user=dup1, client=acme, granted_by=None, notes='Client-side HR contact')
    revoked = UserClient.objects.create(user=hr, client=farm, granted_by=admin, notes='Revoked when farm lapsed')
    revoked.soft_delete()
    UserClient.objects.create(user=hr, client=farm, granted_by=manager, notes='Re-granted')

    # ------------------------------------------------------------------ contacts
    contacts = {}
    for cl, fn, ln, email, role, primary, extra in [
        (acme, 'Grace', 'Nakato', 'grace.nakato@acme.test', 'Primary', True, dict(title='Head of HR', department='HR',
                                                                                 phone='+256414111222',
                                                                                 mobile='+256772111222')),
        (acme, 'Robert', 'Ouma', 'billing@acmebank.test', 'Billing', False, dict(department='Finance',
                                                                               preferred_contact_method='Phone')),
        (acme, 'Alice', 'Tumusiime', 'it@acmebank.test', 'Technical', False, dict(title='IT Manager')),
        (acme, 'Charles', 'Byaruhanga', 'ceo@acmebank.test', 'Executive', False, dict(title='CEO',
                                                                                     preferred_contact_method='SMS')),
        (acme, 'Linda', 'Kiconco', 'legal@acmebank.test', 'Legal', False, dict(is_active=False,
                                                                               notes='On sabbatical')),
        (acme_sub, 'Moses', 'Wasswa', 'moses@acmeins.test', 'Primary', True, {}),
        (techno, 'Patience', 'Nambi', 'patience@technova.test', 'Primary', True,
         dict(preferred_contact_method='WhatsApp', mobile='+256700123000', metadata={'slack': '@patience'})),
        (techno, 'Eric', 'Mugume', 'eric@technova.test', 'Other', False, dict(preferred_contact_method='Other')),
        (telco, 'Joseph', 'Mukasa', 'joseph.mukasa@lakeside.test', 'Primary', True, dict(phone='+256755000111')),
        (farm, 'Ruth', 'Atim', 'ruth@greenvalley.test', 'Executive', False, {}),
        (ministry, 'Paul', 'Ochieng', 'paul.ochieng@education.go.test', 'Primary', True, dict(title='Director HR')),
        (pending_c, 'Sarah', 'Nansubuga', 'procurement@nile.test', 'Billing', False, {}),
        (mm, 'Ivan', 'Kasozi', 'ivan@payquick.test', 'Technical', True, dict(mobile='+256701999888')),
    ]:
        contacts[email] = ClientContact.objects.create(client=cl, first_name=fn, last_name=ln, email=email, role=role,
                                                       is_primary=primary, **extra)
    # same email at two different clients is allowed (unique per client)
    ClientContact.objects.create(client=dupmail, first_name='Grace', last_name='Nakato',
                                 email='grace.nakato@acme.test', role='Primary', is_primary=True)
    gone = ClientContact.objects.create(client=techno, first_name='Former', last_name='Contact',
                                        email='former@technova.test')
    gone.soft_delete()

    # ------------------------------------------------------------------ activities
    acts = [
        (acme, 'Note', 'Kick-off notes', 'Agreed on quarterly reviews', at(2025, 1, 10), 'grace.nakato@acme.test'),
        (acme, 'Call', 'Follow-up call', None, at(2025, 1, 20, 11), 'grace.nakato@acme.test'),
        (acme, 'Email', 'Sent utilisation report', 'Q1 report attached', at(2025, 4, 5), 'ceo@acmebank.test'),
        (acme, 'Meeting', 'Quarterly business review', 'Onsite at Nakasero', at(2025, 7, 2, 10), None),
        (acme, 'ContractSigned', 'Renewal signed', None, at(2025, 8, 1), 'ceo@acmebank.test'),
        (acme, 'PaymentReceived', 'Q3 invoice paid', 'UGX 45,000,000', at(2025, 9, 15), 'billing@acmebank.test'),
        (techno, 'DocumentUploaded', 'Uploaded signed contract', None, at(2025, 2, 3), 'patience@technova.test'),
        (techno, 'Verification', 'Client verified', 'Verified tax documents', at(2025, 2, 4), None),
        (farm, 'StatusChange', 'Client deactivated', 'Budget freeze', at(2025, 6, 30), 'ruth@greenvalley.test'),
        (telco, 'Other', 'Site visit', 'Wellness fair planning', at(2025, 5, 12, 15), 'joseph.mukasa@lakeside.test'),
        (ministry, 'Meeting', 'Pilot scoping', None, at(2025, 3, 18), 'paul.ochieng@education.go.test'),
        (mm, 'Call', 'Intro call', None, at(2025, 9, 30, 14, 30), 'ivan@payquick.test'),
    ]
    for cl, t, title, desc, when, ce in acts:
        ClientActivity.objects.create(client=cl, activity_type=t, title=title, description=desc, activity_date=when,
                                      contact=contacts.get(ce) if ce else None,
                                      metadata={'channel': t.lower()} if desc else {})
    a = ClientActivity.objects.create(client=techno, activity_type='Note', title='Deleted note', activity_date=at(2025, 3, 1))
    a.soft_delete()

    # ------------------------------------------------------------------ contracts
    C = {}

    def contract(key, cl, start, end, rate, **kw):
        C[key] = Contract.objects.create(client=cl, start_date=start, end_date=end, billing_rate=Decimal(rate), **kw)
        return C[key]

    contract('acme_cur', acme, D(2025, 1, 1), D(2026, 12, 31), '45000000.00', renewal_date=D(2026, 11, 30),
             payment_frequency='Quarterly', payment_terms='Net 30', signed_by='Charles Byaruhanga',
             signed_at=at(2024, 12, 20, 16), document_url='https://docs.axis.test/contracts/acme-2025.pdf',
             is_auto_renew=True, notes='Covers all Acme Bank staff and dependants')
    C['acme_cur'].mark_paid()
    contract('acme_old', acme, D(2022, 1, 1), D(2023, 12, 31), '30000000.00', payment_frequency='Annually',
             status='Expired', payment_status='Paid', last_billing_date=D(2023, 1, 1), next_billing_date=None)
    contract('acme_prev', acme, D(2024, 1, 1), D(2024, 6, 30), '36000000.00', payment_frequency='Monthly',
             renewal_date=D(2024, 6, 1))
    C['acme_prev'].renew(D(2024, 12, 31), Decimal('38000000.00'))  # status Renewed
    contract('sub', acme_sub, D(2025, 3, 1), D(2026, 2, 28), '1250.50', currency='USD', payment_frequency='Monthly',
             payment_status='Overdue', next_billing_date=days(-10))
    contract('techno', techno, D(2025, 2, 1), days(20), '8500000.00', payment_frequency='Weekly',
             renewal_date=days(-5))  # pending renewal, expiring soon
    C['techno'].mark_overdue()
    contract('telco_draft', telco, D(2026, 1, 1), D(2026, 12, 31), '12000000.00', status='Draft',
             payment_frequency=None, is_renewable=False)
    contract('telco_pend', telco, D(2025, 11, 1), D(2026, 10, 31), '11000000.00', status='Pending',
             payment_frequency='Bi-annually', payment_terms='50% upfront')
    contract('farm', farm, D(2024, 7, 1), D(2025, 6, 30), '0.00', payment_frequency='Monthly',
             payment_status='Cancelled', notes='Pro-bono pilot')
    C['farm'].terminate('Client budget freeze')
    contract('ministry', ministry, D(2025, 4, 1), D(2026, 3, 31), '99999999.99', currency='KES',
             payment_frequency='Annually', payment_status='Refunded', termination_reason=None)
    contract('archived', archived_c, D(2023, 1, 1), D(2023, 1, 1), '500000.00', status='Expired',
             payment_frequency='Monthly', payment_status='Paid')  # one-day contract (end == start)
    # Expected problem: renewal_date after end_date (clean() would refuse; DB allows)
    contract('mm', mm, D(2025, 10, 1), D(2026, 9, 30), '15000000.00', renewal_date=D(2027, 1, 1),
             payment_frequency='Monthly', next_billing_date=days(3))
    sd = contract('deleted', techno, D(2024, 1, 1), D(2024, 12, 31), '7000000.00', payment_frequency='Monthly')
    sd.soft_delete()

    # ------------------------------------------------------------------ persons
    def profile(full, **kw):
        return Profile.objects.create(full_name=full, **kw)

    P = {}
    # platform staff (staff_organization = AXIS's own client row)
    P['staff_admin'] = Person.create_platform_staff(
        profile('Ada Admin', email='admin@axis.test', phone='+256772000001', gender='Female'),
        admin, axis_org, 'Admin', staff_department='Operations', can_manage_clients=True, can_manage_services=True,
        can_view_reports=True)
    P['staff_mgr'] = Person.create_platform_staff(
        profile('Mary Mugisha (staff)', email='mary.manager@axis.test'), manager, axis_org, 'Manager',
        staff_department='Accounts', can_manage_clients=True, can_view_reports=True)
    P['staff_vol'] = Person.create_platform_staff(
        profile('Victor Volunteer', dob=D(2001, 5, 5), gender='Male'), staff, axis_org, 'Volunteer',
        emergency_contact_name='Vera Volunteer', emergency_contact_phone='+256700000009')
    P['staff_staff'] = Person.create_platform_staff(profile('Sam Ssali'), staff, axis_org, 'Staff',
                                                    staff_department=None)

    emp_specs = [
        # key, name, client, role, start, end, wstatus, pstatus, dob, gender
        ('e1', 'Grace Nakato', acme, 'Manager', D(2015, 3, 1), None, 'Active', 'Active', D(1985, 4, 12), 'Female'),
        ('e2', 'John Okello', acme, 'Staff', D(2018, 6, 15), None, 'Active', 'Active', D(1990, 9, 30), 'Male'),
        ('e3', 'Brenda Akello', acme, 'Staff', D(2019, 1, 7), None, 'On Leave', 'Active', D(1992, 2, 2), 'Female'),
        ('e4', 'Henry Ssemwanga', acme, 'Admin', D(2010, 8, 1), D(2024, 12, 31), 'Resigned', 'Inactive',
         D(1970, 11, 11), 'Male'),
        ('e5', 'Florence Namata', acme_sub, 'Staff', D(2021, 5, 10), None, 'Suspended', 'Active', D(1995, 7, 7),
         'Female'),
        ('e6', 'Derrick Lubega', techno, 'Staff', D(2022, 2, 1), None, 'Active', 'Active', D(1998, 1, 20), 'Male'),
        ('e7', 'Esther Nabirye', techno, 'Volunteer', D(2023, 9, 1), D(2023, 12, 1), 'Terminated', 'Archived',
         None, None),
        ('e8', 'Joseph Mukasa', telco, 'Manager', D(2012, 4, 4), None, 'Active', 'Active', D(1980, 3, 3), 'Male'),
        ('e9', 'Ruth Atim', farm, 'Staff', D(2020, 10, 10), None, 'Inactive', 'Inactive', D(1988, 8, 8), 'Female'),
        ('e10', 'Paul Ochieng', ministry, 'Manager', D(2016, 1, 1), None, 'Active', 'Pending', D(1975, 12, 25),
         'Male'),
        ('e11', 'Kevin Tumwine', mm, 'Staff', D(2024, 7, 1), D(2024, 7, 1), 'Active', 'Deleted', D(1999, 6, 6), 'Male'),
        ('e12', 'Agnes Nalwoga', acme, 'Staff', D(2020, 2, 2), None, 'Active', 'Active', D(1993, 3, 9), 'Female'),
    ]
    for key, name, cl, role, start, end, ws, ps, dob, g in emp_specs:
        first, last = name.split(' ', 1)
        email = '%s.%s@%s' % (first.lower(), last.lower(), (cl.email or 'staff@client.test').split('@')[1])
        if key == 'e1':
            u = dup1  # Grace already has a user account
        else:
            u = mkuser(email, 'Employee-Pass-2024!', username=None, first_name=first, last_name=last)
            if ps == 'Active':
                u.verify_email()
        prof = profile(name, dob=dob, gender=g, email=email if key != 'e7' else None,
                       phone='+2567%08d' % (len(P) * 1111) if key not in ('e7', 'e11') else None,
                       preferred_language='English' if key != 'e10' else 'Other',
                       preferred_contact_method=['Email', 'Phone', 'SMS', 'WhatsApp', 'Other'][len(P) % 5],
                       user=u if key != 'e1' else None,
                       address='Kampala, Uganda' if key in ('e1', 'e2') else None)
        p = Person.create_client_employee(prof, u, cl, role, start, employment_status=ws,
                                          employment_end_date=end, employee_department='Dept %s' % key.upper(),
                                          employee_id_number='EMP-%04d' % int(key[1:]))
        if ps != 'Active':
            p.status = ps
            p.save()
        P[key] = p
    P['e9'].deactivate('Employer contract lapsed')
    P['e6'].update_last_service_date(D(2025, 9, 1))

    # dependants: every RelationType; some share the employee's user account (Person.user is a plain FK)
    dep_specs = [
        ('d1', 'Daniel Nakato', 'e1', 'Child', D(2015, 5, 5), 'Male', 'guardian', 'own_user_no'),
        ('d2', 'Peter Nakato', 'e1', 'Spouse', D(1983, 1, 1), 'Male', None, 'own_user'),
        ('d3', 'Mercy Okello', 'e2', 'Child', D(2012, 2, 2), 'Female', 'guardian', 'share'),
        ('d4', 'Rose Okello', 'e2', 'Parent', D(1960, 3, 3), 'Female', None, 'share'),
        ('d5', 'Tom Akello', 'e3', 'Sibling', D(1994, 4, 4), 'Male', None, 'share'),
        ('d6', 'Sarah Lubega', 'e6', 'Grandparent', D(1945, 5, 5), 'Female', None, 'share'),
        ('d7', 'Moses Lubega', 'e6', 'Guardian', None, None, None, 'share'),
        ('d8', 'Jane Mukasa', 'e8', 'Friend', D(1982, 8, 8), 'Female', None, 'share'),
        ('d9', 'Alex Mukasa', 'e8', 'Neighbor', None, None, None, 'share'),
        ('d10', 'Carol Ochieng', 'e10', 'Cousin', D(1979, 10, 10), 'Female', None, 'share'),
        ('d11', 'Hope Nalwoga', 'e12', 'Other', D(2000, 11, 11), 'Female', None, 'share'),
        # Expected problem: minor child dependant with no guardian (Person.clean() would refuse; DB allows)
        ('d12', 'Baby Nalwoga', 'e12', 'Child', days(-365 * 3), 'Female', None, 'share'),
    ]
    for key, name, emp, rel, dob, g, guard, ufl in dep_specs:
        pe = P[emp]
        if ufl == 'own_user':
            first, last = name.split(' ', 1)
            u = mkuser('%s.%s@family.test' % (first.lower(), last.lower()), 'Dependant-Pass-2024!', first_name=first,
                       last_name=last)
        else:
            u = pe.user
        prof = profile(name, dob=dob, gender=g, user=u if ufl == 'own_user' else None)
        P[key] = Person.create_dependent(prof, u, pe, rel, guardian=pe.user if guard else None,
                                         is_employee_dependent=True,
                                         emergency_contact_name=pe.profile.full_name if key in ('d1', 'd3') else None,
                                         emergency_contact_phone=pe.profile.phone if key in ('d1', 'd3') else None)
    P['d5'].status = 'Inactive'
    P['d5'].save()
    P['d9'].soft_delete()

    # service-provider persons + a dual-role person
    prov_user = mkuser('dr.kirabo@counsel.test', 'Provider-Pass-2024!', username='drkirabo', first_name='Kirabo',
                       last_name='Nsubuga')
    prov_user.verify_email()
    P['sp1'] = Person.create_service_provider(
        profile('Dr. Kirabo Nsubuga', email='dr.kirabo@counsel.test', gender='Female', user=prov_user),
        prov_user, 'Counselor', 'UCPC-2019-0042', specializations=['Trauma', 'Grief', 'Family therapy'],
        hourly_rate=Decimal('85.00'), max_clients=25, license_expiry=D(2027, 6, 30),
        license_issuing_authority='Uganda Counselling Association', certifications=['CBT Level 2'],
        languages_spoken=['English', 'Luganda'], availability_schedule={'mon': ['09:00-17:00'], 'wed': ['09:00-13:00']},
        accepts_insurance=True, insurance_providers=['Jubilee', 'AAR'], years_of_experience=12,
        education=[{'degree': 'MA Counselling Psychology', 'institution': 'Makerere University', 'year': 2012}],
        bio='Licensed counsellor.', profile_photo_url='https://cdn.axis.test/p/kirabo.jpg')
    P['sp1'].current_client_count = 7
    P['sp1'].save()
    P['sp2'] = Person.create_service_provider(
        profile('Nsambya Wellness Clinic (contact)'), staff, 'Clinic', 'MOH-CL-7781', hourly_rate=None,
        currency=None)
    P['sp2'].is_accepting_new_clients = False
    P['sp2'].status = 'Pending'
    P['sp2'].save()
    P['e2'].add_secondary_role('ServiceProvider', provider_type='Coach', license_number='COACH-0099',
                               specializations=['Financial wellness'], hourly_rate=Decimal('40.00'))

    # ------------------------------------------------------------------ service catalogue
    cat = {n: ServiceCategory.objects.create(name=n, description=dsc, metadata=md) for n, dsc, md in [
        ('Counselling', 'One-to-one psychological counselling', {'icon': 'chat'}),
        ('Wellness', 'Group wellness programmes', {}),
        ('Financial Coaching', None, {}),
        ('Crisis Support', '24/7 hotline and critical incident support', {'priority': 'high'}),
    ]}
    SP = {}
    for key, name, typ, em, ph, rating, ver, st in [
        ('kirabo', 'Dr. Kirabo Nsubuga', 'Counselor', 'dr.kirabo@counsel.test', '+256772555111', '4.80', True,
         'Active'),
        ('nsambya', 'Nsambya Wellness Clinic', 'Clinic', 'bookings@nsambya.test', '+256414555222', '4.25', True,
         'Active'),
        ('hotline', 'AXIS 24h Hotline', 'Hotline', None, '0800100100', None, True, 'Active'),
        ('coach', 'John Okello Coaching', 'Coach', 'john.okello@acmebank.test', None, '3.50', False, 'On Leave'),
        ('other', 'Mindful Yoga Collective', 'Other', 'hello@yoga.test', None, '0.00', False, 'Inactive'),
        ('susp', 'Quick Fix Therapy', 'Counselor', 'qf@therapy.test', None, '1.20', False, 'Suspended'),
        ('term', 'Former Partner Clinic', 'Clinic', None, None, None, False, 'Terminated'),
        ('resign', 'Retired Counsellor', 'Counselor', None, None, '5.00', True, 'Resigned'),
    ]:
        SP[key] = ServiceProvider.objects.create(
            name=name, type=typ, contact_email=em, contact_phone=ph, rating=Decimal(rating) if rating else None,
            is_verified=False, status=st, location='Kampala' if em else None,
            qualifications=['Licensed'] if ver else [], specializations=['Counselling'] if typ == 'Counselor' else [],
            availability={'weekdays': '08:00-18:00'} if typ != 'Hotline' else {'always': True})
        if ver:
            SP[key].verify()
    S = {}
    for key, name, c, st, dur, cap, public, price, prov in [
        ('indiv', 'Individual Counselling', 'Counselling', 'Active', 60, 1, True, '150000.00', 'kirabo'),
        ('couple', 'Couples Counselling', 'Counselling', 'Active', 90, 2, True, '250000.00', 'kirabo'),
        ('yoga', 'Lunchtime Yoga', 'Wellness', 'Active', 45, 20, True, None, 'other'),
        ('stress', 'Stress Management Workshop', 'Wellness', 'Pending', 120, 30, False, '0.00', 'nsambya'),
        ('debt', 'Debt Coaching', 'Financial Coaching', 'Inactive', 60, 1, True, '80000.00', 'coach'),
        ('hotline', '24h Crisis Line', 'Crisis Support', 'Active', None, None, True, None, 'hotline'),
        ('cism', 'Critical Incident Debrief', 'Crisis Support', 'Archived', 180, 15, False, '500000.00', None),
        ('old', 'Retired Service', 'Wellness', 'Deleted', None, None, False, None, None),
    ]:
        S[key] = Service.objects.create(name=name, category=cat[c], status=st, duration=dur, capacity=cap,
                                        is_public=public, price=Decimal(price) if price else None,
                                        service_provider=SP[prov] if prov else None,
                                        description=None if key in ('old', 'hotline') else name + ' sessions',
                                        prerequisites='Referral from HR' if key == 'cism' else None)
    S['old'].soft_delete()

    for svc, ctr, st, start, end, freq in [
        ('indiv', 'acme_cur', 'Ongoing', D(2025, 1, 1), D(2026, 12, 31), 'Weekly'),
        ('couple', 'acme_cur', 'Pending', D(2025, 6, 1), None, 'Monthly'),
        ('yoga', 'techno', 'Ongoing', D(2025, 2, 1), None, 'Weekly'),
        ('stress', 'sub', 'Completed', D(2025, 3, 1), D(2025, 3, 31), 'Once'),
        ('debt', 'farm', 'Cancelled', D(2024, 7, 1), D(2024, 9, 30), 'Quarterly'),
        ('hotline', 'ministry', 'Ongoing', D(2025, 4, 1), D(2026, 3, 31), 'Annually'),
        # Expected problem: end_date before start_date (clean() would refuse; DB allows)
        ('cism', 'telco_pend', 'Pending', D(2025, 12, 1), D(2025, 11, 1), 'Once'),
    ]:
        ServiceAssignment.objects.create(service=S[svc], contract=C[ctr], client=C[ctr].client, status=st,
                                         start_date=start, end_date=end, frequency=freq,
                                         metadata={'sessions_included': 6} if svc == 'indiv' else {})

    sessions = []

    def session(svc, prov, person, when, **kw):
        s = ServiceSession.objects.create(service=S[svc], provider=SP[prov], person=P[person], scheduled_at=when, **kw)
        sessions.append(s)
        return s

    s1 = session('indiv', 'kirabo', 'e1', at(2025, 2, 3, 10), location='Acme HQ room 4', duration=60)
    s1.complete(duration=55, notes='Initial assessment done')
    s2 = session('indiv', 'kirabo', 'e2', at(2025, 3, 10, 14))
    s2.complete()
    s3 = session('couple', 'kirabo', 'd2', at(2025, 4, 1, 17), location='Online')
    s3.complete(duration=90)
    s4 = session('yoga', 'other', 'e6', at(2025, 5, 6, 12), is_group_session=True, duration=45)
    s4.complete()
    s5 = session('indiv', 'kirabo', 'e3', NOW + dt.timedelta(days=3))
    s6 = session('indiv', 'kirabo', 'd3', NOW + dt.timedelta(days=5), notes='Parent consent on file')
    s6.reschedule(NOW + dt.timedelta(days=8))
    s6.reschedule(NOW + dt.timedelta(days=9))
    s7 = session('debt', 'coach', 'e9', at(2024, 8, 1, 9))
    s7.cancel('Client contract terminated')
    s8 = session('hotline', 'hotline', 'e10', at(2025, 6, 6, 23, 15), status='No Show')
    s9 = session('stress', 'nsambya', 'e5', at(2025, 3, 15, 9), status='Postponed',
                 metadata={'postponed_by': 'provider'})
    s10 = session('indiv', 'kirabo', 'd1', NOW + dt.timedelta(days=14), location=None)
    s11 = session('yoga', 'other', 'e12', at(2025, 5, 13, 12), is_group_session=True)
    s11.complete(notes='Good turnout')
    s12 = session('indiv', 'kirabo', 'e4', at(2024, 11, 20, 8))
    s12.cancel('Employee resigned')
    s13 = session('couple', 'kirabo', 'e1', at(2025, 8, 8, 18), feedback='Very helpful session')
    s13.complete(duration=80)
    s13.soft_delete()

    for s, rating, comment in [(s1, 5, 'Felt heard and supported'), (s2, 4, None), (s3, 3, 'Timing was hard'),
                               (s4, 5, 'Great energy'), (s11, 2, 'Room too crowded'), (s7, 1, 'Never happened'),
                               (s1, 4, 'Second feedback on same session')]:
        SessionFeedback.objects.create(session=s, rating=rating, comment=comment,
                                       metadata={'anonymous': True} if comment is None else {})

    # ------------------------------------------------------------------ KPIs
    kt = {n: KPIType.objects.create(name=n, description=d, weight=w) for n, d, w in [
        ('Utilisation', 'How much the programme is used', 10), ('Satisfaction', 'Feedback scores', 8),
        ('Responsiveness', None, None)]}
    K = {}
    for key, name, t, unit, ut, target, freq, public, cl, ctr in [
        ('util', 'Utilisation rate', 'Utilisation', '%', 'Percentage', '8', 'Quarterly', True, None, None),
        ('sessions', 'Sessions delivered', 'Utilisation', 'sessions', 'Count', '120', 'Monthly', True, None, None),
        ('csat', 'Average satisfaction', 'Satisfaction', 'score (1-5)', 'Score', '4.5', 'Monthly', True, None, None),
        ('resp', 'Time to first appointment', 'Responsiveness', 'hours', 'Time', '48', 'Weekly', True, None, None),
        ('acme_util', 'Acme utilisation', 'Utilisation', '%', 'Percentage', '10', 'Quarterly', False, acme,
         'acme_cur'),
        ('acme_csat', 'Acme satisfaction', 'Satisfaction', 'score', 'Score', None, None, True, acme, None),
        ('techno_onb', 'Onboarding completion', 'Utilisation', 'employees', 'Count', 'all', 'Once', False, techno,
         'techno'),
        ('annual', 'Annual wellbeing index', 'Satisfaction', 'index', 'Score', '70', 'Annually', True, None, None),
    ]:
        K[key] = KPI.objects.create(name=name, type=kt[t], unit=unit, unit_type=ut, target_value=target,
                                    frequency=freq, is_public=public, client=cl, contract=C[ctr] if ctr else None,
                                    description=None if key == 'annual' else name,
                                    calculation_method='sessions / headcount * 100' if key == 'util' else None)
    for kpi, ctr, tv, freq, st, start, end in [
        ('util', 'acme_cur', '12', 'Quarterly', 'Ongoing', D(2025, 1, 1), D(2026, 12, 31)),
        ('csat', 'acme_cur', None, 'Monthly', 'Pending', D(2025, 7, 1), None),
        ('acme_util', 'acme_cur', '10', 'Quarterly', 'Completed', D(2025, 1, 1), D(2025, 6, 30)),
        ('techno_onb', 'techno', 'all', 'Once', 'Cancelled', D(2025, 2, 1), D(2025, 3, 1)),
        # Expected problem: end_date before start_date (clean() would refuse; DB allows)
        ('resp', 'ministry', '24', 'Weekly', 'Ongoing', D(2025, 5, 1), D(2025, 4, 1)),
    ]:
        ka = KPIAssignment.objects.create(kpi=K[kpi], contract=C[ctr], client=C[ctr].client, target_value=tv,
                                          frequency=freq, status=st, start_date=start, end_date=end,
                                          notes='Reviewed at QBR' if st == 'Ongoing' else None)
        if kpi == 'util':
            ka.record_measurement('9.5', '2025-Q1')
            ka.record_measurement('11.2', '2025-Q2')

    # ------------------------------------------------------------------ documents (real small files)
    here = os.path.dirname(os.path.abspath(__file__))
    pdf = open(os.path.join(here, 'files', 'sample.pdf'), 'rb').read()
    png = open(os.path.join(here, 'files', 'sample.png'), 'rb').read()

    def doc(title, typ, content=None, fname=None, file_type=None, **kw):
        d = Document(title=title, type=typ, **kw)
        if content is not None:
            d.file.save(fname, ContentFile(content), save=False)
            d.file_type = file_type
        d.save()
        return d

    d1 = doc('Acme Bank EAP Agreement 2025', 'contract', pdf, 'acme-agreement-2025.pdf', 'application/pdf',
             client=acme, contract=C['acme_cur'], uploaded_by=manager, status='Published', is_confidential=True,
             tags=['contract', 'signed'], expiry_date=D(2026, 12, 31), description='Signed master agreement')
    d1v2 = d1.create_new_version(file=None, url='https://docs.axis.test/acme-agreement-2025-v2.pdf', uploaded_by=docs)
    d1v3 = d1v2.create_new_version(uploaded_by=docs)  # v3: no file, no url
    d1v3.file.save('acme-agreement-2025-v3.pdf', ContentFile(pdf + b'\n% v3\n'), save=False)
    d1v3.file_type = 'application/pdf'
    d1v3.save()
    doc('Counsellor licence - Dr. Kirabo', 'certification', png, 'kirabo-licence.png', 'image/png',
        uploaded_by=docs, status='Published', expiry_date=D(2027, 6, 30), is_confidential=True)
    doc('Q1 2025 KPI report - Acme', 'kpi_report', b'kpi,value\nutilisation,9.5\nsatisfaction,4.6\n',
        'acme-kpi-q1-2025.csv', 'text/csv', client=acme, contract=C['acme_cur'], uploaded_by=manager,
        status='Published', tags=['kpi', 'q1'])
    doc('Feedback summary H1', 'feedback_summary', b'Overall satisfaction 4.4/5 across 37 responses.\n',
        'feedback-h1.txt', 'text/plain', client=techno, uploaded_by=hr, status='Draft')
    doc('Billing report Sep 2025', 'billing_report', b'invoice,amount,currency\nINV-001,45000000,UGX\n',
        'billing-2025-09.csv', 'text/csv', client=acme, contract=C['acme_cur'], uploaded_by=admin,
        status='Archived')
    doc('Utilisation report 2024', 'utilization_report', pdf, 'utilisation-2024.pdf', 'application/pdf',
        client=farm, contract=C['farm'], uploaded_by=None, status='Expired', expiry_date=D(2025, 1, 31))
    doc('Emergency contacts poster', 'other', None, None, None, url='https://docs.axis.test/poster.pdf',
        status='Published', tags=[])  # URL-only, no client
    doc('Draft NDA', 'contract', b'Draft NDA text.\n', 'nda-draft.txt', 'text/plain', client=telco,
        contract=C['telco_draft'], uploaded_by=docs, is_confidential=True, metadata={'reviewer': 'legal'})
    gone_doc = doc('Superseded policy', 'other', b'old\n', 'old-policy.txt', 'text/plain', client=acme,
                   uploaded_by=admin, status='Archived')
    gone_doc.soft_delete()

    # ------------------------------------------------------------------ audit trail
    ua = 'Mozilla/5.0 (X11; Linux x86_64) AxisFixture/1.0'

    def mw_log(user, method, path, entity_type, entity_id, status=200, body=None, client_id=None):
        act = {'POST': 'Create', 'PUT': 'Update', 'PATCH': 'Update', 'DELETE': 'Delete'}.get(method, 'Other')
        AuditLog.objects.create(user=user, action=act, entity_type=entity_type, entity_id=entity_id,
                                data={'method': method, 'path': path, 'query_params': {}, 'client_id': client_id,
                                      'ip_address': '10.0.0.5', 'user_agent': ua, 'status_code': status,
                                      'duration_ms': 42.5, 'request_data': body},
                                ip_address='10.0.0.5', user_agent=ua)
    mw_log(manager, 'POST', '/api/clients/', 'Client', None, 201, {'name': 'Acme Bank Uganda'})
    mw_log(manager, 'PATCH', '/api/clients/%s/' % acme.id, 'Client', acme.id, 200, {'notes': 'Flagship'})
    mw_log(admin, 'DELETE', '/api/clients/%s/' % softdel.id, 'Client', softdel.id, 204)
    mw_log(hr, 'PUT', '/api/persons/%s/' % P['e3'].id, 'Person', P['e3'].id, 200,
           {'employment_status': 'On Leave', 'password': '***REDACTED***'}, client_id=acme.id)
    AuditLog.log_action('Login', user=admin, entity_type='User', entity_id=admin.id, data={'provider': 'password'},
                        ip_address='10.0.0.5', user_agent=ua)
    AuditLog.log_action('Logout', user=admin, entity_type='User', entity_id=admin.id, ip_address='10.0.0.5')
    AuditLog.log_action('Approve', user=manager, entity_type='Document', entity_id=d1.id, data={'to': 'Published'})
    AuditLog.log_action('Reject', user=manager, entity_type='Contract', entity_id=C['telco_pend'].id,
                        data={'reason': 'Missing signature'})
    AuditLog.log_action('List', user=hr, entity_type='Person', data={'count': 12})
    AuditLog.log_action('Login', user=None, entity_type='User', data={'email': 'unknown@x.test', 'success': False},
                        ip_address='2001:db8::1', user_agent=None)
    AuditLog.log_action('Other', user=staff)

    def change(entity, ct, by, old, new, reason=None, fields=None, **kw):
        ec = EntityChange.record_change(type(entity).__name__, entity.id, ct, changed_by=by.id if by else None,
                                        change_reason=reason, old_data=old, new_data=new, **kw)
        for f, ov, nv in (fields or []):
            FieldChange.record_field_change(ec, f, ov, nv, ct if ct in ('Create', 'Update', 'Delete') else 'Update')
        return ec
    change(acme, 'Create', manager, None, {'name': acme.name, 'status': 'Active'}, fields=[('name', None, acme.name)])
    change(acme, 'Update', manager, {'notes': None}, {'notes': acme.notes}, 'QBR notes',
           fields=[('notes', None, acme.notes), ('metadata', {}, {'segment': 'enterprise'})], source='api')
    change(softdel, 'Delete', admin, {'deleted_at': None}, {'deleted_at': 'now'})
    change(farm, 'Deactivate', hr, {'status': 'Active'}, {'status': 'Inactive'}, 'Budget freeze',
           fields=[('status', 'Active', 'Inactive')])
    change(archived_c, 'Archive', admin, {'status': 'Active'}, {'status': 'Archived'})
    change(P['e9'], 'Activate', None, None, None)
    change(d1, 'Restore', docs, None, None)
    ec = change(C['techno'], 'Unarchive', manager, {}, {}, fields=[('payment_status', 'Pending', 'Overdue')])
    ec.is_active = False
    ec.save()


if __name__ == '__main__':
    seed()
    out = os.environ.get('AXIS_PASSWORDS_OUT')
    if out:
        import json
        json.dump(PASSWORDS, open(out, 'w'), indent=1)
    print('seeded; users=%d' % User.objects.count())
