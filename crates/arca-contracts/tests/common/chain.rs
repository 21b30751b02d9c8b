//! The one place that chooses which chain the contract tests run on.
//!
//! By default Arca's own node (`arca_chain::spawn(NodeConfig::test())`, in process, on a free
//! port). With `ARCA_TEST_CHAIN=anvil` the same tests run on the real anvil instead
//! (`ARCA_ANVIL_BIN`, or the copy `scripts/lib/common.sh` installs in `~/.cache/arca/anvil`),
//! which tells a contract bug from a chain bug. Both use chain id 1337 and the standard
//! `test test … junk` mnemonic.

use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};
use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub const MNEMONIC: &str = "test test test test test test test test test test test junk";
pub const CHAIN_ID: u64 = 1337;

/// A running dev chain, stopped when dropped.
pub struct TestChain {
    _node: Node,
    pub url: String,
    pub signers: Vec<PrivateKeySigner>,
}

enum Node {
    Arca(arca_chain::NodeHandle),
    Anvil(Child),
}

fn anvil_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("ARCA_ANVIL_BIN") {
        return PathBuf::from(bin);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let bin = PathBuf::from(home)
        .join(".cache/arca/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(
        bin.exists(),
        "anvil not found: run `scripts/test.sh cargo` once (it installs @foundry-rs/anvil-linux-amd64@1.7.1 \
         into ~/.cache/arca/anvil) or set ARCA_ANVIL_BIN"
    );
    bin
}

impl TestChain {
    pub async fn start() -> TestChain {
        if std::env::var("ARCA_TEST_CHAIN").as_deref() == Ok("anvil") {
            return Self::start_anvil();
        }
        let handle = arca_chain::spawn(arca_chain::NodeConfig::test())
            .await
            .expect("start the Arca chain");
        TestChain {
            url: handle.http_url(),
            signers: handle.dev_signers().to_vec(),
            _node: Node::Arca(handle),
        }
    }

    fn start_anvil() -> TestChain {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(anvil_bin())
            .args([
                "--port",
                &port.to_string(),
                "--chain-id",
                &CHAIN_ID.to_string(),
                "--accounts",
                "10",
            ])
            .args(["--mnemonic", MNEMONIC, "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start anvil");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "anvil did not start listening on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let signers = (0..10)
            .map(|i| {
                MnemonicBuilder::<English>::default()
                    .phrase(MNEMONIC)
                    .index(i)
                    .unwrap()
                    .build()
                    .unwrap()
            })
            .collect();
        TestChain {
            _node: Node::Anvil(child),
            url,
            signers,
        }
    }
}

impl Drop for TestChain {
    fn drop(&mut self) {
        // the Arca node stops when its handle drops; anvil is a child process to reap
        if let Node::Anvil(child) = &mut self._node {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
