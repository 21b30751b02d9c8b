//! One complete worker process, as `arca up` runs N of them and `arca worker` runs one: the agent
//! (talks to the scheduler, sends the worker's transactions) driving the container pipeline
//! (pre-compute, app, post-compute), whose results go to Arca's result store.

use crate::{Result, StackError};
use alloy::primitives::B256;
use alloy::signers::local::PrivateKeySigner;
use arca_client::project::ChainConf;
use arca_worker::agent::{AgentConfig, AgentHandle, BoxFuture, Execute};
use arca_worker::pipeline::{PipelineContext, run_replicate};
use arca_worker::store::ResultStore;
use arca_worker::task::{ReplicateOutcome, ReplicateSpec, WorkerpoolAuthorization};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one worker needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The chain (host and hub).
    pub chain: ChainConf,
    /// The worker's wallet (pays its gas, signs its contributions).
    pub signer: PrivateKeySigner,
    /// Its scheduler.
    pub scheduler_url: String,
    /// The result store results are uploaded to (also the IPFS gateway for `/ipfs/` inputs).
    pub storage_url: String,
    /// Docker daemon (`unix://…`); `None`: `DOCKER_HOST` or the default socket.
    pub docker_host: Option<String>,
    /// Task directories.
    pub work_dir: PathBuf,
    /// Take TEE tasks with the simulated enclave (dev only: the SMS must run in dev mode).
    pub sim_tee: bool,
    /// Directories `file://` dataset and input URLs may point into (empty: refused).
    pub file_url_roots: Vec<PathBuf>,
    /// Replicates run at once.
    pub max_parallel: u32,
}

/// Uploads result archives to Arca's result store, authenticated by the worker's key and the
/// scheduler's authorization.
#[derive(Debug)]
pub struct StorageUploader {
    client: arca_storage::Client,
    worker: PrivateKeySigner,
}

#[async_trait::async_trait]
impl ResultStore for StorageUploader {
    async fn upload(
        &self,
        task_id: B256,
        archive: &Path,
        authorization: &WorkerpoolAuthorization,
    ) -> arca_worker::Result<String> {
        let receipt = self
            .client
            .upload(
                task_id,
                archive.to_path_buf(),
                &self.worker,
                authorization.signature.clone(),
                authorization.enclave_challenge,
            )
            .await
            .map_err(|e| {
                arca_worker::Error::ResultStore(format!("uploading to {}: {e}", self.client.url()))
            })?;
        Ok(receipt.location)
    }
}

/// The container pipeline as the agent's executor.
struct Pipeline(PipelineContext);

impl Execute for Pipeline {
    fn execute<'a>(&'a self, spec: &'a ReplicateSpec) -> BoxFuture<'a, ReplicateOutcome> {
        Box::pin(run_replicate(spec, &self.0))
    }
}

/// Connects to Docker and the chain, then starts the agent loop.
pub async fn spawn_worker(config: WorkerConfig) -> Result<AgentHandle> {
    std::fs::create_dir_all(&config.work_dir).map_err(|e| StackError::io(&config.work_dir, e))?;
    let runner = match &config.docker_host {
        Some(host) => arca_worker::ContainerRunner::connect(host).await,
        None => arca_worker::ContainerRunner::from_env().await,
    }
    .map_err(|e| StackError::part("the worker's Docker daemon", e))?;
    let storage = arca_storage::Client::new(config.storage_url.clone())
        .map_err(|e| StackError::part("the result store client", e))?;
    let store = Arc::new(StorageUploader {
        client: storage,
        worker: config.signer.clone(),
    });
    let mut ctx = PipelineContext::new(runner, &config.work_dir, config.signer.clone(), store);
    ctx.ipfs_gateway = Some(config.storage_url.clone());
    ctx.file_url_roots = config.file_url_roots.clone();
    if config.sim_tee {
        ctx.dev_pki = Some(Arc::new(arca_tee::dev::DevPki::default()));
    }
    let mut agent = AgentConfig::new(
        config.scheduler_url.clone(),
        config.signer.clone(),
        config.chain.clone(),
    );
    agent.tee_capable = config.sim_tee;
    agent.max_parallel = config.max_parallel;
    agent.poll_interval = std::time::Duration::from_millis(200);
    let api = Arc::new(arca_scheduler::client::Client::new(
        config.scheduler_url.clone(),
    ));
    arca_worker::agent::spawn(agent, api, Arc::new(Pipeline(ctx)))
        .await
        .map_err(|e| StackError::part("the worker agent", e))
}
