//! The fixtures do what they say against the real chain: a matched deal exists with the
//! requested app, dataset and tag, and an initialized task is ACTIVE.

use alloy::primitives::B256;
use arca_client::poco::task_status_name;
use arca_testkit::{DealSpec, Stack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tee_deal_with_a_dataset_is_matched_and_its_task_initialized() {
    let stack = Stack::start().await;
    let app = stack.app("app", "arca/app:1", B256::ZERO, "{}").await;
    let dataset = stack
        .dataset("data", "/ipfs/bafk", B256::repeat_byte(7))
        .await;
    let pool = stack.workerpool("pool").await;
    let spec = DealSpec::new(&stack, app, pool)
        .tee()
        .dataset(dataset)
        .params(r#"{"iexec_args":"hello"}"#);
    let deal_id = stack.deal(&spec).await;
    let client = stack.client(&stack.actors.requester).await;
    let deal = client.deal(deal_id).await.unwrap();
    assert_eq!(deal.app.pointer, app);
    assert_eq!(deal.dataset.pointer, dataset);
    assert_eq!(deal.workerpool.pointer, pool);
    assert_eq!(deal.tag, B256::with_last_byte(0x09));
    assert_eq!(deal.params, r#"{"iexec_args":"hello"}"#);
    let task_id = stack.initialize(deal_id, 0).await;
    assert_eq!(task_id, Stack::task_id(deal_id, 0));
    let task = client.task(task_id).await.unwrap();
    assert_eq!(task_status_name(task.status), "ACTIVE");
    assert_eq!(task.dealid, deal_id);
}
