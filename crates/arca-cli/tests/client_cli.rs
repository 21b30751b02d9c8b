//! End-to-end tests of the iexec-compatible commands: the real `arca` binary, run in a temporary project
//! directory (with its own HOME, so keystores land in a temporary `~/.ethereum/keystore`) against an
//! in-process Arca chain with the PoCo contracts deployed. They follow the seed-000 walkthrough as far as it
//! goes without a market or a worker, check the `--raw` contract (exactly one JSON object on stdout), and
//! check that bad input fails with a clear message and a non-zero exit.

use alloy::{
    primitives::{Address, B256, Bytes},
    providers::ProviderBuilder,
};
use arca_contracts::bindings::IexecHub;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Output;

const PASSWORD: &str = "correct horse";

/// A chain with the contracts, and a project directory whose chain.json points at it.
struct Env {
    _node: arca_chain::NodeHandle,
    url: String,
    hub: Address,
    owner_key: String,
    owner: Address,
    home: tempfile::TempDir,
    dir: PathBuf,
}

impl Env {
    async fn start() -> Env {
        let node = arca_chain::spawn(arca_chain::NodeConfig::test())
            .await
            .expect("chain");
        let url = node.http_url();
        let signer = node.dev_signers()[0].clone();
        let owner_key = format!("0x{}", alloy::hex::encode(signer.to_bytes()));
        let deployment = arca_contracts::deploy(&url, &owner_key)
            .await
            .expect("deploy");
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("project");
        std::fs::create_dir(&dir).unwrap();
        Env {
            _node: node,
            url,
            hub: deployment.hub,
            owner_key,
            owner: signer.address(),
            home,
            dir,
        }
    }

    /// Runs `arca <args>` in the project directory (blocking this worker only; the chain serves on others).
    fn arca(&self, args: &[&str]) -> Output {
        tokio::task::block_in_place(|| {
            std::process::Command::new(env!("CARGO_BIN_EXE_arca"))
                .args(args)
                .current_dir(&self.dir)
                .env("HOME", self.home.path())
                .env("ARCA_KEYSTORE_LIGHT", "1")
                .env_remove("ARCA_PASSWORD")
                .stdin(std::process::Stdio::null())
                .output()
                .expect("run arca")
        })
    }

    /// Runs a `--raw` command and returns its single JSON object, checking the exit code against `ok`.
    fn raw(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--raw");
        let out = self.arca(&all);
        let stdout = String::from_utf8(out.stdout).unwrap();
        let value: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!("arca {args:?}: stdout is not one JSON object ({e}): {stdout:?}")
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

    fn ok(&self, args: &[&str]) -> Value {
        let value = self.raw(args);
        assert_eq!(value["ok"], true, "arca {args:?} failed: {value}");
        value
    }

    fn fails(&self, args: &[&str]) -> String {
        let value = self.raw(args);
        assert_eq!(value["ok"], false, "arca {args:?} should fail: {value}");
        assert!(value["error"]["name"].is_string(), "{value}");
        value["error"]["message"].as_str().unwrap().to_string()
    }

    fn read(&self, file: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join(file)).unwrap()).unwrap()
    }

    fn write(&self, file: &str, value: &Value) {
        std::fs::write(
            self.dir.join(file),
            serde_json::to_string_pretty(value).unwrap(),
        )
        .unwrap();
    }

    /// `arca init --skip-wallet`, chain.json pointed at the test chain, and the funded key imported.
    fn init_project(&self) {
        let init = self.ok(&["init", "--skip-wallet"]);
        assert_eq!(
            init,
            json!({"ok": true, "configFile": "iexec.json", "chainConfigFile": "chain.json"})
        );
        let mut chain = self.read("chain.json");
        assert_eq!(chain["default"], "dev");
        chain["chains"]["dev"] =
            json!({"host": self.url, "id": "1337", "hub": self.hub.to_string()});
        self.write("chain.json", &chain);
        let imported = self.ok(&["wallet", "import", &self.owner_key, "--password", PASSWORD]);
        assert_eq!(imported["address"], self.owner.to_checksum(None));
        let file = PathBuf::from(imported["fileName"].as_str().unwrap());
        assert!(
            file.starts_with(self.home.path().join(".ethereum/keystore")),
            "{file:?}"
        );
    }
}

fn hex_len(value: &Value) -> usize {
    value.as_str().unwrap().trim_start_matches("0x").len() / 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_deploys_deposits_and_signs() {
    let env = Env::start().await;
    env.init_project();

    // app init fills the owner from the wallet; the user then edits the image and checksum (seed 000 step 3)
    let init = env.ok(&["app", "init"]);
    assert_eq!(init["app"]["owner"], env.owner.to_checksum(None));
    assert_eq!(init["app"]["type"], "DOCKER");
    let mut iexec = env.read("iexec.json");
    assert_eq!(iexec["license"], "MIT", "the SDK's template is kept");
    iexec["app"]["multiaddr"] = json!("docker.io/talentlayer/module:1.0.0");
    iexec["app"]["checksum"] =
        json!("0x3eb61f88481958ea580392f5a7b74317a7b077840009bfe6bccc5c06a2547b81");
    env.write("iexec.json", &iexec);

    // app deploy / show / count (seed 000 step 4)
    let deployed = env.ok(&["app", "deploy", "--password", PASSWORD]);
    let app = deployed["address"].as_str().unwrap().to_string();
    assert_eq!(hex_len(&deployed["txHash"]), 32);
    assert_eq!(env.read("deployed.json"), json!({"app": {"1337": app}}));
    let shown = env.ok(&["app", "show"]);
    assert_eq!(shown["address"], app);
    assert_eq!(
        shown["app"]["appMultiaddr"],
        "docker.io/talentlayer/module:1.0.0"
    );
    assert_eq!(shown["app"]["appName"], "hello-world");
    assert_eq!(shown["app"]["owner"], env.owner.to_checksum(None));
    assert_eq!(
        env.ok(&["app", "show", "0"])["address"],
        app,
        "by index of the wallet's apps"
    );
    assert_eq!(env.ok(&["app", "count"])["count"], "1");
    assert_eq!(
        env.ok(&[
            "app",
            "count",
            "--user",
            &Address::repeat_byte(7).to_string()
        ])["count"],
        "0"
    );
    // the identical app cannot be registered twice: clear error, nothing recorded
    let again = env.fails(&["app", "deploy", "--password", PASSWORD]);
    assert!(again.contains("already deployed"), "{again}");

    // account deposit / show / withdraw, units as the SDK
    let before = env.ok(&["account", "show"]);
    assert_eq!(before["balance"], json!({"stake": "0", "locked": "0"}));
    let deposit = env.ok(&["account", "deposit", "5", "RLC", "--password", PASSWORD]);
    assert_eq!(deposit["amount"], "5000000000");
    env.ok(&["account", "withdraw", "1000", "--password", PASSWORD]);
    let after = env.ok(&["account", "show", &env.owner.to_string()]);
    assert_eq!(
        after["balance"],
        json!({"stake": "4999999000", "locked": "0"})
    );
    let too_much = env.fails(&["account", "withdraw", "10", "RLC", "--password", PASSWORD]);
    assert!(too_much.contains("stake is only 4999999000"), "{too_much}");

    // order init takes the deployed app; order sign writes orders.json; the hub accepts the signatures
    let init = env.ok(&["order", "init", "--app", "--request"]);
    assert_eq!(init["apporder"]["app"], app);
    assert_eq!(init["apporder"]["tag"], json!(["tee", "tdx"]));
    assert_eq!(
        init["requestorder"]["requester"],
        env.owner.to_checksum(None)
    );
    let signed = env.ok(&[
        "order",
        "sign",
        "--app",
        "--request",
        "--password",
        PASSWORD,
    ]);
    let apporder = &signed["apporder"];
    assert_eq!(apporder["app"], app);
    assert_eq!(
        apporder["tag"],
        "0x0000000000000000000000000000000000000000000000000000000000000009"
    );
    assert_eq!(hex_len(&apporder["salt"]), 32);
    assert_eq!(hex_len(&apporder["sign"]), 65);
    assert_eq!(
        signed["requestorder"]["params"],
        r#"{"iexec_args":"","iexec_input_files":[],"iexec_result_encryption":false}"#
    );
    assert_eq!(env.read("orders.json")["1337"]["apporder"], *apporder);

    let shown = env.ok(&["order", "show"]);
    let provider = ProviderBuilder::new().connect_http(env.url.parse().unwrap());
    let hub = IexecHub::new(env.hub, provider);
    for kind in ["apporder", "requestorder"] {
        assert_eq!(shown[kind]["status"], "open", "{shown}");
        let hash: B256 = shown[kind]["orderHash"].as_str().unwrap().parse().unwrap();
        let sign: Bytes = shown[kind]["order"]["sign"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let valid = hub
            .verifySignature(env.owner, hash, sign)
            .call()
            .await
            .unwrap();
        assert!(
            valid,
            "the hub verifies the {kind} signature over the CLI's order hash"
        );
    }
    let cancelled = env.ok(&["order", "cancel", "--app", "--password", PASSWORD]);
    assert_eq!(
        cancelled["apporder"]["orderHash"],
        shown["apporder"]["orderHash"]
    );
    let shown = env.ok(&["order", "show", "--app"]);
    assert_eq!(shown["apporder"]["status"], "dead");
    assert_eq!(shown["apporder"]["remaining"], "0");

    // workerpool and categories, info, wallet balances
    env.ok(&["workerpool", "init"]);
    let pool = env.ok(&["workerpool", "deploy", "--password", PASSWORD]);
    let shown = env.ok(&["workerpool", "show", pool["address"].as_str().unwrap()]);
    assert_eq!(
        shown["workerpool"]["workerpoolDescription"],
        "my-workerpool"
    );
    assert_eq!(env.ok(&["category", "count"])["count"], "5");
    assert_eq!(env.ok(&["category", "show", "0"])["category"]["name"], "XS");
    let info = env.ok(&["info"]);
    assert_eq!(info["hub"], env.hub.to_checksum(None));
    assert_eq!(info["chainId"], "1337");
    let wallet = env.ok(&["wallet", "show"]);
    assert_eq!(wallet["wallet"]["address"], env.owner.to_checksum(None));
    assert!(
        wallet["balance"]["nRLC"]
            .as_str()
            .unwrap()
            .parse::<u128>()
            .unwrap()
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_clearly_with_nonzero_exit() {
    let env = Env::start().await;

    // before init: the missing file and the fix are named
    let message = env.fails(&["app", "count", "--user", &env.owner.to_string()]);
    assert!(
        message.contains("chain.json not found") && message.contains("arca init"),
        "{message}"
    );
    env.init_project();
    assert!(
        env.fails(&["init", "--skip-wallet"]).contains("--force"),
        "init does not overwrite silently"
    );

    // unknown chain
    let message = env.fails(&["app", "count", "--chain", "nope"]);
    assert!(
        message.contains("Missing \"nope\" chain in \"chain.json\""),
        "{message}"
    );

    // bad addresses
    let message = env.fails(&["account", "show", "0xzz"]);
    assert!(
        message.contains("0xzz is not a valid ethereum address"),
        "{message}"
    );
    let value = env.raw(&["account", "show", "0xzz"]);
    assert_eq!(value["error"]["name"], "ValidationError");

    // wrong password: clear message, and nothing deployed
    env.ok(&["app", "init"]);
    let message = env.fails(&["app", "deploy", "--password", "wrong"]);
    assert!(message.contains("wrong password"), "{message}");
    assert!(!env.dir.join("deployed.json").exists());
    // no password, not interactive
    let message = env.fails(&["app", "deploy"]);
    assert!(message.contains("--password"), "{message}");

    // a bad field of iexec.json is named
    let mut iexec = env.read("iexec.json");
    iexec["app"]["owner"] = json!("0x1234");
    env.write("iexec.json", &iexec);
    let message = env.fails(&["app", "deploy", "--password", PASSWORD]);
    assert!(
        message.contains("iexec.json: app.owner: '0x1234' is not an ethereum address"),
        "{message}"
    );
    iexec["app"]["checksum"] = json!("sha256:abc");
    iexec["app"]["owner"] = json!(env.owner.to_string());
    env.write("iexec.json", &iexec);
    let message = env.fails(&["app", "deploy", "--password", PASSWORD]);
    assert!(message.contains("app.checksum"), "{message}");

    // malformed iexec.json: position given, the file untouched
    std::fs::write(env.dir.join("iexec.json"), "{ \"app\": ").unwrap();
    let message = env.fails(&["app", "deploy", "--password", PASSWORD]);
    assert!(
        message.contains("iexec.json: invalid JSON at line 1"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_to_string(env.dir.join("iexec.json")).unwrap(),
        "{ \"app\": "
    );

    // chain.json with a key the SDK does not know
    let mut chain = env.read("chain.json");
    chain["chains"]["dev"]["rpc"] = json!("http://x");
    env.write("chain.json", &chain);
    let message = env.fails(&["info"]);
    assert!(
        message.contains("chains.dev") && message.contains("rpc"),
        "{message}"
    );

    // human mode: nothing on stdout, the error on stderr, exit code 1
    let out = env.arca(&["info"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("error: chain.json"),
        "{out:?}"
    );

    // bad amount and unit
    let message = env.fails(&["account", "deposit", "1", "ether", "--password", PASSWORD]);
    assert!(message.contains("ether"), "{message}");
    assert!(
        env.fails(&["account", "deposit", "abc"])
            .contains("abc is not a valid amount")
    );
}
