//! At start the scheduler publishes its workerpool order, signed by the owner, to a real market.

mod common;

use alloy::primitives::{B256, U256};
use arca_market::{MarketConfig, OrderKind, OrderQuery};
use arca_scheduler::OrderSettings;
use arca_testkit::Stack;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workerpool_order_is_published_at_start() {
    init_tracing();
    let stack = Stack::start().await;
    let pool = stack.workerpool("pool").await;
    let mut market_config = MarketConfig::new(stack.rpc.clone(), stack.deployment.hub);
    market_config.listen = "127.0.0.1:0".parse().unwrap();
    let market = arca_market::spawn(market_config).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = scheduler_config(&stack, pool, data.path());
    config.market_url = Some(market.url());
    config.order = Some(OrderSettings {
        price: U256::from(5),
        category: 0,
        tag: B256::ZERO,
        trust: 1,
        volume: 10,
    });
    let scheduler = arca_scheduler::spawn(config).await.unwrap();
    let book = arca_market::Client::new(market.url(), stack.deployment.chain_id)
        .orderbook(
            OrderKind::Workerpool,
            &OrderQuery {
                workerpool: Some(pool.to_string()),
                ..OrderQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(book.count, 1);
    let order = serde_json::to_value(&book.orders[0].order).unwrap();
    assert_eq!(order["workerpoolprice"], 5);
    assert_eq!(order["volume"], 10);
    assert_eq!(
        order["workerpool"].as_str().unwrap().to_lowercase(),
        pool.to_string().to_lowercase()
    );
    scheduler.shutdown().await;
}
