//! EIP-712 orders exactly as the SDK signs them: the domain `iExecODB`/`5.0.0`/chain id/hub, a random
//! 32-byte salt, `eth_signTypedData_v4` signatures (65 bytes, v = 27/28), and the typed-data hash that
//! PoCo uses as the order hash. Orders serialise to the SDK's JSON shape (numbers as decimal strings,
//! tag as bytes32 hex, `params` as a JSON string).

use crate::{ClientError, Result};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};
use serde_json::{Map, Value, json};

/// The hashed order structs (PoCo's, without `sign`), so alloy derives PoCo's typehashes.
pub mod typed {
    alloy::sol! {
        /// PoCo AppOrder (hashed fields).
        #[derive(Debug, Default, PartialEq, Eq)]
        struct AppOrder { address app; uint256 appprice; uint256 volume; bytes32 tag; address datasetrestrict;
            address workerpoolrestrict; address requesterrestrict; bytes32 salt; }
        /// PoCo DatasetOrder (hashed fields).
        #[derive(Debug, Default, PartialEq, Eq)]
        struct DatasetOrder { address dataset; uint256 datasetprice; uint256 volume; bytes32 tag; address apprestrict;
            address workerpoolrestrict; address requesterrestrict; bytes32 salt; }
        /// PoCo WorkerpoolOrder (hashed fields).
        #[derive(Debug, Default, PartialEq, Eq)]
        struct WorkerpoolOrder { address workerpool; uint256 workerpoolprice; uint256 volume; bytes32 tag;
            uint256 category; uint256 trust; address apprestrict; address datasetrestrict; address requesterrestrict;
            bytes32 salt; }
        /// PoCo RequestOrder (hashed fields).
        #[derive(Debug, Default, PartialEq, Eq)]
        struct RequestOrder { address app; uint256 appmaxprice; address dataset; uint256 datasetmaxprice;
            address workerpool; uint256 workerpoolmaxprice; address requester; uint256 volume; bytes32 tag;
            uint256 category; uint256 trust; address beneficiary; address callback; string params; bytes32 salt; }
    }
}

/// The four order kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// App order.
    App,
    /// Dataset order.
    Dataset,
    /// Workerpool order.
    Workerpool,
    /// Request order.
    Request,
}

impl OrderKind {
    /// All kinds, in the SDK's order.
    pub const ALL: [OrderKind; 4] = [Self::App, Self::Dataset, Self::Workerpool, Self::Request];

    /// The key in iexec.json / orders.json (`apporder`, …).
    pub fn key(self) -> &'static str {
        match self {
            Self::App => "apporder",
            Self::Dataset => "datasetorder",
            Self::Workerpool => "workerpoolorder",
            Self::Request => "requestorder",
        }
    }

    /// The CLI flag (`--app`, …).
    pub fn flag(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
            Self::Request => "request",
        }
    }

    /// The template `arca order init` writes, identical to the SDK's (`owner` fills the resource or requester
    /// field when known). Tags default to `["tee","tdx"]` as in SDK v9.
    pub fn template(self, resource: Address, requester: Address) -> Value {
        let zero = Address::ZERO.to_string();
        let resource = resource.to_checksum(None);
        match self {
            Self::App => json!({
                "app": resource, "appprice": "0", "volume": "1000000", "tag": ["tee", "tdx"],
                "datasetrestrict": zero, "workerpoolrestrict": zero, "requesterrestrict": zero,
            }),
            Self::Dataset => json!({
                "dataset": resource, "datasetprice": "0", "volume": "1000000", "tag": ["tee", "tdx"],
                "apprestrict": zero, "workerpoolrestrict": zero, "requesterrestrict": zero,
            }),
            Self::Workerpool => json!({
                "workerpool": resource, "workerpoolprice": "0", "volume": "1", "category": "0", "trust": "0",
                "tag": ["tee", "tdx"], "apprestrict": zero, "datasetrestrict": zero, "requesterrestrict": zero,
            }),
            Self::Request => json!({
                "app": zero, "appmaxprice": "0", "dataset": zero, "datasetmaxprice": "0",
                "workerpool": zero, "workerpoolmaxprice": "0", "volume": "1", "category": "0", "trust": "0",
                "tag": ["tee", "tdx"], "beneficiary": zero, "callback": zero,
                "params": {"iexec_args": "", "iexec_input_files": [], "iexec_result_encryption": false},
                "requester": requester.to_checksum(None),
            }),
        }
    }
}

/// An order before signing (its `salt` is set by [`sign`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsignedOrder {
    /// App order.
    App(typed::AppOrder),
    /// Dataset order.
    Dataset(typed::DatasetOrder),
    /// Workerpool order.
    Workerpool(typed::WorkerpoolOrder),
    /// Request order.
    Request(typed::RequestOrder),
}

/// A signed order: the order, its signature and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOrder {
    /// The order (salt set).
    pub order: UnsignedOrder,
    /// 65-byte signature (r ‖ s ‖ v).
    pub sign: Bytes,
    /// The EIP-712 typed-data hash (PoCo's order hash).
    pub hash: B256,
}

/// PoCo's EIP-712 domain on a chain.
pub fn domain(chain_id: u64, hub: Address) -> Eip712Domain {
    eip712_domain! {
        name: "iExecODB",
        version: "5.0.0",
        chain_id: chain_id,
        verifying_contract: hub,
    }
}

/// A fresh random salt, as the SDK's `getSalt()`.
pub fn random_salt() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}

/// The `params` string of a request order from iexec.json: an object is serialised compactly in its key
/// order (as `JSON.stringify`), a string is kept as-is (the SDK takes non-JSON strings as `iexec_args`
/// on the worker side).
pub fn params_string(value: &Value) -> std::result::Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Object(_) => Ok(value.to_string()),
        other => Err(format!(
            "expected an object or a JSON string, found {other}"
        )),
    }
}

impl UnsignedOrder {
    /// The kind.
    pub fn kind(&self) -> OrderKind {
        match self {
            Self::App(_) => OrderKind::App,
            Self::Dataset(_) => OrderKind::Dataset,
            Self::Workerpool(_) => OrderKind::Workerpool,
            Self::Request(_) => OrderKind::Request,
        }
    }

    /// The typed-data hash under `domain`.
    pub fn hash(&self, domain: &Eip712Domain) -> B256 {
        match self {
            Self::App(o) => o.eip712_signing_hash(domain),
            Self::Dataset(o) => o.eip712_signing_hash(domain),
            Self::Workerpool(o) => o.eip712_signing_hash(domain),
            Self::Request(o) => o.eip712_signing_hash(domain),
        }
    }

    fn set_salt(&mut self, salt: B256) {
        match self {
            Self::App(o) => o.salt = salt,
            Self::Dataset(o) => o.salt = salt,
            Self::Workerpool(o) => o.salt = salt,
            Self::Request(o) => o.salt = salt,
        }
    }

    /// The SDK's JSON shape (without `sign`).
    pub fn to_json(&self) -> Map<String, Value> {
        let a = |x: &Address| Value::String(x.to_checksum(None));
        let n = |x: &U256| Value::String(x.to_string());
        let b = |x: &B256| Value::String(x.to_string());
        let value = match self {
            Self::App(o) => json!({
                "app": a(&o.app), "appprice": n(&o.appprice), "volume": n(&o.volume), "tag": b(&o.tag),
                "datasetrestrict": a(&o.datasetrestrict), "workerpoolrestrict": a(&o.workerpoolrestrict),
                "requesterrestrict": a(&o.requesterrestrict), "salt": b(&o.salt),
            }),
            Self::Dataset(o) => json!({
                "dataset": a(&o.dataset), "datasetprice": n(&o.datasetprice), "volume": n(&o.volume), "tag": b(&o.tag),
                "apprestrict": a(&o.apprestrict), "workerpoolrestrict": a(&o.workerpoolrestrict),
                "requesterrestrict": a(&o.requesterrestrict), "salt": b(&o.salt),
            }),
            Self::Workerpool(o) => json!({
                "workerpool": a(&o.workerpool), "workerpoolprice": n(&o.workerpoolprice), "volume": n(&o.volume),
                "tag": b(&o.tag), "category": n(&o.category), "trust": n(&o.trust),
                "apprestrict": a(&o.apprestrict), "datasetrestrict": a(&o.datasetrestrict),
                "requesterrestrict": a(&o.requesterrestrict), "salt": b(&o.salt),
            }),
            Self::Request(o) => json!({
                "app": a(&o.app), "appmaxprice": n(&o.appmaxprice), "dataset": a(&o.dataset),
                "datasetmaxprice": n(&o.datasetmaxprice), "workerpool": a(&o.workerpool),
                "workerpoolmaxprice": n(&o.workerpoolmaxprice), "requester": a(&o.requester), "volume": n(&o.volume),
                "tag": b(&o.tag), "category": n(&o.category), "trust": n(&o.trust), "beneficiary": a(&o.beneficiary),
                "callback": a(&o.callback), "params": o.params, "salt": b(&o.salt),
            }),
        };
        match value {
            Value::Object(map) => map,
            _ => unreachable!("json! object"),
        }
    }
}

impl SignedOrder {
    /// The SDK's JSON shape, with `sign`.
    pub fn to_json(&self) -> Value {
        let mut map = self.order.to_json();
        map.insert("sign".into(), Value::String(self.sign.to_string()));
        Value::Object(map)
    }
}

/// Salts `order` with a random salt and signs it with `signer` under `domain`.
pub fn sign(
    mut order: UnsignedOrder,
    signer: &PrivateKeySigner,
    domain: &Eip712Domain,
) -> Result<SignedOrder> {
    order.set_salt(random_salt());
    let hash = order.hash(domain);
    let signature = signer
        .sign_hash_sync(&hash)
        .map_err(|e| ClientError::Wallet(format!("signing the order failed: {e}")))?;
    Ok(SignedOrder {
        order,
        sign: Bytes::from(signature.as_bytes().to_vec()),
        hash,
    })
}

impl UnsignedOrder {
    /// Sets the requester of a request order when the template left it at zero (the signer requests).
    pub fn fill_requester(&mut self, requester: Address) {
        if let Self::Request(o) = self
            && o.requester == Address::ZERO
        {
            o.requester = requester;
        }
    }
}

/// Reads back a signed order stored in `orders.json` (SDK shape), recomputing its hash under `domain`.
pub fn signed_from_json(
    kind: OrderKind,
    value: &Value,
    domain: &Eip712Domain,
) -> Result<SignedOrder> {
    let file = crate::project::ORDERS_JSON;
    let mut doc = crate::project::IexecJson::default();
    doc.set_order(kind.key(), value.clone());
    let mut order = doc.order(kind).map_err(|e| match e {
        ClientError::Project { message, .. } => ClientError::project(file, message),
        other => other,
    })?;
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let salt: B256 = field("salt").and_then(|s| s.parse().ok()).ok_or_else(|| {
        ClientError::project(
            file,
            format!(
                "{}.salt: missing or not a bytes32; sign again with `arca order sign --{}`",
                kind.key(),
                kind.flag()
            ),
        )
    })?;
    let sign: Bytes = field("sign").and_then(|s| s.parse().ok()).ok_or_else(|| {
        ClientError::project(
            file,
            format!(
                "{}.sign: missing or not hex; sign again with `arca order sign --{}`",
                kind.key(),
                kind.flag()
            ),
        )
    })?;
    order.set_salt(salt);
    let hash = order.hash(domain);
    Ok(SignedOrder { order, sign, hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, keccak256};

    #[test]
    fn typehashes_are_pocos() {
        // PoCo IexecLibOrders_v5 constants (research notes §1.2)
        assert_eq!(
            typed::AppOrder::default().eip712_type_hash().to_string(),
            "0x60815a0eeec47dddf1615fe53b31d016c31444e01b9d796db365443a6445d008"
        );
        let request = "RequestOrder(address app,uint256 appmaxprice,address dataset,uint256 datasetmaxprice,address workerpool,uint256 workerpoolmaxprice,address requester,uint256 volume,bytes32 tag,uint256 category,uint256 trust,address beneficiary,address callback,string params,bytes32 salt)";
        assert_eq!(
            keccak256(request).to_string(),
            "0xf24e853034a3a450aba845a82914fbb564ad85accca6cf62be112a154520fae0"
        );
        assert_eq!(
            typed::RequestOrder::default().eip712_type_hash(),
            keccak256(request)
        );
    }

    #[test]
    fn signature_recovers_the_signer_and_salts_differ() {
        let signer = PrivateKeySigner::random();
        let domain = domain(1337, address!("00000000000000000000000000000000000000aa"));
        let order = UnsignedOrder::App(typed::AppOrder {
            volume: U256::from(1),
            ..Default::default()
        });
        let a = sign(order.clone(), &signer, &domain).unwrap();
        let b = sign(order, &signer, &domain).unwrap();
        assert_ne!(a.hash, b.hash, "random salts");
        assert_eq!(a.sign.len(), 65);
        let sig = alloy::primitives::Signature::try_from(a.sign.as_ref()).unwrap();
        assert_eq!(
            sig.recover_address_from_prehash(&a.hash).unwrap(),
            signer.address()
        );
        let json = a.to_json();
        assert_eq!(json["volume"], "1");
        assert_eq!(json["tag"], B256::ZERO.to_string());
    }

    #[test]
    fn params_are_stringified_in_key_order() {
        let v: Value = serde_json::from_str(
            r#"{"iexec_args":"a b","iexec_input_files":[],"iexec_result_encryption":false}"#,
        )
        .unwrap();
        assert_eq!(
            params_string(&v).unwrap(),
            r#"{"iexec_args":"a b","iexec_input_files":[],"iexec_result_encryption":false}"#
        );
        assert_eq!(params_string(&json!("--help")).unwrap(), "--help");
        assert!(params_string(&json!(3)).is_err());
    }
}
