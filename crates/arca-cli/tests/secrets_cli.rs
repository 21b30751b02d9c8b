//! `result …`, `requester …`, `app …-secret` and `dataset …-secret` against the real SMS on an
//! in-process chain: keys land where the SDK puts them, pushes are accepted by the SMS's signature
//! checks, checks reflect the SMS's state, and decryption restores the plain archive.

mod common;

use alloy::primitives::B256;
use common::{Env, PASSWORD};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_keys_and_secrets_round_trip_through_the_sms() {
    let env = Env::start().await;
    let requester = env.stack.actors.requester.clone();
    env.use_wallet(&requester);
    let me = requester.address().to_checksum(None);

    // result generate-encryption-keypair: SDK file names, PEM formats; no silent overwrite
    let generated = env.ok(&["result", "generate-encryption-keypair"]);
    let private = env.dir.join(format!(".secrets/beneficiary/{me}_key"));
    let public = env.dir.join(format!(".secrets/beneficiary/{me}_key.pub"));
    assert_eq!(generated["privateKeyFile"], private.display().to_string());
    let public_pem = std::fs::read_to_string(&public).unwrap();
    assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(
        std::fs::read_to_string(&private)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let again = env.fails(&["result", "generate-keys"]);
    assert!(again.contains("--force"), "{again}");

    // push / check (the SDK's --tee-framework is accepted)
    assert_eq!(
        env.ok(&["result", "check-encryption-key"])["isEncryptionKeySet"],
        false
    );
    let pushed = env.ok(&[
        "result",
        "push-encryption-key",
        "--tee-framework",
        "scone",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(
        pushed,
        json!({"ok": true, "isPushed": true, "isUpdated": false})
    );
    assert_eq!(
        env.ok(&["result", "check-encryption-key", "--tee-framework", "scone"])["isEncryptionKeySet"],
        true
    );
    let conflict = env.fails(&["result", "push-encryption-key", "--password", PASSWORD]);
    assert!(conflict.contains("--force-update"), "{conflict}");
    let updated = env.ok(&[
        "result",
        "push-encryption-key",
        "--force-update",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(updated["isUpdated"], true);
    // another beneficiary has none
    let other = env.stack.actors.stranger.address().to_string();
    assert_eq!(
        env.ok(&["result", "check-secret", &other])["isEncryptionKeySet"],
        false
    );

    // result decrypt: an archive encrypted for the public key comes back as the plain zip
    let plain = b"PK\x03\x04 pretend this is iexec_out.zip".to_vec();
    let key = arca_crypto::result::parse_public_key(&public_pem).unwrap();
    let encrypted = arca_crypto::result::encrypt_result(&plain, &key).unwrap();
    std::fs::write(env.dir.join("0xtask.zip"), &encrypted).unwrap();
    let decrypted = env.ok(&["result", "decrypt", "0xtask.zip"]);
    let out = env.dir.join("results.zip");
    assert_eq!(decrypted["resultPath"], out.display().to_string());
    assert_eq!(std::fs::read(&out).unwrap(), plain);
    assert!(
        env.fails(&["result", "decrypt", "0xtask.zip"])
            .contains("--force")
    );
    let missing = env.fails(&["result", "decrypt", "nope.zip", "--force"]);
    assert!(missing.contains("nope.zip not found"), "{missing}");

    // requester secrets (seed 004 step 4)
    let check = env.ok(&["requester", "check-secret", "my_email"]);
    assert_eq!(check["isSecretSet"], false);
    let message = env.fails(&[
        "requester",
        "push-secret",
        "my_email",
        "--password",
        PASSWORD,
    ]);
    assert!(message.contains("--secret-value"), "{message}");
    env.ok(&[
        "requester",
        "push-secret",
        "my_email",
        "--secret-value",
        "alice@example.com",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(
        env.ok(&["requester", "check-secret", "my_email"])["isSecretSet"],
        true
    );
    assert_eq!(
        env.ok(&["requester", "check-secret", "my_email", &other])["isSecretSet"],
        false
    );
    let bad = env.fails(&["requester", "check-secret", "my email"]);
    assert!(bad.contains("not a valid secret name"), "{bad}");

    // dataset key (seed 004 step 3.4): only the dataset owner may push it
    let dataset = env
        .stack
        .dataset(
            "emails",
            "https://example.com/emails.xlsx.enc",
            B256::repeat_byte(1),
        )
        .await
        .to_string();
    std::fs::create_dir_all(env.dir.join(".secrets/datasets")).unwrap();
    let key = arca_crypto::AesKey::generate().to_base64();
    std::fs::write(env.dir.join(".secrets/datasets/dataset.key"), &key).unwrap();
    assert_eq!(
        env.ok(&["dataset", "check-secret", &dataset])["isSecretSet"],
        false
    );
    let refused = env.fails(&["dataset", "push-secret", &dataset, "--password", PASSWORD]);
    assert!(refused.contains("refused"), "{refused}");
    env.use_wallet(&env.stack.actors.dataset_owner);
    // a TEE dataset order waits for the key (SDK preflight)
    let message = env.fails(&[
        "dataset",
        "publish",
        &dataset,
        "--tag",
        "tee",
        "--password",
        PASSWORD,
    ]);
    assert!(message.contains("arca dataset push-secret"), "{message}");
    env.ok(&["dataset", "push-secret", &dataset, "--password", PASSWORD]);
    let published = env.ok(&[
        "dataset",
        "publish",
        &dataset,
        "--tag",
        "tee",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(published["order"]["dataset"], dataset);
    assert_eq!(
        env.ok(&["dataset", "check-secret", &dataset])["isSecretSet"],
        true
    );

    // app developer secret
    env.use_wallet(&env.stack.actors.app_owner);
    let app = env
        .stack
        .app("secret-app", "docker.io/x/y:1", B256::repeat_byte(2), "")
        .await
        .to_string();
    assert_eq!(env.ok(&["app", "check-secret", &app])["isSecretSet"], false);
    env.ok(&[
        "app",
        "push-secret",
        &app,
        "--secret-value",
        "s3cr3t",
        "--password",
        PASSWORD,
    ]);
    assert_eq!(env.ok(&["app", "check-secret", &app])["isSecretSet"], true);

    // storage init|check (seed 004 step 1.5): no token to push, the store must answer
    let init = env.ok(&["storage", "init", "--tee-framework", "scone"]);
    assert_eq!(init["isInitialized"], true);
    assert_eq!(init["ipfsGateway"], env.storage.url());
    assert_eq!(env.ok(&["storage", "check", "ipfs"])["isInitialized"], true);
    let message = env.fails(&["storage", "init", "dropbox", "--token", "x"]);
    assert!(message.contains("dropbox is not supported"), "{message}");
    let mut chain = env.read("chain.json");
    chain["chains"]["dev"]["ipfsGateway"] = json!("http://127.0.0.1:9");
    env.write("chain.json", &chain);
    let message = env.fails(&["storage", "check"]);
    assert!(message.contains("did not answer"), "{message}");

    // a chain.json without sms: the field and the fix are named
    let mut chain = env.read("chain.json");
    chain["chains"]["dev"]
        .as_object_mut()
        .unwrap()
        .remove("sms");
    env.write("chain.json", &chain);
    let message = env.fails(&["app", "check-secret", &app]);
    assert!(message.contains("chains.dev.sms is missing"), "{message}");
}
