//! Test helpers shared by the integration tests and the benchmark: locating the recorded DCAP
//! vectors inside the `dcap-qvl-0.7.1` package (never copied into this repository) and loading
//! them with their SHA-256 checked.
#![allow(dead_code)] // each test binary uses a different subset

use arca_tee::{Collateral, Evidence};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// A recorded vector: quote file, collateral file, their pinned SHA-256, and a verification
/// time inside the collateral's validity window.
#[derive(Debug, Clone, Copy)]
pub struct Vector {
    pub quote: &'static str,
    pub quote_sha256: &'static str,
    pub collateral: &'static str,
    pub collateral_sha256: &'static str,
    /// RFC 3339 time inside every collateral part's window.
    pub at: &'static str,
}

/// SGX quote v3, window 2025-06-19T10:56:11Z .. 2025-07-19T10:01:18Z.
pub const SGX: Vector = Vector {
    quote: "sgx_quote",
    quote_sha256: "f8b81014b6e443609746822194910f5dc1c92c322fa0584298d1e33e505ca3b5",
    collateral: "sgx_quote_collateral.json",
    collateral_sha256: "bdd694bbe50f3a2a1cfe12f9e2bd83125921107a368edcf10780a5523b8501ce",
    at: "2025-07-01T00:00:00Z",
};

/// TDX quote v4 (TD 1.0), window 2025-06-19T10:32:27Z .. 2025-07-19T10:00:35Z.
pub const TDX_V4: Vector = Vector {
    quote: "tdx_quote",
    quote_sha256: "c42f9164325024bca2757bc8819b11879a0a369132ea4e2b7c85df4805ea72db",
    collateral: "tdx_quote_collateral.json",
    collateral_sha256: "b0a5f5fd620a8881b1eda45261fdf30dd930b49aff93231556645c81fcb4c0bc",
    at: "2025-07-01T00:00:00Z",
};

/// TDX quote v5 (TD 1.5-ex body), window 2026-10-08T00:28:26Z .. 2026-11-06T23:45:11Z.
pub const TDX_V5: Vector = Vector {
    quote: "tdx_quote_td15ex",
    quote_sha256: "fd88575b046315787daac21cb3657d03d95d74760a9c5006ad689fa5c2c498f7",
    collateral: "tdx_quote_td15ex_collateral.json",
    collateral_sha256: "29e1cb0c2dc98c2cc7f241cc142bdf9d61dee288276d33ae45d5fb2b6b5cc0b0",
    at: "2026-10-20T00:00:00Z",
};

/// TDX quote v5 (TD 1.5) whose TCB matches no level: must be refused.
/// Window 2026-02-18T10:58:51Z .. 2026-03-20T10:41:15Z.
pub const TDX_OUTDATED: Vector = Vector {
    quote: "tdx_quote_outdated",
    quote_sha256: "4c453ea417a7863ed67c215fe4735d91e26f359c760e5984a277866d8d5758e9",
    collateral: "tdx_quote_outdated_collateral.json",
    collateral_sha256: "05e91466e56352166c15a73654147c3d95d6f4ffa62bd150c3c8cbb1d75c3b15",
    at: "2026-03-01T00:00:00Z",
};

/// `sample/` of the dcap-qvl 0.7.1 package, found through `cargo metadata` (its registry path
/// depends on CARGO_HOME and the index hash, so it is never hard-coded).
pub fn sample_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        // Offline first (the package is already fetched: it was just compiled), online as a
        // fallback for a tree where another crate's dependencies are not fetched yet.
        let run = |offline: bool| {
            let mut cmd = Command::new(&cargo);
            cmd.args([
                "metadata",
                "--format-version",
                "1",
                "--manifest-path",
                manifest,
            ]);
            if offline {
                cmd.arg("--offline");
            }
            cmd.output().ok().filter(|o| o.status.success())
        };
        let out = run(true)
            .or_else(|| run(false))
            .expect("`cargo metadata` failed: run the tests through cargo");
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("cargo metadata output is JSON");
        let manifest_path = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "dcap-qvl" && p["version"] == "0.7.1")
            .and_then(|p| p["manifest_path"].as_str())
            .expect("dcap-qvl 0.7.1 is not in the dependency graph (it is pinned =0.7.1)");
        PathBuf::from(manifest_path)
            .parent()
            .expect("manifest has a parent")
            .join("sample")
    })
}

/// Reads `name` from the sample directory and checks its pinned SHA-256, so a dependency bump
/// cannot silently change the vectors.
pub fn read_pinned(name: &str, sha256: &str) -> Vec<u8> {
    let path = sample_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        sha256,
        "{name} changed: the recorded vectors of dcap-qvl 0.7.1 are pinned"
    );
    bytes
}

/// Quote, collateral and verification time (unix s) of a vector.
pub fn load(v: &Vector) -> (Evidence, Collateral, u64) {
    let quote = read_pinned(v.quote, v.quote_sha256);
    let collateral = Collateral::from_json(&read_pinned(v.collateral, v.collateral_sha256))
        .expect("recorded collateral parses");
    let at = arca_tee::parse_rfc3339(v.at).expect("pinned time parses");
    (Evidence::new(quote), collateral, at)
}
