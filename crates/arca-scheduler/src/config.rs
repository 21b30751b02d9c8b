//! How to run a scheduler: its chain, wallet, workerpool, peers (SMS, market) and the
//! workerpool order it publishes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use arca_client::project::ChainConf;

/// The workerpool order the scheduler publishes to the market at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSettings {
    /// Price per task (nRLC).
    pub price: U256,
    /// Category index.
    pub category: u64,
    /// Tag (bit 0: TEE).
    pub tag: B256,
    /// Trust.
    pub trust: u64,
    /// Number of tasks the order covers.
    pub volume: u64,
}

/// Everything a scheduler needs (its `Debug` shows no secret: neither the owner's key nor the
/// Postgres URL, whose password would otherwise end up in logs).
#[derive(Clone)]
pub struct SchedulerConfig {
    /// The chain (`host`, `hub`, optional `id`).
    pub chain: ChainConf,
    /// The workerpool owner's wallet: signs authorizations, initializes, finalizes, claims.
    pub owner: PrivateKeySigner,
    /// The workerpool this scheduler runs.
    pub workerpool: Address,
    /// The SMS that hands out enclave challenges (required for TEE deals).
    pub sms_url: Option<String>,
    /// Market URL; when set with [`Self::order`], the workerpool order is published at start.
    pub market_url: Option<String>,
    /// The order to publish.
    pub order: Option<OrderSettings>,
    /// HTTP listen address (port 0: any free port).
    pub listen: SocketAddr,
    /// Where `scheduler.sqlite` lives; in memory when `None` (tests only: nothing survives).
    pub data_dir: Option<PathBuf>,
    /// Keep the state in this Postgres database instead of SQLite (`postgres` feature;
    /// `postgres://user:password@host:port/database`, tables `scheduler_*`). Not with
    /// [`Self::data_dir`]. A secret: logs show it through [`crate::store::describe_location`].
    pub postgres_url: Option<String>,
    /// How often the chain is polled (new deals, task states, deadlines).
    pub poll_interval: Duration,
    /// First block to scan for deals when no cursor is stored yet.
    pub from_block: u64,
    /// A worker not heard from for this long gets no new replicate.
    pub worker_timeout: Duration,
    /// End a task early (`abortTask`: the requester is refunded now rather than at the final
    /// deadline) once this many distinct workers failed it for a cause retrying cannot fix
    /// (`FailureCause::is_deterministic`). The threshold used is the smaller of this and the
    /// number of workers alive (nobody else would retry); 0 disables ending early.
    pub fail_early_after: u32,
}

impl std::fmt::Debug for SchedulerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerConfig")
            .field("chain", &self.chain)
            .field("owner", &self.owner.address())
            .field("workerpool", &self.workerpool)
            .field("sms_url", &self.sms_url)
            .field("market_url", &self.market_url)
            .field("order", &self.order)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("postgres_url", &self.postgres_url.as_ref().map(|_| "<set>"))
            .field("poll_interval", &self.poll_interval)
            .field("from_block", &self.from_block)
            .field("worker_timeout", &self.worker_timeout)
            .field("fail_early_after", &self.fail_early_after)
            .finish()
    }
}

impl SchedulerConfig {
    /// Defaults: listen on 127.0.0.1:13000 (iexec-core's port), poll every 2 s, scan from block 0,
    /// end a task early after 2 deterministic failures.
    pub fn new(chain: ChainConf, owner: PrivateKeySigner, workerpool: Address) -> Self {
        Self {
            chain,
            owner,
            workerpool,
            sms_url: None,
            market_url: None,
            order: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 13000)),
            data_dir: None,
            postgres_url: None,
            poll_interval: Duration::from_secs(2),
            from_block: 0,
            worker_timeout: Duration::from_secs(60),
            fail_early_after: 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let chain = ChainConf {
            host: Some("http://127.0.0.1:8545".into()),
            ..ChainConf::default()
        };
        let owner = PrivateKeySigner::random();
        let mut config = SchedulerConfig::new(chain, owner.clone(), Address::ZERO);
        config.postgres_url = Some("postgres://arca:s3cret-pw@db/arca".into());
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(
            !text.contains(&alloy::hex::encode(owner.to_bytes())),
            "{text}"
        );
        assert!(
            text.contains("<set>") && text.contains(&format!("{:?}", owner.address())),
            "{text}"
        );
    }
}
