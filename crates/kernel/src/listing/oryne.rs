//! oryne's paging (oryne contract §0, "Envelope"): `?page=` (from 1) and
//! `?per_page=` (alias `page_size`), answered as `{"success": true, "data":
//! [...], "meta": {"pagination": {page, per_page, total, total_pages}},
//! "error": null}`. A page out of range (or not a page number) is a 404
//! (`ERR_NOT_FOUND_01` in oryne's error envelope).

use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};

use super::paging::{Fetched, PageNumber, PageRequest, Paging, positive};
use super::{ListQuery, PageSize};
use crate::error::ApiError;

/// oryne's `{success, data, meta: {pagination}}` paging.
#[derive(Debug, Clone, Copy, Default)]
pub struct Oryne;

/// One page of a list in oryne's success envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrynePage<T> {
    /// Always `true`.
    pub success: bool,
    /// The rows of the page.
    pub data: Vec<T>,
    pub meta: OryneMeta,
    /// Always `null` on success.
    #[schema(schema_with = null)]
    pub error: (),
}

/// The `meta` of an oryne list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OryneMeta {
    pub pagination: OrynePagination,
}

/// Where a page of an oryne list lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrynePagination {
    /// The page served, from 1.
    pub page: u64,
    /// Rows per page.
    pub per_page: u64,
    /// Rows in the whole list.
    pub total: u64,
    /// Pages in the whole list (an empty list has one).
    pub total_pages: u64,
}

fn null() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Null).into()
}

impl<T> OrynePage<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> OrynePage<U> {
        OrynePage {
            success: self.success,
            data: self.data.into_iter().map(f).collect(),
            meta: self.meta,
            error: (),
        }
    }
}

impl Paging for Oryne {
    type Page<T> = OrynePage<T>;

    const ANSWERS: &'static [&'static str] = &["404"];

    /// `?per_page=` wins over `?page_size=`; one that is not a positive
    /// integer is ignored, a larger one capped.
    fn request(query: &ListQuery<Self>, size: PageSize) -> Result<PageRequest, ApiError> {
        let per_page = query
            .get("per_page")
            .or_else(|| query.get("page_size"))
            .and_then(positive)
            .map_or(size.default, |n| Ord::min(n, size.max));
        let number = match query.get("page") {
            None => 1,
            Some(raw) => positive(raw).ok_or_else(Self::past_end)?,
        };
        Ok(PageRequest {
            number: PageNumber::Exact(number),
            size: per_page,
        })
    }

    fn render<T>(_: &ListQuery<Self>, page: Fetched<T>) -> OrynePage<T> {
        OrynePage {
            success: true,
            data: page.results,
            meta: OryneMeta {
                pagination: OrynePagination {
                    page: page.number,
                    per_page: page.size,
                    total: page.count,
                    total_pages: page.pages,
                },
            },
            error: (),
        }
    }

    fn document(operation: &mut Operation) {
        for parameter in crate::docs::query_parameters(operation) {
            match parameter.name.as_str() {
                "page" => {
                    parameter.description = Some(
                        "A page number from 1; a page past the end, or anything but a positive integer, is a 404."
                            .to_owned(),
                    );
                    parameter.schema = Some(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .into(),
                    );
                }
                "per_page" | "page_size" => {
                    parameter.description = Some(
                        "Results per page (`per_page` wins over `page_size`): a positive integer, capped at the list's maximum; any other value is ignored."
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
        crate::docs::add_response(operation, "404", "Not found, or a page out of range.");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn query(params: &[(&str, &str)]) -> ListQuery<Oryne> {
        ListQuery::from_pairs("http://school.oryne.test/api/v1/students/", params)
    }

    #[test]
    fn reads_page_and_per_page() {
        let request = |params: &[(&str, &str)]| {
            Oryne::request(&query(params), PageSize::DEFAULT).map_err(|e| e.status().as_u16())
        };
        let exact = |n, size| {
            Ok(PageRequest {
                number: PageNumber::Exact(n),
                size,
            })
        };
        assert_eq!(request(&[]), exact(1, 20));
        assert_eq!(request(&[("page", "2"), ("per_page", "5")]), exact(2, 5));
        assert_eq!(
            request(&[("per_page", "5"), ("page_size", "7")]),
            exact(1, 5)
        );
        assert_eq!(request(&[("page_size", "7")]), exact(1, 7));
        assert_eq!(request(&[("per_page", "x")]), exact(1, 20));
        assert_eq!(request(&[("per_page", "101")]), exact(1, 100));
        for bad in ["0", "abc", "last"] {
            assert_eq!(request(&[("page", bad)]), Err(404), "page={bad}");
        }
        assert_eq!(exact(3, 5).unwrap().resolve(10), None, "past the end");
    }

    #[test]
    fn renders_the_page_in_meta() {
        let page = Oryne::render(
            &query(&[]),
            Fetched {
                count: 0,
                number: 1,
                pages: 1,
                size: 20,
                results: Vec::<u8>::new(),
            },
        );
        assert_eq!(
            serde_json::to_value(page.map(u16::from)).unwrap(),
            json!({
                "success": true,
                "data": [],
                "meta": {"pagination": {"page": 1, "per_page": 20, "total": 0, "total_pages": 1}},
                "error": null,
            })
        );
    }
}
