//! Where each part keeps its state under the data directory of `arca up --data-dir DIR`:
//!
//! | path | what |
//! |---|---|
//! | `chain/` | the dev chain (SQLite, one transaction per block) |
//! | `sms.sqlite`, `sms.key` | secrets (AES-256-GCM under the master key, file mode 0600) |
//! | `market/` | the order book and its chain cursor |
//! | `results/` | the result store's blobs and index |
//! | `scheduler/` | the scheduler's tasks and replicates |
//! | `workers/<n>/` | each worker's task directories and upload spool |
//! | `pool-keys.json`, `workerpool.json` | the pool's wallets and its registered workerpool |
//! | `chain.json` | written at each start for `arca` and the iexec SDK |

use crate::{Result, StackError, keys::write_private};
use alloy::primitives::Address;
use std::path::{Path, PathBuf};

/// The paths of one data directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The data directory itself.
    pub root: PathBuf,
    /// The chain's directory.
    pub chain: PathBuf,
    /// The SMS database.
    pub sms_db: PathBuf,
    /// The market's directory.
    pub market: PathBuf,
    /// The result store's directory.
    pub results: PathBuf,
    /// The scheduler's directory.
    pub scheduler: PathBuf,
    /// The workers' parent directory.
    pub workers: PathBuf,
}

impl Layout {
    /// Creates the directories under `root` (idempotent).
    pub fn create(root: &Path) -> Result<Layout> {
        let l = Layout {
            root: root.to_path_buf(),
            chain: root.join("chain"),
            sms_db: root.join("sms.sqlite"),
            market: root.join("market"),
            results: root.join("results"),
            scheduler: root.join("scheduler"),
            workers: root.join("workers"),
        };
        for dir in [
            &l.root,
            &l.chain,
            &l.market,
            &l.results,
            &l.scheduler,
            &l.workers,
        ] {
            std::fs::create_dir_all(dir).map_err(|e| StackError::io(dir, e))?;
        }
        Ok(l)
    }

    /// The directory of worker `n`.
    pub fn worker(&self, n: usize) -> PathBuf {
        self.workers.join(n.to_string())
    }

    /// The SMS master key, created (32 random bytes, mode 0600) on first use.
    pub fn sms_master_key(&self) -> Result<arca_sms::MasterKey> {
        let path = self.root.join("sms.key");
        match std::fs::read(&path) {
            Ok(bytes) => arca_sms::MasterKey::parse(&bytes).map_err(|e| {
                StackError::State(format!(
                    "{}: {e}; restore the original key (secrets are unreadable without it)",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                write_private(&path, alloy::hex::encode(key).as_bytes())?;
                Ok(arca_sms::MasterKey::new(key))
            }
            Err(e) => Err(StackError::io(&path, e)),
        }
    }

    /// The workerpool registered by an earlier start, if any.
    pub fn recorded_workerpool(&self) -> Result<Option<Address>> {
        let path = self.root.join("workerpool.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let value: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| StackError::State(format!("{}: {e}", path.display())))?;
                let address = value["address"]
                    .as_str()
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| {
                        StackError::State(format!(
                            "{}: no valid \"address\"; delete the file to register a new workerpool",
                            path.display()
                        ))
                    })?;
                Ok(Some(address))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StackError::io(&path, e)),
        }
    }

    /// Records the workerpool for the next start.
    pub fn record_workerpool(&self, address: Address) -> Result<()> {
        let body = serde_json::json!({ "address": address.to_checksum(None) });
        write_private(
            &self.root.join("workerpool.json"),
            body.to_string().as_bytes(),
        )
    }
}
