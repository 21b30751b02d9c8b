//! The iexec project files of a directory: `iexec.json` (resource and order templates), `chain.json`
//! (chains), `deployed.json` (last deployed address per chain) and `orders.json` (signed orders per chain).
//! Every write is atomic (temporary file + rename), so an interrupted command never leaves half a file.

use crate::{ClientError, Result};
use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// File names, as in the SDK.
pub const IEXEC_JSON: &str = "iexec.json";
/// See [`IEXEC_JSON`].
pub const CHAIN_JSON: &str = "chain.json";
/// See [`IEXEC_JSON`].
pub const DEPLOYED_JSON: &str = "deployed.json";
/// See [`IEXEC_JSON`].
pub const ORDERS_JSON: &str = "orders.json";

/// A project directory.
#[derive(Debug, Clone)]
pub struct Project {
    dir: PathBuf,
}

/// Serialises `value` as the SDK does (two-space pretty JSON) and writes it atomically.
fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    arca_crypto::write_file_atomic(path, text.as_bytes(), true)?;
    Ok(())
}

impl Project {
    /// The project in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of a project file.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Reads a JSON object file; `None` when absent.
    fn read_object(&self, file: &'static str) -> Result<Option<Map<String, Value>>> {
        let path = self.path(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ClientError::Io {
                    action: "reading",
                    path,
                    source,
                });
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(ClientError::project(
                file,
                "expected a JSON object at the top level",
            )),
            Err(e) => Err(ClientError::project(
                file,
                format!(
                    "invalid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )),
        }
    }

    /// Reads `iexec.json`; a missing file is an error telling to run `arca init`.
    pub fn iexec_json(&self) -> Result<IexecJson> {
        let map = self
            .read_object(IEXEC_JSON)?
            .ok_or_else(|| ClientError::MissingFile {
                file: IEXEC_JSON,
                dir: self.dir.clone(),
                fix: "run `arca init` (or `arca init --skip-wallet`) first",
            })?;
        Ok(IexecJson(map))
    }

    /// Whether `iexec.json` exists.
    pub fn has_iexec_json(&self) -> bool {
        self.path(IEXEC_JSON).exists()
    }

    /// Writes `iexec.json`.
    pub fn save_iexec_json(&self, json: &IexecJson) -> Result<()> {
        write_json(&self.path(IEXEC_JSON), &json.0)
    }

    /// Reads and validates `chain.json`.
    pub fn chain_json(&self) -> Result<ChainJson> {
        let map = self
            .read_object(CHAIN_JSON)?
            .ok_or_else(|| ClientError::MissingFile {
                file: CHAIN_JSON,
                dir: self.dir.clone(),
                fix: "run `arca init` first",
            })?;
        ChainJson::from_map(map)
    }

    /// Writes `chain.json`.
    pub fn save_chain_json(&self, json: &ChainJson) -> Result<()> {
        write_json(&self.path(CHAIN_JSON), json)
    }

    /// Reads `deployed.json` (empty when absent).
    pub fn deployed(&self) -> Result<Deployed> {
        let map = self.read_object(DEPLOYED_JSON)?.unwrap_or_default();
        serde_json::from_value(Value::Object(map)).map_err(|e| {
            ClientError::project(
                DEPLOYED_JSON,
                format!("{e} (expected {{\"app\": {{\"<chainId>\": \"0x…\"}}, …}})"),
            )
        })
    }

    /// Records `address` as the last deployed `kind` (`app`, `dataset`, `workerpool`) on `chain_id`.
    pub fn save_deployed(&self, kind: &str, chain_id: u64, address: Address) -> Result<()> {
        let mut deployed = self.deployed()?;
        deployed
            .0
            .entry(kind.to_string())
            .or_default()
            .insert(chain_id.to_string(), address.to_checksum(None));
        write_json(&self.path(DEPLOYED_JSON), &deployed)
    }

    /// Reads `orders.json` (empty when absent).
    pub fn orders(&self) -> Result<Map<String, Value>> {
        Ok(self.read_object(ORDERS_JSON)?.unwrap_or_default())
    }

    /// Stores a signed order (`apporder`, …) for `chain_id` in `orders.json`, keeping the others.
    pub fn save_order(&self, chain_id: u64, kind: &str, order: Value) -> Result<()> {
        let mut all = self.orders()?;
        let entry = all
            .entry(chain_id.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry
            .as_object_mut()
            .expect("made an object above")
            .insert(kind.to_string(), order);
        write_json(&self.path(ORDERS_JSON), &all)
    }
}

/// `deployed.json`: kind → chain id → address.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Deployed(
    pub std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
);

impl Deployed {
    /// The last deployed `kind` on `chain_id`.
    pub fn get(&self, kind: &str, chain_id: u64) -> Option<Address> {
        self.0.get(kind)?.get(&chain_id.to_string())?.parse().ok()
    }
}

/// `iexec.json`, kept as an ordered JSON object so fields the user added survive rewrites; typed views
/// are read (and validated) per section.
#[derive(Debug, Clone, Default)]
pub struct IexecJson(pub Map<String, Value>);

/// Reads typed fields from one section of iexec.json, naming `section.field` in errors.
struct Section<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Section<'a> {
    fn err(&self, field: &str, problem: impl std::fmt::Display) -> ClientError {
        ClientError::project(IEXEC_JSON, format!("{}.{field}: {problem}", self.path))
    }

    fn raw(&self, field: &str) -> Result<&'a Value> {
        self.map.get(field).ok_or_else(|| {
            self.err(
                field,
                "missing (add it, or recreate the section with the matching `init` command)",
            )
        })
    }

    fn string(&self, field: &str) -> Result<String> {
        match self.raw(field)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.err(field, format!("expected a string, found {other}"))),
        }
    }

    fn address(&self, field: &str) -> Result<Address> {
        let text = self.string(field)?;
        crate::parse_address(&text).map_err(|_| {
            self.err(
                field,
                format!(
                    "'{text}' is not an ethereum address (expected 0x followed by 40 hex digits)"
                ),
            )
        })
    }

    fn bytes32(&self, field: &str) -> Result<B256> {
        let text = self.string(field)?;
        let ok = text.len() == 66
            && text.starts_with("0x")
            && text[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(self.err(
                field,
                format!("'{text}' is not a bytes32 (expected 0x followed by 64 hex digits)"),
            ));
        }
        Ok(text.parse().expect("checked above"))
    }

    /// Numbers are strings in iexec.json, but plain JSON numbers are accepted too.
    fn uint(&self, field: &str) -> Result<U256> {
        let value = self.raw(field)?;
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            other => {
                return Err(self.err(
                    field,
                    format!("expected a non-negative integer (as a string), found {other}"),
                ));
            }
        };
        U256::from_str_radix(&text, 10)
            .map_err(|_| self.err(field, format!("'{text}' is not a non-negative integer")))
    }

    fn tag(&self, field: &str) -> Result<B256> {
        let value = self.raw(field)?;
        crate::tags::from_json(value).map_err(|e| self.err(field, e))
    }
}

/// `iexec.json` `app` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    /// Owner of the app NFT.
    pub owner: Address,
    /// Name.
    pub name: String,
    /// Type (`DOCKER`).
    pub app_type: String,
    /// Docker image.
    pub multiaddr: String,
    /// Image digest.
    pub checksum: B256,
    /// TEE description (stored as JSON bytes); empty for standard apps.
    pub mrenclave: Option<Value>,
}

/// `iexec.json` `dataset` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetConfig {
    /// Owner of the dataset NFT.
    pub owner: Address,
    /// Name.
    pub name: String,
    /// Where the (encrypted) file lives.
    pub multiaddr: String,
    /// sha256 of the (encrypted) file.
    pub checksum: B256,
}

/// `iexec.json` `workerpool` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerpoolConfig {
    /// Owner of the workerpool NFT.
    pub owner: Address,
    /// Description.
    pub description: String,
}

/// `iexec.json` `category` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryConfig {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Reference time of one task (seconds).
    pub work_clock_time_ref: U256,
}

impl IexecJson {
    fn section(&self, name: &str) -> Result<Section<'_>> {
        match self.0.get(name) {
            Some(Value::Object(map)) => Ok(Section {
                path: name.to_string(),
                map,
            }),
            Some(_) => Err(ClientError::project(
                IEXEC_JSON,
                format!("{name}: expected an object"),
            )),
            None => Err(ClientError::project(
                IEXEC_JSON,
                format!("missing \"{name}\" section: run `arca {name} init` to add it"),
            )),
        }
    }

    /// The `app` section, validated.
    pub fn app(&self) -> Result<AppConfig> {
        let s = self.section("app")?;
        Ok(AppConfig {
            owner: s.address("owner")?,
            name: s.string("name")?,
            app_type: s.string("type")?,
            multiaddr: s.string("multiaddr")?,
            checksum: s.bytes32("checksum")?,
            mrenclave: s.map.get("mrenclave").cloned(),
        })
    }

    /// The `dataset` section, validated.
    pub fn dataset(&self) -> Result<DatasetConfig> {
        let s = self.section("dataset")?;
        Ok(DatasetConfig {
            owner: s.address("owner")?,
            name: s.string("name")?,
            multiaddr: s.string("multiaddr")?,
            checksum: s.bytes32("checksum")?,
        })
    }

    /// The `workerpool` section, validated.
    pub fn workerpool(&self) -> Result<WorkerpoolConfig> {
        let s = self.section("workerpool")?;
        Ok(WorkerpoolConfig {
            owner: s.address("owner")?,
            description: s.string("description")?,
        })
    }

    /// The `category` section, validated.
    pub fn category(&self) -> Result<CategoryConfig> {
        let s = self.section("category")?;
        Ok(CategoryConfig {
            name: s.string("name")?,
            description: s.string("description")?,
            work_clock_time_ref: s.uint("workClockTimeRef")?,
        })
    }

    /// The order template `order.<kind>` (`apporder`, …), validated into an unsigned order.
    pub fn order(&self, kind: crate::orders::OrderKind) -> Result<crate::orders::UnsignedOrder> {
        use crate::orders::{OrderKind, UnsignedOrder};
        let order = self.section("order")?;
        let name = kind.key();
        let map = match order.map.get(name) {
            Some(Value::Object(map)) => map,
            Some(_) => return Err(order.err(name, "expected an object")),
            None => {
                return Err(ClientError::project(
                    IEXEC_JSON,
                    format!(
                        "missing order.{name}: run `arca order init --{}` to add it",
                        kind.flag()
                    ),
                ));
            }
        };
        let s = Section {
            path: format!("order.{name}"),
            map,
        };
        Ok(match kind {
            OrderKind::App => UnsignedOrder::App(crate::orders::typed::AppOrder {
                app: s.address("app")?,
                appprice: s.uint("appprice")?,
                volume: s.uint("volume")?,
                tag: s.tag("tag")?,
                datasetrestrict: s.address("datasetrestrict")?,
                workerpoolrestrict: s.address("workerpoolrestrict")?,
                requesterrestrict: s.address("requesterrestrict")?,
                salt: B256::ZERO,
            }),
            OrderKind::Dataset => UnsignedOrder::Dataset(crate::orders::typed::DatasetOrder {
                dataset: s.address("dataset")?,
                datasetprice: s.uint("datasetprice")?,
                volume: s.uint("volume")?,
                tag: s.tag("tag")?,
                apprestrict: s.address("apprestrict")?,
                workerpoolrestrict: s.address("workerpoolrestrict")?,
                requesterrestrict: s.address("requesterrestrict")?,
                salt: B256::ZERO,
            }),
            OrderKind::Workerpool => {
                UnsignedOrder::Workerpool(crate::orders::typed::WorkerpoolOrder {
                    workerpool: s.address("workerpool")?,
                    workerpoolprice: s.uint("workerpoolprice")?,
                    volume: s.uint("volume")?,
                    tag: s.tag("tag")?,
                    category: s.uint("category")?,
                    trust: s.uint("trust")?,
                    apprestrict: s.address("apprestrict")?,
                    datasetrestrict: s.address("datasetrestrict")?,
                    requesterrestrict: s.address("requesterrestrict")?,
                    salt: B256::ZERO,
                })
            }
            OrderKind::Request => UnsignedOrder::Request(crate::orders::typed::RequestOrder {
                app: s.address("app")?,
                appmaxprice: s.uint("appmaxprice")?,
                dataset: s.address("dataset")?,
                datasetmaxprice: s.uint("datasetmaxprice")?,
                workerpool: s.address("workerpool")?,
                workerpoolmaxprice: s.uint("workerpoolmaxprice")?,
                requester: s.address("requester")?,
                volume: s.uint("volume")?,
                tag: s.tag("tag")?,
                category: s.uint("category")?,
                trust: s.uint("trust")?,
                beneficiary: s.address("beneficiary")?,
                callback: s.address("callback")?,
                params: crate::orders::params_string(s.raw("params")?)
                    .map_err(|e| s.err("params", e))?,
                salt: B256::ZERO,
            }),
        })
    }

    /// Sets (or replaces) a top-level section.
    pub fn set(&mut self, key: &str, value: Value) {
        self.0.insert(key.to_string(), value);
    }

    /// Sets `order.<kind>`, creating `order` if needed.
    pub fn set_order(&mut self, kind: &str, value: Value) {
        let order = self
            .0
            .entry("order".to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !order.is_object() {
            *order = Value::Object(Map::new());
        }
        order
            .as_object_mut()
            .expect("object")
            .insert(kind.to_string(), value);
    }
}

/// One chain of `chain.json`: exactly the SDK v9 keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChainConf {
    /// Chain id (a string in the SDK's files; a number is accepted).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_chain_id"
    )]
    pub id: Option<String>,
    /// JSON-RPC URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// PoCo hub address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub: Option<String>,
    /// SMS URL. SDK v8 also wrote a map by TEE framework (`{"scone": url}`, as in the seed tutorials):
    /// Arca runs one SMS for every framework, so the map's `tdx` entry, else its first, is taken.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_sms"
    )]
    pub sms: Option<String>,
    /// IPFS gateway URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipfs_gateway: Option<String>,
    /// Market API URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iexec_gateway: Option<String>,
    /// Compass URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compass: Option<String>,
    /// PoCo subgraph URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poco_subgraph: Option<String>,
    /// Arca extension: the workerpool's scheduler API (`GET /tasks/{id}`, task logs), which iExec v8
    /// published in ENS and v9 no longer exposes. `arca task show|debug` and `app run --watch` read
    /// the scheduler's stage and failure cause from it; `--workerpool-api` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workerpool_api: Option<String>,
}

fn de_sms<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Object(map) => {
            let pick = map.get("tdx").or_else(|| map.values().next());
            match pick {
                Some(Value::String(s)) => Ok(Some(s.clone())),
                _ => Err(serde::de::Error::custom(
                    "sms: expected a URL string, or a map of TEE framework to URL string (e.g. {\"scone\": \"http://localhost:13300\"})",
                )),
            }
        }
        other => Err(serde::de::Error::custom(format!(
            "sms: {other} is not a URL (expected a string such as \"http://localhost:13300\")"
        ))),
    }
}

fn de_chain_id<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) if s.parse::<u64>().is_ok() => Ok(Some(s)),
        Value::Number(n) if n.is_u64() => Ok(Some(n.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "id {other} is not a chain id (expected a positive integer as a string, e.g. \"1337\")"
        ))),
    }
}

/// `chain.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainJson {
    /// The chain used without `--chain`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// SDK flag for experimental networks (kept for compatibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_experimental_networks: Option<bool>,
    /// Chains by name, in file order.
    pub chains: indexmap_like::Chains,
}

/// `chains` keeps file order by storing pairs.
pub mod indexmap_like {
    use super::ChainConf;
    use serde::{Deserialize, Serialize};
    /// Chains by name, in file order.
    pub type Chains = serde_json::Map<String, serde_json::Value>;
    /// Parses one chain entry.
    pub fn parse(value: &serde_json::Value) -> Result<ChainConf, serde_json::Error> {
        ChainConf::deserialize(value)
    }
    /// Serialises one chain entry.
    pub fn to_value(conf: &ChainConf) -> serde_json::Value {
        conf.serialize(serde_json::value::Serializer)
            .expect("plain struct")
    }
}

impl ChainJson {
    fn from_map(map: Map<String, Value>) -> Result<Self> {
        for key in map.keys() {
            if !["default", "allowExperimentalNetworks", "chains"].contains(&key.as_str()) {
                return Err(ClientError::project(
                    CHAIN_JSON,
                    format!(
                        "Unknown key \"{key}\" (expected default, chains, allowExperimentalNetworks)"
                    ),
                ));
            }
        }
        let json: ChainJson = serde_json::from_value(Value::Object(map)).map_err(|e| {
            ClientError::project(
                CHAIN_JSON,
                format!(
                    "{e} (expected {{\"default\": \"<name>\", \"chains\": {{\"<name>\": {{…}}}}}})"
                ),
            )
        })?;
        for (name, value) in &json.chains {
            indexmap_like::parse(value).map_err(|e| {
                ClientError::project(
                    CHAIN_JSON,
                    format!("chains.{name}: {e} (allowed keys: id, host, hub, sms, ipfsGateway, iexecGateway, compass, pocoSubgraph, workerpoolApi)"),
                )
            })?;
        }
        Ok(json)
    }

    /// The chain named `name`, else the `default` one, with Arca's known defaults filled in.
    pub fn select(&self, name: Option<&str>) -> Result<(String, ChainConf)> {
        let name = name
            .map(str::to_string)
            .or_else(|| self.default.clone())
            .ok_or_else(|| {
                ClientError::project(
                    CHAIN_JSON,
                    "no \"default\" chain: set \"default\" or pass --chain",
                )
            })?;
        let value = self
            .chains
            .get(&name)
            .ok_or_else(|| ClientError::UnknownChain {
                name: name.clone(),
                known: self.chains.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let mut conf = indexmap_like::parse(value)
            .map_err(|e| ClientError::project(CHAIN_JSON, format!("chains.{name}: {e}")))?;
        if let Some((_, id, hub)) = KNOWN_CHAINS.iter().find(|(n, _, _)| *n == name) {
            conf.id.get_or_insert_with(|| id.to_string());
            conf.hub.get_or_insert_with(|| hub.to_string());
        }
        Ok((name, conf))
    }

    /// Adds or replaces a chain.
    pub fn set_chain(&mut self, name: &str, conf: &ChainConf) {
        self.chains
            .insert(name.to_string(), indexmap_like::to_value(conf));
    }
}

/// Public chains the SDK knows by name: (name, id, hub).
pub const KNOWN_CHAINS: [(&str, u64, &str); 2] = [
    (
        "arbitrum-mainnet",
        42161,
        "0x098bFCb1E50ebcA0BaA92C12eA0c3F045A1aD9f0",
    ),
    (
        "arbitrum-sepolia-testnet",
        421614,
        "0xB2157BF2fAb286b2A4170E3491Ac39770111Da3E",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_entries_accept_the_v8_sms_map_and_the_workerpool_api() {
        let conf = indexmap_like::parse(&serde_json::json!({
            "host": "http://localhost:8545",
            "sms": {"scone": "https://sms.scone-debug.v8-bellecour.iex.ec"},
            "workerpoolApi": "http://localhost:13000",
        }))
        .unwrap();
        assert_eq!(
            conf.sms.as_deref(),
            Some("https://sms.scone-debug.v8-bellecour.iex.ec")
        );
        assert_eq!(
            conf.workerpool_api.as_deref(),
            Some("http://localhost:13000")
        );
        let both =
            indexmap_like::parse(&serde_json::json!({"sms": {"scone": "a", "tdx": "b"}})).unwrap();
        assert_eq!(both.sms.as_deref(), Some("b"), "tdx is Arca's framework");
        let text = indexmap_like::parse(&serde_json::json!({"sms": "http://x"})).unwrap();
        assert_eq!(text.sms.as_deref(), Some("http://x"));
        let err = indexmap_like::parse(&serde_json::json!({"sms": 3})).unwrap_err();
        assert!(err.to_string().contains("sms"), "{err}");
        let value = indexmap_like::to_value(&conf);
        assert_eq!(value["workerpoolApi"], "http://localhost:13000");
    }
}
