//! End-to-end tests of the market: Arca's in-process chain, the PoCo contracts deployed on it,
//! the market service on a free port, and the typed client (plus raw HTTP for malformed input).
//! They cover publication checks, every query filter, the chain follower (match, cancel) and
//! persistence across restarts. The query and follower/restart tests also run on the Postgres
//! store (feature `postgres`, when `ARCA_TEST_POSTGRES_URL` is set; otherwise they print
//! `SKIPPED`).

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::{SignerSync, local::PrivateKeySigner},
};
use arca_contracts::bindings::{
    AppRegistry, DatasetRegistry, IexecHub::IexecHubInstance, IexecLibOrders_v5 as onchain, RLC,
    WorkerpoolRegistry,
};
use arca_market::{
    Client, MarketConfig, MarketError, MarketHandle, Order, OrderKind, OrderQuery, Status, Store,
    UnpublishRequest,
    order::{AppOrder, DatasetOrder, RequestOrder, WorkerpoolOrder, poco_domain},
};
use std::{net::SocketAddr, sync::Arc, time::Duration};

const TEE: B256 = B256::new({
    let mut t = [0u8; 32];
    t[31] = 0x01;
    t
});

macro_rules! send {
    ($call:expr) => {{
        let receipt = $call
            .send()
            .await
            .expect("send")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(receipt.status(), "transaction reverted");
        receipt
    }};
}

/// The EIP-1271 account of the contracts' test fixtures (contracts/test).
mod fixtures {
    alloy::sol!(
        #[sol(rpc)]
        #[derive(Debug)]
        SmartWallet,
        "../../contracts/artifacts/SmartWallet.json"
    );
}

/// Where a test's market keeps its orderbook; a restarted market reopens the same one.
enum Storage {
    Memory,
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "postgres")]
    Postgres(String),
}

impl Storage {
    fn sqlite() -> Storage {
        Storage::Sqlite(tempfile::tempdir().unwrap())
    }

    /// `ARCA_TEST_POSTGRES_URL` pointed at a freshly created `schema`, or `None` (skipped, said).
    #[cfg(feature = "postgres")]
    fn postgres(schema: &str) -> Option<Storage> {
        let Ok(base) = std::env::var("ARCA_TEST_POSTGRES_URL") else {
            // straight to stderr: libtest captures print!/eprint! of passing tests, not this
            use std::io::Write as _;
            // one write, so lines of parallel tests do not interleave
            let line = format!(
                "SKIPPED Postgres test ({schema}): ARCA_TEST_POSTGRES_URL is not set (see scripts/test.d/47-postgres.sh)\n"
            );
            let _ = std::io::stderr().write_all(line.as_bytes());
            return None;
        };
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}");
        let admin = base.clone();
        // the sync client must not run on the test's runtime thread
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls)
                .expect("ARCA_TEST_POSTGRES_URL connects");
            c.batch_execute(&sql).unwrap();
        })
        .join()
        .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(Storage::Postgres(format!(
            "{base}{sep}options=-csearch_path%3D{schema}"
        )))
    }

    /// The store itself, as the market opens it.
    fn open(&self) -> Option<Arc<dyn Store>> {
        match self {
            Storage::Memory | Storage::Sqlite(_) => None,
            #[cfg(feature = "postgres")]
            Storage::Postgres(url) => Some(Arc::new(arca_market::PgStore::open(url).unwrap())),
        }
    }

    fn reopen(&self) -> Arc<dyn Store> {
        match self {
            Storage::Sqlite(dir) => Arc::new(arca_market::SqliteStore::open(dir.path()).unwrap()),
            other => other.open().expect("a persistent store"),
        }
    }
}

/// A chain with the contracts, one app, one dataset, one pool, and funded actors.
struct World {
    _node: arca_chain::NodeHandle,
    url: String,
    chain_id: u64,
    hub: IexecHubInstance<DynProvider>,
    provider: DynProvider,
    app_owner: PrivateKeySigner,
    dataset_owner: PrivateKeySigner,
    scheduler: PrivateKeySigner,
    requester: PrivateKeySigner,
    stranger: PrivateKeySigner,
    app: Address,
    dataset: Address,
    workerpool: Address,
}

impl World {
    async fn new() -> World {
        let node = arca_chain::spawn(arca_chain::NodeConfig::test())
            .await
            .expect("chain");
        let url = node.http_url();
        let s = node.dev_signers().to_vec();
        let key = format!("0x{}", alloy::hex::encode(s[0].to_bytes()));
        let deployment = arca_contracts::deploy(&url, &key).await.expect("deploy");
        let mut wallet = EthereumWallet::new(s[0].clone());
        for signer in &s[1..] {
            wallet.register_signer(signer.clone());
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(url.parse().unwrap())
            .erased();
        let chain_id = provider.get_chain_id().await.unwrap();
        let hub = IexecHubInstance::new(deployment.hub, provider.clone());
        let token = RLC::new(deployment.token, provider.clone());
        let (app_owner, dataset_owner, scheduler, requester, stranger) = (
            s[1].clone(),
            s[2].clone(),
            s[3].clone(),
            s[4].clone(),
            s[5].clone(),
        );
        for actor in [scheduler.address(), requester.address()] {
            send!(token.transfer(actor, U256::from(10_000_000_000u64)));
            send!(
                token
                    .approve(deployment.hub, U256::from(1_000_000_000u64))
                    .from(actor)
            );
            send!(hub.deposit(U256::from(1_000_000_000u64)).from(actor));
        }
        let apps = AppRegistry::new(deployment.app_registry, provider.clone());
        let create = apps.createApp(
            app_owner.address(),
            "app".into(),
            "DOCKER".into(),
            Bytes::from_static(b"registry/app:1.0"),
            B256::repeat_byte(1),
            Bytes::new(),
        );
        let app = create.call().await.unwrap();
        send!(create.from(app_owner.address()));
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
        World {
            _node: node,
            url,
            chain_id,
            hub,
            provider,
            app_owner,
            dataset_owner,
            scheduler,
            requester,
            stranger,
            app,
            dataset,
            workerpool,
        }
    }

    async fn market(&self, storage: &Storage) -> (MarketHandle, Client) {
        let config = MarketConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: match storage {
                Storage::Sqlite(dir) => Some(dir.path().to_path_buf()),
                _ => None,
            },
            poll_interval: Duration::from_millis(50),
            ..MarketConfig::new(self.url.clone(), *self.hub.address())
        };
        let handle = match storage.open() {
            Some(store) => arca_market::spawn_with_store(config, store).await,
            None => arca_market::spawn(config).await,
        }
        .expect("market");
        let client = Client::new(handle.url(), self.chain_id);
        (handle, client)
    }

    fn sign(&self, mut order: Order, signer: &PrivateKeySigner) -> Order {
        let hash = order.hash(&poco_domain(self.chain_id, *self.hub.address()));
        let sign = Bytes::from(signer.sign_hash_sync(&hash).unwrap().as_bytes().to_vec());
        match &mut order {
            Order::App(o) => o.sign = sign,
            Order::Dataset(o) => o.sign = sign,
            Order::Workerpool(o) => o.sign = sign,
            Order::Request(o) => o.sign = sign,
        }
        order
    }

    fn hash(&self, order: &Order) -> B256 {
        order.hash(&poco_domain(self.chain_id, *self.hub.address()))
    }

    fn app_order(&self, price: u64, salt: u8) -> AppOrder {
        AppOrder {
            app: self.app,
            appprice: price.into(),
            volume: 10.into(),
            tag: B256::ZERO,
            datasetrestrict: Address::ZERO,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::repeat_byte(salt),
            sign: Bytes::new(),
        }
    }

    fn dataset_order(&self) -> DatasetOrder {
        DatasetOrder {
            dataset: self.dataset,
            datasetprice: 5.into(),
            volume: 10.into(),
            tag: B256::ZERO,
            apprestrict: Address::ZERO,
            workerpoolrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::repeat_byte(0xd0),
            sign: Bytes::new(),
        }
    }

    fn workerpool_order(&self, category: u64, trust: u64, tag: B256, salt: u8) -> WorkerpoolOrder {
        WorkerpoolOrder {
            workerpool: self.workerpool,
            workerpoolprice: 100.into(),
            volume: 1000.into(),
            tag,
            category: category.into(),
            trust: trust.into(),
            apprestrict: Address::ZERO,
            datasetrestrict: Address::ZERO,
            requesterrestrict: Address::ZERO,
            salt: B256::repeat_byte(salt),
            sign: Bytes::new(),
        }
    }

    fn request_order(&self, volume: u64) -> RequestOrder {
        RequestOrder {
            app: self.app,
            appmaxprice: 10.into(),
            dataset: Address::ZERO,
            datasetmaxprice: 0.into(),
            workerpool: Address::ZERO,
            workerpoolmaxprice: 100.into(),
            requester: self.requester.address(),
            volume: volume.into(),
            tag: B256::ZERO,
            category: 0.into(),
            trust: 0.into(),
            beneficiary: self.requester.address(),
            callback: Address::ZERO,
            params: "{\"iexec_args\":\"hello\"}".into(),
            salt: B256::repeat_byte(0xf0),
            sign: Bytes::new(),
        }
    }
}

fn q() -> OrderQuery {
    OrderQuery::default()
}

fn hashes(page: &arca_market::OrderPage) -> Vec<B256> {
    page.orders.iter().map(|o| o.order_hash).collect()
}

fn remote_status(err: MarketError) -> (u16, String) {
    match err {
        MarketError::Remote { status, message } => (status, message),
        other => panic!("expected a refusal from the market, got {other}"),
    }
}

/// Polls until `check` holds (the follower runs every 50 ms), at most 10 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn on_app(o: &Order) -> onchain::AppOrder {
    let Order::App(o) = o else { unreachable!() };
    onchain::AppOrder {
        app: o.app,
        appprice: o.appprice.0,
        volume: o.volume.0,
        tag: o.tag,
        datasetrestrict: o.datasetrestrict,
        workerpoolrestrict: o.workerpoolrestrict,
        requesterrestrict: o.requesterrestrict,
        salt: o.salt,
        sign: o.sign.clone(),
    }
}

fn on_workerpool(o: &Order) -> onchain::WorkerpoolOrder {
    let Order::Workerpool(o) = o else {
        unreachable!()
    };
    onchain::WorkerpoolOrder {
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
        sign: o.sign.clone(),
    }
}

fn on_request(o: &Order) -> onchain::RequestOrder {
    let Order::Request(o) = o else { unreachable!() };
    onchain::RequestOrder {
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
        sign: o.sign.clone(),
    }
}

fn no_dataset() -> onchain::DatasetOrder {
    onchain::DatasetOrder {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_and_query_with_every_filter() {
    publish_and_query_with_every_filter_on(Storage::Memory).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_publish_and_query_with_every_filter() {
    if let Some(storage) = Storage::postgres("market_it_query") {
        publish_and_query_with_every_filter_on(storage).await;
    }
}

async fn publish_and_query_with_every_filter_on(storage: Storage) {
    let w = World::new().await;
    let (_market, client) = w.market(&storage).await;

    // 11 public app orders, prices 20, 19 … 10 (published most expensive first)
    let mut app_hashes = Vec::new();
    for i in 0..11u8 {
        let order = w.sign(
            Order::App(w.app_order(20 - u64::from(i), i + 1)),
            &w.app_owner,
        );
        let published = client.publish(&order).await.expect("publish app order");
        assert_eq!(published.status, "open");
        assert_eq!(published.remaining, 10.into());
        assert_eq!(published.signer, w.app_owner.address());
        assert_eq!(published.order_hash, w.hash(&order));
        app_hashes.push(published.order_hash);
    }
    // one more, restricted to the dataset, TEE-tagged
    let mut restricted = w.app_order(1, 0x77);
    restricted.datasetrestrict = w.dataset;
    restricted.tag = TEE;
    let restricted = w.sign(Order::App(restricted), &w.app_owner);
    let restricted_hash = client.publish(&restricted).await.unwrap().order_hash;

    // sort by price ascending, pagination by pageIndex/pageSize
    let by_app = OrderQuery {
        app: Some(w.app.to_string()),
        page_size: Some("10".into()),
        ..q()
    };
    let first = client.orderbook(OrderKind::App, &by_app).await.unwrap();
    assert_eq!(
        first.count, 11,
        "the dataset-restricted order is not public"
    );
    assert_eq!(first.next_page, Some(1));
    let cheapest_first: Vec<B256> = app_hashes.iter().rev().copied().collect();
    assert_eq!(hashes(&first), cheapest_first[..10]);
    let second = client
        .orderbook(
            OrderKind::App,
            &OrderQuery {
                page_index: Some("1".into()),
                ..by_app.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(hashes(&second), cheapest_first[10..]);
    assert_eq!(second.next_page, None);

    // dataset restriction: non-strict includes public orders, strict only the restricted one
    let with_dataset = OrderQuery {
        app: Some(w.app.to_string()),
        dataset: Some(w.dataset.to_string()),
        page_size: Some("100".into()),
        ..q()
    };
    let page = client
        .orderbook(OrderKind::App, &with_dataset)
        .await
        .unwrap();
    assert_eq!(page.count, 12);
    assert_eq!(page.orders[0].order_hash, restricted_hash, "cheapest first");
    let strict = OrderQuery {
        is_dataset_strict: Some("true".into()),
        ..with_dataset.clone()
    };
    assert_eq!(
        hashes(&client.orderbook(OrderKind::App, &strict).await.unwrap()),
        [restricted_hash]
    );
    // tags: minTag keeps orders having the bits, maxTag those within the bits
    let tee_only = OrderQuery {
        min_tag: Some(TEE.to_string()),
        ..with_dataset.clone()
    };
    assert_eq!(
        hashes(&client.orderbook(OrderKind::App, &tee_only).await.unwrap()),
        [restricted_hash]
    );
    let no_tee = OrderQuery {
        max_tag: Some(B256::ZERO.to_string()),
        ..with_dataset.clone()
    };
    assert_eq!(
        client
            .orderbook(OrderKind::App, &no_tee)
            .await
            .unwrap()
            .count,
        11
    );
    // owner instead of app; another app's book is empty; minVolume
    let by_owner = OrderQuery {
        app_owner: Some(w.app_owner.address().to_string()),
        ..q()
    };
    assert_eq!(
        client
            .orderbook(OrderKind::App, &by_owner)
            .await
            .unwrap()
            .count,
        11
    );
    let other = OrderQuery {
        app: Some(w.dataset.to_string()),
        ..q()
    };
    assert_eq!(
        client
            .orderbook(OrderKind::App, &other)
            .await
            .unwrap()
            .count,
        0
    );
    let big = OrderQuery {
        min_volume: Some("11".into()),
        ..by_app.clone()
    };
    assert_eq!(
        client.orderbook(OrderKind::App, &big).await.unwrap().count,
        0
    );
    // requester restriction
    let mut for_requester = w.app_order(3, 0x78);
    for_requester.requesterrestrict = w.requester.address();
    let for_requester = w.sign(Order::App(for_requester), &w.app_owner);
    let for_requester = client.publish(&for_requester).await.unwrap().order_hash;
    let as_requester = OrderQuery {
        requester: Some(w.requester.address().to_string()),
        is_requester_strict: Some("true".into()),
        ..by_app.clone()
    };
    assert_eq!(
        hashes(
            &client
                .orderbook(OrderKind::App, &as_requester)
                .await
                .unwrap()
        ),
        [for_requester]
    );

    // dataset orders
    let dataset_order = w.sign(Order::Dataset(w.dataset_order()), &w.dataset_owner);
    let dataset_hash = client.publish(&dataset_order).await.unwrap().order_hash;
    let by_dataset = OrderQuery {
        dataset: Some(w.dataset.to_string()),
        ..q()
    };
    assert_eq!(
        hashes(
            &client
                .orderbook(OrderKind::Dataset, &by_dataset)
                .await
                .unwrap()
        ),
        [dataset_hash]
    );
    let any = OrderQuery {
        dataset: Some("any".into()),
        ..q()
    };
    assert_eq!(
        client
            .orderbook(OrderKind::Dataset, &any)
            .await
            .unwrap()
            .count,
        1
    );

    // workerpool orders: category and minTrust
    let cat0 = w.sign(
        Order::Workerpool(w.workerpool_order(0, 1, B256::ZERO, 0xe0)),
        &w.scheduler,
    );
    let cat1 = w.sign(
        Order::Workerpool(w.workerpool_order(1, 5, TEE, 0xe1)),
        &w.scheduler,
    );
    let cat0 = client.publish(&cat0).await.unwrap().order_hash;
    let cat1 = client.publish(&cat1).await.unwrap().order_hash;
    let pools = |category: &str, trust: Option<&str>| OrderQuery {
        category: Some(category.into()),
        min_trust: trust.map(Into::into),
        ..q()
    };
    assert_eq!(
        hashes(
            &client
                .orderbook(OrderKind::Workerpool, &pools("0", None))
                .await
                .unwrap()
        ),
        [cat0]
    );
    assert_eq!(
        hashes(
            &client
                .orderbook(OrderKind::Workerpool, &pools("1", Some("5")))
                .await
                .unwrap()
        ),
        [cat1]
    );
    assert_eq!(
        client
            .orderbook(OrderKind::Workerpool, &pools("1", Some("6")))
            .await
            .unwrap()
            .count,
        0
    );
    let by_pool = OrderQuery {
        workerpool: Some(w.workerpool.to_string()),
        ..q()
    };
    assert_eq!(
        client
            .orderbook(OrderKind::Workerpool, &by_pool)
            .await
            .unwrap()
            .count,
        2
    );

    // request orders: requester, app, category
    let request = w.sign(Order::Request(w.request_order(3)), &w.requester);
    let request_hash = client.publish(&request).await.unwrap().order_hash;
    let mine = OrderQuery {
        requester: Some(w.requester.address().to_string()),
        app: Some(w.app.to_string()),
        category: Some("0".into()),
        ..q()
    };
    assert_eq!(
        hashes(&client.orderbook(OrderKind::Request, &mine).await.unwrap()),
        [request_hash]
    );
    let elsewhere = OrderQuery {
        category: Some("1".into()),
        ..mine
    };
    assert_eq!(
        client
            .orderbook(OrderKind::Request, &elsewhere)
            .await
            .unwrap()
            .count,
        0
    );

    // one by hash, under its own kind only
    let got = client
        .order(OrderKind::Request, request_hash)
        .await
        .unwrap();
    assert_eq!(got.order["params"], "{\"iexec_args\":\"hello\"}");
    assert_eq!(got.chain_id, w.chain_id);
    let (status, _) = remote_status(
        client
            .order(OrderKind::App, request_hash)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_bad_orders_with_a_named_field() {
    let w = World::new().await;
    let (market, client) = w.market(&Storage::Memory).await;

    // signed by someone else than the app owner
    let forged = w.sign(Order::App(w.app_order(1, 1)), &w.stranger);
    let (status, message) = remote_status(client.publish(&forged).await.unwrap_err());
    assert_eq!(status, 400);
    assert!(message.starts_with("order.sign:"), "{message}");
    assert!(
        message.contains(&w.stranger.address().to_string()),
        "names the signer: {message}"
    );
    // a request order signed by the app owner instead of the requester
    let wrong = w.sign(Order::Request(w.request_order(1)), &w.app_owner);
    let (status, message) = remote_status(client.publish(&wrong).await.unwrap_err());
    assert_eq!(
        (status, message.starts_with("order.sign:")),
        (400, true),
        "{message}"
    );
    // garbage signature bytes
    let mut garbage = w.app_order(1, 2);
    garbage.sign = Bytes::from_static(b"\x01\x02");
    let (status, message) = remote_status(client.publish(&Order::App(garbage)).await.unwrap_err());
    assert_eq!(
        (status, message.starts_with("order.sign:")),
        (400, true),
        "{message}"
    );
    // an app the registry does not know
    let mut unknown = w.app_order(1, 3);
    unknown.app = w.stranger.address();
    let unknown = w.sign(Order::App(unknown), &w.stranger);
    let (status, message) = remote_status(client.publish(&unknown).await.unwrap_err());
    assert_eq!(status, 400);
    assert!(
        message.starts_with("order.app:") && message.contains("not a registered app"),
        "{message}"
    );
    // nothing left: volume 0, or cancelled on chain before publication
    let mut empty = w.app_order(1, 4);
    empty.volume = 0.into();
    let empty = w.sign(Order::App(empty), &w.app_owner);
    let (status, message) = remote_status(client.publish(&empty).await.unwrap_err());
    assert_eq!(status, 400);
    assert!(message.contains("remaining volume is 0"), "{message}");
    let cancelled = w.sign(Order::App(w.app_order(1, 5)), &w.app_owner);
    let op = onchain::AppOrderOperation {
        order: on_app(&cancelled),
        operation: 1,
        sign: Bytes::new(),
    };
    send!(w.hub.manageAppOrder(op).from(w.app_owner.address()));
    let (status, message) = remote_status(client.publish(&cancelled).await.unwrap_err());
    assert_eq!(
        (status, message.contains("remaining volume is 0")),
        (400, true),
        "{message}"
    );

    // a presigned order (empty sign, SIGN operation on chain) is accepted via the hub's verifier
    let mut presigned = w.app_order(1, 6);
    let op = onchain::AppOrderOperation {
        order: on_app(&Order::App(presigned.clone())),
        operation: 0,
        sign: Bytes::new(),
    };
    send!(w.hub.manageAppOrder(op).from(w.app_owner.address()));
    presigned.sign = Bytes::new();
    let presigned = client
        .publish(&Order::App(presigned))
        .await
        .expect("presigned order");
    assert_eq!(presigned.signer, w.app_owner.address());
    // published twice
    let again: Order = Order::from_json(OrderKind::App, presigned.order.clone()).unwrap();
    let (status, message) = remote_status(client.publish(&again).await.unwrap_err());
    assert_eq!(status, 409, "{message}");

    // malformed input over raw HTTP: 4xx with the field, never a 500
    let http = reqwest::Client::new();
    let base = format!("{}/apporders", market.url());
    let cases: [(&str, String, &str); 5] = [
        ("?chainId=1", "{}".into(), "chainId"),
        ("", "{}".into(), "chainId"),
        ("?chainId=CHAIN", "{not json".into(), "malformed JSON"),
        ("?chainId=CHAIN", "{\"nope\":1}".into(), "order: missing"),
        (
            "?chainId=CHAIN",
            "{\"order\":{\"app\":\"0x12\"}}".into(),
            "order: not a valid signed apporder",
        ),
    ];
    for (query, body, expect) in cases {
        let query = query.replace("CHAIN", &w.chain_id.to_string());
        let response = http
            .post(format!("{base}{query}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let json: serde_json::Value = response.json().await.unwrap();
        assert_eq!(json["ok"], false);
        assert!(json["error"].as_str().unwrap().contains(expect), "{json}");
    }
    let response = http
        .get(format!("{base}?chainId={}&app=nope", w.chain_id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let json: serde_json::Value = response.json().await.unwrap();
    assert!(
        json["error"].as_str().unwrap().starts_with("app: "),
        "{json}"
    );
    // unpublish needs the owner's login
    let response = http
        .put(format!("{base}?chainId={}", w.chain_id))
        .body("{\"target\":\"unpublish_all\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let by_stranger = client
        .unpublish(
            OrderKind::App,
            &w.stranger,
            &UnpublishRequest {
                target: "unpublish_orderHash".into(),
                order_hash: Some(presigned.order_hash),
                ..UnpublishRequest::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(remote_status(by_stranger).0, 401);
    let done = client
        .unpublish(
            OrderKind::App,
            &w.app_owner,
            &UnpublishRequest {
                target: "unpublish_last".into(),
                app: Some(w.app),
                ..UnpublishRequest::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(done, [presigned.order_hash]);
    let book = OrderQuery {
        app: Some(w.app.to_string()),
        ..q()
    };
    assert_eq!(
        client.orderbook(OrderKind::App, &book).await.unwrap().count,
        0
    );
    assert_eq!(
        client
            .order(OrderKind::App, presigned.order_hash)
            .await
            .unwrap()
            .status,
        "canceled"
    );

    // a contract requester (EIP-1271): its key's signature is accepted through the hub's
    // verifier, another key's is refused
    let key = &w.stranger;
    let wallet = fixtures::SmartWallet::deploy(w.provider.clone(), key.address(), vec![])
        .await
        .unwrap();
    let mut by_contract = w.request_order(1);
    by_contract.requester = *wallet.address();
    by_contract.beneficiary = *wallet.address();
    let published = client
        .publish(&w.sign(Order::Request(by_contract.clone()), key))
        .await
        .expect("EIP-1271 request order");
    assert_eq!(published.signer, *wallet.address());
    by_contract.salt = B256::repeat_byte(0x55);
    let (status, message) = remote_status(
        client
            .publish(&w.sign(Order::Request(by_contract), &w.requester))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status, message.starts_with("order.sign:")),
        (400, true),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_matches_and_cancels_and_survives_restarts() {
    follows_matches_and_cancels_and_survives_restarts_on(Storage::sqlite()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_follows_matches_and_cancels_and_survives_restarts() {
    if let Some(storage) = Storage::postgres("market_it_follow") {
        follows_matches_and_cancels_and_survives_restarts_on(storage).await;
    }
}

async fn follows_matches_and_cancels_and_survives_restarts_on(storage: Storage) {
    let w = World::new().await;
    let (market, client) = w.market(&storage).await;

    let app = w.sign(Order::App(w.app_order(10, 1)), &w.app_owner);
    let pool = w.sign(
        Order::Workerpool(w.workerpool_order(0, 1, B256::ZERO, 0xe0)),
        &w.scheduler,
    );
    let request = w.sign(Order::Request(w.request_order(10)), &w.requester);
    for order in [&app, &pool, &request] {
        client.publish(order).await.expect("publish");
    }
    // the deal consumes the app order's whole volume (10) and 10 of the pool's 1000
    send!(
        w.hub
            .matchOrders(
                on_app(&app),
                no_dataset(),
                on_workerpool(&pool),
                on_request(&request)
            )
            .from(w.requester.address())
    );
    let apps = OrderQuery {
        app: Some(w.app.to_string()),
        ..q()
    };
    eventually("the filled app order leaves the orderbook", || async {
        client.orderbook(OrderKind::App, &apps).await.unwrap().count == 0
    })
    .await;
    let filled = client.order(OrderKind::App, w.hash(&app)).await.unwrap();
    assert_eq!(
        (filled.status.as_str(), filled.remaining),
        ("filled", 0.into())
    );
    // the follower updates the deal's orders one by one (each from its own chain read), so the
    // request order may be marked a moment after the app order
    eventually("the request order is marked filled", || async {
        client
            .order(OrderKind::Request, w.hash(&request))
            .await
            .unwrap()
            .status
            == "filled"
    })
    .await;
    let pools = OrderQuery {
        category: Some("0".into()),
        ..q()
    };
    eventually("the pool order's remaining volume drops to 990", || async {
        let open = client
            .orderbook(OrderKind::Workerpool, &pools)
            .await
            .unwrap();
        open.orders.len() == 1 && open.orders[0].remaining == 990.into()
    })
    .await;

    // the scheduler cancels its pool order on chain
    let op = onchain::WorkerpoolOrderOperation {
        order: on_workerpool(&pool),
        operation: 1,
        sign: Bytes::new(),
    };
    send!(w.hub.manageWorkerpoolOrder(op).from(w.scheduler.address()));
    eventually("the cancelled pool order leaves the orderbook", || async {
        client
            .orderbook(OrderKind::Workerpool, &pools)
            .await
            .unwrap()
            .count
            == 0
    })
    .await;
    assert_eq!(
        client
            .order(OrderKind::Workerpool, w.hash(&pool))
            .await
            .unwrap()
            .status,
        "canceled"
    );

    // restart: published orders are still served
    let dataset = w.sign(Order::Dataset(w.dataset_order()), &w.dataset_owner);
    let dataset_hash = client.publish(&dataset).await.unwrap().order_hash;
    let second_app = w.sign(Order::App(w.app_order(10, 2)), &w.app_owner);
    let second_app_hash = client.publish(&second_app).await.unwrap().order_hash;
    market.shutdown().await;
    // while the market is down the app owner cancels its second order
    let op = onchain::AppOrderOperation {
        order: on_app(&second_app),
        operation: 1,
        sign: Bytes::new(),
    };
    send!(w.hub.manageAppOrder(op).from(w.app_owner.address()));

    let (_market, client) = w.market(&storage).await;
    let datasets = OrderQuery {
        dataset: Some(w.dataset.to_string()),
        ..q()
    };
    assert_eq!(
        hashes(
            &client
                .orderbook(OrderKind::Dataset, &datasets)
                .await
                .unwrap()
        ),
        [dataset_hash]
    );
    // caught up before listening: the order cancelled during the downtime is already hidden
    assert_eq!(
        client.orderbook(OrderKind::App, &apps).await.unwrap().count,
        0
    );
    assert_eq!(
        client
            .order(OrderKind::App, second_app_hash)
            .await
            .unwrap()
            .status,
        "canceled"
    );
    assert_eq!(
        client
            .order(OrderKind::App, w.hash(&app))
            .await
            .unwrap()
            .status,
        "filled"
    );

    // the store keeps statuses as written
    let store = storage.reopen();
    assert_eq!(
        store.get(dataset_hash).unwrap().unwrap().status,
        Status::Open
    );
}
