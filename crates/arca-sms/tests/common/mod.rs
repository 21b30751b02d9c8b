//! Shared fixture of the SMS tests: Arca's in-process chain with the PoCo contracts deployed,
//! a TEE app whose registered fingerprint is a sim enclave's measurement, a plain app, a
//! dataset, a workerpool, helpers to match free (price 0) deals and initialize their tasks, an
//! SMS on port 0 and a small HTTP client speaking to it.

#![allow(dead_code)] // each test binary uses a different subset

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};
use arca_contracts::bindings::{
    AppRegistry, DatasetRegistry, IexecHub::IexecHubInstance, IexecLibOrders_v5 as orders,
    WorkerpoolRegistry,
};
use arca_sms::{Config, MasterKey, SmsHandle, SqliteStore};
use arca_tee::{Attester, dev::DevPki, sim::SimEnclave};
use std::sync::Arc;

/// EIP-712 views of the orders (without `sign`), so alloy computes PoCo's typed-data hashes.
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

/// Restrictions of the fixture's dataset order (zero = none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Restrict {
    pub app: Address,
    pub workerpool: Address,
    pub requester: Address,
}

pub const APP_IMAGE: &str =
    "sha256:00000000000000000000000000000000000000000000000000000000000000a1";
pub const OTHER_IMAGE: &str =
    "sha256:00000000000000000000000000000000000000000000000000000000000000b2";
pub const ENTRYPOINT: &str = "python3 /app/main.py";

pub struct Fx {
    _node: arca_chain::NodeHandle,
    pub rpc: String,
    pub provider: DynProvider,
    pub hub: IexecHubInstance<DynProvider>,
    pub domain: Eip712Domain,
    pub app_owner: PrivateKeySigner,
    pub dataset_owner: PrivateKeySigner,
    pub scheduler: PrivateKeySigner,
    pub requester: PrivateKeySigner,
    pub other_requester: PrivateKeySigner,
    pub worker: PrivateKeySigner,
    pub stranger: PrivateKeySigner,
    pub tee_app: Address,
    pub plain_app: Address,
    pub dataset: Address,
    pub workerpool: Address,
    pub pki: Arc<DevPki>,
    pub sms: SmsHandle,
    pub store: Arc<SqliteStore>,
    pub http: reqwest::Client,
}

macro_rules! send {
    ($call:expr) => {{
        let receipt = $call
            .send()
            .await
            .expect("send")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(
            alloy::network::ReceiptResponse::status(&receipt),
            "transaction reverted"
        );
        receipt
    }};
}

fn salt() -> B256 {
    B256::from(rand::random::<[u8; 32]>())
}

impl Fx {
    pub async fn new() -> Fx {
        let node = arca_chain::spawn(arca_chain::NodeConfig::test())
            .await
            .expect("chain");
        let rpc = node.http_url();
        let s = node.dev_signers().to_vec();
        let key = format!("0x{}", hex::encode(s[0].to_bytes()));
        let deployment = arca_contracts::deploy(&rpc, &key).await.expect("deploy");
        let mut wallet = EthereumWallet::new(s[0].clone());
        for signer in &s[1..] {
            wallet.register_signer(signer.clone());
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(rpc.parse().unwrap())
            .erased();
        let chain_id = provider.get_chain_id().await.unwrap();
        let hub = IexecHubInstance::new(deployment.hub, provider.clone());
        let domain = eip712_domain! {
            name: "iExecODB", version: "5.0.0", chain_id: chain_id, verifying_contract: deployment.hub,
        };
        let (app_owner, dataset_owner, scheduler) = (s[1].clone(), s[2].clone(), s[3].clone());
        let apps = AppRegistry::new(deployment.app_registry, provider.clone());
        let fingerprint = hex::encode(arca_tee::sim::measure(APP_IMAGE, ENTRYPOINT).unwrap());
        let mut app_addresses = Vec::new();
        for (name, mrenclave) in [
            (
                "tee-app",
                format!(
                    r#"{{"framework":"TDX","version":"arca-sim/v1","fingerprint":"{fingerprint}"}}"#
                ),
            ),
            ("plain-app", String::new()),
        ] {
            let create = apps.createApp(
                app_owner.address(),
                name.into(),
                "DOCKER".into(),
                Bytes::from(format!("registry/{name}:1.0").into_bytes()),
                B256::repeat_byte(1),
                Bytes::from(mrenclave.into_bytes()),
            );
            app_addresses.push(create.call().await.unwrap());
            send!(create.from(app_owner.address()));
        }
        let datasets = DatasetRegistry::new(deployment.dataset_registry, provider.clone());
        let create = datasets.createDataset(
            dataset_owner.address(),
            "dataset".into(),
            Bytes::from_static(b"/ipfs/Qm"),
            B256::repeat_byte(7),
        );
        let dataset = create.call().await.unwrap();
        send!(create.from(dataset_owner.address()));
        let pools = WorkerpoolRegistry::new(deployment.workerpool_registry, provider.clone());
        let create = pools.createWorkerpool(scheduler.address(), "pool".into());
        let workerpool = create.call().await.unwrap();
        send!(create.from(scheduler.address()));
        let (sms, store) = start_sms_with_store(&rpc, deployment.hub, true).await;
        Fx {
            _node: node,
            rpc,
            provider,
            hub,
            domain,
            app_owner,
            dataset_owner,
            scheduler,
            requester: s[4].clone(),
            other_requester: s[5].clone(),
            worker: s[6].clone(),
            stranger: s[7].clone(),
            tee_app: app_addresses[0],
            plain_app: app_addresses[1],
            dataset,
            workerpool,
            pki: Arc::new(DevPki::default()),
            sms,
            store,
            http: reqwest::Client::new(),
        }
    }

    /// Matches a free deal of one task for `app` (TEE tag if `tee`), optionally with the dataset,
    /// requested by `requester` with `params`; initializes the task if `initialize`.
    pub async fn task(
        &self,
        app: Address,
        tee: bool,
        with_dataset: bool,
        params: &str,
        requester: &PrivateKeySigner,
        initialize: bool,
    ) -> B256 {
        self.match_task(
            app,
            tee,
            with_dataset,
            params,
            requester,
            initialize,
            Restrict::default(),
        )
        .await
        .expect("matchOrders")
    }

    /// [`task`](Self::task) whose dataset order carries `restrict`; the hub's refusal to match
    /// is returned as its error text.
    #[allow(clippy::too_many_arguments)]
    pub async fn match_task(
        &self,
        app: Address,
        tee: bool,
        with_dataset: bool,
        params: &str,
        requester: &PrivateKeySigner,
        initialize: bool,
        restrict: Restrict,
    ) -> Result<B256, String> {
        let tag = B256::with_last_byte(if tee { 0x01 } else { 0 });
        let app_order = typed::AppOrder {
            app,
            appprice: U256::ZERO,
            volume: U256::from(1000),
            tag,
            datasetrestrict: Address::ZERO,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: salt(),
        };
        let dataset_order = typed::DatasetOrder {
            dataset: if with_dataset {
                self.dataset
            } else {
                Address::ZERO
            },
            datasetprice: U256::ZERO,
            volume: U256::from(if with_dataset { 1000 } else { 0 }),
            tag: B256::ZERO,
            apprestrict: restrict.app,
            workerpoolrestrict: restrict.workerpool,
            requesterrestrict: restrict.requester,
            salt: if with_dataset { salt() } else { B256::ZERO },
        };
        let pool_order = typed::WorkerpoolOrder {
            workerpool: self.workerpool,
            workerpoolprice: U256::ZERO,
            volume: U256::from(1000),
            tag: B256::with_last_byte(if tee { 0x09 } else { 0 }),
            category: U256::ZERO,
            trust: U256::from(1),
            apprestrict: Address::ZERO,
            datasetrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: salt(),
        };
        let request = typed::RequestOrder {
            app,
            appmaxprice: U256::ZERO,
            dataset: dataset_order.dataset,
            datasetmaxprice: U256::ZERO,
            workerpool: Address::ZERO,
            workerpoolmaxprice: U256::ZERO,
            requester: requester.address(),
            volume: U256::from(1),
            tag,
            category: U256::ZERO,
            trust: U256::from(1),
            beneficiary: requester.address(),
            callback: Address::ZERO,
            params: params.into(),
            salt: salt(),
        };
        let sign = |signer: &PrivateKeySigner, hash: B256| {
            Bytes::from(signer.sign_hash_sync(&hash).unwrap().as_bytes().to_vec())
        };
        let a = orders::AppOrder {
            app,
            appprice: app_order.appprice,
            volume: app_order.volume,
            tag,
            datasetrestrict: Address::ZERO,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: app_order.salt,
            sign: sign(&self.app_owner, app_order.eip712_signing_hash(&self.domain)),
        };
        let d = orders::DatasetOrder {
            dataset: dataset_order.dataset,
            datasetprice: U256::ZERO,
            volume: dataset_order.volume,
            tag: B256::ZERO,
            apprestrict: restrict.app,
            workerpoolrestrict: restrict.workerpool,
            requesterrestrict: restrict.requester,
            salt: dataset_order.salt,
            sign: if with_dataset {
                sign(
                    &self.dataset_owner,
                    dataset_order.eip712_signing_hash(&self.domain),
                )
            } else {
                Bytes::new()
            },
        };
        let w = orders::WorkerpoolOrder {
            workerpool: self.workerpool,
            workerpoolprice: U256::ZERO,
            volume: pool_order.volume,
            tag: pool_order.tag,
            category: U256::ZERO,
            trust: U256::from(1),
            apprestrict: Address::ZERO,
            datasetrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: pool_order.salt,
            sign: sign(
                &self.scheduler,
                pool_order.eip712_signing_hash(&self.domain),
            ),
        };
        let r = orders::RequestOrder {
            app,
            appmaxprice: U256::ZERO,
            dataset: request.dataset,
            datasetmaxprice: U256::ZERO,
            workerpool: Address::ZERO,
            workerpoolmaxprice: U256::ZERO,
            requester: requester.address(),
            volume: U256::from(1),
            tag,
            category: U256::ZERO,
            trust: U256::from(1),
            beneficiary: requester.address(),
            callback: Address::ZERO,
            params: params.into(),
            salt: request.salt,
            sign: sign(requester, request.eip712_signing_hash(&self.domain)),
        };
        let call = self.hub.matchOrders(a, d, w, r).from(requester.address());
        let deal_id = call.call().await.map_err(|e| e.to_string())?;
        send!(call);
        let task_id = keccak256([deal_id.as_slice(), &U256::ZERO.to_be_bytes::<32>()].concat());
        if initialize {
            send!(
                self.hub
                    .initialize(deal_id, U256::ZERO)
                    .from(self.scheduler.address())
            );
        }
        Ok(task_id)
    }

    // ------------------------------------------------------------ HTTP

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sms.url())
    }

    /// Sends a request; returns (status, body text).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<String>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, String) {
        call(&self.http, &self.url(path), method, auth, body).await
    }

    /// `personal_sign(hash)` as 0x-hex.
    pub fn sig(signer: &PrivateKeySigner, hash: B256) -> String {
        format!(
            "0x{}",
            hex::encode(
                signer
                    .sign_message_sync(hash.as_slice())
                    .unwrap()
                    .as_bytes()
            )
        )
    }

    /// Pushes a requester secret (expects 204).
    pub async fn push_requester_secret(
        &self,
        requester: &PrivateKeySigner,
        key: &str,
        value: &str,
    ) {
        let sig = Self::sig(
            requester,
            arca_sms::auth::named_challenge(requester.address(), key, value.as_bytes()),
        );
        let path = format!("/requesters/{}/secrets/{key}", requester.address());
        let (status, body) = self.call("POST", &path, Some(sig), value.to_owned()).await;
        assert_eq!(status, 204, "{body}");
    }

    /// Pushes the dataset key (expects 204).
    pub async fn push_dataset_key(&self, value: &str) {
        let sig = Self::sig(
            &self.dataset_owner,
            arca_sms::auth::web3_challenge(self.dataset, value.as_bytes()),
        );
        let (status, body) = self
            .call(
                "POST",
                &format!("/secrets/web3?secretAddress={}", self.dataset),
                Some(sig),
                value.to_owned(),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }

    /// The scheduler's enclave challenge request; returns (status, body).
    pub async fn challenge(&self, task: B256, signer: &PrivateKeySigner) -> (u16, String) {
        let sig = Self::sig(signer, arca_sms::auth::authorization_hash(None, task, None));
        self.call("POST", &format!("/tee/challenges/{task}"), Some(sig), "")
            .await
    }

    /// A worker's session request with an authorization signed by `authorizer`.
    pub async fn session(
        &self,
        task: B256,
        enclave: Address,
        authorizer: &PrivateKeySigner,
    ) -> (u16, String) {
        let hash =
            arca_sms::auth::authorization_hash(Some(self.worker.address()), task, Some(enclave));
        let body = serde_json::json!({
            "chainTaskId": task.to_string(), "workerWallet": self.worker.address().to_string(),
            "enclaveChallenge": enclave.to_string(), "signature": { "value": Self::sig(authorizer, hash) },
        });
        self.call(
            "POST",
            "/tee/sessions",
            Some(Self::sig(&self.worker, hash)),
            body.to_string(),
        )
        .await
    }

    /// Challenge + session for `task`: the session id.
    pub async fn open_session(&self, task: B256) -> String {
        let (status, enclave) = self.challenge(task, &self.scheduler).await;
        assert_eq!(status, 200, "{enclave}");
        let (status, body) = self
            .session(task, enclave.parse().unwrap(), &self.scheduler)
            .await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"]["sessionId"].as_str().unwrap().to_owned()
    }

    /// Challenge + session for `task` on the SMS at `sms_url`: the session id.
    pub async fn open_session_at(&self, sms_url: &str, task: B256) -> String {
        let sig = Self::sig(
            &self.scheduler,
            arca_sms::auth::authorization_hash(None, task, None),
        );
        let url = format!("{sms_url}/tee/challenges/{task}");
        let (status, enclave) = call(&self.http, &url, "POST", Some(sig), "").await;
        assert_eq!(status, 200, "{enclave}");
        let enclave: Address = enclave.parse().unwrap();
        let hash =
            arca_sms::auth::authorization_hash(Some(self.worker.address()), task, Some(enclave));
        let body = serde_json::json!({
            "chainTaskId": task.to_string(), "workerWallet": self.worker.address().to_string(),
            "enclaveChallenge": enclave.to_string(), "signature": { "value": Self::sig(&self.scheduler, hash) },
        });
        let url = format!("{sms_url}/tee/sessions");
        let (status, text) = call(
            &self.http,
            &url,
            "POST",
            Some(Self::sig(&self.worker, hash)),
            body.to_string(),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["data"]["sessionId"].as_str().unwrap().to_owned()
    }

    /// The enclave's release request to `sms_url`: a quote of `image`'s sim enclave binding
    /// `bound_key` for `task`, signed by `holder`.
    pub async fn release_at(
        &self,
        sms_url: &str,
        session_id: &str,
        task: B256,
        image: &str,
        bound_key: &PrivateKeySigner,
        holder: &PrivateKeySigner,
    ) -> (u16, String) {
        let enclave = SimEnclave::new(self.pki.clone(), image, ENTRYPOINT).unwrap();
        let evidence = enclave
            .attest(&arca_tee::report_data::bind(
                &task.0,
                bound_key.address().as_slice(),
            ))
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = serde_json::json!({
            "quote": hex::encode(evidence.quote()),
            "sessionKey": bound_key.address().to_string(),
            "signature": Self::sig(holder, arca_sms::tee::release_challenge(session_id)),
            "collateral": serde_json::from_str::<serde_json::Value>(&self.pki.collateral(now - 3600).to_json()).unwrap(),
        });
        call(
            &self.http,
            &format!("{sms_url}/tee/sessions/{session_id}/secrets"),
            "POST",
            None,
            body.to_string(),
        )
        .await
    }

    /// A follow-up release: `counter` signed by `key`.
    pub async fn follow_up(
        &self,
        sms_url: &str,
        session_id: &str,
        counter: u64,
        key: &PrivateKeySigner,
    ) -> (u16, String) {
        let body = serde_json::json!({
            "counter": counter,
            "signature": Self::sig(key, arca_sms::tee::follow_up_challenge(session_id, counter)),
        });
        call(
            &self.http,
            &format!("{sms_url}/tee/sessions/{session_id}/secrets"),
            "POST",
            None,
            body.to_string(),
        )
        .await
    }

    /// Writes a storage slot directly (`anvil_setStorageAt`): the test plays a group owner
    /// editing its membership.
    pub async fn set_storage(&self, address: Address, slot: B256, value: B256) {
        let ok: bool = self
            .provider
            .raw_request("anvil_setStorageAt".into(), (address, slot, value))
            .await
            .expect("anvil_setStorageAt");
        assert!(ok);
    }

    pub async fn release(&self, session_id: &str, task: B256, image: &str) -> (u16, String) {
        let key = PrivateKeySigner::random();
        self.release_at(&self.sms.url(), session_id, task, image, &key, &key)
            .await
    }
}

pub async fn start_sms(rpc: &str, hub: Address, dev: bool) -> SmsHandle {
    start_sms_with_store(rpc, hub, dev).await.0
}

/// An SMS and its store (to inspect the release log).
pub async fn start_sms_with_store(
    rpc: &str,
    hub: Address,
    dev: bool,
) -> (SmsHandle, Arc<SqliteStore>) {
    start_sms_with(rpc, hub, dev, 300).await
}

/// An SMS whose sessions expire after `session_ttl` seconds, and its store.
pub async fn start_sms_with(
    rpc: &str,
    hub: Address,
    dev: bool,
    session_ttl: u64,
) -> (SmsHandle, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::in_memory(MasterKey::new(rand_key())).unwrap());
    let config = Config {
        rpc_url: rpc.into(),
        hub,
        dev,
        public_url: None,
        session_ttl,
    };
    let handle = arca_sms::spawn("127.0.0.1:0".parse().unwrap(), config, store.clone())
        .await
        .expect("sms");
    (handle, store)
}

/// An SMS on a SQLite file (to edit rows behind its back) with the given chain cache.
pub async fn start_sms_on_file(
    rpc: &str,
    hub: Address,
    path: &std::path::Path,
    chain_cache: std::time::Duration,
) -> (SmsHandle, Arc<SqliteStore>) {
    let store = Arc::new(SqliteStore::open(path, MasterKey::new(rand_key())).unwrap());
    let config = Config {
        rpc_url: rpc.into(),
        hub,
        dev: true,
        public_url: None,
        session_ttl: 300,
    };
    let handle = arca_sms::spawn_with(
        "127.0.0.1:0".parse().unwrap(),
        config,
        arca_sms::Tuning { chain_cache },
        store.clone(),
    )
    .await
    .expect("sms");
    (handle, store)
}

fn rand_key() -> [u8; 32] {
    rand::random::<[u8; 32]>()
}

pub async fn call(
    http: &reqwest::Client,
    url: &str,
    method: &str,
    auth: Option<String>,
    body: impl Into<reqwest::Body>,
) -> (u16, String) {
    let mut req = http.request(method.parse().unwrap(), url).body(body);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("http");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Asserts a TEE denial: status 403, the named check and a message containing `needle`.
pub fn assert_denied((status, body): &(u16, String), check: &str, needle: &str) {
    assert_eq!(*status, 403, "{body}");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["check"], check, "{body}");
    assert!(
        v["error"][0].as_str().unwrap().contains(needle),
        "expected `{needle}` in {body}"
    );
}
