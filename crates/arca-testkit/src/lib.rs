//! Fixtures for integration tests across Arca's crates: a real in-process dev chain with the PoCo
//! contracts deployed ([`Stack`]), one funded account per role ([`Actors`]), registered apps,
//! datasets and workerpools, and deals matched from real signed orders ([`DealSpec`]). Nothing here
//! is mocked: every call goes through `arca-client` to the chain over JSON-RPC, as in production.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use arca_chain::{NodeConfig, NodeHandle};
use arca_client::orders::{self, SignedOrder, UnsignedOrder, typed};
use arca_client::project::{AppConfig, ChainConf, DatasetConfig, WorkerpoolConfig};
use arca_client::{Client, poco};
use arca_contracts::Deployment;
use serde_json::Value;

/// The dev accounts by role (indices into the standard test mnemonic's accounts).
#[derive(Debug, Clone)]
pub struct Actors {
    /// Account 0: deployed the contracts, owns the hub.
    pub admin: PrivateKeySigner,
    /// Account 1: owns the apps.
    pub app_owner: PrivateKeySigner,
    /// Account 2: owns the datasets.
    pub dataset_owner: PrivateKeySigner,
    /// Account 3: owns the workerpool (the scheduler's wallet).
    pub scheduler: PrivateKeySigner,
    /// Account 4: requests tasks.
    pub requester: PrivateKeySigner,
    /// Account 5: a second requester.
    pub other_requester: PrivateKeySigner,
    /// Accounts 6 and 7: workers.
    pub workers: [PrivateKeySigner; 2],
    /// Account 8: someone entitled to nothing.
    pub stranger: PrivateKeySigner,
}

/// A running chain with PoCo deployed.
#[derive(Debug)]
pub struct Stack {
    /// The node (stops when dropped).
    pub node: NodeHandle,
    /// Its JSON-RPC URL.
    pub rpc: String,
    /// The deployed contracts.
    pub deployment: Deployment,
    /// Funded accounts by role.
    pub actors: Actors,
}

impl Stack {
    /// Starts a chain on a random port and deploys PoCo with account 0.
    pub async fn start() -> Stack {
        let node = arca_chain::spawn(NodeConfig::test())
            .await
            .expect("starting the dev chain");
        let rpc = node.http_url();
        let s = node.dev_signers().to_vec();
        assert!(
            s.len() >= 9,
            "the test chain must have at least 9 dev accounts"
        );
        let key = format!("0x{}", alloy::hex::encode(s[0].to_bytes()));
        let deployment = arca_contracts::deploy(&rpc, &key)
            .await
            .expect("deploying PoCo");
        let actors = Actors {
            admin: s[0].clone(),
            app_owner: s[1].clone(),
            dataset_owner: s[2].clone(),
            scheduler: s[3].clone(),
            requester: s[4].clone(),
            other_requester: s[5].clone(),
            workers: [s[6].clone(), s[7].clone()],
            stranger: s[8].clone(),
        };
        Stack {
            node,
            rpc,
            deployment,
            actors,
        }
    }

    /// The chain as a `chain.json` entry (host, hub, id).
    pub fn chain_conf(&self) -> ChainConf {
        ChainConf {
            id: Some(self.deployment.chain_id.to_string()),
            host: Some(self.rpc.clone()),
            hub: Some(self.deployment.hub.to_checksum(None)),
            ..ChainConf::default()
        }
    }

    /// A client signing with `signer`.
    pub async fn client(&self, signer: &PrivateKeySigner) -> Client {
        Client::connect("test", &self.chain_conf(), Some(signer.clone()))
            .await
            .expect("connecting the client")
    }

    /// Registers an app owned by the app owner; `mrenclave` empty for a standard app.
    pub async fn app(&self, name: &str, image: &str, checksum: B256, mrenclave: &str) -> Address {
        let owner = &self.actors.app_owner;
        let config = AppConfig {
            owner: owner.address(),
            name: name.into(),
            app_type: "DOCKER".into(),
            multiaddr: image.into(),
            checksum,
            mrenclave: (!mrenclave.is_empty()).then(|| Value::String(mrenclave.into())),
        };
        self.client(owner)
            .await
            .deploy_app(&config)
            .await
            .expect("deploying the app")
            .0
    }

    /// Registers a dataset owned by the dataset owner.
    pub async fn dataset(&self, name: &str, url: &str, checksum: B256) -> Address {
        let owner = &self.actors.dataset_owner;
        let config = DatasetConfig {
            owner: owner.address(),
            name: name.into(),
            multiaddr: url.into(),
            checksum,
        };
        self.client(owner)
            .await
            .deploy_dataset(&config)
            .await
            .expect("deploying the dataset")
            .0
    }

    /// Registers a workerpool owned by the scheduler account.
    pub async fn workerpool(&self, description: &str) -> Address {
        let owner = &self.actors.scheduler;
        let config = WorkerpoolConfig {
            owner: owner.address(),
            description: description.into(),
        };
        self.client(owner)
            .await
            .deploy_workerpool(&config)
            .await
            .expect("deploying the workerpool")
            .0
    }

    /// Signs the four orders of `spec` with their owners and matches them; returns the deal id.
    pub async fn deal(&self, spec: &DealSpec) -> B256 {
        let a = &self.actors;
        let client = self.client(&spec.requester).await;
        let domain = client.domain();
        let sign = |order, signer: &PrivateKeySigner| {
            orders::sign(order, signer, &domain).expect("signing an order")
        };
        let app = sign(
            UnsignedOrder::App(typed::AppOrder {
                app: spec.app,
                appprice: U256::from(spec.app_price),
                volume: U256::from(1_000_000),
                tag: spec.app_tag,
                datasetrestrict: Address::ZERO,
                workerpoolrestrict: Address::ZERO,
                requesterrestrict: Address::ZERO,
                salt: B256::ZERO,
            }),
            &a.app_owner,
        );
        let dataset: Option<SignedOrder> = spec.dataset.map(|dataset| {
            sign(
                UnsignedOrder::Dataset(typed::DatasetOrder {
                    dataset,
                    datasetprice: U256::ZERO,
                    volume: U256::from(1_000_000),
                    tag: B256::ZERO,
                    apprestrict: spec.dataset_app_restrict,
                    workerpoolrestrict: Address::ZERO,
                    requesterrestrict: Address::ZERO,
                    salt: B256::ZERO,
                }),
                &a.dataset_owner,
            )
        });
        let pool = sign(
            UnsignedOrder::Workerpool(typed::WorkerpoolOrder {
                workerpool: spec.workerpool,
                workerpoolprice: U256::from(spec.workerpool_price),
                volume: U256::from(1_000_000),
                tag: spec.workerpool_tag,
                category: U256::from(spec.category),
                trust: U256::from(spec.trust),
                apprestrict: Address::ZERO,
                datasetrestrict: Address::ZERO,
                requesterrestrict: Address::ZERO,
                salt: B256::ZERO,
            }),
            &a.scheduler,
        );
        let request = sign(
            UnsignedOrder::Request(typed::RequestOrder {
                app: spec.app,
                appmaxprice: U256::from(spec.app_price),
                dataset: spec.dataset.unwrap_or(Address::ZERO),
                datasetmaxprice: U256::ZERO,
                workerpool: spec.workerpool,
                workerpoolmaxprice: U256::from(spec.workerpool_price),
                requester: spec.requester.address(),
                volume: U256::from(spec.volume),
                tag: spec.tag,
                category: U256::from(spec.category),
                trust: U256::from(spec.trust),
                beneficiary: spec.requester.address(),
                callback: Address::ZERO,
                params: spec.params.clone(),
                salt: B256::ZERO,
            }),
            &spec.requester,
        );
        client
            .match_orders(&app, dataset.as_ref(), &pool, &request)
            .await
            .expect("matching the orders")
            .0
    }

    /// Initializes task `index` of `deal_id` (as the scheduler) and returns its id.
    pub async fn initialize(&self, deal_id: B256, index: u64) -> B256 {
        self.client(&self.actors.scheduler)
            .await
            .initialize(deal_id, index)
            .await
            .expect("initializing the task")
            .0
    }

    /// The task id of task `index` of `deal_id`.
    pub fn task_id(deal_id: B256, index: u64) -> B256 {
        poco::task_id(deal_id, index)
    }
}

/// What to match: free orders (price 0) for one app, optional dataset, one workerpool.
#[derive(Debug, Clone)]
pub struct DealSpec {
    /// The app.
    pub app: Address,
    /// The dataset, if any.
    pub dataset: Option<Address>,
    /// The dataset order's app restriction (zero: any app).
    pub dataset_app_restrict: Address,
    /// The workerpool.
    pub workerpool: Address,
    /// Who requests (and is the beneficiary).
    pub requester: PrivateKeySigner,
    /// Request tag (bit 0: TEE).
    pub tag: B256,
    /// App order tag.
    pub app_tag: B256,
    /// Workerpool order tag (must cover the request's).
    pub workerpool_tag: B256,
    /// Category index (the deployment creates the standard ones; 0 is the shortest).
    pub category: u64,
    /// Trust.
    pub trust: u64,
    /// Number of tasks.
    pub volume: u64,
    /// Request params JSON (`{"iexec_args": …}`).
    pub params: String,
    /// App price per task (nRLC), asked by the app order and accepted by the request.
    pub app_price: u64,
    /// Workerpool price per task (nRLC): the pool owner stakes 30% of it, each contributing
    /// worker the pool's `workerStakeRatio`%; 0 (free) shows no stake at all.
    pub workerpool_price: u64,
}

impl DealSpec {
    /// A standard (non-TEE), trust-1, one-task request of `app` on `workerpool` by the requester.
    pub fn new(stack: &Stack, app: Address, workerpool: Address) -> DealSpec {
        DealSpec {
            app,
            dataset: None,
            dataset_app_restrict: Address::ZERO,
            workerpool,
            requester: stack.actors.requester.clone(),
            tag: B256::ZERO,
            app_tag: B256::ZERO,
            workerpool_tag: B256::ZERO,
            category: 0,
            trust: 1,
            volume: 1,
            params: "{}".into(),
            app_price: 0,
            workerpool_price: 0,
        }
    }

    /// Priced orders: `app` per task for the app, `workerpool` per task for the pool.
    pub fn prices(mut self, app: u64, workerpool: u64) -> Self {
        self.app_price = app;
        self.workerpool_price = workerpool;
        self
    }

    /// Makes it a TEE request (tag `tee,tdx` on request, app and workerpool orders).
    pub fn tee(mut self) -> Self {
        // bit 0: TEE; bit 3: TDX (iexec-protocol.md §1.11).
        let tag = B256::with_last_byte(0x09);
        self.tag = tag;
        self.app_tag = B256::with_last_byte(0x01);
        self.workerpool_tag = tag;
        self
    }

    /// Sets the params JSON.
    pub fn params(mut self, params: &str) -> Self {
        self.params = params.into();
        self
    }

    /// Adds the dataset.
    pub fn dataset(mut self, dataset: Address) -> Self {
        self.dataset = Some(dataset);
        self
    }
}
