//! DRF list semantics — declared exact-match filters, `?search=` and
//! `?ordering=` — and pages in the style of the system serving the list
//! (DRF's `{count, next, previous, results}` by default; see [`paging`]).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::sea_query::{Expr, ExprTrait as E, Func, SimpleExpr};

use sea_orm::{
    ConnectionTrait, IntoSimpleExpr, Order, PaginatorTrait, QueryFilter, QueryOrder, SelectorTrait,
};
use uuid::Uuid;

use crate::error::ApiError;

mod axis;
mod drf;
mod oryne;
pub mod paging;

pub use axis::{Axis, AxisPage, AxisPagination};
pub use drf::{Drf, Page};
pub use oryne::{Oryne, OryneMeta, OrynePage, OrynePagination};
pub use paging::{Fetched, ListOf, PageNumber, PageOf, PageRequest, Paging, SystemPaging};

/// Page size and cap for a resource.
#[derive(Debug, Clone, Copy)]
pub struct PageSize {
    pub default: u64,
    pub max: u64,
}

impl PageSize {
    /// DRF's 20 per page; `?page_size=` up to 100.
    pub const DEFAULT: Self = Self {
        default: 20,
        max: 100,
    };
}

/// The query string of a list request, and where it was sent (for the
/// absolute `next`/`previous` links), read for paging style `P` (the
/// system's: a system names its list query [`ListOf<System>`](ListOf)).
#[derive(Debug, Clone)]
pub struct ListQuery<P = Drf> {
    params: Vec<(String, String)>,
    base: String,
    style: PhantomData<fn() -> P>,
}

impl<S: Send + Sync, P: Paging> FromRequestParts<S> for ListQuery<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(system) = parts.extensions.get::<SystemPaging>() {
            system.check::<P>()?;
        }
        let params: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        // PostgreSQL cannot compare text with a NUL in it; refuse it up front.
        if params
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::bad_request(crate::form::NO_NUL));
        }
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        let scheme = match parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
        {
            Some("https") => "https",
            _ => "http",
        };
        Ok(Self {
            params,
            base: format!("{scheme}://{host}{}", parts.uri.path()),
            style: PhantomData,
        })
    }
}

/// How a filter parameter's text is read.
#[derive(Debug, Clone, Copy)]
pub enum FilterKind {
    Text,
    /// One of these values.
    Choice(&'static [&'static str]),
    Bool,
    Int,
    Uuid,
}

impl<P> ListQuery<P> {
    /// A query with these parameters (for tests and internal callers).
    pub fn from_pairs(base: &str, params: &[(&str, &str)]) -> Self {
        Self {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            base: base.to_owned(),
            style: PhantomData,
        }
    }

    /// The last value given for `name`, if any and not blank (DRF ignores blank filters).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// Applies `?name=value` as an exact match on `column` when given.
    pub fn filter<Q: QueryFilter>(
        &self,
        query: Q,
        name: &str,
        column: impl IntoSimpleExpr,
        kind: FilterKind,
    ) -> Result<Q, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(query);
        };
        let column: SimpleExpr = column.into_simple_expr();
        let condition = match kind {
            FilterKind::Text => E::eq(column, raw),
            FilterKind::Choice(allowed) => {
                if !allowed.contains(&raw) {
                    return Err(ApiError::field(
                        name,
                        format!(
                            "Select a valid choice. {raw} is not one of the available choices."
                        ),
                    ));
                }
                E::eq(column, raw)
            }
            FilterKind::Bool => {
                let value = match raw {
                    "true" | "True" | "1" => true,
                    "false" | "False" | "0" => false,
                    _ => return Err(ApiError::field(name, "Enter a valid boolean.")),
                };
                E::eq(column, value)
            }
            FilterKind::Int => {
                let value: i64 = raw
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::field(name, "Enter a whole number."))?;
                E::eq(column, value)
            }
            FilterKind::Uuid => {
                let value = Uuid::parse_str(raw.trim())
                    .map_err(|_| ApiError::field(name, "Enter a valid UUID."))?;
                E::eq(column, value)
            }
        };
        Ok(query.filter(condition))
    }

    /// `?search=` over `fields`: every whitespace-separated term must match one
    /// of the fields, case-insensitively, as DRF's `SearchFilter` does.
    pub fn search<Q: QueryFilter>(&self, query: Q, fields: &[SimpleExpr]) -> Q {
        match self.search_condition(fields) {
            Some(condition) => query.filter(condition),
            None => query,
        }
    }

    /// The `?search=` condition, for queries that apply it themselves (for
    /// example inside a sub-select over related tables).
    pub fn search_condition(&self, fields: &[SimpleExpr]) -> Option<sea_orm::Condition> {
        let text = self.get("search")?;
        let mut all = sea_orm::Condition::all();
        for term in text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .take(8)
        {
            let pattern = format!("%{}%", escape_like(&term.to_lowercase()));
            let mut any = sea_orm::Condition::any();
            for field in fields {
                let lowered = Expr::expr(Func::lower(field.clone()));
                any = any.add(E::like(
                    lowered,
                    sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'),
                ));
            }
            all = all.add(any);
        }
        Some(all)
    }

    /// `?ordering=a,-b` over the declared `fields`; unknown names are ignored,
    /// as DRF's `OrderingFilter` does. `tiebreak` keeps pages stable.
    pub fn order<Q: QueryOrder>(
        &self,
        mut query: Q,
        fields: &[(&str, SimpleExpr)],
        default: &[(&str, Order)],
        tiebreak: impl IntoSimpleExpr,
    ) -> Q {
        let requested: Vec<(SimpleExpr, Order)> = self
            .get("ordering")
            .map(|text| {
                text.split(',')
                    .filter_map(|term| {
                        let term = term.trim();
                        let (name, order) = match term.strip_prefix('-') {
                            Some(name) => (name, Order::Desc),
                            None => (term, Order::Asc),
                        };
                        fields
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, e)| (e.clone(), order))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if requested.is_empty() {
            for (name, order) in default {
                if let Some((_, expr)) = fields.iter().find(|(n, _)| n == name) {
                    query = query.order_by(expr.clone(), order.clone());
                }
            }
        } else {
            for (expr, order) in requested {
                query = query.order_by(expr, order);
            }
        }
        query.order_by(tiebreak.into_simple_expr(), Order::Asc)
    }

    /// The absolute address of this list with `?page=` set to `page` (or
    /// removed), every other parameter kept: a page's `next` and `previous`.
    pub fn link(&self, page: Option<u64>) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.params.iter().filter(|(k, _)| k != "page") {
            serializer.append_pair(k, v);
        }
        if let Some(page) = page {
            serializer.append_pair("page", &page.to_string());
        }
        let query = serializer.finish();
        if query.is_empty() {
            self.base.clone()
        } else {
            format!("{}?{query}", self.base)
        }
    }
}

impl<P: Paging> ListQuery<P> {
    /// The requested page of `select`, read, fetched and rendered in style
    /// `P`: for DRF, a malformed or out-of-range `?page=` is a 404 `{"detail":
    /// "Invalid page."}`.
    pub async fn page<'db, C, S>(
        &self,
        db: &'db C,
        select: S,
        size: PageSize,
    ) -> Result<P::Page<<S::Selector as SelectorTrait>::Item>, ApiError>
    where
        C: ConnectionTrait,
        S: PaginatorTrait<'db, C>
            + sea_orm::QueryTrait<QueryStatement = sea_orm::sea_query::SelectStatement>
            + Clone,
    {
        let request = P::request(self, size)?;
        let page = request.fetch(db, select).await?.ok_or_else(P::past_end)?;
        Ok(P::render(self, page))
    }
}

fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_other_parameters_and_drop_page_one() {
        let q: ListQuery =
            ListQuery::from_pairs("http://h/api/x/", &[("search", "a b"), ("page", "3")]);
        assert_eq!(q.link(Some(4)), "http://h/api/x/?search=a+b&page=4");
        assert_eq!(q.link(None), "http://h/api/x/?search=a+b");
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    }

    #[tokio::test]
    async fn a_list_read_in_another_style_than_the_systems_is_a_server_fault() {
        let parts = || {
            let request = axum::http::Request::builder()
                .uri("/api/x/?page=2")
                .extension(SystemPaging::of::<Axis>())
                .body(())
                .unwrap();
            request.into_parts().0
        };
        let axis = ListQuery::<Axis>::from_request_parts(&mut parts(), &()).await;
        assert_eq!(axis.unwrap().link(None), "http://localhost/api/x/");
        let drf = ListQuery::<Drf>::from_request_parts(&mut parts(), &()).await;
        assert_eq!(drf.unwrap_err().status(), 500);
    }
}
