//! Shared fixture of the contract tests: a fresh chain with the contracts deployed, funded
//! actors with escrow deposits, registered resources, and helpers to build, sign and match
//! orders and to drive tasks (authorizations, enclave signatures, time travel).

#![allow(dead_code)] // each test binary uses a different subset

pub mod cases;
pub mod chain;
pub mod poco;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolStruct, eip712_domain},
};
use arca_contracts::{
    Deployment,
    bindings::{
        AppRegistry, DatasetRegistry, IexecHub::IexecHubInstance, IexecLibOrders_v5 as orders,
        RLC::RLCInstance, WorkerpoolRegistry,
    },
};
pub use chain::{CHAIN_ID, TestChain};

/// Test-only contracts (contracts/test): an EIP-1271 account that is also an ERC-734 group, and
/// a callback target.
pub mod fixtures {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        SmartWallet,
        "../../contracts/artifacts/SmartWallet.json"
    );
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        ResultReceiver,
        "../../contracts/artifacts/ResultReceiver.json"
    );
}

/// EIP-712 views of the orders: the same structs without `sign`, so alloy computes PoCo's
/// typehashes and typed-data hashes.
pub mod typed {
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

pub const TEE_TAG: B256 = B256::new({
    let mut t = [0u8; 32];
    t[31] = 0x01;
    t
});
pub const TDX_TEE_TAG: B256 = B256::new({
    let mut t = [0u8; 32];
    t[31] = 0x09;
    t
});

/// Prices of the default orders (nRLC).
pub const APP_PRICE: u64 = 1_000;
pub const DATASET_PRICE: u64 = 2_000;
pub const WORKERPOOL_PRICE: u64 = 10_000;
/// What each actor deposits into the hub's escrow at setup.
pub const DEPOSIT: u64 = 1_000_000_000;

pub type Hub = IexecHubInstance<DynProvider>;

/// The four orders of a deal, ready to be signed and matched.
#[derive(Clone, Debug)]
pub struct Orders {
    pub app: orders::AppOrder,
    pub dataset: orders::DatasetOrder,
    pub workerpool: orders::WorkerpoolOrder,
    pub request: orders::RequestOrder,
}

/// A chain with everything deployed, actors funded and resources registered.
pub struct Fixture {
    pub chain: TestChain,
    pub provider: DynProvider,
    pub deployment: Deployment,
    pub hub: Hub,
    pub token: RLCInstance<DynProvider>,
    pub domain: Eip712Domain,
    pub owner: PrivateKeySigner,
    pub app_owner: PrivateKeySigner,
    pub dataset_owner: PrivateKeySigner,
    pub scheduler: PrivateKeySigner,
    pub requester: PrivateKeySigner,
    pub workers: Vec<PrivateKeySigner>,
    pub enclave: PrivateKeySigner,
    pub app: Address,
    pub tee_app: Address,
    pub dataset: Address,
    pub workerpool: Address,
}

pub fn key_hex(signer: &PrivateKeySigner) -> String {
    format!("0x{}", alloy::hex::encode(signer.to_bytes()))
}

/// The reason string of a failed call: `require` message, or "" for a bare revert.
pub fn reason(err: &alloy::contract::Error) -> String {
    match err.as_revert_data() {
        Some(data) if data.is_empty() => String::new(),
        Some(data) => {
            use alloy::sol_types::SolError;
            alloy::sol_types::Revert::abi_decode(&data)
                .map(|r| r.reason)
                .unwrap_or_else(|_| format!("raw {data}"))
        }
        None => format!("not a revert: {err}"),
    }
}

/// Sends a call and waits for its successful receipt.
#[macro_export]
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

/// Which hub the fixture drives: Arca's, or PoCo 6.1.0's from the npm package (same chain,
/// same token, same actors), for differential tests and the gas benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Arca,
    Poco(std::path::PathBuf),
}

impl Fixture {
    pub async fn new() -> Fixture {
        Fixture::on(Target::Arca).await
    }

    pub async fn on(target: Target) -> Fixture {
        let chain = TestChain::start().await;
        let s = chain.signers.clone();
        let mut deployment = arca_contracts::deploy(&chain.url, &key_hex(&s[0]))
            .await
            .expect("deploy");
        let enclave: PrivateKeySigner =
            "0x00000000000000000000000000000000000000000000000000000000000e1c1a"
                .parse()
                .unwrap();
        let mut wallet = EthereumWallet::new(s[0].clone());
        for signer in &s[1..] {
            wallet.register_signer(signer.clone());
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(chain.url.parse().unwrap())
            .erased();
        if let Target::Poco(dir) = &target {
            // the RLC token of Arca's deployment, PoCo's hub and registries
            deployment = poco::deploy_poco(dir, &provider, s[0].address(), deployment.token).await;
        }
        let hub = IexecHubInstance::new(deployment.hub, provider.clone());
        let token = RLCInstance::new(deployment.token, provider.clone());
        let domain = eip712_domain! {
            name: "iExecODB",
            version: "5.0.0",
            chain_id: CHAIN_ID,
            verifying_contract: deployment.hub,
        };
        let mut fx = Fixture {
            provider,
            deployment,
            hub,
            token,
            domain,
            owner: s[0].clone(),
            app_owner: s[1].clone(),
            dataset_owner: s[2].clone(),
            scheduler: s[3].clone(),
            requester: s[4].clone(),
            workers: s[5..10].to_vec(),
            enclave,
            app: Address::ZERO,
            tee_app: Address::ZERO,
            dataset: Address::ZERO,
            workerpool: Address::ZERO,
            chain,
        };
        // every actor gets RLC and deposits part of it into the escrow
        let actors: Vec<Address> = [&fx.scheduler, &fx.requester]
            .into_iter()
            .chain(fx.workers.iter())
            .map(|s| s.address())
            .collect();
        for actor in actors {
            send!(fx.token.transfer(actor, U256::from(10 * DEPOSIT)));
            send!(
                fx.token
                    .approve(fx.deployment.hub, U256::from(DEPOSIT))
                    .from(actor)
            );
            send!(fx.hub.deposit(U256::from(DEPOSIT)).from(actor));
        }
        fx.app = fx.create_app("app", Bytes::new()).await;
        fx.tee_app = fx
            .create_app("tee-app", Bytes::from_static(b"{\"provider\":\"TDX\"}"))
            .await;
        let datasets = DatasetRegistry::new(fx.deployment.dataset_registry, fx.provider.clone());
        let owner = fx.dataset_owner.address();
        let create = datasets.createDataset(
            owner,
            "dataset".into(),
            Bytes::from_static(b"/ipfs/Qm"),
            B256::repeat_byte(7),
        );
        fx.dataset = create.call().await.unwrap();
        send!(create.from(owner));
        let pools = WorkerpoolRegistry::new(fx.deployment.workerpool_registry, fx.provider.clone());
        let owner = fx.scheduler.address();
        let create = pools.createWorkerpool(owner, "pool".into());
        fx.workerpool = create.call().await.unwrap();
        send!(create.from(owner));
        fx
    }

    async fn create_app(&self, name: &str, mrenclave: Bytes) -> Address {
        let apps = AppRegistry::new(self.deployment.app_registry, self.provider.clone());
        let owner = self.app_owner.address();
        let create = apps.createApp(
            owner,
            name.into(),
            "DOCKER".into(),
            Bytes::from(format!("registry/{name}:1.0").into_bytes()),
            B256::repeat_byte(1),
            mrenclave,
        );
        let address = create.call().await.unwrap();
        send!(create.from(owner));
        address
    }

    // ------------------------------------------------------------------ orders

    /// Unsigned orders that match: app (TEE or not), optional dataset, the pool, the request.
    pub fn orders(&self, tee: bool, with_dataset: bool, volume: u64, trust: u64) -> Orders {
        let tag = if tee { TEE_TAG } else { B256::ZERO };
        let app = orders::AppOrder {
            app: if tee { self.tee_app } else { self.app },
            appprice: U256::from(APP_PRICE),
            volume: U256::from(1000),
            tag,
            datasetrestrict: Address::ZERO,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::repeat_byte(0xa1),
            sign: Bytes::new(),
        };
        let dataset = if with_dataset {
            orders::DatasetOrder {
                dataset: self.dataset,
                datasetprice: U256::from(DATASET_PRICE),
                volume: U256::from(1000),
                tag: B256::ZERO,
                apprestrict: Address::ZERO,
                workerpoolrestrict: Address::ZERO,
                requesterrestrict: Address::ZERO,
                salt: B256::repeat_byte(0xd1),
                sign: Bytes::new(),
            }
        } else {
            empty_dataset_order()
        };
        let workerpool = orders::WorkerpoolOrder {
            workerpool: self.workerpool,
            workerpoolprice: U256::from(WORKERPOOL_PRICE),
            volume: U256::from(1000),
            tag: if tee { TDX_TEE_TAG } else { B256::ZERO },
            category: U256::ZERO,
            trust: U256::from(trust.max(1)),
            apprestrict: Address::ZERO,
            datasetrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::repeat_byte(0xe1),
            sign: Bytes::new(),
        };
        let request = orders::RequestOrder {
            app: app.app,
            appmaxprice: U256::from(APP_PRICE),
            dataset: dataset.dataset,
            datasetmaxprice: if with_dataset {
                U256::from(DATASET_PRICE)
            } else {
                U256::ZERO
            },
            workerpool: Address::ZERO,
            workerpoolmaxprice: U256::from(WORKERPOOL_PRICE),
            requester: self.requester.address(),
            volume: U256::from(volume),
            tag,
            category: U256::ZERO,
            trust: U256::from(trust),
            beneficiary: self.requester.address(),
            callback: Address::ZERO,
            params: "{\"iexec_args\":\"hello\"}".into(),
            salt: B256::repeat_byte(0xf1),
            sign: Bytes::new(),
        };
        Orders {
            app,
            dataset,
            workerpool,
            request,
        }
    }

    pub fn app_hash(&self, o: &orders::AppOrder) -> B256 {
        typed::AppOrder {
            app: o.app,
            appprice: o.appprice,
            volume: o.volume,
            tag: o.tag,
            datasetrestrict: o.datasetrestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
        }
        .eip712_signing_hash(&self.domain)
    }

    pub fn dataset_hash(&self, o: &orders::DatasetOrder) -> B256 {
        typed::DatasetOrder {
            dataset: o.dataset,
            datasetprice: o.datasetprice,
            volume: o.volume,
            tag: o.tag,
            apprestrict: o.apprestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
        }
        .eip712_signing_hash(&self.domain)
    }

    pub fn workerpool_hash(&self, o: &orders::WorkerpoolOrder) -> B256 {
        typed::WorkerpoolOrder {
            workerpool: o.workerpool,
            workerpoolprice: o.workerpoolprice,
            volume: o.volume,
            tag: o.tag,
            category: o.category,
            trust: o.trust,
            apprestrict: o.apprestrict,
            datasetrestrict: o.datasetrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
        }
        .eip712_signing_hash(&self.domain)
    }

    pub fn request_hash(&self, o: &orders::RequestOrder) -> B256 {
        typed::RequestOrder {
            app: o.app,
            appmaxprice: o.appmaxprice,
            dataset: o.dataset,
            datasetmaxprice: o.datasetmaxprice,
            workerpool: o.workerpool,
            workerpoolmaxprice: o.workerpoolmaxprice,
            requester: o.requester,
            volume: o.volume,
            tag: o.tag,
            category: o.category,
            trust: o.trust,
            beneficiary: o.beneficiary,
            callback: o.callback,
            params: o.params.clone(),
            salt: o.salt,
        }
        .eip712_signing_hash(&self.domain)
    }

    /// Signs the four orders with their owners' keys (EIP-712).
    pub fn sign(&self, mut o: Orders) -> Orders {
        o.app.sign = sign_hash(&self.app_owner, self.app_hash(&o.app));
        if o.dataset.dataset != Address::ZERO {
            o.dataset.sign = sign_hash(&self.dataset_owner, self.dataset_hash(&o.dataset));
        }
        o.workerpool.sign = sign_hash(&self.scheduler, self.workerpool_hash(&o.workerpool));
        o.request.sign = sign_hash(&self.requester, self.request_hash(&o.request));
        o
    }

    /// Dry-runs matchOrders as the requester: the deal id, or the revert reason.
    pub async fn try_match(&self, o: &Orders) -> Result<B256, String> {
        self.hub
            .matchOrders(
                o.app.clone(),
                o.dataset.clone(),
                o.workerpool.clone(),
                o.request.clone(),
            )
            .from(self.requester.address())
            .call()
            .await
            .map_err(|e| reason(&e))
    }

    /// Matches the orders for real; returns the deal id and the receipt.
    pub async fn match_orders(&self, o: &Orders) -> (B256, TransactionReceipt) {
        let dealid = self.try_match(o).await.expect("matchOrders should succeed");
        let receipt = send!(
            self.hub
                .matchOrders(
                    o.app.clone(),
                    o.dataset.clone(),
                    o.workerpool.clone(),
                    o.request.clone()
                )
                .from(self.requester.address())
        );
        (dealid, receipt)
    }

    // ------------------------------------------------------------------ tasks

    pub fn task_id(dealid: B256, idx: u64) -> B256 {
        keccak256([dealid.as_slice(), &U256::from(idx).to_be_bytes::<32>()].concat())
    }

    /// The scheduler's authorization for `worker` on `taskid` (EIP-191 over worker‖task‖enclave).
    pub fn authorization(&self, worker: Address, taskid: B256, enclave: Address) -> Bytes {
        let hash = keccak256([worker.as_slice(), taskid.as_slice(), enclave.as_slice()].concat());
        Bytes::from(
            self.scheduler
                .sign_message_sync(hash.as_slice())
                .unwrap()
                .as_bytes()
                .to_vec(),
        )
    }

    /// resultHash and resultSeal of `worker` for `digest` (the contribution commitments).
    pub fn commitments(worker: Address, taskid: B256, digest: B256) -> (B256, B256) {
        let hash = keccak256([taskid.as_slice(), digest.as_slice()].concat());
        let seal = keccak256([worker.as_slice(), taskid.as_slice(), digest.as_slice()].concat());
        (hash, seal)
    }

    /// `worker` contributes `digest` to `taskid` (standard task: no enclave), authorized by the
    /// scheduler; the transaction must succeed.
    pub async fn contribute(&self, worker: Address, taskid: B256, digest: B256) {
        let (hash, seal) = Fixture::commitments(worker, taskid, digest);
        send!(
            self.hub
                .contribute(
                    taskid,
                    hash,
                    seal,
                    Address::ZERO,
                    Bytes::new(),
                    self.authorization(worker, taskid, Address::ZERO),
                )
                .from(worker)
        );
    }

    /// The enclave's EIP-191 signature over resultHash‖resultSeal.
    pub fn enclave_sign(&self, hash: B256, seal: B256) -> Bytes {
        let message = keccak256([hash.as_slice(), seal.as_slice()].concat());
        Bytes::from(
            self.enclave
                .sign_message_sync(message.as_slice())
                .unwrap()
                .as_bytes()
                .to_vec(),
        )
    }

    pub async fn increase_time(&self, seconds: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .unwrap();
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
    }

    /// (balance, frozen) of an account in the escrow.
    pub async fn account(&self, who: Address) -> (U256, U256) {
        let a = self.hub.viewAccount(who).call().await.unwrap();
        (a.stake, a.locked)
    }

    /// Sum over the given accounts of balance + frozen, plus the hub's own balance.
    pub async fn escrow_total(&self, accounts: &[Address]) -> U256 {
        let mut total = U256::ZERO;
        for a in accounts {
            let (balance, frozen) = self.account(*a).await;
            total += balance + frozen;
        }
        total
    }

    pub fn all_actors(&self) -> Vec<Address> {
        let mut v = vec![
            self.owner.address(),
            self.app_owner.address(),
            self.dataset_owner.address(),
            self.scheduler.address(),
            self.requester.address(),
        ];
        v.extend(self.workers.iter().map(|w| w.address()));
        v
    }
}

pub fn sign_hash(signer: &PrivateKeySigner, hash: B256) -> Bytes {
    Bytes::from(signer.sign_hash_sync(&hash).unwrap().as_bytes().to_vec())
}

pub fn empty_dataset_order() -> orders::DatasetOrder {
    orders::DatasetOrder {
        dataset: Address::ZERO,
        datasetprice: U256::ZERO,
        volume: U256::ZERO,
        tag: B256::ZERO,
        apprestrict: Address::ZERO,
        workerpoolrestrict: Address::ZERO,
        requesterrestrict: Address::ZERO,
        salt: B256::ZERO,
        sign: Bytes::new(),
    }
}
