//! axis's paging (axis contract §0, "Paginated envelope"): `?page=` and
//! `?page_size=` or `?limit=`, answered as the spec's `{data, pagination:
//! {total, pages, page, limit}}` plus the original's `results, count, page,
//! page_size, total_pages, next, previous`. A page past the end serves the
//! last page; a parameter that is not a positive integer is a 400 `{"error":
//! "Invalid page parameter", "message": "page must be a valid integer, got:
//! abc"}`.

use std::marker::PhantomData;

use axum::http::StatusCode;
use serde::Serialize;
use serde::ser::Serializer;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::paging::{Fetched, PageNumber, PageRequest, Paging, positive};
use super::{ListQuery, PageSize};
use crate::error::ApiError;

/// axis's `{data, pagination}` paging.
#[derive(Debug, Clone, Copy, Default)]
pub struct Axis;

/// One page of a list in axis's envelope: the spec's `data` and
/// `pagination`, and the same values under the original's keys.
#[derive(Debug, utoipa::ToSchema)]
pub struct AxisPage<T> {
    /// The rows of the page.
    pub data: Vec<T>,
    pub pagination: AxisPagination,
    /// The same rows as `data`.
    #[schema(value_type = Vec<T>)]
    results: PhantomData<T>,
    /// Rows in the whole list.
    pub count: u64,
    /// The page served: a page past the end serves the last.
    pub page: u64,
    pub page_size: u64,
    pub total_pages: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// Where a page of an axis list lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AxisPagination {
    /// Rows in the whole list.
    pub total: u64,
    /// Pages in the whole list (an empty list has one).
    pub pages: u64,
    /// The page served.
    pub page: u64,
    /// Rows per page.
    pub limit: u64,
}

impl<T> AxisPage<T> {
    /// The same page with `data` as its rows (the page's rows rendered
    /// together, with what they need loaded for the whole page at once).
    pub fn with_data<U>(self, data: Vec<U>) -> AxisPage<U> {
        AxisPage {
            data,
            pagination: self.pagination,
            results: PhantomData,
            count: self.count,
            page: self.page,
            page_size: self.page_size,
            total_pages: self.total_pages,
            next: self.next,
            previous: self.previous,
        }
    }

    pub fn map<U>(mut self, f: impl FnMut(T) -> U) -> AxisPage<U> {
        let data = std::mem::take(&mut self.data).into_iter().map(f).collect();
        self.with_data(data)
    }
}

impl<T: Serialize> Serialize for AxisPage<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a, T> {
            data: &'a [T],
            pagination: &'a AxisPagination,
            results: &'a [T],
            count: u64,
            page: u64,
            page_size: u64,
            total_pages: u64,
            next: &'a Option<String>,
            previous: &'a Option<String>,
        }
        Wire {
            data: &self.data,
            pagination: &self.pagination,
            results: &self.data,
            count: self.count,
            page: self.page,
            page_size: self.page_size,
            total_pages: self.total_pages,
            next: &self.next,
            previous: &self.previous,
        }
        .serialize(serializer)
    }
}

/// `name` as a positive integer when given.
fn parameter(query: &ListQuery<Axis>, name: &str) -> Result<Option<u64>, ApiError> {
    let Some(raw) = query.get(name) else {
        return Ok(None);
    };
    positive(raw).map(Some).ok_or_else(|| {
        let message = format!("{name} must be a valid integer, got: {raw}");
        ApiError::detailed(
            StatusCode::BAD_REQUEST,
            message.clone(),
            "invalid",
            serde_json::json!({"error": format!("Invalid {name} parameter"), "message": message}),
        )
    })
}

impl Paging for Axis {
    type Page<T> = AxisPage<T>;

    const ANSWERS: &'static [&'static str] = &["400"];

    /// `?page_size=` wins over `?limit=`; a larger one is capped.
    fn request(query: &ListQuery<Self>, size: PageSize) -> Result<PageRequest, ApiError> {
        let page = parameter(query, "page")?.unwrap_or(1);
        let page_size = parameter(query, "page_size")?;
        let limit = parameter(query, "limit")?;
        Ok(PageRequest {
            number: PageNumber::AtMost(page),
            size: page_size
                .or(limit)
                .map_or(size.default, |n| Ord::min(n, size.max)),
        })
    }

    fn render<T>(query: &ListQuery<Self>, page: Fetched<T>) -> AxisPage<T> {
        let Fetched {
            count,
            number,
            pages,
            size,
            results,
        } = page;
        AxisPage {
            data: results,
            pagination: AxisPagination {
                total: count,
                pages,
                page: number,
                limit: size,
            },
            results: PhantomData,
            count,
            page: number,
            page_size: size,
            total_pages: pages,
            next: (number < pages).then(|| query.link(Some(number + 1))),
            previous: (number > 1).then(|| query.link(Some(number - 1))),
        }
    }

    fn document(operation: &mut Operation) {
        for parameter in crate::docs::query_parameters(operation) {
            let description = match parameter.name.as_str() {
                "page" => "A page number from 1; a page past the end serves the last page.",
                "page_size" | "limit" => {
                    "Results per page, capped at the list's maximum (`page_size` wins over `limit`)."
                }
                _ => continue,
            };
            parameter.description = Some(format!(
                "{description} Anything but a positive integer is a 400 `Invalid {} parameter`.",
                parameter.name
            ));
            parameter.schema = Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .into(),
            );
        }
        crate::docs::add_response(
            operation,
            "400",
            "A query parameter is malformed: a filter (`{\"name\": [\"message\"]}`), or `page`, `page_size` or `limit` that is not a positive integer (`{\"error\": \"Invalid page parameter\", \"message\": \"page must be a valid integer, got: abc\"}`).",
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SIZE: PageSize = PageSize {
        default: 10,
        max: 100,
    };

    fn query(params: &[(&str, &str)]) -> ListQuery<Axis> {
        ListQuery::from_pairs("http://h/api/persons/", params)
    }

    #[test]
    fn reads_page_and_limit_and_serves_the_last_page_past_the_end() {
        let request = |params: &[(&str, &str)]| Axis::request(&query(params), SIZE).unwrap();
        let at_most = |n, size| PageRequest {
            number: PageNumber::AtMost(n),
            size,
        };
        assert_eq!(request(&[]), at_most(1, 10));
        assert_eq!(request(&[("page", "2"), ("limit", "5")]), at_most(2, 5));
        assert_eq!(
            request(&[("page_size", "7"), ("limit", "5")]),
            at_most(1, 7)
        );
        assert_eq!(request(&[("limit", "500")]), at_most(1, 100));
        assert_eq!(request(&[("page", "")]), at_most(1, 10), "blank is absent");
        let huge = "99999999999999999999999";
        assert_eq!(request(&[("page", huge)]), at_most(u64::MAX, 10));
        assert_eq!(request(&[("limit", huge)]), at_most(1, 100));
        assert_eq!(at_most(9, 5).resolve(12), Some((3, 3)));
        assert_eq!(at_most(9, 5).resolve(0), Some((1, 1)));
    }

    #[test]
    fn a_malformed_parameter_is_a_400_naming_it() {
        for (name, value) in [
            ("page", "abc"),
            ("page", "0"),
            ("page", "-2"),
            ("page_size", "x"),
            ("limit", "0"),
        ] {
            let error = Axis::request(&query(&[(name, value)]), SIZE).unwrap_err();
            let report = error.report();
            assert_eq!(report.status, StatusCode::BAD_REQUEST);
            let message = format!("{name} must be a valid integer, got: {value}");
            assert_eq!(report.message, message);
            assert_eq!(
                serde_json::Value::Object(report.extra),
                json!({"error": format!("Invalid {name} parameter"), "message": message})
            );
        }
    }

    #[test]
    fn renders_the_spec_and_original_keys_with_the_same_values() {
        let q = query(&[("limit", "2"), ("page", "2")]);
        let page = Axis::render(
            &q,
            Fetched {
                count: 5,
                number: 2,
                pages: 3,
                size: 2,
                results: vec!["c", "d"],
            },
        );
        assert_eq!(
            serde_json::to_value(page.map(str::to_uppercase)).unwrap(),
            json!({
                "data": ["C", "D"],
                "pagination": {"total": 5, "pages": 3, "page": 2, "limit": 2},
                "results": ["C", "D"],
                "count": 5,
                "page": 2,
                "page_size": 2,
                "total_pages": 3,
                "next": "http://h/api/persons/?limit=2&page=3",
                "previous": "http://h/api/persons/?limit=2&page=1",
            })
        );
    }
}
