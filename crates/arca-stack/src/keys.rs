//! The workerpool's own wallets (its owner, who schedules, and one per worker), created once per
//! data directory and kept in `pool-keys.json` (mode 0600, written by atomic rename) so a
//! restarted stack is the same workerpool with the same workers. They are kept apart from the
//! ten dev accounts of the test mnemonic, which stay free for the user; the stack funds them with
//! dev ETH for gas from account 0.

use crate::{Result, StackError};
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The file name in the data directory.
pub const FILE: &str = "pool-keys.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeysFile {
    scheduler: String,
    workers: Vec<String>,
}

/// The pool's signers.
#[derive(Debug, Clone)]
pub struct PoolKeys {
    /// Owns the workerpool: signs its orders and the workers' authorizations.
    pub scheduler: PrivateKeySigner,
    /// One per worker.
    pub workers: Vec<PrivateKeySigner>,
}

fn hex_key(s: &PrivateKeySigner) -> String {
    format!("0x{}", alloy::hex::encode(s.to_bytes()))
}

fn parse_key(path: &Path, text: &str) -> Result<PrivateKeySigner> {
    text.parse().map_err(|e| {
        StackError::State(format!(
            "{}: a key is not a private key ({e}); delete the file to create new pool wallets",
            path.display()
        ))
    })
}

impl PoolKeys {
    /// Fresh random keys, not persisted (a stack without data directory).
    pub fn random(workers: usize) -> PoolKeys {
        PoolKeys {
            scheduler: PrivateKeySigner::random(),
            workers: (0..workers).map(|_| PrivateKeySigner::random()).collect(),
        }
    }

    /// Loads the keys of `dir`, adding worker keys up to `workers` (and creating the file).
    pub fn load_or_create(dir: &Path, workers: usize) -> Result<PoolKeys> {
        let path = dir.join(FILE);
        let mut file: KeysFile = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StackError::State(format!(
                    "{} is not valid ({e}); delete it to create new pool wallets",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeysFile::default(),
            Err(e) => return Err(StackError::io(&path, e)),
        };
        let mut changed = false;
        if file.scheduler.is_empty() {
            file.scheduler = hex_key(&PrivateKeySigner::random());
            changed = true;
        }
        while file.workers.len() < workers {
            file.workers.push(hex_key(&PrivateKeySigner::random()));
            changed = true;
        }
        if changed {
            write_private(
                &path,
                &serde_json::to_vec_pretty(&file).expect("serializable"),
            )?;
        }
        Ok(PoolKeys {
            scheduler: parse_key(&path, &file.scheduler)?,
            workers: file.workers[..workers]
                .iter()
                .map(|k| parse_key(&path, k))
                .collect::<Result<_>>()?,
        })
    }
}

/// Writes `bytes` to `path` readable by the owner only, through a temp file and a rename.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| StackError::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StackError::io(path, e))?;
    }
    tmp.write_all(bytes).map_err(|e| StackError::io(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| StackError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| StackError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_and_grow_with_the_worker_count() {
        let dir = tempfile::tempdir().unwrap();
        let a = PoolKeys::load_or_create(dir.path(), 1).unwrap();
        let b = PoolKeys::load_or_create(dir.path(), 2).unwrap();
        assert_eq!(a.scheduler.address(), b.scheduler.address());
        assert_eq!(a.workers[0].address(), b.workers[0].address());
        assert_eq!(b.workers.len(), 2);
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }

    #[test]
    fn a_corrupt_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{").unwrap();
        let err = PoolKeys::load_or_create(dir.path(), 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("delete it"), "{err}");
    }
}
