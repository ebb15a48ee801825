//! `campus import-django`: bringing an institution's data over from the
//! Django original it runs today.
//!
//! A system's importer reads the original's tables through a [`Source`]
//! (every value as text, so SQLite's and PostgreSQL's storage classes read the
//! same), builds campus rows, and hands them to a [`Step`] of the [`Report`],
//! which inserts what is missing, updates what differs, leaves what is
//! already there, and records every row it could not take with the reason.
//! The whole system is written in one transaction: a failure, or
//! `--dry-run`, leaves campus as it was. Running it again changes nothing.

pub mod fernet;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, DbErr, EntityTrait, IntoActiveModel, Iterable, PrimaryKeyToColumn, QueryFilter,
    Statement,
};

use crate::db::Backend;
use crate::money::Money;
use crate::upload::Storage;

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The original's database, as a campus URL (`sqlite:///abs/db.sqlite3`,
    /// `postgres://…`).
    pub from: String,
    /// The original's MEDIA_ROOT, where its uploaded files are.
    pub media_root: Option<PathBuf>,
    /// Read and check everything, then write nothing.
    pub dry_run: bool,
    /// The original's `FIELD_ENCRYPTION_KEY` (django-encrypted-model-fields),
    /// for a system whose original encrypted columns.
    pub field_encryption_key: Option<String>,
}

/// One system's import under way: the original opened, campus's database in
/// one transaction, the files to copy and the report. Dropped without
/// [`finish`](Import::finish), it writes nothing.
pub struct Import {
    pub source: Source,
    pub txn: crate::db::WriteTxn,
    pub files: Files,
    pub report: Report,
}

impl Import {
    /// Opens the original and begins the transaction on campus's database.
    pub async fn begin(
        system: &'static str,
        kernel: &crate::Kernel,
        options: &Options,
    ) -> Result<Self, String> {
        let source = Source::open(&options.from).await?;
        let txn = crate::db::begin_write(&kernel.db).await.map_err(failed)?;
        Ok(Self {
            source,
            txn,
            files: Files::new(options, kernel.storage.clone()),
            report: Report::new(system, options),
        })
    }

    /// Commits (rolls back on a dry run) and returns the report, with the
    /// files copied as its last line.
    pub async fn finish(self) -> Result<Report, String> {
        let Self {
            txn,
            files,
            mut report,
            ..
        } = self;
        // A system whose original had files (clearance, axis) shows the line
        // even when none were found; one without files never does.
        if files.root.is_some() || files.tally.read > 0 {
            report.tallies.push(files.tally);
        }
        report.problems.extend(files.problems);
        if report.dry_run {
            txn.rollback().await.map_err(failed)?;
        } else {
            txn.commit().await.map_err(failed)?;
        }
        Ok(report)
    }
}

impl Import {
    /// Writes the model `build` makes of each row (see [`Step::put`]) as the
    /// step `name`, reporting each row it refuses with its reason; returns
    /// the models written.
    pub async fn write<A>(
        &mut self,
        name: &str,
        rows: &[Row],
        build: impl FnMut(&Row) -> Result<<A::Entity as EntityTrait>::Model, String>,
    ) -> Result<Vec<<A::Entity as EntityTrait>::Model>, String>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + PartialEq + Clone,
    {
        self.write_keeping::<A>(name, rows, build, |_, _| {}).await
    }

    /// As [`write`](Self::write), keeping what campus owns of rows it
    /// already holds (see [`Step::put_keeping`]).
    pub async fn write_keeping<A>(
        &mut self,
        name: &str,
        rows: &[Row],
        mut build: impl FnMut(&Row) -> Result<<A::Entity as EntityTrait>::Model, String>,
        keep: impl Fn(&<A::Entity as EntityTrait>::Model, &mut <A::Entity as EntityTrait>::Model),
    ) -> Result<Vec<<A::Entity as EntityTrait>::Model>, String>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + PartialEq + Clone,
    {
        let mut step = self.report.step(name, rows.len());
        let mut written = Vec::new();
        for row in rows {
            match build(row) {
                Ok(model) => {
                    step.put_keeping::<A, _>(&*self.txn, model.clone(), &keep)
                        .await
                        .map_err(failed)?;
                    written.push(model);
                }
                Err(reason) => step.report(row.key(), reason),
            }
        }
        Ok(written)
    }
}

/// A database error while importing, for the operator.
pub fn failed(error: DbErr) -> String {
    format!("writing campus's database failed, nothing was imported: {error}")
}

/// The original's database, opened for reading.
pub struct Source {
    db: DatabaseConnection,
    backend: DbBackend,
}

impl Source {
    /// Opens `url`. An SQLite file must exist and is opened read-only.
    pub async fn open(url: &str) -> Result<Self, String> {
        let backend = Backend::from_url(url).ok_or_else(|| {
            format!(
                "--from {}: not a database URL (sqlite:///path, postgres://…, mysql://…)",
                crate::db::redact(url)
            )
        })?;
        let url = match backend {
            Backend::Sqlite => {
                let file = crate::db::sqlite_file(url)
                    .ok_or("--from: an SQLite URL must name a file: sqlite:///absolute/path")?;
                if !file.is_file() {
                    return Err(format!("--from: {} does not exist", file.display()));
                }
                format!("sqlite://{}?mode=ro", file.display())
            }
            Backend::MySql if url.starts_with("mariadb:") => url.replacen("mariadb:", "mysql:", 1),
            _ => url.to_owned(),
        };
        let mut options = ConnectOptions::new(url.clone());
        options
            .sqlx_logging(false)
            .max_connections(2)
            .connect_timeout(Duration::from_secs(10));
        let db = Database::connect(options)
            .await
            .map_err(|e| format!("cannot open {}: {e}", crate::db::redact(&url)))?;
        let backend = db.get_database_backend();
        Ok(Self { db, backend })
    }

    /// Whether the original has this table (an app that was not installed,
    /// an older migration).
    pub async fn has_table(&self, table: &str) -> Result<bool, String> {
        let sql = match self.backend {
            DbBackend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
            }
            DbBackend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
            }
            _ => {
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
            }
        };
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                self.backend,
                sql,
                [table.into()],
            ))
            .await
            .map_err(|e| format!("reading the original's tables: {e}"))?;
        let count: i64 = row
            .map(|row| row.try_get_by_index(0))
            .transpose()
            .map_err(|e| format!("reading the original's tables: {e}"))?
            .unwrap_or(0);
        Ok(count > 0)
    }

    /// Every row of `table` (ordered by its first column), each value as
    /// text or NULL; a table the original does not have is an error naming it.
    pub async fn rows(&self, table: &str, columns: &[&'static str]) -> Result<Vec<Row>, String> {
        if !self.has_table(table).await? {
            return Err(format!(
                "the original's database has no table {table}: is it the original's database, migrated to its latest version?"
            ));
        }
        self.select(table, columns).await
    }

    /// Rows of `table` when the original has it, none when it does not.
    pub async fn rows_if_any(
        &self,
        table: &str,
        columns: &[&'static str],
    ) -> Result<Vec<Row>, String> {
        if self.has_table(table).await? {
            self.select(table, columns).await
        } else {
            Ok(Vec::new())
        }
    }

    async fn select(&self, table: &str, columns: &[&'static str]) -> Result<Vec<Row>, String> {
        let quote = |name: &str| match self.backend {
            DbBackend::MySql => format!("`{name}`"),
            _ => format!("\"{name}\""),
        };
        let text = match self.backend {
            DbBackend::MySql => "CHAR",
            _ => "TEXT",
        };
        let list = columns
            .iter()
            .map(|column| format!("CAST({} AS {text})", quote(column)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {list} FROM {} ORDER BY 1", quote(table));
        let rows = self
            .db
            .query_all_raw(Statement::from_string(self.backend, sql))
            .await
            .map_err(|e| format!("reading {table}: {e}"))?;
        let columns: std::sync::Arc<[&'static str]> = columns.into();
        rows.iter()
            .map(|row| {
                let values = (0..columns.len())
                    .map(|index| row.try_get_by_index::<Option<String>>(index))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("reading {table}: {e}"))?;
                Ok(Row {
                    columns: columns.clone(),
                    values,
                })
            })
            .collect()
    }
}

/// One row of the original, every value as the database prints it.
#[derive(Debug, Clone)]
pub struct Row {
    columns: std::sync::Arc<[&'static str]>,
    values: Vec<Option<String>>,
}

impl Row {
    /// The value of `column`, `None` for NULL.
    pub fn get(&self, column: &str) -> Option<&str> {
        let index = self.columns.iter().position(|c| *c == column);
        debug_assert!(index.is_some(), "column {column} was not read");
        index.and_then(|i| self.values[i].as_deref())
    }

    /// The row's `id` (for the report), `?` when it has none.
    pub fn key(&self) -> &str {
        self.columns
            .iter()
            .position(|c| *c == "id")
            .and_then(|i| self.values[i].as_deref())
            .unwrap_or("?")
    }

    /// A value that must be present.
    pub fn text(&self, column: &str) -> Result<&str, String> {
        self.get(column).ok_or_else(|| format!("{column} is empty"))
    }

    /// Present and not blank, else `None`.
    pub fn opt_text(&self, column: &str) -> Option<String> {
        self.get(column)
            .filter(|value| !value.trim().is_empty())
            .map(str::to_owned)
    }

    pub fn int(&self, column: &str) -> Result<i64, String> {
        parse_int(self.text(column)?).ok_or_else(|| format!("{column} is not a whole number"))
    }

    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, String> {
        self.get(column)
            .map(|v| parse_int(v).ok_or_else(|| format!("{column} is not a whole number")))
            .transpose()
    }

    /// Booleans as SQLite (`1`/`0`), PostgreSQL (`true`/`false`) or MySQL print them.
    pub fn flag(&self, column: &str) -> Result<bool, String> {
        match self.get(column) {
            None => Ok(false),
            Some("1" | "t" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "false" | "FALSE" | "False") => Ok(false),
            Some(_) => Err(format!("{column} is not true or false")),
        }
    }

    /// A timestamp: naive ones (Django with USE_TZ stores UTC) are UTC.
    pub fn time(&self, column: &str) -> Result<DateTime<Utc>, String> {
        parse_time(self.text(column)?).ok_or_else(|| format!("{column} is not a date and time"))
    }

    pub fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, String> {
        self.get(column)
            .map(|v| parse_time(v).ok_or_else(|| format!("{column} is not a date and time")))
            .transpose()
    }

    pub fn date(&self, column: &str) -> Result<NaiveDate, String> {
        parse_date(self.text(column)?).ok_or_else(|| format!("{column} is not a date"))
    }

    pub fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, String> {
        self.get(column)
            .map(|v| parse_date(v).ok_or_else(|| format!("{column} is not a date")))
            .transpose()
    }

    /// A UUID, with or without dashes (Django stores 32 hex digits on SQLite).
    pub fn uuid(&self, column: &str) -> Result<uuid::Uuid, String> {
        uuid::Uuid::parse_str(self.text(column)?.trim())
            .map_err(|_| format!("{column} is not a UUID"))
    }

    pub fn opt_uuid(&self, column: &str) -> Result<Option<uuid::Uuid>, String> {
        self.get(column)
            .map(|v| uuid::Uuid::parse_str(v.trim()).map_err(|_| format!("{column} is not a UUID")))
            .transpose()
    }

    /// A decimal amount of money (at most two decimals after trailing zeros go).
    pub fn money(&self, column: &str) -> Result<Money, String> {
        parse_money(self.text(column)?).ok_or_else(|| format!("{column} is not an amount"))
    }

    /// A JSON column (Django's JSONField is text on SQLite, jsonb on PostgreSQL).
    pub fn json(&self, column: &str) -> Result<serde_json::Value, String> {
        match self.get(column) {
            None => Ok(serde_json::Value::Null),
            Some(text) => {
                serde_json::from_str(text).map_err(|_| format!("{column} is not valid JSON"))
            }
        }
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let text = text.trim();
    text.parse()
        .ok()
        .or_else(|| text.strip_suffix(".0").and_then(|t| t.parse().ok()))
}

/// `2025-03-01 09:30:00.123456`, with `T`, with or without an offset
/// (`+00`, `+00:00`, `Z`).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim().replacen('T', " ", 1);
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(time) = DateTime::parse_from_str(&text, format) {
            return Some(time.with_timezone(&Utc));
        }
    }
    let naive = text.strip_suffix('Z').unwrap_or(&text);
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc())
        .or_else(|| {
            parse_date(naive)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// A decimal amount as the original's database prints it (`1500`, `1500.5`,
/// `1500.50`); more than two decimals that are not zeros is not an amount.
pub fn parse_money(text: &str) -> Option<Money> {
    let text = text.trim();
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    Money::parse(text)
}

/// What happened to one kind of row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub name: String,
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Not imported: see the report's problems.
    pub reported: u64,
}

/// A row campus could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub entity: String,
    /// The row's id (or another key) in the original.
    pub source: String,
    pub reason: String,
}

/// The outcome of one import, printed as a table at the end.
#[derive(Debug, Clone)]
pub struct Report {
    pub system: &'static str,
    pub dry_run: bool,
    pub tallies: Vec<Tally>,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn new(system: &'static str, options: &Options) -> Self {
        Self {
            system,
            dry_run: options.dry_run,
            tallies: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Starts importing `total` rows of one kind.
    pub fn step(&mut self, name: &str, total: usize) -> Step<'_> {
        // On a terminal only (indicatif draws nothing when stderr is not one).
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(name.to_owned());
        self.tallies.push(Tally {
            name: name.to_owned(),
            ..Tally::default()
        });
        Step { report: self, bar }
    }

    /// The tally of `name`, if that step ran.
    pub fn tally(&self, name: &str) -> Option<&Tally> {
        self.tallies.iter().find(|t| t.name == name)
    }

    /// Whether the import wrote (or, on a dry run, would write) anything.
    pub fn changed(&self) -> bool {
        self.tallies.iter().any(|t| t.created + t.updated > 0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .tallies
            .iter()
            .map(|t| t.name.len())
            .chain([6])
            .max()
            .unwrap_or(6);
        writeln!(
            f,
            "{:width$}  {:>8}  {:>8}  {:>8}  {:>9}  {:>8}",
            "", "read", "created", "updated", "unchanged", "reported"
        )?;
        for t in &self.tallies {
            writeln!(
                f,
                "{:width$}  {:>8}  {:>8}  {:>8}  {:>9}  {:>8}",
                t.name, t.read, t.created, t.updated, t.unchanged, t.reported
            )?;
        }
        if !self.problems.is_empty() {
            writeln!(f, "\n{} row(s) not imported:", self.problems.len())?;
            for p in &self.problems {
                writeln!(f, "  {} {}: {}", p.entity, p.source, p.reason)?;
            }
        }
        if self.dry_run {
            writeln!(f, "\ndry run: nothing was written")?;
        } else if !self.changed() {
            writeln!(f, "\nnothing to change: campus already holds this data")?;
        }
        Ok(())
    }
}

/// What [`Step::put`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// Importing one kind of row: counts, problems and a progress bar.
pub struct Step<'a> {
    report: &'a mut Report,
    bar: ProgressBar,
}

impl Step<'_> {
    fn tally(&mut self) -> &mut Tally {
        let last = self.report.tallies.len() - 1;
        &mut self.report.tallies[last]
    }

    /// Records a row that cannot be imported.
    pub fn report(&mut self, source: impl fmt::Display, reason: impl Into<String>) {
        let tally = self.tally();
        tally.read += 1;
        tally.reported += 1;
        let entity = tally.name.clone();
        self.report.problems.push(Problem {
            entity,
            source: source.to_string(),
            reason: reason.into(),
        });
        self.bar.inc(1);
    }

    /// Writes `fresh` unless campus holds it already: inserted when its
    /// primary key is new, updated when it differs, left alone otherwise.
    pub async fn put<A, C>(
        &mut self,
        db: &C,
        fresh: <A::Entity as EntityTrait>::Model,
    ) -> Result<Outcome, DbErr>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + PartialEq + Clone,
        C: ConnectionTrait,
    {
        self.put_keeping::<A, C>(db, fresh, |_, _| {}).await
    }

    /// As [`put`](Self::put), after `keep` has copied onto `fresh` what campus
    /// owns once a row is there (a password re-hashed on sign-in, say).
    pub async fn put_keeping<A, C>(
        &mut self,
        db: &C,
        mut fresh: <A::Entity as EntityTrait>::Model,
        keep: impl FnOnce(&<A::Entity as EntityTrait>::Model, &mut <A::Entity as EntityTrait>::Model),
    ) -> Result<Outcome, DbErr>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        <A::Entity as EntityTrait>::Model: IntoActiveModel<A> + PartialEq + Clone,
        C: ConnectionTrait,
    {
        let active: A = fresh.clone().into_active_model();
        let existing = match active.get_primary_key_value() {
            Some(key) => {
                let mut query = A::Entity::find();
                for (column, value) in <A::Entity as EntityTrait>::PrimaryKey::iter()
                    .map(|key| key.into_column())
                    .zip(key)
                {
                    query = query.filter(column.eq(value));
                }
                query.one(db).await?
            }
            None => None,
        };
        let outcome = match existing {
            None => {
                A::Entity::insert(fresh.into_active_model().reset_all())
                    .exec_without_returning(db)
                    .await?;
                Outcome::Created
            }
            Some(existing) => {
                keep(&existing, &mut fresh);
                if existing == fresh {
                    Outcome::Unchanged
                } else {
                    A::Entity::update(fresh.into_active_model().reset_all())
                        .exec(db)
                        .await?;
                    Outcome::Updated
                }
            }
        };
        self.count(outcome);
        Ok(outcome)
    }

    /// Counts a row the importer wrote (or found) itself.
    pub fn count(&mut self, outcome: Outcome) {
        let tally = self.tally();
        tally.read += 1;
        match outcome {
            Outcome::Created => tally.created += 1,
            Outcome::Updated => tally.updated += 1,
            Outcome::Unchanged => tally.unchanged += 1,
        }
        self.bar.inc(1);
    }
}

impl Drop for Step<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// After rows were written with the original's integer ids: PostgreSQL's
/// sequence moves past the largest, so the next row campus creates does not
/// collide (SQLite and MySQL do this by themselves).
pub async fn advance_sequence<C: ConnectionTrait>(
    db: &C,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let sql = format!(
        "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), \
         COALESCE((SELECT MAX(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
    );
    db.execute_unprepared(&sql).await.map(|_| ())
}

/// The original's uploaded files, copied into campus's storage under names
/// derived from their original paths (so a second import finds them).
pub struct Files {
    root: Option<PathBuf>,
    storage: Storage,
    write: bool,
    tally: Tally,
    problems: Vec<Problem>,
}

impl Files {
    pub fn new(options: &Options, storage: Storage) -> Self {
        Self {
            root: options.media_root.clone(),
            storage,
            write: !options.dry_run,
            tally: Tally {
                name: "files".to_owned(),
                ..Tally::default()
            },
            problems: Vec::new(),
        }
    }

    /// Copies the original's file `name` (a FileField value, relative to
    /// MEDIA_ROOT; blank means none) into `folder`, and returns campus's name
    /// for it. A file that cannot be copied is reported (the row keeps no
    /// file) and gives `None`.
    pub async fn copy(&mut self, name: Option<&str>, folder: &str) -> Option<String> {
        let name = name.map(str::trim).filter(|n| !n.is_empty())?;
        self.tally.read += 1;
        match self.try_copy(name, folder).await {
            Ok((stored, outcome)) => {
                match outcome {
                    Outcome::Created => self.tally.created += 1,
                    Outcome::Updated => self.tally.updated += 1,
                    Outcome::Unchanged => self.tally.unchanged += 1,
                }
                Some(stored)
            }
            Err(reason) => {
                self.tally.reported += 1;
                self.problems.push(Problem {
                    entity: "files".to_owned(),
                    source: name.to_owned(),
                    reason,
                });
                None
            }
        }
    }

    async fn try_copy(&self, name: &str, folder: &str) -> Result<(String, Outcome), String> {
        let root = self
            .root
            .as_deref()
            .ok_or("no --media-root given to copy it from")?;
        let path = within(root, name).ok_or("not a safe path")?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let extension = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .filter(|e| {
                !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .unwrap_or_else(|| "bin".to_owned());
        let digest = hex_digest(name.as_bytes());
        let stored = format!("{folder}/{}.{extension}", &digest[..32]);
        let outcome = match self.storage.read(&stored).await {
            Ok(held) if held == bytes => return Ok((stored, Outcome::Unchanged)),
            Ok(_) => Outcome::Updated,
            Err(_) => Outcome::Created,
        };
        if self.write {
            self.storage
                .put(&stored, &bytes)
                .await
                .map_err(|e| format!("cannot store it: {e}"))?;
        }
        Ok((stored, outcome))
    }
}

/// `name` under `root`, refusing absolute paths and `..`.
fn within(root: &Path, name: &str) -> Option<PathBuf> {
    let relative = Path::new(name);
    relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then(|| root.join(relative))
}

/// The hex SHA-256 of `bytes`.
fn hex_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_the_same_from_every_backend() {
        let expected = "2025-03-01T09:30:00.123456Z"
            .parse::<DateTime<Utc>>()
            .unwrap();
        for text in [
            "2025-03-01 09:30:00.123456",
            "2025-03-01 09:30:00.123456+00",
            "2025-03-01 09:30:00.123456+00:00",
            "2025-03-01T09:30:00.123456Z",
            "2025-03-01 12:30:00.123456+03",
        ] {
            assert_eq!(parse_time(text), Some(expected), "{text}");
        }
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn amounts_keep_their_cents() {
        assert_eq!(parse_money("1500.50").map(Money::cents), Some(150_050));
        assert_eq!(parse_money("1500.5000").map(Money::cents), Some(150_050));
        assert_eq!(parse_money("1500").map(Money::cents), Some(150_000));
        assert_eq!(parse_money("1500.0").map(Money::cents), Some(150_000));
        assert!(parse_money("12.345").is_none());
        assert!(parse_money("abc").is_none());
    }

    #[test]
    fn file_names_cannot_climb_out_of_the_media_root() {
        let root = Path::new("/media");
        assert_eq!(
            within(root, "receipts/a.pdf"),
            Some(PathBuf::from("/media/receipts/a.pdf"))
        );
        assert!(within(root, "../etc/passwd").is_none());
        assert!(within(root, "/etc/passwd").is_none());
    }
}
