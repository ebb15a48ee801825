//! Paging in three steps, so a system can answer its lists in its own
//! envelope while every handler spells `list.page(db, select, size)`:
//!
//! 1. a [`Paging`] style reads a [`PageRequest`] from the query string (its
//!    own parameters and errors), capped by the resource's [`PageSize`];
//! 2. [`PageRequest::fetch`] counts the rows and fetches the page, the same
//!    for every style;
//! 3. the style renders the [`Fetched`] page in its envelope, and documents
//!    its parameters and answers in the OpenAPI document.
//!
//! A system chooses its style once, as `System::Paging`; [`ListOf`] and
//! [`PageOf`] name its list query and page types.

use std::any::TypeId;

use sea_orm::{ConnectionTrait, DbErr, PaginatorTrait, SelectorTrait};
use utoipa::openapi::path::Operation;

use super::{ListQuery, PageSize};
use crate::error::ApiError;
use crate::system::System;

/// Which page a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageNumber {
    /// This page, from 1; past the end there is no page.
    Exact(u64),
    /// This page, from 1, or the last page when it is past the end.
    AtMost(u64),
    /// The last page.
    Last,
}

/// A parsed page request: which page, and how many rows per page (at least
/// 1, at most the resource's [`PageSize::max`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub number: PageNumber,
    pub size: u64,
}

/// A page as fetched, before a style renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched<T> {
    /// Rows in the whole list.
    pub count: u64,
    /// The page served, from 1.
    pub number: u64,
    /// Pages in the whole list; an empty list has one (empty) page.
    pub pages: u64,
    /// Rows per page.
    pub size: u64,
    pub results: Vec<T>,
}

impl PageRequest {
    /// The page served and the number of pages, for a list of `count` rows;
    /// `None` when an exact page is past the end.
    pub fn resolve(self, count: u64) -> Option<(u64, u64)> {
        let pages = Ord::max(count.div_ceil(self.size.max(1)), 1);
        let number = match self.number {
            PageNumber::Exact(n) => (1..=pages).contains(&n).then_some(n)?,
            PageNumber::AtMost(n) => n.clamp(1, pages),
            PageNumber::Last => pages,
        };
        Some((number, pages))
    }

    /// Counts the rows of `select` and fetches the requested page of them;
    /// `None` when an exact page is past the end.
    pub async fn fetch<'db, C, S>(
        self,
        db: &'db C,
        select: S,
    ) -> Result<Option<Fetched<<S::Selector as SelectorTrait>::Item>>, DbErr>
    where
        C: ConnectionTrait,
        S: PaginatorTrait<'db, C>
            + sea_orm::QueryTrait<QueryStatement = sea_orm::sea_query::SelectStatement>
            + Clone,
    {
        let size = self.size.max(1);
        let count = count(db, select.as_query()).await?;
        let paginator = select.paginate(db, size);
        let Some((number, pages)) = self.resolve(count) else {
            return Ok(None);
        };
        let results = paginator.fetch_page(number - 1).await?;
        Ok(Some(Fetched {
            count,
            number,
            pages,
            size,
            results,
        }))
    }
}

/// The rows of a list's `select`, counted as `SELECT COUNT(*)` over its own
/// FROM, joins and WHERE: no ordering to sort by, and no subquery around it,
/// which SQLite scans row by row even where it counts a bare table from its
/// b-tree. A listed select therefore neither groups nor is DISTINCT nor
/// limited (checked in debug builds): its rows are what it counts. A whole
/// table whose count the database keeps ([`crate::counts`]) is not counted
/// at all.
async fn count<C: ConnectionTrait>(
    db: &C,
    select: &sea_orm::sea_query::SelectStatement,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let counted = backend.build(&crate::counts::count_of(select.clone()));
    debug_assert!(
        !["GROUP BY", "DISTINCT", " LIMIT ", "HAVING"]
            .iter()
            .any(|word| counted.sql.contains(word)),
        "a listed select must not group, be distinct or be limited: {}",
        counted.sql
    );
    let statement = match crate::counts::whole_table(backend, &counted) {
        Some(table) => backend.build(&crate::counts::whole_table_count(&table)),
        None => counted,
    };
    let row = db.query_one_raw(statement).await?;
    Ok(row
        .map_or(Ok(0), |row| row.try_get::<i64>("", "num_items"))?
        .max(0) as u64)
}

/// How a system's lists read a page request, answer a page and document
/// both. Implementations: [`super::Drf`] (the default of DRF systems),
/// [`super::Axis`], [`super::Oryne`].
pub trait Paging: Sized + Send + Sync + 'static {
    /// A page as this style answers it.
    type Page<T>;

    /// The statuses a list of this style answers for its paging, which
    /// [`crate::docs::lint_for`] checks every list documents.
    const ANSWERS: &'static [&'static str];

    /// Reads the page request from the query string; `size` is the
    /// resource's default and cap.
    fn request(query: &ListQuery<Self>, size: PageSize) -> Result<PageRequest, ApiError>;

    /// The answer to an exact page past the end: DRF's 404 `Invalid page.`
    fn past_end() -> ApiError {
        ApiError::not_found_msg("Invalid page.")
    }

    /// The fetched page in this style's envelope.
    fn render<T>(query: &ListQuery<Self>, page: Fetched<T>) -> Self::Page<T>;

    /// Writes into a list operation (one with a `?page=` parameter) what this
    /// style reads and answers.
    fn document(operation: &mut Operation);
}

/// The list query of system `S`, in its paging style.
pub type ListOf<S> = ListQuery<<S as System>::Paging>;

/// A page of `T` as system `S` answers it.
pub type PageOf<S, T> = <<S as System>::Paging as Paging>::Page<T>;

/// The paging style of the system serving a request, put in the request's
/// extensions by [`crate::system::app`]: a list read in another style is a
/// programming error, answered as a 500 rather than in the wrong envelope.
#[derive(Debug, Clone, Copy)]
pub struct SystemPaging {
    style: TypeId,
    name: &'static str,
}

impl SystemPaging {
    pub fn of<P: Paging>() -> Self {
        Self {
            style: TypeId::of::<P>(),
            name: std::any::type_name::<P>(),
        }
    }

    pub(super) fn check<P: Paging>(self) -> Result<(), ApiError> {
        if self.style == TypeId::of::<P>() {
            return Ok(());
        }
        Err(ApiError::internal(format!(
            "a list reads its page as {} in a system that pages as {}",
            std::any::type_name::<P>(),
            self.name
        )))
    }
}

/// A positive integer, as the page parameters take it (surrounding blanks
/// allowed).
/// A positive integer; one too large for a `u64` is `u64::MAX` (a page past
/// any end, a size past any cap), not malformed.
pub(super) fn positive(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    match raw.parse::<u64>() {
        Ok(n) => (n >= 1).then_some(n),
        Err(_) if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) => Some(u64::MAX),
        Err(_) => None,
    }
}
