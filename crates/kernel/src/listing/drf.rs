//! DRF's `PageNumberPagination`: `?page=` (a number from 1, or `last`) and
//! `?page_size=`, answered as `{count, next, previous, results}` with
//! absolute links; a malformed page or one past the end is a 404 `Invalid
//! page.`

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};

use super::paging::{Fetched, PageNumber, PageRequest, Paging, positive};
use super::{ListQuery, PageSize};
use crate::error::ApiError;

/// DRF's page-number paging (the style of clearance, PSS and roster).
#[derive(Debug, Clone, Copy, Default)]
pub struct Drf;

/// One page of a list, in DRF's envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub count: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            count: self.count,
            next: self.next,
            previous: self.previous,
            results: self.results.into_iter().map(f).collect(),
        }
    }
}

impl Paging for Drf {
    type Page<T> = Page<T>;

    const ANSWERS: &'static [&'static str] = &["404"];

    /// `?page_size=` that is not a positive integer is ignored; a larger one
    /// is capped.
    fn request(query: &ListQuery<Self>, size: PageSize) -> Result<PageRequest, ApiError> {
        let page_size = query
            .get("page_size")
            .and_then(positive)
            .map_or(size.default, |n| Ord::min(n, size.max));
        let number = match query.get("page") {
            None => PageNumber::Exact(1),
            Some("last") => PageNumber::Last,
            Some(raw) => PageNumber::Exact(positive(raw).ok_or_else(Self::past_end)?),
        };
        Ok(PageRequest {
            number,
            size: page_size,
        })
    }

    /// The previous link of page 2 carries no `?page=`, as DRF's does.
    fn render<T>(query: &ListQuery<Self>, page: Fetched<T>) -> Page<T> {
        let Fetched {
            count,
            number,
            pages,
            results,
            ..
        } = page;
        Page {
            count,
            next: (number < pages).then(|| query.link(Some(number + 1))),
            previous: (number > 1)
                .then(|| query.link(if number == 2 { None } else { Some(number - 1) })),
            results,
        }
    }

    fn document(operation: &mut Operation) {
        for parameter in crate::docs::query_parameters(operation) {
            match parameter.name.as_str() {
                "page" => {
                    parameter.description = Some(
                        "A page number from 1, or `last`; a page past the end is a 404 `Invalid page.`"
                            .to_owned(),
                    );
                    parameter.schema = Some(
                        AnyOfBuilder::new()
                            .item(
                                ObjectBuilder::new()
                                    .schema_type(Type::Integer)
                                    .minimum(Some(1)),
                            )
                            .item(
                                ObjectBuilder::new()
                                    .schema_type(Type::String)
                                    .enum_values(Some(["last"])),
                            )
                            .into(),
                    );
                }
                "page_size" => {
                    parameter.description = Some(
                        "Results per page: a positive integer, capped at the list's maximum; any other value is ignored."
                            .to_owned(),
                    );
                    parameter.schema = Some(
                        AnyOfBuilder::new()
                            .item(
                                ObjectBuilder::new()
                                    .schema_type(Type::Integer)
                                    .minimum(Some(1)),
                            )
                            .item(ObjectBuilder::new().schema_type(Type::String))
                            .into(),
                    );
                }
                _ => {}
            }
        }
        operation
            .responses
            .responses
            .entry("404".to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description("Not found, or `Invalid page.` for a page out of range.")
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                                "ErrorBody",
                            ))))
                            .build(),
                    )
                    .into()
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(params: &[(&str, &str)]) -> ListQuery<Drf> {
        ListQuery::from_pairs("http://h/api/x/", params)
    }

    fn request(params: &[(&str, &str)]) -> Result<PageRequest, u16> {
        Drf::request(&query(params), PageSize::DEFAULT).map_err(|e| e.status().as_u16())
    }

    #[test]
    fn reads_page_and_page_size_as_drf_does() {
        let exact = |number, size| Ok(PageRequest { number, size });
        assert_eq!(request(&[]), exact(PageNumber::Exact(1), 20));
        assert_eq!(
            request(&[("page", " 3 "), ("page_size", "5")]),
            exact(PageNumber::Exact(3), 5)
        );
        assert_eq!(request(&[("page", "last")]), exact(PageNumber::Last, 20));
        // A blank page reads as absent; a bad or oversized page size is
        // ignored or capped.
        assert_eq!(
            request(&[("page", ""), ("page_size", "x")]),
            exact(PageNumber::Exact(1), 20)
        );
        assert_eq!(
            request(&[("page_size", "0")]),
            exact(PageNumber::Exact(1), 20)
        );
        assert_eq!(
            request(&[("page_size", "1000")]),
            exact(PageNumber::Exact(1), 100)
        );
        for bad in ["0", "-1", "abc", "1.5", "LAST"] {
            assert_eq!(request(&[("page", bad)]), Err(404), "page={bad}");
        }
        let error = Drf::request(&query(&[("page", "x")]), PageSize::DEFAULT).unwrap_err();
        assert_eq!(error.report().message, "Invalid page.");
        // Past the end: no page.
        let third = PageRequest {
            number: PageNumber::Exact(3),
            size: 20,
        };
        assert_eq!(third.resolve(41), Some((3, 3)));
        assert_eq!(third.resolve(40), None);
        let last = PageRequest {
            number: PageNumber::Last,
            size: 20,
        };
        assert_eq!(last.resolve(0), Some((1, 1)));
    }

    fn fetched(number: u64, pages: u64) -> Fetched<u8> {
        Fetched {
            count: pages * 2,
            number,
            pages,
            size: 2,
            results: vec![1, 2],
        }
    }

    #[test]
    fn renders_absolute_links_and_drops_page_one() {
        let q = query(&[("search", "a b"), ("page", "3")]);
        let json = |page| serde_json::to_value(Drf::render(&q, page)).unwrap();
        assert_eq!(
            json(fetched(3, 4)),
            serde_json::json!({
                "count": 8,
                "next": "http://h/api/x/?search=a+b&page=4",
                "previous": "http://h/api/x/?search=a+b&page=2",
                "results": [1, 2],
            })
        );
        let second = json(fetched(2, 2));
        assert_eq!(second["next"], serde_json::Value::Null);
        assert_eq!(second["previous"], "http://h/api/x/?search=a+b");
        let only = json(fetched(1, 1));
        assert_eq!(only["previous"], serde_json::Value::Null);
        assert_eq!(
            query(&[]).link(Some(2)),
            "http://h/api/x/?page=2",
            "no other parameters"
        );
        assert_eq!(query(&[("page", "2")]).link(None), "http://h/api/x/");
    }
}
