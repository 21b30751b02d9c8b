//! The four PoCo order kinds in the JSON shape of iExec's market API and SDK (addresses and
//! bytes32 as `0x` hex, integers as JSON numbers), and their EIP-712 typed-data hashes, which
//! are the `orderHash` keys of the market and of the hub's `m_consumed`.

use crate::MarketError;
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::{Eip712Domain, SolStruct},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr};

/// EIP-712 views of the orders: PoCo's structs without `sign`, so alloy derives the exact
/// typehashes of `IexecLibOrders_v5`.
mod typed {
    alloy::sol! {
        struct AppOrder { address app; uint256 appprice; uint256 volume; bytes32 tag; address datasetrestrict;
            address workerpoolrestrict; address requesterrestrict; bytes32 salt; }
        struct DatasetOrder { address dataset; uint256 datasetprice; uint256 volume; bytes32 tag; address apprestrict;
            address workerpoolrestrict; address requesterrestrict; bytes32 salt; }
        struct WorkerpoolOrder { address workerpool; uint256 workerpoolprice; uint256 volume; bytes32 tag;
            uint256 category; uint256 trust; address apprestrict; address datasetrestrict; address requesterrestrict;
            bytes32 salt; }
        struct RequestOrder { address app; uint256 appmaxprice; address dataset; uint256 datasetmaxprice;
            address workerpool; uint256 workerpoolmaxprice; address requester; uint256 volume; bytes32 tag;
            uint256 category; uint256 trust; address beneficiary; address callback; string params; bytes32 salt; }
    }
}

/// Which orderbook an order belongs to; also the path segment `/{kind}orders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderKind {
    App,
    Dataset,
    Workerpool,
    Request,
}

impl OrderKind {
    pub const ALL: [OrderKind; 4] = [Self::App, Self::Dataset, Self::Workerpool, Self::Request];

    /// `app`, `dataset`, `workerpool` or `request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
            Self::Request => "request",
        }
    }
}

impl fmt::Display for OrderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderKind {
    type Err = MarketError;
    fn from_str(s: &str) -> Result<Self, MarketError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| MarketError::BadField {
                field: "kind".into(),
                reason: format!(
                    "unknown order kind {s:?}; use app, dataset, workerpool or request"
                ),
            })
    }
}

/// A uint256 that reads a JSON number, a decimal string or a `0x` hex string (the SDK sends
/// numbers, big prices arrive as strings) and writes a number when it fits a JS safe integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Uint(pub U256);

impl From<u64> for Uint {
    fn from(v: u64) -> Self {
        Uint(U256::from(v))
    }
}

impl Serialize for Uint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const MAX_SAFE: u64 = (1 << 53) - 1;
        match u64::try_from(self.0) {
            Ok(v) if v <= MAX_SAFE => s.serialize_u64(v),
            _ => s.serialize_str(&self.0.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Uint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(|v| Uint(U256::from(v)))
                .ok_or_else(|| D::Error::custom(format!("{n} is not a non-negative integer"))),
            serde_json::Value::String(s) => U256::from_str(s.trim())
                .map(Uint)
                .map_err(|_| D::Error::custom(format!("{s:?} is not an unsigned integer"))),
            other => Err(D::Error::custom(format!(
                "expected an integer, got {other}"
            ))),
        }
    }
}

/// An app order as the SDK signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppOrder {
    pub app: Address,
    pub appprice: Uint,
    pub volume: Uint,
    pub tag: B256,
    pub datasetrestrict: Address,
    pub workerpoolrestrict: Address,
    pub requesterrestrict: Address,
    pub salt: B256,
    pub sign: Bytes,
}

/// A dataset order as the SDK signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetOrder {
    pub dataset: Address,
    pub datasetprice: Uint,
    pub volume: Uint,
    pub tag: B256,
    pub apprestrict: Address,
    pub workerpoolrestrict: Address,
    pub requesterrestrict: Address,
    pub salt: B256,
    pub sign: Bytes,
}

/// A workerpool order as the SDK signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerpoolOrder {
    pub workerpool: Address,
    pub workerpoolprice: Uint,
    pub volume: Uint,
    pub tag: B256,
    pub category: Uint,
    pub trust: Uint,
    pub apprestrict: Address,
    pub datasetrestrict: Address,
    pub requesterrestrict: Address,
    pub salt: B256,
    pub sign: Bytes,
}

/// A request order as the SDK signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestOrder {
    pub app: Address,
    pub appmaxprice: Uint,
    pub dataset: Address,
    pub datasetmaxprice: Uint,
    pub workerpool: Address,
    pub workerpoolmaxprice: Uint,
    pub requester: Address,
    pub volume: Uint,
    pub tag: B256,
    pub category: Uint,
    pub trust: Uint,
    pub beneficiary: Address,
    pub callback: Address,
    pub params: String,
    pub salt: B256,
    pub sign: Bytes,
}

/// Any signed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    App(AppOrder),
    Dataset(DatasetOrder),
    Workerpool(WorkerpoolOrder),
    Request(RequestOrder),
}

impl Serialize for Order {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Order::App(o) => o.serialize(s),
            Order::Dataset(o) => o.serialize(s),
            Order::Workerpool(o) => o.serialize(s),
            Order::Request(o) => o.serialize(s),
        }
    }
}

impl Order {
    /// Reads an order of `kind` from JSON; the error names the offending field.
    pub fn from_json(kind: OrderKind, value: serde_json::Value) -> Result<Order, MarketError> {
        fn parse<T: serde::de::DeserializeOwned>(
            kind: OrderKind,
            v: serde_json::Value,
        ) -> Result<T, MarketError> {
            serde_json::from_value(v).map_err(|e| MarketError::BadField {
                field: "order".into(),
                reason: format!("not a valid signed {kind}order: {e}"),
            })
        }
        Ok(match kind {
            OrderKind::App => Order::App(parse(kind, value)?),
            OrderKind::Dataset => Order::Dataset(parse(kind, value)?),
            OrderKind::Workerpool => Order::Workerpool(parse(kind, value)?),
            OrderKind::Request => Order::Request(parse(kind, value)?),
        })
    }

    pub fn kind(&self) -> OrderKind {
        match self {
            Order::App(_) => OrderKind::App,
            Order::Dataset(_) => OrderKind::Dataset,
            Order::Workerpool(_) => OrderKind::Workerpool,
            Order::Request(_) => OrderKind::Request,
        }
    }

    /// The order's resource: app, dataset or workerpool address; the requester for requests.
    pub fn resource(&self) -> Address {
        match self {
            Order::App(o) => o.app,
            Order::Dataset(o) => o.dataset,
            Order::Workerpool(o) => o.workerpool,
            Order::Request(o) => o.requester,
        }
    }

    pub fn volume(&self) -> U256 {
        match self {
            Order::App(o) => o.volume.0,
            Order::Dataset(o) => o.volume.0,
            Order::Workerpool(o) => o.volume.0,
            Order::Request(o) => o.volume.0,
        }
    }

    pub fn tag(&self) -> B256 {
        match self {
            Order::App(o) => o.tag,
            Order::Dataset(o) => o.tag,
            Order::Workerpool(o) => o.tag,
            Order::Request(o) => o.tag,
        }
    }

    pub fn sign(&self) -> &Bytes {
        match self {
            Order::App(o) => &o.sign,
            Order::Dataset(o) => &o.sign,
            Order::Workerpool(o) => &o.sign,
            Order::Request(o) => &o.sign,
        }
    }

    /// The price the orderbook sorts by (ascending, except request orders: descending).
    pub fn price(&self) -> U256 {
        match self {
            Order::App(o) => o.appprice.0,
            Order::Dataset(o) => o.datasetprice.0,
            Order::Workerpool(o) => o.workerpoolprice.0,
            Order::Request(o) => o.workerpoolmaxprice.0,
        }
    }

    /// The EIP-712 typed-data hash under the hub's domain: PoCo's order hash.
    pub fn hash(&self, domain: &Eip712Domain) -> B256 {
        match self {
            Order::App(o) => typed::AppOrder {
                app: o.app,
                appprice: o.appprice.0,
                volume: o.volume.0,
                tag: o.tag,
                datasetrestrict: o.datasetrestrict,
                workerpoolrestrict: o.workerpoolrestrict,
                requesterrestrict: o.requesterrestrict,
                salt: o.salt,
            }
            .eip712_signing_hash(domain),
            Order::Dataset(o) => typed::DatasetOrder {
                dataset: o.dataset,
                datasetprice: o.datasetprice.0,
                volume: o.volume.0,
                tag: o.tag,
                apprestrict: o.apprestrict,
                workerpoolrestrict: o.workerpoolrestrict,
                requesterrestrict: o.requesterrestrict,
                salt: o.salt,
            }
            .eip712_signing_hash(domain),
            Order::Workerpool(o) => typed::WorkerpoolOrder {
                workerpool: o.workerpool,
                workerpoolprice: o.workerpoolprice.0,
                volume: o.volume.0,
                tag: o.tag,
                category: o.category.0,
                trust: o.trust.0,
                apprestrict: o.apprestrict,
                datasetrestrict: o.datasetrestrict,
                requesterrestrict: o.requesterrestrict,
                salt: o.salt,
            }
            .eip712_signing_hash(domain),
            Order::Request(o) => typed::RequestOrder {
                app: o.app,
                appmaxprice: o.appmaxprice.0,
                dataset: o.dataset,
                datasetmaxprice: o.datasetmaxprice.0,
                workerpool: o.workerpool,
                workerpoolmaxprice: o.workerpoolmaxprice.0,
                requester: o.requester,
                volume: o.volume.0,
                tag: o.tag,
                category: o.category.0,
                trust: o.trust.0,
                beneficiary: o.beneficiary,
                callback: o.callback,
                params: o.params.clone(),
                salt: o.salt,
            }
            .eip712_signing_hash(domain),
        }
    }
}

/// The hub's EIP-712 domain ("iExecODB" / "5.0.0"), which the SDK reads from `domain()`.
pub fn poco_domain(chain_id: u64, hub: Address) -> Eip712Domain {
    alloy::sol_types::eip712_domain! {
        name: "iExecODB",
        version: "5.0.0",
        chain_id: chain_id,
        verifying_contract: hub,
    }
}
