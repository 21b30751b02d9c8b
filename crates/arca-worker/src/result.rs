//! Reading an app's `computed.json` and computing the task's result digest (iexec-protocol.md §3.3).
//!
//! - web2 (no callback): the digest of `deterministic-output-path`. A file → `sha256(bytes)`.
//!   A directory → `keccak256(sha256(child_1) ‖ sha256(child_2) ‖ …)` over its **immediate**
//!   children sorted by path; sub-directories and empty files contribute nothing (as iExec's Rust
//!   post-compute does; a directory with nothing to hash, or a single empty file, has no digest).
//! - web3 (callback): `keccak256(callback bytes)`, the hex-*decoded* callback data, which is what
//!   the contract checks (`keccak256(resultsCallback) == resultDigest`). iExec's Rust post-compute
//!   hashes the hex text instead, which the contract would reject (§8).

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sha3::Keccak256;

use crate::env::IEXEC_OUT;
use crate::error::{Error, Result};

/// The file every app must write in `/iexec_out`.
pub const COMPUTED_FILE_NAME: &str = "computed.json";

/// `computed.json` as iExec defines it (`iexec-common:result/ComputedFile.java`, kebab-case keys).
/// The app fills `deterministic-output-path` and/or `callback-data`; the worker the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ComputedFile {
    /// Path in the container (`/iexec_out/…`) of the output that determines the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic_output_path: Option<String>,
    /// `0x…` bytes for a callback (web3) task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<String>,
    /// Filled by the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Filled by the worker/post-compute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_digest: Option<String>,
    /// Filled by a TEE post-compute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enclave_signature: Option<String>,
    /// Set when the task failed before the app could produce anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// Reads `<host_out>/computed.json`, the output directory mounted as `/iexec_out`.
pub fn read_computed_file(host_out: &Path) -> Result<ComputedFile> {
    let path = host_out.join(COMPUTED_FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::ComputedFileMissing { path });
        }
        Err(source) => {
            return Err(Error::Io {
                operation: "read",
                path,
                source,
            });
        }
    };
    serde_json::from_slice(&bytes).map_err(|source| Error::ComputedFileInvalid { path, source })
}

/// Maps a container path under `/iexec_out` to the host directory mounted there. A relative path
/// is taken relative to `/iexec_out`. Anything that would leave the output directory (`..`,
/// another absolute path) is refused: the app controls this string.
pub fn host_output_path(host_out: &Path, container_path: &str) -> Result<PathBuf> {
    let unusable = |why: &str| {
        Error::ComputedFileUnusable(format!(
            "deterministic-output-path {container_path:?} {why}"
        ))
    };
    let relative = match container_path.strip_prefix(IEXEC_OUT) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.trim_start_matches('/'),
        Some(_) => return Err(unusable("is outside /iexec_out")),
        None if container_path.starts_with('/') => return Err(unusable("is outside /iexec_out")),
        None => container_path,
    };
    let mut out = host_out.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return Err(unusable("leaves /iexec_out")),
        }
    }
    Ok(out)
}

/// `sha256` of a file's bytes; `None` for an empty file (it has nothing to attest).
pub fn sha256_file(path: &Path) -> Result<Option<[u8; 32]>> {
    let bytes = fs::read(path).map_err(|source| Error::Io {
        operation: "read",
        path: path.to_path_buf(),
        source,
    })?;
    Ok((!bytes.is_empty()).then(|| Sha256::digest(&bytes).into()))
}

/// `keccak256` (Ethereum's, not SHA3-256).
pub fn keccak256(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// The web2 digest of a deterministic output: a file or a directory of files (module docs).
pub fn file_tree_digest(path: &Path) -> Result<[u8; 32]> {
    let meta = fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::DeterministicOutputMissing {
                path: path.to_path_buf(),
            }
        } else {
            Error::Io {
                operation: "stat",
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    if !meta.is_dir() {
        return sha256_file(path)?.ok_or_else(|| {
            Error::ComputedFileUnusable(format!("deterministic output {} is empty", path.display()))
        });
    }
    let list_err = |source| Error::Io {
        operation: "list",
        path: path.to_path_buf(),
        source,
    };
    let mut children = fs::read_dir(path)
        .map_err(list_err)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(list_err)?;
    // Same parent, so ordering paths is ordering file names byte-wise, as iExec's Rust does.
    children.sort();
    let mut concatenated = Vec::with_capacity(children.len() * 32);
    for child in &children {
        // Directories (and symlinks to them) are not hashed: the digest is not recursive.
        if fs::metadata(child).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if let Some(digest) = sha256_file(child)? {
            concatenated.extend_from_slice(&digest);
        }
    }
    if concatenated.is_empty() {
        return Err(Error::ComputedFileUnusable(format!(
            "deterministic output directory {} has no non-empty file to hash",
            path.display()
        )));
    }
    Ok(keccak256(&concatenated))
}

/// The web3 digest: `keccak256` of the hex-decoded callback data.
pub fn callback_digest(callback_data: &str) -> Result<[u8; 32]> {
    let digits = callback_data
        .strip_prefix("0x")
        .or_else(|| callback_data.strip_prefix("0X"))
        .unwrap_or(callback_data);
    let bytes = hex::decode(digits)
        .map_err(|e| Error::ComputedFileUnusable(format!("callback-data is not hex bytes: {e}")))?;
    Ok(keccak256(&bytes))
}

/// The task's result digest as `0x…`: from `callback-data` when the deal has a callback, else
/// from `deterministic-output-path` resolved under `host_out`.
pub fn result_digest(
    computed: &ComputedFile,
    host_out: &Path,
    has_callback: bool,
) -> Result<String> {
    let digest = if has_callback {
        let data = computed.callback_data.as_deref().ok_or_else(|| {
            Error::ComputedFileUnusable(
                "the deal has a callback but callback-data is missing".into(),
            )
        })?;
        callback_digest(data)?
    } else {
        let declared = computed
            .deterministic_output_path
            .as_deref()
            .ok_or_else(|| {
                Error::ComputedFileUnusable("deterministic-output-path is missing".into())
            })?;
        file_tree_digest(&host_output_path(host_out, declared)?)?
    };
    Ok(format!("0x{}", hex::encode(digest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0; 32];
        hex::decode_to_slice(s, &mut out).unwrap();
        out
    }

    const SHA256_HELLO: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    const SHA256_WORLD: &str = "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";

    #[test]
    fn keccak_is_ethereum_keccak_not_sha3() {
        assert_eq!(
            hex::encode(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn computed_file_reads_kebab_case_and_ignores_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("computed.json"),
            r#"{"deterministic-output-path":"/iexec_out/result.txt","extra":1}"#,
        )
        .unwrap();
        let c = read_computed_file(dir.path()).unwrap();
        assert_eq!(
            c.deterministic_output_path.as_deref(),
            Some("/iexec_out/result.txt")
        );
        assert_eq!(c.callback_data, None);
        let json = serde_json::to_string(&ComputedFile {
            task_id: Some("0x01".into()),
            result_digest: Some("0x02".into()),
            ..c
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"deterministic-output-path":"/iexec_out/result.txt","task-id":"0x01","result-digest":"0x02"}"#
        );
    }

    #[test]
    fn computed_file_missing_or_invalid_are_distinct_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_computed_file(dir.path()),
            Err(Error::ComputedFileMissing { .. })
        ));
        fs::write(dir.path().join("computed.json"), "{not json").unwrap();
        assert!(matches!(
            read_computed_file(dir.path()),
            Err(Error::ComputedFileInvalid { .. })
        ));
    }

    #[test]
    fn output_paths_stay_inside_iexec_out() {
        let host = Path::new("/w/task/output/iexec_out");
        assert_eq!(
            host_output_path(host, "/iexec_out/result.txt").unwrap(),
            host.join("result.txt")
        );
        assert_eq!(host_output_path(host, "/iexec_out").unwrap(), host);
        assert_eq!(host_output_path(host, "/iexec_out/").unwrap(), host);
        assert_eq!(
            host_output_path(host, "sub/r.txt").unwrap(),
            host.join("sub/r.txt")
        );
        for bad in ["/etc/passwd", "/iexec_out/../x", "/iexec_outside/x", "../x"] {
            assert!(
                matches!(
                    host_output_path(host, bad),
                    Err(Error::ComputedFileUnusable(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn file_digest_is_sha256_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("result.txt");
        fs::write(&f, "hello").unwrap();
        assert_eq!(file_tree_digest(&f).unwrap(), hex32(SHA256_HELLO));
        fs::write(&f, "").unwrap();
        assert!(matches!(
            file_tree_digest(&f),
            Err(Error::ComputedFileUnusable(_))
        ));
        assert!(matches!(
            file_tree_digest(&dir.path().join("absent")),
            Err(Error::DeterministicOutputMissing { .. })
        ));
    }

    #[test]
    fn directory_digest_hashes_sorted_immediate_non_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        // Written out of order; "b" sorts after "a" whatever the directory order is.
        fs::write(dir.path().join("b.txt"), "world").unwrap();
        fs::write(dir.path().join("a.txt"), "hello").unwrap();
        // Neither an empty file nor a sub-directory (with its content) changes the digest.
        fs::write(dir.path().join("empty"), "").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/c.txt"), "ignored").unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&hex32(SHA256_HELLO));
        expected.extend_from_slice(&hex32(SHA256_WORLD));
        assert_eq!(file_tree_digest(dir.path()).unwrap(), keccak256(&expected));

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            file_tree_digest(empty.path()),
            Err(Error::ComputedFileUnusable(_))
        ));
    }

    #[test]
    fn result_digest_web2_and_web3() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("result.txt"), "hello").unwrap();
        let web2 = ComputedFile {
            deterministic_output_path: Some("/iexec_out/result.txt".into()),
            ..Default::default()
        };
        assert_eq!(
            result_digest(&web2, dir.path(), false).unwrap(),
            format!("0x{SHA256_HELLO}")
        );
        assert!(matches!(
            result_digest(&web2, dir.path(), true),
            Err(Error::ComputedFileUnusable(_))
        ));

        // The contract checks keccak256(resultsCallback) over the bytes, not the hex text.
        let web3 = ComputedFile {
            callback_data: Some(format!("0x{}01", "00".repeat(31))),
            ..Default::default()
        };
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(
            result_digest(&web3, dir.path(), true).unwrap(),
            format!("0x{}", hex::encode(keccak256(&one)))
        );
        assert!(matches!(
            callback_digest("0xzz"),
            Err(Error::ComputedFileUnusable(_))
        ));
    }
}
