//! Typed PoCo calls through alloy: the hub comes from chain.json, the registries and the RLC token from
//! the hub itself (as the SDK does), so a chain.json with `host` and `hub` is all a chain needs.

use crate::{
    ClientError, Result,
    orders::{SignedOrder, UnsignedOrder},
    project::{AppConfig, CategoryConfig, ChainConf, DatasetConfig, WorkerpoolConfig},
};
use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use arca_contracts::bindings::{
    App, AppRegistry, Dataset, DatasetRegistry,
    IexecHub::{self, IexecHubInstance},
    IexecLibOrders_v5 as poco, RLC, Workerpool, WorkerpoolRegistry,
};
use serde_json::{Value, json};

/// The three registry-backed resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Applications.
    App,
    /// Datasets.
    Dataset,
    /// Workerpools.
    Workerpool,
}

impl Resource {
    /// The name used in files and messages (`app`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Dataset => "dataset",
            Self::Workerpool => "workerpool",
        }
    }
}

/// A connection to one chain's PoCo deployment, optionally with a signing wallet.
#[derive(Debug, Clone)]
pub struct Client {
    provider: DynProvider,
    hub: IexecHubInstance<DynProvider>,
    chain_id: u64,
    signer: Option<PrivateKeySigner>,
    /// Blocks a transaction must be buried under before it counts as done (`--confirms`, default 1).
    confirms: u64,
}

/// A transaction just submitted, or why it could not be.
pub(crate) type Pending = std::result::Result<
    alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
    alloy::contract::Error,
>;

/// A sent transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Its hash.
    pub tx_hash: B256,
}

/// Maps a contract error to a message with the revert reason when there is one.
pub(crate) fn call_err(action: &str, err: alloy::contract::Error) -> ClientError {
    if let Some(data) = err.as_revert_data() {
        use alloy::sol_types::SolError;
        if let Ok(revert) = alloy::sol_types::Revert::abi_decode(&data) {
            return ClientError::chain(action, format!("reverted: {}", revert.reason));
        }
    }
    ClientError::chain(action, err)
}

impl Client {
    /// Connects to the chain described by `conf` (`host` and `hub` required) and checks its chain id.
    pub async fn connect(
        name: &str,
        conf: &ChainConf,
        signer: Option<PrivateKeySigner>,
    ) -> Result<Self> {
        let missing = |field: &str, fix: &str| {
            ClientError::project(
                "chain.json",
                format!("chains.{name}.{field} is missing: {fix}"),
            )
        };
        let host = conf
            .host
            .as_deref()
            .ok_or_else(|| missing("host", "set it to the chain's JSON-RPC URL"))?;
        let hub_text = conf.hub.as_deref().ok_or_else(|| {
            missing(
                "hub",
                "set it to the PoCo hub address (printed by `arca deploy`)",
            )
        })?;
        let hub_address = crate::parse_address(hub_text).map_err(|_| {
            ClientError::project(
                "chain.json",
                format!("chains.{name}.hub: '{hub_text}' is not an ethereum address"),
            )
        })?;
        let url = host.parse().map_err(|e| {
            ClientError::project(
                "chain.json",
                format!("chains.{name}.host: '{host}' is not a URL ({e})"),
            )
        })?;
        let provider = match &signer {
            Some(s) => ProviderBuilder::new()
                .wallet(EthereumWallet::new(s.clone()))
                .connect_http(url)
                .erased(),
            None => ProviderBuilder::new().connect_http(url).erased(),
        };
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| ClientError::chain(format!("connecting to {host}"), e))?;
        if let Some(expected) = conf.id.as_deref()
            && expected != chain_id.to_string()
        {
            return Err(ClientError::project(
                "chain.json",
                format!(
                    "chains.{name}.id is {expected} but {host} is chain {chain_id}: fix the id or the host"
                ),
            ));
        }
        let code = provider
            .get_code_at(hub_address)
            .await
            .map_err(|e| ClientError::chain("reading the hub", e))?;
        if code.is_empty() {
            return Err(ClientError::project(
                "chain.json",
                format!(
                    "chains.{name}.hub: no contract at {hub_address} on chain {chain_id}: deploy with `arca deploy` or fix the address"
                ),
            ));
        }
        Ok(Self {
            hub: IexecHub::new(hub_address, provider.clone()),
            provider,
            chain_id,
            signer,
            confirms: 1,
        })
    }

    /// Waits for `confirms` blocks (at least 1) on every transaction, as the SDK's `--confirms`.
    pub fn with_confirms(mut self, confirms: u64) -> Self {
        self.confirms = confirms.max(1);
        self
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The hub address.
    pub fn hub_address(&self) -> Address {
        *self.hub.address()
    }

    /// PoCo's EIP-712 domain here.
    pub fn domain(&self) -> Eip712Domain {
        crate::orders::domain(self.chain_id, self.hub_address())
    }

    /// The signing wallet, or an error telling how to provide one.
    pub fn signer(&self) -> Result<&PrivateKeySigner> {
        self.signer
            .as_ref()
            .ok_or_else(|| ClientError::Wallet("this command needs a wallet".into()))
    }

    pub(crate) fn from(&self) -> Result<Address> {
        Ok(self.signer()?.address())
    }

    /// Waits for a transaction's receipt and checks it succeeded.
    pub(crate) async fn confirm(&self, action: &str, pending: Pending) -> Result<Sent> {
        let receipt = self.confirm_receipt(action, pending).await?;
        Ok(Sent {
            tx_hash: receipt.transaction_hash,
        })
    }

    /// Like [`Self::confirm`], returning the whole receipt (for its logs).
    pub(crate) async fn confirm_receipt(
        &self,
        action: &str,
        pending: Pending,
    ) -> Result<alloy::rpc::types::TransactionReceipt> {
        let pending = pending.map_err(|e| call_err(action, e))?;
        let receipt = pending
            .with_required_confirmations(self.confirms)
            .get_receipt()
            .await
            .map_err(|e| ClientError::chain(action, e))?;
        if !receipt.status() {
            return Err(ClientError::chain(
                action,
                format!("transaction {} reverted", receipt.transaction_hash),
            ));
        }
        Ok(receipt)
    }

    /// The underlying provider (for reads this client does not wrap).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The hub contract instance.
    pub fn hub(&self) -> &IexecHubInstance<DynProvider> {
        &self.hub
    }

    /// The hub's contract addresses (`arca info`).
    pub async fn info(&self) -> Result<Value> {
        let h = &self.hub;
        let e = |err| call_err("reading the hub", err);
        Ok(json!({
            "hub": self.hub_address().to_checksum(None),
            "appRegistry": h.appregistry().call().await.map_err(e)?.to_checksum(None),
            "datasetRegistry": h.datasetregistry().call().await.map_err(e)?.to_checksum(None),
            "workerpoolRegistry": h.workerpoolregistry().call().await.map_err(e)?.to_checksum(None),
            "rlcAddress": h.token().call().await.map_err(e)?.to_checksum(None),
        }))
    }

    async fn registry(&self, kind: Resource) -> Result<Address> {
        let e = |err| call_err("reading the registry address", err);
        match kind {
            Resource::App => self.hub.appregistry().call().await.map_err(e),
            Resource::Dataset => self.hub.datasetregistry().call().await.map_err(e),
            Resource::Workerpool => self.hub.workerpoolregistry().call().await.map_err(e),
        }
    }

    async fn token(&self) -> Result<RLC::RLCInstance<DynProvider>> {
        let address = self
            .hub
            .token()
            .call()
            .await
            .map_err(|e| call_err("reading the token address", e))?;
        Ok(RLC::new(address, self.provider.clone()))
    }

    /// Registers an app (refusing an already deployed identical one, as the SDK does).
    pub async fn deploy_app(&self, app: &AppConfig) -> Result<(Address, Sent)> {
        let registry = AppRegistry::new(self.registry(Resource::App).await?, self.provider.clone());
        let mrenclave = match &app.mrenclave {
            None | Some(Value::Null) => Bytes::new(),
            Some(Value::String(s)) => Bytes::from(s.clone().into_bytes()),
            Some(v) => Bytes::from(v.to_string().into_bytes()),
        };
        let call = registry.createApp(
            app.owner,
            app.name.clone(),
            app.app_type.clone(),
            Bytes::from(app.multiaddr.clone().into_bytes()),
            app.checksum,
            mrenclave,
        );
        let call = call.from(self.from()?);
        let address = call.call().await.map_err(|e| {
            if e.as_revert_data().is_some() {
                ClientError::chain("app deploy", "the registry refused it: an identical app (same owner, name, type, multiaddr, checksum, mrenclave) is probably already deployed; change a field")
            } else {
                call_err("app deploy", e)
            }
        })?;
        let sent = self.confirm("app deploy", call.send().await).await?;
        Ok((address, sent))
    }

    /// Registers a dataset.
    pub async fn deploy_dataset(&self, dataset: &DatasetConfig) -> Result<(Address, Sent)> {
        let registry = DatasetRegistry::new(
            self.registry(Resource::Dataset).await?,
            self.provider.clone(),
        );
        let call = registry.createDataset(
            dataset.owner,
            dataset.name.clone(),
            Bytes::from(dataset.multiaddr.clone().into_bytes()),
            dataset.checksum,
        );
        let call = call.from(self.from()?);
        let address = call.call().await.map_err(|e| {
            if e.as_revert_data().is_some() {
                ClientError::chain("dataset deploy", "the registry refused it: an identical dataset is probably already deployed; change a field")
            } else {
                call_err("dataset deploy", e)
            }
        })?;
        let sent = self.confirm("dataset deploy", call.send().await).await?;
        Ok((address, sent))
    }

    /// Registers a workerpool.
    pub async fn deploy_workerpool(&self, pool: &WorkerpoolConfig) -> Result<(Address, Sent)> {
        let registry = WorkerpoolRegistry::new(
            self.registry(Resource::Workerpool).await?,
            self.provider.clone(),
        );
        let call = registry.createWorkerpool(pool.owner, pool.description.clone());
        let call = call.from(self.from()?);
        let address = call.call().await.map_err(|e| {
            if e.as_revert_data().is_some() {
                ClientError::chain("workerpool deploy", "the registry refused it: an identical workerpool is probably already deployed; change the description")
            } else {
                call_err("workerpool deploy", e)
            }
        })?;
        let sent = self.confirm("workerpool deploy", call.send().await).await?;
        Ok((address, sent))
    }

    /// How many `kind` entries `owner` holds.
    pub async fn count(&self, kind: Resource, owner: Address) -> Result<U256> {
        let registry = AppRegistry::new(self.registry(kind).await?, self.provider.clone());
        registry
            .balanceOf(owner)
            .call()
            .await
            .map_err(|e| call_err("counting", e))
    }

    /// The address of `owner`'s entry number `index` (0-based).
    pub async fn by_index(&self, kind: Resource, owner: Address, index: U256) -> Result<Address> {
        let count = self.count(kind, owner).await?;
        if index >= count {
            return Err(ClientError::NotFound(format!(
                "{} index {index} is out of range: {owner} has {count} {}s",
                kind.name(),
                kind.name()
            )));
        }
        let registry = AppRegistry::new(self.registry(kind).await?, self.provider.clone());
        let token = registry
            .tokenOfOwnerByIndex(owner, index)
            .call()
            .await
            .map_err(|e| call_err("reading the registry", e))?;
        Ok(Address::from_word(token.into()))
    }

    /// The on-chain description of an entry, in the SDK's `show` shape.
    pub async fn show(&self, kind: Resource, address: Address) -> Result<Value> {
        let registry = AppRegistry::new(self.registry(kind).await?, self.provider.clone());
        let registered = registry
            .isRegistered(address)
            .call()
            .await
            .map_err(|e| call_err("reading the registry", e))?;
        if !registered {
            return Err(ClientError::NotFound(format!(
                "No {} found for address {address} on chain {}",
                kind.name(),
                self.chain_id
            )));
        }
        let e = |err| call_err("reading the entry", err);
        let text = |b: Bytes| String::from_utf8(b.to_vec()).unwrap_or_else(|_| b.to_string());
        let p = self.provider.clone();
        Ok(match kind {
            Resource::App => {
                let app = App::new(address, p);
                json!({
                    "owner": app.owner().call().await.map_err(e)?.to_checksum(None),
                    "appName": app.m_appName().call().await.map_err(e)?,
                    "appType": app.m_appType().call().await.map_err(e)?,
                    "appMultiaddr": text(app.m_appMultiaddr().call().await.map_err(e)?),
                    "appChecksum": app.m_appChecksum().call().await.map_err(e)?.to_string(),
                    "appMREnclave": text(app.m_appMREnclave().call().await.map_err(e)?),
                })
            }
            Resource::Dataset => {
                let ds = Dataset::new(address, p);
                json!({
                    "owner": ds.owner().call().await.map_err(e)?.to_checksum(None),
                    "datasetName": ds.m_datasetName().call().await.map_err(e)?,
                    "datasetMultiaddr": text(ds.m_datasetMultiaddr().call().await.map_err(e)?),
                    "datasetChecksum": ds.m_datasetChecksum().call().await.map_err(e)?.to_string(),
                })
            }
            Resource::Workerpool => {
                let wp = Workerpool::new(address, p);
                json!({
                    "owner": wp.owner().call().await.map_err(e)?.to_checksum(None),
                    "workerpoolDescription": wp.m_workerpoolDescription().call().await.map_err(e)?,
                    "workerStakeRatioPolicy": wp.m_workerStakeRatioPolicy().call().await.map_err(e)?.to_string(),
                    "schedulerRewardRatioPolicy": wp.m_schedulerRewardRatioPolicy().call().await.map_err(e)?.to_string(),
                })
            }
        })
    }

    /// Escrow account of `address`: (stake, locked) in nRLC.
    pub async fn account(&self, address: Address) -> Result<(U256, U256)> {
        let account = self
            .hub
            .viewAccount(address)
            .call()
            .await
            .map_err(|e| call_err("reading the account", e))?;
        Ok((account.stake, account.locked))
    }

    /// Wallet balances of `address`: (wei, nRLC).
    pub async fn balances(&self, address: Address) -> Result<(U256, U256)> {
        let wei = self
            .provider
            .get_balance(address)
            .await
            .map_err(|e| ClientError::chain("reading the balance", e))?;
        let token = self.token().await?;
        let nrlc = token
            .balanceOf(address)
            .call()
            .await
            .map_err(|e| call_err("reading the RLC balance", e))?;
        Ok((wei, nrlc))
    }

    /// Moves `amount` nRLC from the wallet to its escrow account (one `approveAndCall`, as the SDK).
    pub async fn deposit(&self, amount: U256) -> Result<Sent> {
        let from = self.from()?;
        let token = self.token().await?;
        let balance = token
            .balanceOf(from)
            .call()
            .await
            .map_err(|e| call_err("reading the RLC balance", e))?;
        if balance < amount {
            return Err(ClientError::Validation {
                what: "deposit amount",
                value: format!("{amount} nRLC"),
                hint: Some(format!("the wallet {from} holds only {balance} nRLC")),
            });
        }
        let call = token
            .approveAndCall(self.hub_address(), amount, Bytes::new())
            .from(from);
        self.confirm("deposit", call.send().await).await
    }

    /// Moves `amount` nRLC from the escrow account back to the wallet.
    pub async fn withdraw(&self, amount: U256) -> Result<Sent> {
        let from = self.from()?;
        let (stake, _) = self.account(from).await?;
        if stake < amount {
            return Err(ClientError::Validation {
                what: "withdraw amount",
                value: format!("{amount} nRLC"),
                hint: Some(format!("the account stake is only {stake} nRLC")),
            });
        }
        let call = self.hub.withdraw(amount).from(from);
        self.confirm("withdraw", call.send().await).await
    }

    /// Sends ether (wei).
    pub async fn send_ether(&self, to: Address, wei: U256) -> Result<Sent> {
        let tx = TransactionRequest::default()
            .with_from(self.from()?)
            .with_to(to)
            .with_value(wei);
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(|e| ClientError::chain("send-ether", e))?;
        let receipt = pending
            .with_required_confirmations(self.confirms)
            .get_receipt()
            .await
            .map_err(|e| ClientError::chain("send-ether", e))?;
        Ok(Sent {
            tx_hash: receipt.transaction_hash,
        })
    }

    /// Sends RLC (nRLC).
    pub async fn send_rlc(&self, to: Address, nrlc: U256) -> Result<Sent> {
        let token = self.token().await?;
        let call = token.transfer(to, nrlc).from(self.from()?);
        self.confirm("send-RLC", call.send().await).await
    }

    /// Creates a category (hub owner only); returns its index.
    pub async fn create_category(&self, category: &CategoryConfig) -> Result<(U256, Sent)> {
        let call = self
            .hub
            .createCategory(
                category.name.clone(),
                category.description.clone(),
                category.work_clock_time_ref,
            )
            .from(self.from()?);
        let index = call.call().await.map_err(|e| {
            call_err(
                "category create (only the hub owner can create categories)",
                e,
            )
        })?;
        let sent = self.confirm("category create", call.send().await).await?;
        Ok((index, sent))
    }

    /// A category by index.
    pub async fn category(&self, index: U256) -> Result<Value> {
        let count = self.category_count().await?;
        if index >= count {
            return Err(ClientError::NotFound(format!(
                "category {index} does not exist (there are {count})"
            )));
        }
        let c = self
            .hub
            .viewCategory(index)
            .call()
            .await
            .map_err(|e| call_err("reading the category", e))?;
        Ok(
            json!({"name": c.name, "description": c.description, "workClockTimeRef": c.workClockTimeRef.to_string()}),
        )
    }

    /// How many categories exist.
    pub async fn category_count(&self) -> Result<U256> {
        self.hub
            .countCategory()
            .call()
            .await
            .map_err(|e| call_err("counting categories", e))
    }

    /// How much of the order with `hash` has been consumed (a cancelled order is fully consumed).
    pub async fn consumed(&self, hash: B256) -> Result<U256> {
        self.hub
            .viewConsumed(hash)
            .call()
            .await
            .map_err(|e| call_err("reading the order state", e))
    }

    /// Cancels a signed order on chain (`manageXOrder` with operation CLOSE, sent by the owner).
    pub async fn cancel(&self, signed: &SignedOrder) -> Result<Sent> {
        let from = self.from()?;
        let close = 1u8;
        let sign = Bytes::new();
        let pending = match to_poco(signed) {
            PocoOrder::App(order) => {
                let op = poco::AppOrderOperation {
                    order,
                    operation: close,
                    sign,
                };
                self.hub.manageAppOrder(op).from(from).send().await
            }
            PocoOrder::Dataset(order) => {
                let op = poco::DatasetOrderOperation {
                    order,
                    operation: close,
                    sign,
                };
                self.hub.manageDatasetOrder(op).from(from).send().await
            }
            PocoOrder::Workerpool(order) => {
                let op = poco::WorkerpoolOrderOperation {
                    order,
                    operation: close,
                    sign,
                };
                self.hub.manageWorkerpoolOrder(op).from(from).send().await
            }
            PocoOrder::Request(order) => {
                let op = poco::RequestOrderOperation {
                    order,
                    operation: close,
                    sign,
                };
                self.hub.manageRequestOrder(op).from(from).send().await
            }
        };
        self.confirm("order cancel", pending).await
    }
}

/// A signed order in the hub's ABI shape.
pub(crate) enum PocoOrder {
    App(poco::AppOrder),
    Dataset(poco::DatasetOrder),
    Workerpool(poco::WorkerpoolOrder),
    Request(poco::RequestOrder),
}

/// Converts a signed order to the hub's ABI struct (signature included).
pub(crate) fn to_poco(signed: &SignedOrder) -> PocoOrder {
    let sign = signed.sign.clone();
    match &signed.order {
        UnsignedOrder::App(o) => PocoOrder::App(poco::AppOrder {
            app: o.app,
            appprice: o.appprice,
            volume: o.volume,
            tag: o.tag,
            datasetrestrict: o.datasetrestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
            sign,
        }),
        UnsignedOrder::Dataset(o) => PocoOrder::Dataset(poco::DatasetOrder {
            dataset: o.dataset,
            datasetprice: o.datasetprice,
            volume: o.volume,
            tag: o.tag,
            apprestrict: o.apprestrict,
            workerpoolrestrict: o.workerpoolrestrict,
            requesterrestrict: o.requesterrestrict,
            salt: o.salt,
            sign,
        }),
        UnsignedOrder::Workerpool(o) => PocoOrder::Workerpool(poco::WorkerpoolOrder {
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
            sign,
        }),
        UnsignedOrder::Request(o) => PocoOrder::Request(poco::RequestOrder {
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
            sign,
        }),
    }
}
