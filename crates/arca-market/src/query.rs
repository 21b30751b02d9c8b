//! Orderbook queries: the filters of iExec's `GET /{kind}orders` (restriction semantics, tag
//! inclusion, trust, volume), its sort order and its pagination.
//!
//! Restriction filters follow the market API: for `dataset=X` an app order qualifies if its
//! `datasetrestrict` is 0x0 or X (`isDatasetStrict=true`: exactly X); `dataset=any` disables
//! the filter; without the parameter only unrestricted (public) orders qualify.

use crate::{
    MarketError,
    order::{Order, OrderKind},
    store::Record,
};
use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Default and bounds of `pageSize` (iExec's values).
pub const DEFAULT_PAGE_SIZE: usize = 20;
const MIN_PAGE_SIZE: usize = 10;
const MAX_PAGE_SIZE: usize = 1000;

/// The query string of `GET /{kind}orders` (every field optional; each kind uses its subset).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workerpool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workerpool_owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beneficiary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_app_strict: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_dataset_strict: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_workerpool_strict: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_requester_strict: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_trust: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_trust: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_volume: Option<String>,
    /// Deprecated offset pagination (still sent by old SDKs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_index: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<String>,
}

/// A restriction filter parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restrict {
    /// Parameter absent: only orders without this restriction.
    PublicOnly,
    /// `any`: no filter.
    Any,
    /// An address: unrestricted or restricted to it (strict: restricted to it only).
    To { address: Address, strict: bool },
}

impl Restrict {
    fn accepts(self, restriction: Address) -> bool {
        match self {
            Restrict::PublicOnly => restriction == Address::ZERO,
            Restrict::Any => true,
            Restrict::To { address, strict } => {
                restriction == address || (!strict && restriction == Address::ZERO)
            }
        }
    }
}

fn address(field: &str, v: &str) -> Result<Address, MarketError> {
    Address::from_str(v.trim()).map_err(|_| {
        MarketError::bad(
            field,
            format!("{v:?} is not an address; use 0x followed by 40 hex digits"),
        )
    })
}

fn opt_address(field: &str, v: &Option<String>) -> Result<Option<Address>, MarketError> {
    v.as_deref().map(|v| address(field, v)).transpose()
}

fn boolean(field: &str, v: &Option<String>) -> Result<bool, MarketError> {
    match v.as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(MarketError::bad(
            field,
            format!("{other:?} is not true or false"),
        )),
    }
}

fn uint(field: &str, v: &Option<String>) -> Result<Option<U256>, MarketError> {
    v.as_deref()
        .map(|s| {
            U256::from_str(s.trim())
                .map_err(|_| MarketError::bad(field, format!("{s:?} is not an unsigned integer")))
        })
        .transpose()
}

fn tag(field: &str, v: &Option<String>) -> Result<Option<B256>, MarketError> {
    v.as_deref()
        .map(|s| {
            B256::from_str(s.trim()).map_err(|_| {
                MarketError::bad(
                    field,
                    format!("{s:?} is not a bytes32 tag; use 0x followed by 64 hex digits"),
                )
            })
        })
        .transpose()
}

fn restrict(
    field: &str,
    strict_field: &str,
    v: &Option<String>,
    strict: &Option<String>,
) -> Result<Restrict, MarketError> {
    let strict = boolean(strict_field, strict)?;
    Ok(match v.as_deref() {
        None => Restrict::PublicOnly,
        Some("any") => Restrict::Any,
        Some(a) => Restrict::To {
            address: address(field, a)?,
            strict,
        },
    })
}

/// A resource filter (`app=`, `dataset=`, `workerpool=`): an address or `any`.
fn resource(field: &str, v: &Option<String>) -> Result<Option<Address>, MarketError> {
    match v.as_deref() {
        None | Some("any") => Ok(None),
        Some(a) => address(field, a).map(Some),
    }
}

/// The checked form of an [`OrderQuery`] for one kind.
#[derive(Debug)]
struct Filter {
    kind: OrderKind,
    resource: Option<Address>,
    owner: Option<Address>,
    app: Restrict,
    dataset: Restrict,
    workerpool: Restrict,
    requester: Restrict,
    // request-order specifics
    req_app: Option<Address>,
    req_dataset: Option<Address>,
    req_requester: Option<Address>,
    beneficiary: Option<Address>,
    category: Option<U256>,
    min_tag: Option<B256>,
    max_tag: Option<B256>,
    min_trust: Option<U256>,
    max_trust: Option<U256>,
    min_volume: Option<U256>,
}

impl Filter {
    fn new(kind: OrderKind, q: &OrderQuery) -> Result<Filter, MarketError> {
        let mut f = Filter {
            kind,
            resource: None,
            owner: None,
            app: restrict("app", "isAppStrict", &q.app, &q.is_app_strict)?,
            dataset: restrict(
                "dataset",
                "isDatasetStrict",
                &q.dataset,
                &q.is_dataset_strict,
            )?,
            workerpool: restrict(
                "workerpool",
                "isWorkerpoolStrict",
                &q.workerpool,
                &q.is_workerpool_strict,
            )?,
            requester: restrict(
                "requester",
                "isRequesterStrict",
                &q.requester,
                &q.is_requester_strict,
            )?,
            req_app: None,
            req_dataset: None,
            req_requester: None,
            beneficiary: opt_address("beneficiary", &q.beneficiary)?,
            category: uint("category", &q.category)?,
            min_tag: tag("minTag", &q.min_tag)?,
            max_tag: tag("maxTag", &q.max_tag)?,
            min_trust: uint("minTrust", &q.min_trust)?,
            max_trust: uint("maxTrust", &q.max_trust)?,
            min_volume: uint("minVolume", &q.min_volume)?,
        };
        // the order's own resource is a plain equality filter, and the market requires it (or
        // its owner) so a query never dumps a whole orderbook by accident
        let (field, owner_field, value, owner) = match kind {
            OrderKind::App => ("app", "appOwner", &q.app, &q.app_owner),
            OrderKind::Dataset => ("dataset", "datasetOwner", &q.dataset, &q.dataset_owner),
            OrderKind::Workerpool => (
                "workerpool",
                "workerpoolOwner",
                &q.workerpool,
                &q.workerpool_owner,
            ),
            OrderKind::Request => ("requester", "requester", &q.requester, &None),
        };
        f.owner = opt_address(owner_field, owner)?;
        match kind {
            OrderKind::App | OrderKind::Dataset => {
                if value.is_none() && f.owner.is_none() {
                    return Err(MarketError::bad(
                        field,
                        format!("required (an address or \"any\") unless {owner_field} is given"),
                    ));
                }
                f.resource = resource(field, value)?;
            }
            // workerpool orders are browsed by category; the pool is optional
            OrderKind::Workerpool => f.resource = resource(field, value)?,
            OrderKind::Request => {
                f.req_app = resource("app", &q.app)?;
                f.req_dataset = resource("dataset", &q.dataset)?;
                f.req_requester = resource("requester", &q.requester)?;
            }
        }
        Ok(f)
    }

    fn accepts(&self, r: &Record) -> bool {
        let tag = r.order.tag();
        if let Some(min) = self.min_tag
            && tag & min != min
        {
            return false;
        }
        if let Some(max) = self.max_tag
            && tag & !max != B256::ZERO
        {
            return false;
        }
        if let Some(v) = self.min_volume
            && r.remaining < v
        {
            return false;
        }
        if let Some(owner) = self.owner
            && r.signer != owner
        {
            return false;
        }
        if self.kind != OrderKind::Request
            && let Some(res) = self.resource
            && r.order.resource() != res
        {
            return false;
        }
        match &r.order {
            Order::App(o) => {
                self.dataset.accepts(o.datasetrestrict)
                    && self.workerpool.accepts(o.workerpoolrestrict)
                    && self.requester.accepts(o.requesterrestrict)
            }
            Order::Dataset(o) => {
                self.app.accepts(o.apprestrict)
                    && self.workerpool.accepts(o.workerpoolrestrict)
                    && self.requester.accepts(o.requesterrestrict)
            }
            Order::Workerpool(o) => {
                self.category.is_none_or(|c| o.category.0 == c)
                    && self.min_trust.is_none_or(|t| o.trust.0 >= t)
                    && self.app.accepts(o.apprestrict)
                    && self.dataset.accepts(o.datasetrestrict)
                    && self.requester.accepts(o.requesterrestrict)
            }
            Order::Request(o) => {
                self.req_app.is_none_or(|a| o.app == a)
                    && self.req_dataset.is_none_or(|d| o.dataset == d)
                    && self.req_requester.is_none_or(|r| o.requester == r)
                    && self.beneficiary.is_none_or(|b| o.beneficiary == b)
                    && self.category.is_none_or(|c| o.category.0 == c)
                    && self.max_trust.is_none_or(|t| o.trust.0 <= t)
                    && self.workerpool.accepts(o.workerpool)
            }
        }
    }
}

/// One page of results.
#[derive(Debug)]
pub struct Page {
    pub orders: Vec<Record>,
    /// Matching orders across all pages.
    pub count: usize,
    /// What to pass as `pageIndex` (or `page`, for offset pagination) to get the next page.
    pub next_page: Option<usize>,
}

/// Filters, sorts (price, then publication time, then hash) and paginates `open` orders.
pub fn run(kind: OrderKind, q: &OrderQuery, open: Vec<Record>) -> Result<Page, MarketError> {
    let filter = Filter::new(kind, q)?;
    let mut hits: Vec<Record> = open.into_iter().filter(|r| filter.accepts(r)).collect();
    hits.sort_by(|a, b| {
        let price = if kind == OrderKind::Request {
            // requesters paying the most for a pool come first
            b.order.price().cmp(&a.order.price())
        } else {
            a.order.price().cmp(&b.order.price())
        };
        price
            .then_with(|| a.published_at.cmp(&b.published_at))
            .then_with(|| a.hash.cmp(&b.hash))
    });
    let size = match uint("pageSize", &q.page_size)? {
        None => DEFAULT_PAGE_SIZE,
        Some(s) => usize::try_from(s)
            .ok()
            .filter(|s| (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(s))
            .ok_or_else(|| {
                MarketError::bad(
                    "pageSize",
                    format!("must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}"),
                )
            })?,
    };
    let as_index = |field: &str, v: &Option<String>| -> Result<Option<usize>, MarketError> {
        uint(field, v)?
            .map(|v| usize::try_from(v).map_err(|_| MarketError::bad(field, "too large")))
            .transpose()
    };
    let count = hits.len();
    let (start, next_page) = if let Some(offset) = as_index("page", &q.page)? {
        let next = offset.saturating_add(size);
        (offset, (next < count).then_some(next))
    } else {
        let index = as_index("pageIndex", &q.page_index)?.unwrap_or(0);
        let start = index.saturating_mul(size);
        (
            start,
            (start.saturating_add(size) < count).then_some(index + 1),
        )
    };
    let orders = hits.into_iter().skip(start).take(size).collect();
    Ok(Page {
        orders,
        count,
        next_page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{order::RequestOrder, store::Status};
    use alloy::primitives::Bytes;

    fn request(
        salt: u8,
        maxprice: u64,
        trust: u64,
        beneficiary: Address,
        workerpool: Address,
    ) -> Record {
        let order = RequestOrder {
            app: Address::repeat_byte(1),
            appmaxprice: 0.into(),
            dataset: Address::ZERO,
            datasetmaxprice: 0.into(),
            workerpool,
            workerpoolmaxprice: maxprice.into(),
            requester: Address::repeat_byte(9),
            volume: 1.into(),
            tag: B256::ZERO,
            category: 0.into(),
            trust: trust.into(),
            beneficiary,
            callback: Address::ZERO,
            params: String::new(),
            salt: B256::repeat_byte(salt),
            sign: Bytes::new(),
        };
        Record {
            hash: B256::repeat_byte(salt),
            chain_id: 1,
            order: Order::Request(order),
            remaining: U256::from(1),
            status: Status::Open,
            signer: Address::repeat_byte(9),
            published_at: format!("2026-01-01T00:00:0{salt}.000Z"),
        }
    }

    #[test]
    fn request_orders_sort_by_max_price_descending_and_filter_trust_beneficiary_pool() {
        let pool = Address::repeat_byte(5);
        let me = Address::repeat_byte(7);
        let book = vec![
            request(1, 10, 0, me, Address::ZERO),
            request(2, 30, 5, me, pool),
            request(3, 20, 1, Address::repeat_byte(8), Address::ZERO),
        ];
        let all = run(OrderKind::Request, &OrderQuery::default(), book.clone()).unwrap();
        // absent workerpool: only requests open to any pool
        let order: Vec<u8> = all.orders.iter().map(|r| r.hash[0]).collect();
        assert_eq!(order, [3, 1]);
        let any_pool = OrderQuery {
            workerpool: Some("any".into()),
            ..OrderQuery::default()
        };
        let order: Vec<u8> = run(OrderKind::Request, &any_pool, book.clone())
            .unwrap()
            .orders
            .iter()
            .map(|r| r.hash[0])
            .collect();
        assert_eq!(order, [2, 3, 1], "workerpoolmaxprice descending");
        let q = OrderQuery {
            max_trust: Some("1".into()),
            beneficiary: Some(me.to_string()),
            ..any_pool
        };
        let hits = run(OrderKind::Request, &q, book.clone()).unwrap();
        assert_eq!(
            hits.orders.iter().map(|r| r.hash[0]).collect::<Vec<_>>(),
            [1]
        );
        let for_pool = OrderQuery {
            workerpool: Some(pool.to_string()),
            is_workerpool_strict: Some("true".into()),
            ..OrderQuery::default()
        };
        assert_eq!(run(OrderKind::Request, &for_pool, book).unwrap().count, 1);
    }

    #[test]
    fn malformed_parameters_name_their_field() {
        let cases = [
            (
                OrderQuery {
                    page_size: Some("5".into()),
                    ..OrderQuery::default()
                },
                "pageSize",
            ),
            (
                OrderQuery {
                    min_tag: Some("0x01".into()),
                    ..OrderQuery::default()
                },
                "minTag",
            ),
            (
                OrderQuery {
                    category: Some("-1".into()),
                    ..OrderQuery::default()
                },
                "category",
            ),
            (
                OrderQuery {
                    is_workerpool_strict: Some("yes".into()),
                    ..OrderQuery::default()
                },
                "isWorkerpoolStrict",
            ),
        ];
        for (q, field) in cases {
            let err = run(OrderKind::Request, &q, Vec::new())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{field}: ")), "{err}");
        }
        let err = run(OrderKind::App, &OrderQuery::default(), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("app: required"), "{err}");
    }
}
