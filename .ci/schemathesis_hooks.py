"""Schemathesis hooks for .ci/schemathesis.sh.

`positive_data_acceptance` fails when schema-valid data is refused. Some
refusals are right whatever a schema says: the data names a row that does not
exist or is taken, a password is too common, two fields disagree, a token is
not one the server issued. DRF answers those with 400 and the message below;
a JSON Schema cannot state them.

So the built-in check lets 400 through (see schemathesis.toml) and this check
judges it instead: a 400 to schema-valid data passes only when every message
in the body is one of these. Any other message (`This field may not be null.`,
`"x" is not a valid choice.`, `Ensure this field has no more than ...`) means
the document promised something the server refuses, and fails the run.
"""

import re

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

UNSTATED_RULES = [
    re.compile(pattern)
    for pattern in (
        # The row a field names must exist, or must not exist yet.
        r'^Invalid pk ".*" - object does not exist\.$',
        r"already exists\.?$",
        r"already has a ",
        r"^That email is already taken\.$",
        r"is already taken\.?$",
        r"^Some approval IDs are invalid$",
        r"^Invalid privacy policy version$",
        # The state of the row the request acts on.
        r"^You already have a pending ",
        r"^(Request|Consent) (is )?already ",
        r"cannot be moved to another student\.$",
        r"^You cannot (delete|deactivate or demote|activate|deactivate) your own account\.?$",
        # The original PSS's wording beside campus's (`errors`).
        r"^Email already in use$",
        r"^You cannot change your own status$",
        r"^\w[\w ]* is already \w",
        r"^\w[\w ]* is not deleted$",
        r"already has access to this client$",
        r"^A contact with this email already exists for this client\.$",
        r"^System tags cannot be (deleted|renamed\.)$",
        r"^Cannot delete an industry that has child industries$",
        r"^Cannot \w+ a client that is \w+$",
        r"^(Industry|A client) cannot be its own parent$",
        r"^Cannot update: would create circular reference in hierarchy$",
        r"^Cannot restore: a live ",
        r'^Role ".*" does not exist\.$',
        r"^You cannot change your own role or deactivate your own account\.$",
        # Django's password validators beyond the minimum length.
        r"^The password is too similar to the .*\.$",
        r"^This password is too common\.$",
        r"^This password is entirely numeric\.$",
        r"^Password must (contain at least one|not contain) ",
        # Fields that must agree with each other, with the clock or with
        # stored secrets.
        r"^Password fields didn't match\.$",
        r"^Old password is (not correct\.|incorrect)$",
        r"^Your old password was entered incorrectly\. Please enter it again\.$",
        r"^Active clients must have at least one contact method \(email or phone\)$",
        r"^Contact must have at least one contact method \(email, phone, or mobile\)\.$",
        r"^Password is incorrect$",
        r"^Please choose a different password\.$",
        r"^New password cannot be (the same as your )?old password$",
        r"^Unable to log in with provided credentials\.$",
        r"^Rejection reason is required when rejecting",
        r"^A phone number is required for M-PESA payments\.$",
        r"^Graduation year cannot be before the admission year\.$",
        r"^Return date (cannot be before the issue date|must be within \d+ days of the issue date)\.$",
        r"^(Payment date|Date|Date of birth) cannot be in the future\.$",
        r"^This query parameter is required\.$",
        # Tokens, codes and files: only what the server issued, or can read.
        r"^Token is invalid or expired$",
        r"^Invalid token$",
        r"^Invalid, expired, or already used token$",
        r"^Token is invalid, expired, or already used$",
        r"^Invalid TOTP code\. Please try again\.$",
        r"^Setup session expired\. Please restart 2FA setup\.$",
        r"^Unsupported file type\. Upload a PDF, PNG or JPEG file\.$",
        r"^The submitted file is empty\.$",
        # axis tags: a system tag stays one; a slug needs a letter or digit
        # in Unicode's sense, which ECMA, Python and Rust patterns (and
        # Schemathesis's reading of `\p{L}`) do not agree on.
        r"^System tags cannot be made custom\.$",
        r"^Enter a name with at least one letter or digit\.$",
        # axis contracts and KPIs: dates that must agree with each other or
        # with the row's, ids fixed once created, a contract that must belong
        # to the client named beside it, and the state of the row acted on.
        r"^End date must be after start date\.?$",
        r"^End date must be on or after start date$",
        r"^Renewal date must be within the contract period$",
        r"^New end date must be after current end date$",
        r"^This field cannot be changed after creation\.$",
        r"^Contract does not belong to this client$",
        r"^Cannot \w+ a (contract|KPI assignment) that is \w+$",
        r"^Cannot activate a contract whose end date has passed$",
        r"^Contract is not renewable$",
        r"^Cannot mark a contract (paid|overdue) when its payment is \w+$",
        r"^Cannot record a measurement on a KPI assignment that is \w+$",
        r"^Cannot restore: another live record has the same \w+$",
        # axis persons and services: rules on the rows an input names, on
        # two fields together, or on the type a person has.
        r"^This field is required for a (ClientEmployee|Dependent|PlatformStaff|ServiceProvider)\.$",
        r"^(Client|Primary employee) is not active$",
        r"^Employment end date cannot be before the start date\.$",
        r"^An end date is required when employment is Terminated or Resigned\.$",
        r"^Person type cannot be changed\.$",
        r"^This field cannot be changed\.$",
        r"^Only client employees (and dependents have a family|have an employment status)$",
        r"^End date cannot be before the start date\.$",
        r"^Contract does not belong to specified client$",
        r" is not currently eligible for EAP services\.$",
        r"^(Service|Provider) is not available$",
        r"^Scheduled time must be in the future\.$",
        r"^Cannot \w+ a session that is [\w ]+$",
        r"^Feedback can only be given for completed sessions$",
        r"^Cannot delete a service category that has services$",
        # axis documents: a file's size and content, a date after today,
        # multipart text that must be JSON, fields only a new version
        # changes, and the state a document action needs.
        r"^Either 'file' \(upload\) or 'url' \(cloud storage\) must be provided$",
        r"^File size cannot exceed 10 MB\.$",
        r"^Unsupported file type: ",
        r"^Expiry date must be in the future$",
        r"^Value must be valid JSON\.$",
        r"^This field cannot be changed; create a new version instead\.$",
        r"^Can only publish documents in Draft status\. Current status: \w+$",
        r"^Can only archive Published documents\. Current status: \w+$",
        r"^Can only publish the latest version of a document$",
        r"^Cannot publish expired document$",
        r"^Can only create a new version from the latest version$",
        # roster: an administrator keeps their own account; an emailed
        # link's token is only one the server issued; departments belong to
        # the school, which must exist first; an online room is virtual.
        r"^You cannot deactivate your own account\.$",
        r"^This link is invalid or has expired\.$",
        r"^Create the school first\.$",
        r"^An online room is virtual\.$",
        # roster: coordinates come in pairs; a birth date is before today.
        r"^Give both latitude and longitude, or neither\.$",
        r"^Date of birth must be in the past\.$",
        # roster: a course has a session a week, theory or practical; there
        # is one school.
        r"^A course needs at least one session per week\.$",
        r"^Only one school can exist\.$",
        # roster: a department code's characters (checked after trimming and
        # upper-casing, which a pattern cannot say).
        r"^Use only letters, digits and hyphens \(it is stored upper-cased\)\.$",
        # roster's face photos: what the picture must show (one face, large
        # enough) and that a reference face exists to compare against.
        r"^The image must be at least 80×80 pixels\.$",
        r"^No face was found in the image\. Use a clear, well-lit photo of your face\.$",
        r"^More than one face was found in the image; upload a photo of one person\.$",
        r"^Upload a photo of your face in your profile first\.$",
        r"^Upload a valid image\. The file you uploaded was either not an image or a corrupted image\.$",
        r"^File size must not exceed 5 MB\.$",
        # roster's bulk uploads: what a spreadsheet's content must be.
        r"^Upload an \.xlsx workbook or a UTF-8 \.csv file\.$",
        r"^The CSV file is malformed near line \d+\.$",
        r"^The (workbook has no sheet|file has no data rows)\.$",
        r'^The column ".*" appears more than once\.$',
        r"^The file is missing the column\(s\): .*\.$",
        # roster rooms: a maintenance window and a bookings range run
        # forwards; a range spans at most a month.
        r"^End must be after start\.$",
        r"^end_date must not be before start_date\.$",
        r"^The range may span at most \d+ days\.$",
        # roster's timetable: a draft version named must exist; an export
        # names exactly one of its three subjects; a term's settings exist
        # once; the school day and its breaks must agree with each other.
        r'^Draft version ".*" does not exist\.$',
        r"^Give exactly one of class_group, trainer or room\.$",
        r"^(Default timetable settings|Timetable settings for this term) already exist\.$",
        r"^The day must end after it starts\.$",
        r"^Break \d+ \(.*\): end must be after start\.$",
        r"^Break .* is not inside the school day\.$",
        r"^Breaks .* and .* overlap\.$",
        r"^End time must be after start time\.$",
        # roster's attendance: a session's length and time, the windows and
        # states the contract gives each action, and what a photo, a place or
        # a trainee must be for it (each a 400 with its `code`).
        r"^A session lasts from 15 minutes to 8 hours\.$",
        r"^The session must end in the future\.$",
        # roster's notifications: system and account notices stay in the
        # app; an audience names its target.
        r"^System and account notifications cannot be turned off in the app\.$",
        r"^This field is required when audience is \w+\.$",
        # roster's reports: a kind about one subject names it in `filters`.
        r"^\w+: This field is required for a \w+ report\.$",
        # django-filter's answer to a filter naming a row that does not exist.
        r"^Select a valid choice\. That choice is not one of the available choices\.$",
        r"^The second year must be the first plus one, e\.g\. 2025/2026\.$",
        # oryne: rows a name must match, and rules about the platform.
        r'^Unknown role ".*"\.$',
        r"^This subdomain is reserved\.$",
        r"^A custom domain cannot be under a platform domain\.$",
        r"^Give the tenant's subdomain as \?confirm= to delete it\.$",
        r"^Invalid or expired token\.$",
    )
]


def _messages(body):
    """The messages of an error body: axis's `errors` per field, else its
    `detail`, or (DRF) every field's list."""
    if isinstance(body, dict) and body.get("success") is False and isinstance(body.get("error"), dict):
        # oryne's envelope: `{success, data, error: {code, message, details}}`;
        # a validation error's messages are in `details`, field by field.
        error = body["error"]
        if error.get("code") == "ERR_VALIDATION_01" and error.get("details"):
            yield from _messages(error["details"])
        else:
            yield str(error.get("message"))
    elif isinstance(body, dict) and isinstance(body.get("errors"), dict):
        yield from _messages(body["errors"])
    elif (
        isinstance(body, dict)
        and isinstance(body.get("errors"), list)
        and all(isinstance(e, dict) and "errors" in e for e in body["errors"])
    ):
        # roster's all-or-nothing bulk writes: `{detail, errors: [{index,
        # errors}]}`; the detail only says that none was written.
        for item in body["errors"]:
            yield from _messages(item["errors"])
    elif (
        isinstance(body, dict)
        and isinstance(body.get("detail"), str)
        and any(
            isinstance(v, list) and v and all(isinstance(e, dict) for e in v)
            for k, v in body.items()
            if k not in ("detail", "code")
        )
    ):
        # roster's all-or-nothing imports in DRF's `many=True` shape:
        # `{detail, code, mappings: [{}, {"course": [...]}, ...]}`, one
        # error object per item in order; the detail only says that none
        # was written.
        for key, value in body.items():
            if key not in ("detail", "code"):
                yield from _messages(value)
    elif isinstance(body, dict) and isinstance(body.get("detail"), str):
        yield body["detail"]
    elif isinstance(body, dict):
        for value in body.values():
            yield from _messages(value)
    elif isinstance(body, list):
        for item in body:
            yield from _messages(item)
    elif isinstance(body, str):
        yield body
    else:
        yield repr(body)


@schemathesis.check
def positive_data_refused_only_by_unstated_rules(ctx, response, case):
    """A 400 to schema-valid data must cite only rules a schema cannot state."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code != 400 or is_unexpected_http_status_case(case):
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError("Schema-valid data was refused with a 400 that is not JSON")
    unexplained = [m for m in _messages(body) if not any(r.search(m) for r in UNSTATED_RULES)]
    if unexplained:
        raise AssertionError(
            "Schema-valid data was refused: " + "; ".join(unexplained)
        )
    return None
