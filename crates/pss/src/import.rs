//! `campus import-django pss`: the original PSS backend's database into campus.
//!
//! The original encrypts nine profile columns and the TOTP secret with
//! django-encrypted-model-fields (Fernet, `FIELD_ENCRYPTION_KEY`). Each value
//! is opened in memory with that key and sealed with campus's keys before
//! it is written: no medical value is ever stored in plain text, not even
//! for the length of the transaction. A missing or wrong key refuses the
//! whole import before anything is written. (A value that is not a Fernet
//! token at all is plain text from before the original encrypted, and is
//! read as the original reads it.)
//!
//! Ids are kept, so the original's users, notes and journal entries keep
//! theirs; PostgreSQL's sequences are moved past them.
//!
//! Mapping of the original's shapes:
//! - `users_user` → users (role kept; e-mails that differ only in letter
//!   case are reported: the one with an intake, else the older, is kept);
//! - `users_userprofile` → profiles, the original's names read as the spec's
//!   (`contact_number` → phone number, `emergency_contact`/`emergency_phone`
//!   → the emergency contact's name and phone); the intake is the original's
//!   `has_completed_intake` flag on the user;
//! - the TOTP secret and backup codes → two-factor rows (the same SHA-256 of
//!   `XXXX-XXXX` campus stores), so two-factor users keep signing in;
//! - journal entries, admin notes (`content` → note text), privacy policy
//!   versions, consents, deletion and export requests, password history.
//!
//! Not imported: django-auditlog's `auditlog_logentry` (it holds medical
//! values and TOTP secrets in plain text; campus's own trail starts with
//! the import's row), sessions, refresh tokens and password-reset tokens
//! (short-lived credentials: users sign in again), and the original's
//! account-deletion schedules (campus's retention policy recomputes its own
//! notices from each account's last sign-in).

use std::collections::{HashMap, HashSet};

use kernel::crypto::KeyRing;
use kernel::import::fernet::Fernet;
use kernel::import::{Import, Options, Report, Row, advance_sequence, failed};
use sea_orm::EntityName;

use crate::entities::user::Role;
use crate::entities::{
    admin_note, backup_code, consent, deletion_request, export_request, journal_entry,
    password_history, privacy_policy, profile, two_factor, user,
};
use crate::seal;
use crate::state::AppState;

/// The original's encrypted columns, each with the campus column it fills.
const PROFILE_ENCRYPTED: &[(&str, &str)] = &[
    ("id_number", "id_number"),
    ("emergency_contact", "emergency_contact_name"),
    ("emergency_phone", "emergency_contact_phone"),
    ("diagnosis", "diagnosis"),
    ("medications", "medications"),
    ("allergies", "allergies"),
    ("medical_notes", "medical_notes"),
    ("doctor_name", "doctor_name"),
    ("doctor_phone", "doctor_phone"),
];

/// The original's plain profile columns, each with the campus column it fills.
const PROFILE_PLAIN: &[(&str, &str)] = &[
    ("contact_number", "phone_number"),
    ("address", "address"),
    ("accommodations", "accommodations"),
    ("assistive_technology", "assistive_technology"),
    ("learning_style", "learning_style"),
    ("support_needs", "support_needs"),
    ("communication_preferences", "communication_preferences"),
];

/// Imports the original's database named by `options` in one transaction.
pub async fn run(state: &AppState, options: &Options) -> Result<Report, String> {
    let mut import = Import::begin(crate::NAME, &state.kernel, options).await?;
    let original = Original::read(&import).await?;
    let opened = open_encrypted(&original, options)?;
    let ring = &*state.keys;
    let users = users(&mut import, &original).await?;
    profiles(&mut import, &original, &opened, &users, ring).await?;
    two_factor(&mut import, &original, &opened, &users, ring).await?;
    journal(&mut import, &original, &users, ring).await?;
    notes(&mut import, &original, &users, ring).await?;
    popia(&mut import, &original, &users).await?;
    for (table, column) in [
        (user::Entity.table_name(), "id"),
        (profile::TABLE, "id"),
        (journal_entry::TABLE, "id"),
        (admin_note::TABLE, "id"),
        (privacy_policy::Entity.table_name(), "id"),
        (consent::Entity.table_name(), "id"),
        (deletion_request::Entity.table_name(), "id"),
        (export_request::Entity.table_name(), "id"),
        (password_history::Entity.table_name(), "id"),
        (backup_code::Entity.table_name(), "id"),
        (two_factor::TABLE, "id"),
    ] {
        advance_sequence(&*import.txn, table, column)
            .await
            .map_err(failed)?;
    }
    if import.report.changed() {
        let counts: serde_json::Map<String, serde_json::Value> = import
            .report
            .tallies
            .iter()
            .map(|t| (t.name.clone(), (t.created + t.updated).into()))
            .collect();
        crate::audit::record(
            &*import.txn,
            crate::audit::Actor::system(),
            kernel::audit::Action::CREATE,
            "import",
            0,
            Some(serde_json::json!({ "imported": counts })),
        )
        .await
        .map_err(|_| "writing the import's audit row failed, nothing was imported".to_owned())?;
    }
    import.finish().await
}

struct Original {
    users: Vec<Row>,
    profiles: Vec<Row>,
    journal: Vec<Row>,
    notes: Vec<Row>,
    policies: Vec<Row>,
    consents: Vec<Row>,
    deletions: Vec<Row>,
    exports: Vec<Row>,
    history: Vec<Row>,
    backup_codes: Vec<Row>,
}

impl Original {
    async fn read(import: &Import) -> Result<Self, String> {
        let s = &import.source;
        let profile_columns: Vec<&'static str> = ["id", "user_id", "created_at", "updated_at"]
            .into_iter()
            .chain(PROFILE_ENCRYPTED.iter().map(|(c, _)| *c))
            .chain(PROFILE_PLAIN.iter().map(|(c, _)| *c))
            .collect();
        Ok(Self {
            users: s
                .rows(
                    "users_user",
                    &[
                        "id",
                        "password",
                        "last_login",
                        "is_superuser",
                        "email",
                        "first_name",
                        "last_name",
                        "role",
                        "has_completed_intake",
                        "is_active",
                        "date_joined",
                        "updated_at",
                        "totp_secret",
                        "totp_enabled",
                        "totp_enabled_at",
                        "totp_last_used",
                    ],
                )
                .await?,
            profiles: s.rows("users_userprofile", &profile_columns).await?,
            journal: s
                .rows_if_any(
                    "journal_journalentry",
                    &[
                        "id",
                        "user_id",
                        "date",
                        "mood",
                        "energy_level",
                        "activities",
                        "challenges",
                        "achievements",
                        "notes",
                        "barriers_faced",
                        "barrier_count",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            notes: s
                .rows_if_any(
                    "admin_notes_adminnote",
                    &[
                        "id",
                        "candidate_id",
                        "admin_id",
                        "category",
                        "title",
                        "content",
                        "is_important",
                        "created_at",
                        "updated_at",
                    ],
                )
                .await?,
            policies: s
                .rows_if_any(
                    "users_privacypolicyversion",
                    &[
                        "id",
                        "version",
                        "title",
                        "content",
                        "effective_date",
                        "created_at",
                        "is_active",
                    ],
                )
                .await?,
            consents: s
                .rows_if_any(
                    "users_userconsent",
                    &[
                        "id",
                        "user_id",
                        "consent_type",
                        "privacy_policy_version_id",
                        "granted",
                        "granted_at",
                        "withdrawn_at",
                        "ip_address",
                        "user_agent",
                    ],
                )
                .await?,
            deletions: s
                .rows_if_any(
                    "users_datadeletionrequest",
                    &[
                        "id",
                        "user_id",
                        "requested_at",
                        "status",
                        "reason",
                        "reviewed_by_id",
                        "reviewed_at",
                        "admin_notes",
                        "completed_at",
                        "deletion_proof",
                        "retention_until",
                    ],
                )
                .await?,
            exports: s
                .rows_if_any(
                    "users_dataexportrequest",
                    &[
                        "id",
                        "user_id",
                        "requested_at",
                        "status",
                        "completed_at",
                        "download_count",
                        "expires_at",
                        "error_message",
                    ],
                )
                .await?,
            history: s
                .rows_if_any(
                    "users_passwordhistory",
                    &["id", "user_id", "password_hash", "created_at"],
                )
                .await?,
            backup_codes: s
                .rows_if_any(
                    "authentication_twofactorbackupcode",
                    &[
                        "id",
                        "user_id",
                        "code_hash",
                        "created_at",
                        "used",
                        "used_at",
                    ],
                )
                .await?,
        })
    }
}

/// The plaintext of every encrypted value, by (table, row id, column):
/// opened before anything is written, so a wrong key writes nothing.
type Opened = HashMap<(&'static str, String, &'static str), String>;

fn open_encrypted(original: &Original, options: &Options) -> Result<Opened, String> {
    let fernet = options
        .field_encryption_key
        .as_deref()
        .map(Fernet::parse)
        .transpose()
        .map_err(|e| format!("FIELD_ENCRYPTION_KEY: {e}"))?;
    let mut opened = Opened::new();
    let encrypted = original
        .profiles
        .iter()
        .flat_map(|row| {
            PROFILE_ENCRYPTED
                .iter()
                .map(move |(column, _)| ("users_userprofile", row, *column))
        })
        .chain(
            original
                .users
                .iter()
                .map(|row| ("users_user", row, "totp_secret")),
        );
    for (table, row, column) in encrypted {
        let Some(stored) = row.get(column) else {
            continue;
        };
        let plain = if stored.starts_with("gAAAAA") {
            let fernet = fernet.as_ref().ok_or(
                "the original encrypted its medical fields: give its key as \
                 DJANGO_FIELD_ENCRYPTION_KEY (or FIELD_ENCRYPTION_KEY); nothing was imported",
            )?;
            fernet.decrypt(stored).map_err(|e| {
                format!(
                    "FIELD_ENCRYPTION_KEY does not open {table}.{column} of row {}: {e}; \
                     is it the original's key? Nothing was imported",
                    row.key()
                )
            })?
        } else {
            // Written before the original encrypted; it reads these as is.
            stored.to_owned()
        };
        opened.insert((table, row.key().to_owned(), column), plain);
    }
    Ok(opened)
}

/// The ids of the users imported, and each one's intake flag and role.
struct Users {
    intake: HashMap<i64, bool>,
    roles: HashMap<i64, Role>,
}

impl Users {
    fn check(&self, id: i64, what: &str) -> Result<i64, String> {
        if self.roles.contains_key(&id) {
            Ok(id)
        } else {
            Err(format!("its {what} {id} was not imported"))
        }
    }
}

async fn users(import: &mut Import, o: &Original) -> Result<Users, String> {
    // Of accounts whose e-mails differ only in letter case, the one that
    // completed the intake (else the older) is kept: campus signs in
    // case-insensitively, so the others could never be told apart.
    let mut keeper: HashMap<String, (bool, i64)> = HashMap::new();
    for row in &o.users {
        let (Some(email), Ok(id)) = (row.get("email"), row.int("id")) else {
            continue;
        };
        let rank = (!row.flag("has_completed_intake").unwrap_or(false), id);
        let entry = keeper.entry(email.to_lowercase()).or_insert(rank);
        if rank < *entry {
            *entry = rank;
        }
    }
    let keep = |held: &user::Model, fresh: &mut user::Model| {
        fresh.password.clone_from(&held.password);
        fresh.token_epoch = held.token_epoch;
        fresh.last_login = held.last_login.or(fresh.last_login);
    };
    let written = import
        .write_keeping::<user::ActiveModel>(
            "users",
            &o.users,
            |row| {
                let id = row.int("id")?;
                let email = row.text("email")?;
                let normalized = kernel::form::normalize_email(email)
                    .ok_or_else(|| format!("{email} is not a valid e-mail address"))?;
                if let Some((_, kept)) = keeper.get(&email.to_lowercase())
                    && *kept != id
                {
                    return Err(format!(
                        "{email} differs only in letter case from user {kept}'s e-mail, which is imported"
                    ));
                }
                let role = Role::parse(row.text("role")?)
                    .ok_or_else(|| format!("role {:?} is not one of the original's", row.get("role")))?;
                Ok(user::Model {
                    id,
                    email: normalized,
                    password: row.text("password")?.to_owned(),
                    first_name: row.get("first_name").unwrap_or_default().to_owned(),
                    last_name: row.get("last_name").unwrap_or_default().to_owned(),
                    role,
                    is_active: row.flag("is_active")?,
                    token_epoch: 0,
                    last_login: row.opt_time("last_login")?,
                    created_at: row.time("date_joined")?,
                    updated_at: row.time("updated_at")?,
                })
            },
            keep,
        )
        .await?;
    let intake: HashMap<i64, bool> = o
        .users
        .iter()
        .filter_map(|row| Some((row.int("id").ok()?, row.flag("has_completed_intake").ok()?)))
        .collect();
    Ok(Users {
        intake: written
            .iter()
            .map(|u| (u.id, intake.get(&u.id).copied().unwrap_or(false)))
            .collect(),
        roles: written.iter().map(|u| (u.id, u.role)).collect(),
    })
}

/// Seals each value of `plain` for its column of row `id` of `table`.
fn sealed(
    ring: &KeyRing,
    table: &'static str,
    id: i64,
    plain: &HashMap<&str, Option<String>>,
) -> HashMap<String, Option<String>> {
    let row = seal::Row::new(ring, table, id);
    plain
        .iter()
        .map(|(column, value)| ((*column).to_owned(), row.seal(column, value.as_deref())))
        .collect()
}

/// Keeps the stored ciphertext of `column` when it opens to what `fresh`
/// opens to: sealing is randomised, and a second import must not rewrite.
fn reuse(
    ring: &KeyRing,
    table: &'static str,
    id: i64,
    column: &str,
    held: &Option<String>,
    fresh: &mut Option<String>,
) {
    let row = seal::Row::new(ring, table, id);
    let same = match (held, &*fresh) {
        (None, None) => true,
        (Some(held), Some(new)) => matches!(
            (row.open(column, Some(held)), row.open(column, Some(new))),
            (Ok(a), Ok(b)) if a == b
        ),
        _ => false,
    };
    if same {
        fresh.clone_from(held);
    }
}

async fn profiles(
    import: &mut Import,
    o: &Original,
    opened: &Opened,
    users: &Users,
    ring: &KeyRing,
) -> Result<(), String> {
    let keep = |held: &profile::Model, fresh: &mut profile::Model| {
        let id = fresh.id;
        let r = |c: &str, h: &Option<String>, f: &mut Option<String>| {
            reuse(ring, profile::TABLE, id, c, h, f)
        };
        r("phone_number", &held.phone_number, &mut fresh.phone_number);
        r("address", &held.address, &mut fresh.address);
        r("id_number", &held.id_number, &mut fresh.id_number);
        r("diagnosis", &held.diagnosis, &mut fresh.diagnosis);
        r("medications", &held.medications, &mut fresh.medications);
        r("allergies", &held.allergies, &mut fresh.allergies);
        r("doctor_name", &held.doctor_name, &mut fresh.doctor_name);
        r("doctor_phone", &held.doctor_phone, &mut fresh.doctor_phone);
        r(
            "medical_notes",
            &held.medical_notes,
            &mut fresh.medical_notes,
        );
        r(
            "emergency_contact_name",
            &held.emergency_contact_name,
            &mut fresh.emergency_contact_name,
        );
        r(
            "emergency_contact_phone",
            &held.emergency_contact_phone,
            &mut fresh.emergency_contact_phone,
        );
        r(
            "accommodations",
            &held.accommodations,
            &mut fresh.accommodations,
        );
        r(
            "assistive_technology",
            &held.assistive_technology,
            &mut fresh.assistive_technology,
        );
        r(
            "learning_style",
            &held.learning_style,
            &mut fresh.learning_style,
        );
        r(
            "support_needs",
            &held.support_needs,
            &mut fresh.support_needs,
        );
        r(
            "communication_preferences",
            &held.communication_preferences,
            &mut fresh.communication_preferences,
        );
        r(
            "date_of_birth",
            &held.date_of_birth,
            &mut fresh.date_of_birth,
        );
        r(
            "emergency_contact_relationship",
            &held.emergency_contact_relationship,
            &mut fresh.emergency_contact_relationship,
        );
    };
    import
        .write_keeping::<profile::ActiveModel>(
            "profiles",
            &o.profiles,
            |row| {
                let id = row.int("id")?;
                let user_id = users.check(row.int("user_id")?, "user")?;
                let key = row.key().to_owned();
                let mut plain: HashMap<&str, Option<String>> = HashMap::new();
                for (original, campus) in PROFILE_ENCRYPTED {
                    let value = opened
                        .get(&("users_userprofile", key.clone(), *original))
                        .cloned();
                    plain.insert(campus, value);
                }
                for (original, campus) in PROFILE_PLAIN {
                    plain.insert(campus, row.opt_text(original));
                }
                let mut s = sealed(ring, profile::TABLE, id, &plain);
                let mut take = |c: &str| s.remove(c).flatten();
                Ok(profile::Model {
                    id,
                    user_id,
                    has_completed_intake: users.intake.get(&user_id).copied().unwrap_or(false),
                    date_of_birth: None,
                    phone_number: take("phone_number"),
                    address: take("address"),
                    id_number: take("id_number"),
                    diagnosis: take("diagnosis"),
                    medications: take("medications"),
                    allergies: take("allergies"),
                    doctor_name: take("doctor_name"),
                    doctor_phone: take("doctor_phone"),
                    medical_notes: take("medical_notes"),
                    emergency_contact_name: take("emergency_contact_name"),
                    emergency_contact_phone: take("emergency_contact_phone"),
                    emergency_contact_relationship: None,
                    accommodations: take("accommodations"),
                    assistive_technology: take("assistive_technology"),
                    learning_style: take("learning_style"),
                    support_needs: take("support_needs"),
                    communication_preferences: take("communication_preferences"),
                    created_at: row.time("created_at")?,
                    updated_at: row.time("updated_at")?,
                })
            },
            keep,
        )
        .await?;
    Ok(())
}

async fn two_factor(
    import: &mut Import,
    o: &Original,
    opened: &Opened,
    users: &Users,
    ring: &KeyRing,
) -> Result<(), String> {
    // One row per user with a confirmed authenticator, keyed by the user's id.
    let enrolled: Vec<Row> = o
        .users
        .iter()
        .filter(|row| row.flag("totp_enabled").unwrap_or(false))
        .cloned()
        .collect();
    let keep = |held: &two_factor::Model, fresh: &mut two_factor::Model| {
        reuse(
            ring,
            two_factor::TABLE,
            fresh.id,
            "secret",
            &held.secret,
            &mut fresh.secret,
        );
        // What campus did since (a used step, a pending sign-in) stays.
        fresh.last_step = held.last_step.max(fresh.last_step);
        fresh.login_challenge.clone_from(&held.login_challenge);
        fresh.login_until = held.login_until;
        fresh.pending_secret.clone_from(&held.pending_secret);
        fresh.pending_at = held.pending_at;
        fresh.setup_token.clone_from(&held.setup_token);
        fresh.setup_until = held.setup_until;
    };
    import
        .write_keeping::<two_factor::ActiveModel>(
            "two-factor",
            &enrolled,
            |row| {
                let id = users.check(row.int("id")?, "user")?;
                let secret = opened
                    .get(&("users_user", row.key().to_owned(), "totp_secret"))
                    .filter(|s| !s.is_empty())
                    .ok_or("two-factor is on without a secret")?;
                let now = kernel::time::now();
                Ok(two_factor::Model {
                    id,
                    user_id: id,
                    secret: seal::Row::new(ring, two_factor::TABLE, id)
                        .seal("secret", Some(secret)),
                    enabled: true,
                    enabled_at: row.opt_time("totp_enabled_at")?,
                    last_step: row
                        .opt_time("totp_last_used")?
                        .map(|at| at.timestamp() / 30),
                    pending_secret: None,
                    pending_at: None,
                    login_challenge: None,
                    login_until: None,
                    setup_token: None,
                    setup_until: None,
                    created_at: row.opt_time("totp_enabled_at")?.unwrap_or(now),
                    updated_at: row.opt_time("totp_enabled_at")?.unwrap_or(now),
                })
            },
            keep,
        )
        .await?;
    let with_2fa: HashSet<i64> = enrolled.iter().filter_map(|r| r.int("id").ok()).collect();
    import
        .write::<backup_code::ActiveModel>("backup codes", &o.backup_codes, |row| {
            let user_id = users.check(row.int("user_id")?, "user")?;
            if !with_2fa.contains(&user_id) {
                return Err(format!(
                    "user {user_id} has no two-factor authentication on"
                ));
            }
            let hash = row.text("code_hash")?.trim().to_ascii_lowercase();
            if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err("the code's hash is not a SHA-256".to_owned());
            }
            let used = row.flag("used")?;
            Ok(backup_code::Model {
                id: row.int("id")?,
                user_id,
                code_hash: hash,
                used_at: if used {
                    Some(row.opt_time("used_at")?.unwrap_or(row.time("created_at")?))
                } else {
                    None
                },
                created_at: row.time("created_at")?,
            })
        })
        .await?;
    Ok(())
}

async fn journal(
    import: &mut Import,
    o: &Original,
    users: &Users,
    ring: &KeyRing,
) -> Result<(), String> {
    const SEALED: &[&str] = &[
        "activities",
        "challenges",
        "achievements",
        "barriers_faced",
        "notes",
    ];
    let keep = |held: &journal_entry::Model, fresh: &mut journal_entry::Model| {
        let id = fresh.id;
        let r = |c: &str, h: &Option<String>, f: &mut Option<String>| {
            reuse(ring, journal_entry::TABLE, id, c, h, f)
        };
        r("title", &held.title, &mut fresh.title);
        r("content", &held.content, &mut fresh.content);
        r("activities", &held.activities, &mut fresh.activities);
        r("challenges", &held.challenges, &mut fresh.challenges);
        r("achievements", &held.achievements, &mut fresh.achievements);
        r(
            "barriers_faced",
            &held.barriers_faced,
            &mut fresh.barriers_faced,
        );
        r("notes", &held.notes, &mut fresh.notes);
    };
    import
        .write_keeping::<journal_entry::ActiveModel>(
            "journal entries",
            &o.journal,
            |row| {
                let id = row.int("id")?;
                let user_id = users.check(row.int("user_id")?, "user")?;
                let mood = row.text("mood")?.to_owned();
                if !journal_entry::MOODS.contains(&mood.as_str()) {
                    return Err(format!("mood {mood:?} is not one of campus's"));
                }
                let energy = row.int("energy_level")?;
                if !(1..=10).contains(&energy) {
                    return Err(format!("energy level {energy} is outside 1 to 10"));
                }
                let barriers = row.opt_int("barrier_count")?.unwrap_or(0);
                if !(0..=100).contains(&barriers) {
                    return Err(format!("barrier count {barriers} is outside 0 to 100"));
                }
                let plain: HashMap<&str, Option<String>> =
                    SEALED.iter().map(|c| (*c, row.opt_text(c))).collect();
                let mut s = sealed(ring, journal_entry::TABLE, id, &plain);
                let mut take = |c: &str| s.remove(c).flatten();
                Ok(journal_entry::Model {
                    id,
                    user_id,
                    date: row.date("date")?,
                    title: None,
                    content: None,
                    mood,
                    energy_level: energy as i32,
                    activities: take("activities"),
                    challenges: take("challenges"),
                    achievements: take("achievements"),
                    barriers_faced: take("barriers_faced"),
                    barrier_count: barriers as i32,
                    notes: take("notes"),
                    created_at: row.time("created_at")?,
                    updated_at: row.time("updated_at")?,
                })
            },
            keep,
        )
        .await?;
    Ok(())
}

async fn notes(
    import: &mut Import,
    o: &Original,
    users: &Users,
    ring: &KeyRing,
) -> Result<(), String> {
    let keep = |held: &admin_note::Model, fresh: &mut admin_note::Model| {
        let id = fresh.id;
        reuse(
            ring,
            admin_note::TABLE,
            id,
            "title",
            &held.title,
            &mut fresh.title,
        );
        reuse(
            ring,
            admin_note::TABLE,
            id,
            "note_text",
            &held.note_text,
            &mut fresh.note_text,
        );
    };
    import
        .write_keeping::<admin_note::ActiveModel>(
            "admin notes",
            &o.notes,
            |row| {
                let id = row.int("id")?;
                let candidate_id = users.check(row.int("candidate_id")?, "candidate")?;
                let admin_id = users.check(row.int("admin_id")?, "author")?;
                let category = row.text("category")?.to_owned();
                if !admin_note::CATEGORIES.contains(&category.as_str()) {
                    return Err(format!("category {category:?} is not one of campus's"));
                }
                let s = seal::Row::new(ring, admin_note::TABLE, id);
                Ok(admin_note::Model {
                    id,
                    candidate_id,
                    admin_id,
                    category,
                    title: s.seal("title", row.get("title")),
                    note_text: s.seal("note_text", row.get("content")),
                    tags: String::new(),
                    is_important: row.flag("is_important")?,
                    created_at: row.time("created_at")?,
                    updated_at: row.time("updated_at")?,
                })
            },
            keep,
        )
        .await?;
    Ok(())
}

/// Consent, privacy policies, data requests and password history.
async fn popia(import: &mut Import, o: &Original, users: &Users) -> Result<(), String> {
    let policies: HashSet<i64> = import
        .write::<privacy_policy::ActiveModel>("privacy policies", &o.policies, |row| {
            Ok(privacy_policy::Model {
                id: row.int("id")?,
                version: row.text("version")?.to_owned(),
                title: row.text("title")?.to_owned(),
                content: row.get("content").unwrap_or_default().to_owned(),
                effective_date: row.time("effective_date")?.date_naive(),
                is_active: row.flag("is_active")?,
                created_by: None,
                created_at: row.time("created_at")?,
            })
        })
        .await?
        .iter()
        .map(|p| p.id)
        .collect();
    import
        .write::<consent::ActiveModel>("consents", &o.consents, |row| {
            let kind = row.text("consent_type")?.to_owned();
            if !consent::TYPES.contains(&kind.as_str()) {
                return Err(format!("consent type {kind:?} is not one of campus's"));
            }
            let policy = row.int("privacy_policy_version_id")?;
            if !policies.contains(&policy) {
                return Err(format!("its privacy policy {policy} was not imported"));
            }
            let granted = row.flag("granted")?;
            let at = row.time("granted_at")?;
            let withdrawn = row.opt_time("withdrawn_at")?;
            Ok(consent::Model {
                id: row.int("id")?,
                user_id: users.check(row.int("user_id")?, "user")?,
                consent_type: kind,
                policy_id: policy,
                granted,
                granted_at: (granted || withdrawn.is_some()).then_some(at),
                withdrawn_at: withdrawn,
                ip_address: row.opt_text("ip_address").map(|ip| strip_mask(&ip)),
                user_agent: row.get("user_agent").unwrap_or_default().to_owned(),
                created_at: at,
                updated_at: withdrawn.unwrap_or(at),
            })
        })
        .await?;
    import
        .write::<deletion_request::ActiveModel>("deletion requests", &o.deletions, |row| {
            let status = row.text("status")?.to_owned();
            if !deletion_request::STATUSES.contains(&status.as_str()) {
                return Err(format!("status {status:?} is not one of campus's"));
            }
            Ok(deletion_request::Model {
                id: row.int("id")?,
                user_id: users.check(row.int("user_id")?, "user")?,
                status,
                reason: row.get("reason").unwrap_or_default().to_owned(),
                requested_at: row.time("requested_at")?,
                reviewed_by: row
                    .opt_int("reviewed_by_id")?
                    .filter(|id| users.roles.contains_key(id)),
                reviewed_at: row.opt_time("reviewed_at")?,
                admin_notes: row.get("admin_notes").unwrap_or_default().to_owned(),
                completed_at: row.opt_time("completed_at")?,
                deletion_proof: row.opt_text("deletion_proof"),
                retention_until: row.opt_time("retention_until")?,
            })
        })
        .await?;
    import
        .write::<export_request::ActiveModel>("export requests", &o.exports, |row| {
            let status = row.text("status")?.to_owned();
            if !["pending", "processing", "completed", "failed"].contains(&status.as_str()) {
                return Err(format!("status {status:?} is not one of campus's"));
            }
            Ok(export_request::Model {
                id: row.int("id")?,
                user_id: users.check(row.int("user_id")?, "user")?,
                status,
                requested_at: row.time("requested_at")?,
                completed_at: row.opt_time("completed_at")?,
                expires_at: row.opt_time("expires_at")?,
                download_count: row.opt_int("download_count")?.unwrap_or(0) as i32,
                error_message: row.get("error_message").unwrap_or_default().to_owned(),
            })
        })
        .await?;
    import
        .write::<password_history::ActiveModel>("password history", &o.history, |row| {
            Ok(password_history::Model {
                id: row.int("id")?,
                user_id: users.check(row.int("user_id")?, "user")?,
                password_hash: row.text("password_hash")?.to_owned(),
                created_at: row.time("created_at")?,
            })
        })
        .await?;
    Ok(())
}

/// PostgreSQL prints `inet` with its mask (`10.0.0.5/32`).
fn strip_mask(ip: &str) -> String {
    ip.split('/').next().unwrap_or_default().to_owned()
}
