//! The workerpool's services as separate processes, for deployments beyond one machine:
//! `arca scheduler` (one per workerpool), `arca worker` (any number, wherever a Docker daemon
//! runs) and `arca storage serve` (the result store). `arca up` runs the same code in one process.

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context as _, bail};
use arca_client::project::ChainConf;
use clap::Args;
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

/// Where the chain is.
#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    /// JSON-RPC endpoint of the chain.
    #[arg(long, default_value = "http://127.0.0.1:8545", env = "ARCA_RPC_URL")]
    rpc: String,
    /// Address of the PoCo hub (see `arca deploy`).
    #[arg(long, env = "ARCA_HUB")]
    hub: Address,
}

impl ChainArgs {
    fn conf(&self) -> ChainConf {
        ChainConf {
            host: Some(self.rpc.clone()),
            hub: Some(self.hub.to_checksum(None)),
            ..ChainConf::default()
        }
    }
}

/// Reads a private key from the environment variable `var` (hex, `0x` optional).
fn key_from_env(var: &str, role: &str) -> anyhow::Result<PrivateKeySigner> {
    let text = std::env::var(var).map_err(|_| {
        anyhow::anyhow!(
            "no {role} key: set {var} to its private key (0x + 64 hex digits); keys are never taken on the command line, where `ps` would show them"
        )
    })?;
    text.trim().parse().map_err(|e| {
        anyhow::anyhow!("{var} is not a private key ({e}): expected 0x + 64 hex digits")
    })
}

/// Options of `arca scheduler`.
#[derive(Debug, Args)]
pub(crate) struct SchedulerArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The workerpool this scheduler runs (its owner's key is in ARCA_SCHEDULER_KEY).
    #[arg(long, env = "ARCA_WORKERPOOL")]
    workerpool: Address,
    /// Address to listen on (the workers' and requesters' `workerpoolApi`).
    #[arg(long, default_value = "127.0.0.1:13000")]
    listen: SocketAddr,
    /// The SMS that issues TEE tasks' enclave challenges.
    #[arg(long, env = "ARCA_SMS_URL")]
    sms: Option<String>,
    /// The market API to publish the pool's order to.
    #[arg(long, env = "ARCA_MARKET_URL")]
    market: Option<String>,
    /// Keep tasks and replicates here (scheduler.sqlite); in memory if absent. Not with
    /// --postgres-url.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep tasks and replicates in this Postgres database instead:
    /// postgres://user:password@host:port/database (tables scheduler_*, created if needed; no
    /// TLS; one database per workerpool). Not with --data-dir.
    #[arg(
        long,
        env = "ARCA_SCHEDULER_POSTGRES_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    postgres_url: Option<String>,
    /// Publish a workerpool order at this price (nRLC); no order is published without it.
    #[arg(long)]
    price: Option<u64>,
    /// Category of the published order.
    #[arg(long, default_value_t = 0)]
    category: u64,
    /// Tag of the published order, e.g. `tee,tdx`.
    #[arg(long, default_value = "")]
    tag: String,
    /// Trust of the published order.
    #[arg(long, default_value_t = 1)]
    trust: u64,
    /// Volume of the published order.
    #[arg(long, default_value_t = 1000)]
    volume: u64,
    /// End a task early, refunding its requester, once this many distinct workers failed it
    /// for a cause retrying cannot fix (app exit code, image absent, checksum, secret refused…);
    /// at most the number of workers alive. 0: wait for the final deadline, as iExec does.
    #[arg(long, default_value_t = 2, value_name = "N")]
    fail_early_after: u32,
}

pub(crate) fn run_scheduler(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    if let (Some(_), Some(dir)) = (&args.postgres_url, &args.data_dir) {
        bail!(
            "--postgres-url (or ARCA_SCHEDULER_POSTGRES_URL) and --data-dir {} both given: the \
             scheduler's state lives in one store; keep one",
            dir.display()
        );
    }
    let owner = key_from_env("ARCA_SCHEDULER_KEY", "workerpool owner")?;
    let mut config =
        arca_scheduler::SchedulerConfig::new(args.chain.conf(), owner, args.workerpool);
    config.listen = args.listen;
    config.sms_url = args.sms.clone();
    config.market_url = args.market.clone();
    config.data_dir = args.data_dir.clone();
    config.postgres_url = args.postgres_url.clone();
    config.fail_early_after = args.fail_early_after;
    // the password of a Postgres URL is `***` here
    let state = arca_scheduler::store::describe_location(&config);
    if let Some(price) = args.price {
        let tag = if args.tag.is_empty() {
            alloy::primitives::B256::ZERO
        } else {
            arca_client::tags::parse(&args.tag).with_context(|| format!("--tag {}", args.tag))?
        };
        config.order = Some(arca_scheduler::OrderSettings {
            price: U256::from(price),
            category: args.category,
            tag,
            trust: args.trust,
            volume: args.volume,
        });
    }
    crate::output::block_on(async move {
        let handle = arca_scheduler::spawn(config)
            .await
            .with_context(|| format!("starting the scheduler of workerpool {}", args.workerpool))?;
        println!(
            "scheduler of workerpool {} listening on {}",
            args.workerpool,
            handle.url()
        );
        println!("State: {state}");
        super::up::wait_for_stop().await;
        handle.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Options of `arca worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The scheduler of the workerpool (its `workerpoolApi`); the key is in ARCA_WORKER_KEY.
    #[arg(long, env = "ARCA_SCHEDULER_URL")]
    scheduler: String,
    /// The result store results are uploaded to.
    #[arg(long, env = "ARCA_STORAGE_URL")]
    storage: String,
    /// Docker daemon (unix://…); default: DOCKER_HOST or /var/run/docker.sock.
    #[arg(long, env = "DOCKER_HOST")]
    docker_host: Option<String>,
    /// Task directories.
    #[arg(long, default_value = "arca-worker")]
    work_dir: PathBuf,
    /// Take TEE tasks with the simulated enclave (only an SMS in dev mode accepts it).
    #[arg(long)]
    sim_tee: bool,
    /// Let apps read `file://` datasets and inputs under this directory (repeatable).
    #[arg(long, value_name = "DIR")]
    allow_file_urls: Vec<PathBuf>,
    /// Replicates run at once.
    #[arg(long, default_value_t = 1)]
    max_parallel: u32,
}

pub(crate) fn run_worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    let signer = key_from_env("ARCA_WORKER_KEY", "worker")?;
    if args.max_parallel == 0 {
        bail!("--max-parallel must be at least 1");
    }
    let work_dir = std::path::absolute(&args.work_dir)
        .with_context(|| format!("--work-dir {}", args.work_dir.display()))?;
    let address = signer.address();
    let config = arca_stack::worker::WorkerConfig {
        chain: args.chain.conf(),
        signer,
        scheduler_url: args.scheduler.clone(),
        storage_url: args.storage.clone(),
        docker_host: args.docker_host.clone(),
        work_dir,
        sim_tee: args.sim_tee,
        file_url_roots: args.allow_file_urls.clone(),
        max_parallel: args.max_parallel,
    };
    crate::output::block_on(async move {
        let agent = arca_stack::worker::spawn_worker(config)
            .await
            .context("starting the worker")?;
        println!("worker {address} working for {}", args.scheduler);
        super::up::wait_for_stop().await;
        agent.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Options of `arca storage serve`.
#[derive(Debug, Args)]
pub(crate) struct StorageServeArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Address to listen on (chain.json's `ipfsGateway`).
    #[arg(long, default_value = "127.0.0.1:13200")]
    listen: SocketAddr,
    /// Where blobs and the index live.
    #[arg(long, default_value = "arca-results")]
    data_dir: PathBuf,
    /// Largest accepted result archive, in MiB.
    #[arg(long, default_value_t = 512)]
    max_upload_mib: u64,
    /// Keep result blobs in this S3 bucket (it must exist) instead of <data-dir>/blobs, so
    /// several stores can share them; the index stays in --data-dir. Credentials come from the
    /// AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, …).
    #[arg(long, value_name = "BUCKET")]
    s3_bucket: Option<String>,
    /// Key prefix of the blobs inside the bucket (e.g. `arca/results`).
    #[arg(
        long,
        default_value = "",
        requires = "s3_bucket",
        value_name = "PREFIX"
    )]
    s3_prefix: String,
    /// An S3-compatible server (MinIO, Ceph, …) instead of AWS, e.g. http://127.0.0.1:9000.
    #[arg(long, requires = "s3_bucket", value_name = "URL")]
    s3_endpoint: Option<String>,
    /// The bucket's region.
    #[arg(long, default_value = "us-east-1", requires = "s3_bucket")]
    s3_region: String,
}

impl StorageServeArgs {
    /// The S3 settings, when blobs go to a bucket.
    fn s3(&self) -> Option<arca_storage::s3::S3Config> {
        self.s3_bucket
            .as_ref()
            .map(|bucket| arca_storage::s3::S3Config {
                bucket: bucket.clone(),
                prefix: self.s3_prefix.trim_matches('/').to_owned(),
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                // from the AWS environment, never from the command line (shell history)
                access_key_id: None,
                secret_access_key: None,
            })
    }
}

pub(crate) fn run_storage(args: StorageServeArgs) -> anyhow::Result<ExitCode> {
    let mut config =
        arca_storage::Config::new(args.chain.rpc.clone(), args.chain.hub, &args.data_dir);
    config.listen = args.listen;
    config.max_upload_bytes = args.max_upload_mib.saturating_mul(1 << 20);
    let s3 = args.s3();
    crate::output::block_on(async move {
        let (handle, blobs_at) = match &s3 {
            None => (
                arca_storage::spawn(config).await,
                args.data_dir.join("blobs").display().to_string(),
            ),
            Some(s3) => {
                let at = format!(
                    "s3://{}/{} at {}",
                    s3.bucket,
                    s3.prefix,
                    s3.endpoint.as_deref().unwrap_or("AWS")
                );
                let blobs = arca_storage::s3::S3Store::new(s3)
                    .with_context(|| format!("--s3-bucket: {at}"))?;
                // a write probe now, rather than a failed upload at the first task's end
                arca_storage::BlobStore::check(&blobs).await.with_context(|| {
                    format!(
                        "--s3-bucket: cannot write to {at}; check that the bucket exists and that the AWS credentials in the environment may write to it"
                    )
                })?;
                (
                    arca_storage::spawn_with_store(config, std::sync::Arc::new(blobs)).await,
                    at,
                )
            }
        };
        let handle = handle
            .with_context(|| format!("starting the result store in {}", args.data_dir.display()))?;
        println!(
            "result store listening on {} (index in {}, blobs in {blobs_at})",
            handle.url(),
            args.data_dir.display()
        );
        super::up::wait_for_stop().await;
        handle.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_bad_key_names_the_variable() {
        let err = key_from_env("ARCA_TEST_UNSET_KEY_VAR", "worker")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ARCA_TEST_UNSET_KEY_VAR"), "{err}");
    }

    #[derive(Debug, clap::Parser)]
    struct Scheduler {
        #[command(flatten)]
        args: SchedulerArgs,
    }

    #[derive(Debug, clap::Parser)]
    struct Storage {
        #[command(flatten)]
        args: StorageServeArgs,
    }

    #[test]
    fn s3_options_make_the_blob_backend_and_need_a_bucket() {
        use clap::Parser as _;
        const HUB: [&str; 2] = ["--hub", "0x0000000000000000000000000000000000000001"];
        let local = Storage::try_parse_from(["storage", HUB[0], HUB[1]]).unwrap();
        assert!(local.args.s3().is_none());
        let s3 = Storage::try_parse_from([
            "storage",
            HUB[0],
            HUB[1],
            "--s3-bucket",
            "results",
            "--s3-prefix",
            "/arca/results/",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
        ])
        .unwrap()
        .args
        .s3()
        .unwrap();
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str(), s3.region.as_str()),
            ("results", "arca/results", "us-east-1")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(s3.access_key_id.is_none(), "keys come from the environment");
        let err = Storage::try_parse_from(["storage", HUB[0], HUB[1], "--s3-endpoint", "http://x"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--s3-bucket"), "{err}");
    }

    #[test]
    fn the_scheduler_state_lives_in_one_store() {
        let args = <Scheduler as clap::Parser>::try_parse_from([
            "scheduler",
            "--hub",
            "0x3eca1B216A7DF1C7689aEb259fFB83ADFB894E7f",
            "--workerpool",
            "0x0000000000000000000000000000000000000001",
            "--data-dir",
            "/tmp/s",
            "--postgres-url",
            "postgres://arca:s3cret@db/sched",
        ])
        .unwrap()
        .args;
        let err = run_scheduler(args).unwrap_err().to_string();
        assert!(
            err.contains("--postgres-url") && err.contains("--data-dir /tmp/s"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}
