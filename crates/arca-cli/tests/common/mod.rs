//! The stack the service-backed CLI tests run against: a real in-process chain with PoCo
//! (`arca_testkit::Stack`), the real SMS and market services on free ports, and a project directory
//! (own HOME) whose chain.json points at them and whose wallet is one of the stack's actors.

#![allow(dead_code)]

use alloy::signers::local::PrivateKeySigner;
use arca_testkit::Stack;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse";

pub struct Env {
    pub stack: Stack,
    pub sms: arca_sms::SmsHandle,
    pub market: Option<arca_market::MarketHandle>,
    pub storage: arca_storage::StorageHandle,
    pub home: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Env {
    /// Chain + SMS + market, and a project in `<home>/project` with no wallet yet.
    pub async fn start() -> Env {
        let stack = Stack::start().await;
        let config = arca_sms::Config {
            rpc_url: stack.rpc.clone(),
            hub: stack.deployment.hub,
            dev: true,
            public_url: None,
            session_ttl: 600,
        };
        let store = arca_sms::SqliteStore::in_memory(arca_sms::MasterKey::new(rand_key())).unwrap();
        let sms = arca_sms::spawn(([127, 0, 0, 1], 0).into(), config, Arc::new(store))
            .await
            .expect("sms");
        let market = arca_market::spawn(arca_market::MarketConfig {
            listen: ([127, 0, 0, 1], 0).into(),
            poll_interval: std::time::Duration::from_millis(50),
            ..arca_market::MarketConfig::new(stack.rpc.clone(), stack.deployment.hub)
        })
        .await
        .expect("market");
        let home = tempfile::tempdir().unwrap();
        let storage = arca_storage::spawn(arca_storage::Config {
            rpc_url: stack.rpc.clone(),
            hub: stack.deployment.hub,
            listen: ([127, 0, 0, 1], 0).into(),
            data_dir: home.path().join("store"),
            max_upload_bytes: arca_storage::DEFAULT_MAX_UPLOAD,
        })
        .await
        .expect("result store");
        let dir = home.path().join("project");
        std::fs::create_dir(&dir).unwrap();
        let env = Env {
            stack,
            sms,
            market: Some(market),
            storage,
            home,
            dir,
        };
        env.init_project();
        env
    }

    fn init_project(&self) {
        self.ok(&["init", "--skip-wallet"]);
        let mut chain = self.read("chain.json");
        chain["chains"]["dev"] = json!({
            "host": self.stack.rpc,
            "id": self.stack.deployment.chain_id.to_string(),
            "hub": self.stack.deployment.hub.to_checksum(None),
            "sms": self.sms.url(),
            "iexecGateway": self.market.as_ref().unwrap().url(),
            "ipfsGateway": self.storage.url(),
        });
        self.write("chain.json", &chain);
    }

    /// Makes `signer` the project's wallet (a keystore in the temporary HOME, the only one there).
    pub fn use_wallet(&self, signer: &PrivateKeySigner) {
        let keystore = self.home.path().join(".ethereum/keystore");
        let _ = std::fs::remove_dir_all(&keystore);
        let key = format!("0x{}", alloy::hex::encode(signer.to_bytes()));
        self.ok(&["wallet", "import", &key, "--password", PASSWORD]);
    }

    pub fn arca_in(&self, dir: &Path, args: &[&str]) -> Output {
        tokio::task::block_in_place(|| {
            std::process::Command::new(env!("CARGO_BIN_EXE_arca"))
                .args(args)
                .current_dir(dir)
                .env("HOME", self.home.path())
                .env("ARCA_KEYSTORE_LIGHT", "1")
                .env_remove("ARCA_PASSWORD")
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run arca")
        })
    }

    pub fn arca(&self, args: &[&str]) -> Output {
        self.arca_in(&self.dir, args)
    }

    /// Runs a `--raw` command; checks stdout is exactly one JSON object and the exit code matches `ok`.
    pub fn raw(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--raw");
        let out = self.arca(&all);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let value: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "arca {args:?}: stdout is not one JSON object ({e}): {stdout:?}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        assert_eq!(
            stdout.trim().lines().count(),
            1,
            "one line of JSON: {stdout}"
        );
        assert_eq!(
            value["ok"].as_bool().unwrap(),
            out.status.success(),
            "exit status matches ok for {args:?}: {value}"
        );
        value
    }

    pub fn ok(&self, args: &[&str]) -> Value {
        let value = self.raw(args);
        assert_eq!(value["ok"], true, "arca {args:?} failed: {value}");
        value
    }

    pub fn fails(&self, args: &[&str]) -> String {
        let value = self.raw(args);
        assert_eq!(value["ok"], false, "arca {args:?} should fail: {value}");
        value["error"]["message"].as_str().unwrap().to_string()
    }

    pub fn read(&self, file: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join(file)).unwrap()).unwrap()
    }

    pub fn write(&self, file: &str, value: &Value) {
        std::fs::write(
            self.dir.join(file),
            serde_json::to_string_pretty(value).unwrap(),
        )
        .unwrap();
    }
}

/// The sealing key of the test SMS's in-memory store (nothing outlives the test).
fn rand_key() -> [u8; 32] {
    [7u8; 32]
}
