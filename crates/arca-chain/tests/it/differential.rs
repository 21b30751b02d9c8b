//! Differential test: the same transaction sequence on Arca's chain and on the real anvil 1.7.1
//! must give the same status, gas used, logs, return data and revert data, transaction by
//! transaction. The anvil binary comes from npm (`@foundry-rs/anvil-linux-amd64@1.7.1`);
//! `scripts/test.sh` installs it and sets `ARCA_ANVIL_BIN`.

use crate::common::{ChainProbe, provider};
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// What one step produced, in a form that must be identical on both chains.
#[derive(Debug, PartialEq)]
struct Outcome {
    step: &'static str,
    status: Option<bool>,
    gas_used: Option<u64>,
    logs: Vec<(Address, Vec<B256>, Bytes)>,
    contract_address: Option<Address>,
    /// eth_call return data, or the revert data of a failed call.
    call_data: Option<Result<Bytes, Bytes>>,
}

fn anvil_bin() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("ARCA_ANVIL_BIN") {
        return Some(PathBuf::from(bin));
    }
    let home = std::env::var("HOME").ok()?;
    let cached = PathBuf::from(home)
        .join(".cache/arca/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    cached.exists().then_some(cached)
}

struct Anvil(Child, String);

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[expect(
    clippy::zombie_processes,
    reason = "the Anvil guard kills and waits on drop; a panic here ends the test process"
)]
async fn start_anvil(bin: &PathBuf) -> Anvil {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--chain-id",
            "1337",
            "--silent",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("anvil starts");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        let probe = alloy::providers::ProviderBuilder::new().connect_http(url.parse().unwrap());
        if probe.get_chain_id().await.is_ok() {
            return Anvil(child, url);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("anvil did not answer on {url}");
}

async fn sent(p: &DynProvider, step: &'static str, tx: TransactionRequest) -> Outcome {
    let receipt = p
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    Outcome {
        step,
        status: Some(receipt.status()),
        gas_used: Some(receipt.gas_used),
        logs: receipt
            .inner
            .logs()
            .iter()
            .map(|l| (l.address(), l.topics().to_vec(), l.data().data.clone()))
            .collect(),
        contract_address: receipt.contract_address,
        call_data: None,
    }
}

async fn called(p: &DynProvider, step: &'static str, tx: TransactionRequest) -> Outcome {
    let result = match p.call(tx).await {
        Ok(data) => Ok(data),
        Err(e) => Err(e
            .as_error_resp()
            .and_then(|r| r.as_revert_data())
            .unwrap_or_default()),
    };
    Outcome {
        step,
        status: None,
        gas_used: None,
        logs: vec![],
        contract_address: None,
        call_data: Some(result),
    }
}

async fn run_sequence(url: &str, signer: alloy::signers::local::PrivateKeySigner) -> Vec<Outcome> {
    let p = provider(url, signer.clone());
    let me = signer.address();
    let mut out = Vec::new();
    let deploy = TransactionRequest::default()
        .with_deploy_code(
            [
                ChainProbe::BYTECODE.to_vec(),
                U256::from(5).to_be_bytes::<32>().to_vec(),
            ]
            .concat(),
        )
        .with_gas_limit(2_000_000);
    let o = sent(&p, "deploy", deploy).await;
    let probe_addr = o.contract_address.expect("deployed");
    out.push(o);
    let probe = ChainProbe::new(probe_addr, &p);
    let tx = |call: Bytes, gas: u64| {
        TransactionRequest::default()
            .with_to(probe_addr)
            .with_input(call)
            .with_gas_limit(gas)
    };
    out.push(
        sent(
            &p,
            "increment",
            tx(
                probe
                    .increment(U256::from(7), B256::repeat_byte(1))
                    .calldata()
                    .clone(),
                200_000,
            ),
        )
        .await,
    );
    out.push(
        sent(
            &p,
            "revert string",
            tx(
                probe.failWithString("boom".into()).calldata().clone(),
                200_000,
            ),
        )
        .await,
    );
    out.push(
        sent(
            &p,
            "revert custom",
            tx(
                probe.failWithCustom(U256::from(3)).calldata().clone(),
                200_000,
            ),
        )
        .await,
    );
    out.push(
        sent(
            &p,
            "panic",
            tx(probe.failWithPanic(U256::ZERO).calldata().clone(), 200_000),
        )
        .await,
    );
    out.push(
        sent(
            &p,
            "create2",
            tx(
                probe
                    .deployChild(B256::repeat_byte(9), true)
                    .calldata()
                    .clone(),
                1_000_000,
            ),
        )
        .await,
    );
    out.push(
        sent(
            &p,
            "create",
            tx(
                probe.deployChild(B256::ZERO, false).calldata().clone(),
                1_000_000,
            ),
        )
        .await,
    );
    let pay = TransactionRequest::default()
        .with_to(probe_addr)
        .with_value(U256::from(10u64.pow(18)))
        .with_gas_limit(100_000);
    out.push(sent(&p, "receive ether", pay).await);
    out.push(
        sent(
            &p,
            "withdraw",
            tx(
                probe.withdraw(U256::from(10u64.pow(17))).calldata().clone(),
                100_000,
            ),
        )
        .await,
    );
    out.push(
        sent(
            &p,
            "burn",
            tx(probe.burn(U256::from(40)).calldata().clone(), 3_000_000),
        )
        .await,
    );
    out.push(
        sent(
            &p,
            "out of gas",
            tx(probe.spin().calldata().clone(), 150_000),
        )
        .await,
    );
    let transfer = TransactionRequest::default()
        .with_to(Address::repeat_byte(0x55))
        .with_value(U256::from(1))
        .with_gas_limit(21_000);
    out.push(sent(&p, "transfer", transfer).await);
    let view = |call: Bytes| {
        TransactionRequest::default()
            .from(me)
            .with_to(probe_addr)
            .with_input(call)
    };
    out.push(called(&p, "call counter", view(probe.counter().calldata().clone())).await);
    out.push(
        called(
            &p,
            "call hashes",
            view(probe.hashes(Bytes::from_static(b"arca")).calldata().clone()),
        )
        .await,
    );
    out.push(
        called(
            &p,
            "call predict",
            view(
                probe
                    .predictChild(B256::repeat_byte(9), me)
                    .calldata()
                    .clone(),
            ),
        )
        .await,
    );
    out.push(
        called(
            &p,
            "call revert string",
            view(probe.failWithString("why".into()).calldata().clone()),
        )
        .await,
    );
    out.push(
        called(
            &p,
            "call revert custom",
            view(probe.failWithCustom(U256::from(8)).calldata().clone()),
        )
        .await,
    );
    out.push(
        called(
            &p,
            "call credits",
            view(probe.credits(me).calldata().clone()),
        )
        .await,
    );
    out
}

#[tokio::test]
async fn same_results_as_anvil() {
    let Some(bin) = anvil_bin() else {
        eprintln!(
            "SKIPPED same_results_as_anvil: set ARCA_ANVIL_BIN (scripts/test.sh installs anvil 1.7.1 from npm)"
        );
        return;
    };
    let anvil = start_anvil(&bin).await;
    let arca = crate::common::node().await;
    let signer = arca.dev_signers()[0].clone();
    let on_anvil = run_sequence(&anvil.1, signer.clone()).await;
    let on_arca = run_sequence(&arca.http_url(), signer).await;
    assert_eq!(on_anvil.len(), on_arca.len());
    for (a, b) in on_anvil.iter().zip(&on_arca) {
        assert_eq!(
            a, b,
            "step {:?} differs between anvil (left) and arca (right)",
            a.step
        );
    }
}
