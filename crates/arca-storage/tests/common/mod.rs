//! Shared fixture of the result-store tests: a real chain with PoCo (arca-testkit), a matched
//! standard trust-1 deal of two tasks (task 0 initialized, task 1 not), a store on port 0
//! over a temp directory, and the scheduler's authorization for worker 0.

#![allow(dead_code)] // each test binary uses a different subset

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::local::PrivateKeySigner;
use arca_storage::{Client, Config, StorageHandle, auth};
use arca_testkit::{DealSpec, Stack};
use std::net::SocketAddr;
use std::path::Path;

pub struct Fx {
    pub stack: Stack,
    pub deal_id: B256,
    /// Task 0: initialized (ACTIVE).
    pub task: B256,
    /// Task 1: not initialized (UNSET).
    pub uninitialized: B256,
    pub worker: PrivateKeySigner,
    /// The scheduler's WorkerpoolAuthorization of `worker` for `task`.
    pub authorization: Bytes,
    pub dir: tempfile::TempDir,
    pub store: StorageHandle,
    pub client: Client,
}

pub fn config(stack: &Stack, dir: &Path, max: u64) -> Config {
    let mut c = Config::new(stack.rpc.clone(), stack.deployment.hub, dir);
    c.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    c.max_upload_bytes = max;
    c
}

/// The scheduler's signature authorizing `worker` on `task` (standard task: zero challenge).
pub fn authorize(signer: &PrivateKeySigner, worker: Address, task: B256) -> Bytes {
    auth::personal_sign(
        signer,
        auth::authorization_hash(worker, task, Address::ZERO),
    )
}

/// Deterministic pseudo-random bytes (xorshift), so ranges and chunk boundaries are meaningful.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

impl Fx {
    pub async fn start() -> Fx {
        Self::start_with_limit(arca_storage::DEFAULT_MAX_UPLOAD).await
    }

    pub async fn start_with_limit(max: u64) -> Fx {
        let stack = Stack::start().await;
        let app = stack.app("app", "arca/app:1", B256::ZERO, "").await;
        let pool = stack.workerpool("pool").await;
        let mut spec = DealSpec::new(&stack, app, pool);
        spec.volume = 2;
        let deal_id = stack.deal(&spec).await;
        let task = stack.initialize(deal_id, 0).await;
        let uninitialized = Stack::task_id(deal_id, 1);
        let worker = stack.actors.workers[0].clone();
        let authorization = authorize(&stack.actors.scheduler, worker.address(), task);
        let dir = tempfile::tempdir().unwrap();
        let store = arca_storage::spawn(config(&stack, dir.path(), max))
            .await
            .expect("starting the result store");
        let client = Client::new(store.url())
            .unwrap()
            .with_retries(3, std::time::Duration::from_millis(50));
        Fx {
            stack,
            deal_id,
            task,
            uninitialized,
            worker,
            authorization,
            dir,
            store,
            client,
        }
    }

    /// Finalizes `task` on chain (trust 1: contributeAndFinalize by the worker) with result
    /// link `location`.
    pub async fn complete(&self, task: B256, location: &str) {
        let auth = authorize(&self.stack.actors.scheduler, self.worker.address(), task);
        let results = format!(r#"{{"storage":"ipfs","location":"{location}"}}"#);
        self.stack
            .client(&self.worker)
            .await
            .contribute_and_finalize(
                task,
                B256::repeat_byte(0x42),
                Bytes::from(results.into_bytes()),
                Bytes::new(),
                Address::ZERO,
                Bytes::new(),
                auth,
            )
            .await
            .expect("contributeAndFinalize");
        let status = self
            .stack
            .client(&self.worker)
            .await
            .task(task)
            .await
            .unwrap()
            .status;
        assert_eq!(arca_client::poco::task_status_name(status), "COMPLETED");
    }
}

/// The check name of a refusal the client got, with its status.
pub fn refusal(e: &arca_storage::StorageError) -> (u16, String) {
    match e {
        arca_storage::StorageError::Remote { status, check, .. } => (*status, check.clone()),
        other => panic!("expected a refusal from the store, got {other}"),
    }
}
