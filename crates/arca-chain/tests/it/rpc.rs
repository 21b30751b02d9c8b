//! JSON-RPC behaviour seen by real clients: deploy, EIP-1559 transactions, logs and filters,
//! reverts, snapshots, time, WebSocket subscriptions and malformed input.

use crate::common::{
    ChainProbe, call, increment, latest_timestamp, node, provider, raw, reqwest_post, result_len,
};
use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy},
    eips::eip2718::Encodable2718,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, TxKind, U256, address, b256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    signers::SignerSync,
};
use futures::StreamExt;
use serde_json::json;

#[tokio::test]
async fn deploy_transact_read_logs_and_revert_data() {
    let node = node().await;
    let url = node.http_url();
    let me = node.dev_signers()[0].clone();
    let p = provider(&url, me.clone());

    assert_eq!(p.get_chain_id().await.unwrap(), 1337);
    assert_eq!(p.get_block_number().await.unwrap(), 0);
    let balance = p.get_balance(me.address()).await.unwrap();
    assert_eq!(
        balance,
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64))
    );

    // Deploy with constructor args and value; EIP-1559 fees come from eth_feeHistory.
    let probe = ChainProbe::deploy(&p, U256::from(5)).await.expect("deploy");
    assert_eq!(p.get_block_number().await.unwrap(), 1);
    assert!(!p.get_code_at(*probe.address()).await.unwrap().is_empty());
    assert_eq!(probe.counter().call().await.unwrap(), U256::from(5));

    let receipt = probe
        .increment(U256::from(7), B256::repeat_byte(0xaa))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.inner.logs().len(), 1);
    let tx = p
        .get_transaction_by_hash(receipt.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alloy::consensus::Typed2718::ty(&tx.inner),
        2,
        "alloy sends EIP-1559 by default"
    );
    assert_eq!(probe.counter().call().await.unwrap(), U256::from(12));

    // eth_getLogs with an address and a topic OR-list.
    let filter = Filter::new()
        .address(*probe.address())
        .event_signature(vec![
            keccak256("Incremented(address,uint256,bytes32)"),
            keccak256("Paid(address,uint256)"),
        ])
        .topic1(me.address().into_word())
        .from_block(0);
    let logs = p.get_logs(&filter).await.unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].topics()[2], B256::from(U256::from(12)));
    let other_sender = filter.clone().topic1(Address::repeat_byte(9).into_word());
    assert!(p.get_logs(&other_sender).await.unwrap().is_empty());

    // Revert data: Error(string), custom errors and Panic reach the client intact.
    let err = probe
        .failWithString("nope".into())
        .call()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    let err = probe
        .failWithCustom(U256::from(42))
        .call()
        .await
        .unwrap_err();
    let decoded = err
        .as_decoded_interface_error::<ChainProbe::ChainProbeErrors>()
        .expect("custom error decodes");
    match decoded {
        ChainProbe::ChainProbeErrors::Custom(c) => assert_eq!(c.code, U256::from(42)),
    }
    let err = probe.failWithPanic(U256::ZERO).call().await.unwrap_err();
    assert!(err.as_revert_data().is_some(), "panic data returned: {err}");

    // A reverting transaction is mined with status 0 when sent with explicit gas.
    let receipt = probe
        .failWithString("mined anyway".into())
        .gas(100_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!receipt.status());

    // CREATE2 lands where predicted; precompiles work.
    let salt = B256::repeat_byte(7);
    let predicted = probe.predictChild(salt, me.address()).call().await.unwrap();
    let receipt = probe
        .deployChild(salt, true)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert!(!p.get_code_at(predicted).await.unwrap().is_empty());
    let hashes = probe
        .hashes(Bytes::from_static(b"abc"))
        .call()
        .await
        .unwrap();
    assert_eq!(
        hashes.sha,
        b256!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
    let digest = keccak256(b"sign me");
    let sig = me.sign_hash_sync(&digest).unwrap();
    let recovered = probe
        .recover(digest, 27 + sig.v() as u8, sig.r().into(), sig.s().into())
        .call()
        .await
        .unwrap();
    assert_eq!(recovered, me.address());

    // Receipts chain cumulative gas; blocks link to their parents.
    let head = p.get_block_number().await.unwrap();
    let block = p
        .get_block_by_number(head.into())
        .full()
        .await
        .unwrap()
        .unwrap();
    let parent = p
        .get_block_by_number((head - 1).into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.header.parent_hash, parent.header.hash);
    assert_eq!(block.header.number, head);
    assert!(block.header.base_fee_per_gas.is_some());
}

#[tokio::test]
async fn estimate_gas_and_fees_match_execution() {
    let node = node().await;
    let url = node.http_url();
    let me = node.dev_signers()[0].clone();
    let p = provider(&url, me.clone());
    let probe = ChainProbe::deploy(&p, U256::ZERO).await.unwrap();
    let call = probe.burn(U256::from(20));
    let estimate = call.estimate_gas().await.unwrap();
    let receipt = call
        .gas(estimate)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "estimated gas must be enough");
    assert!(
        estimate >= receipt.gas_used && estimate < receipt.gas_used * 2,
        "estimate {estimate} vs used {}",
        receipt.gas_used
    );
    // One gas less than a tight limit must not succeed: the estimate is close to the real need.
    let fees = p.estimate_eip1559_fees().await.unwrap();
    assert!(fees.max_fee_per_gas >= fees.max_priority_fee_per_gas);
    let history = p
        .get_fee_history(3, alloy::eips::BlockNumberOrTag::Latest, &[25.0, 75.0])
        .await
        .unwrap();
    assert_eq!(
        history.base_fee_per_gas.len(),
        history.gas_used_ratio.len() + 1
    );
    assert!(p.get_gas_price().await.unwrap() > 0);
}

#[tokio::test]
async fn raw_transactions_of_every_type_and_their_rejections() {
    let node = node().await;
    let url = node.http_url();
    let signer = node.dev_signers()[1].clone();
    let p = provider(&url, signer.clone());
    let to = address!("00000000000000000000000000000000000000aa");
    let base = 1_000_000_000u128;

    let send = |env: TxEnvelope| {
        let url = url.clone();
        async move {
            raw(&url, json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":[Bytes::from(env.encoded_2718())]})).await
        }
    };
    let legacy = |nonce: u64, chain_id: Option<u64>, gas_price: u128, gas: u64| {
        let mut tx = TxLegacy {
            chain_id,
            nonce,
            gas_price,
            gas_limit: gas,
            to: TxKind::Call(to),
            value: U256::from(1),
            input: Bytes::new(),
        };
        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
        TxEnvelope::from(tx.into_signed(sig))
    };
    // Legacy (EIP-155), EIP-2930 and EIP-1559 are all accepted and mined.
    let ok = send(legacy(0, Some(1337), 2 * base, 21_000)).await;
    assert!(ok.get("result").is_some(), "{ok}");
    let mut t2930 = alloy::consensus::TxEip2930 {
        chain_id: 1337,
        nonce: 1,
        gas_price: 2 * base,
        gas_limit: 30_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut t2930).unwrap();
    let ok = send(TxEnvelope::from(t2930.into_signed(sig))).await;
    assert!(ok.get("result").is_some(), "{ok}");
    let mut t1559 = TxEip1559 {
        chain_id: 1337,
        nonce: 2,
        max_fee_per_gas: 3 * base,
        max_priority_fee_per_gas: base,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut t1559).unwrap();
    let ok = send(TxEnvelope::from(t1559.into_signed(sig))).await;
    assert!(ok.get("result").is_some(), "{ok}");
    assert_eq!(p.get_balance(to).await.unwrap(), U256::from(3));
    assert_eq!(p.get_transaction_count(signer.address()).await.unwrap(), 3);

    let expect_err = |answer: serde_json::Value, needle: &str| {
        let message = answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(needle), "expected {needle:?} in {answer}");
    };
    expect_err(
        send(legacy(0, Some(1337), 3 * base, 21_000)).await,
        "nonce too low",
    );
    expect_err(
        send(legacy(3, Some(999), 2 * base, 21_000)).await,
        "invalid chain id",
    );
    expect_err(
        send(legacy(3, Some(1337), 2 * base, 20_000)).await,
        "intrinsic gas too low",
    );
    expect_err(
        send(legacy(3, Some(1337), 1, 21_000)).await,
        "less than block base fee",
    );
    expect_err(
        send(legacy(3, Some(1337), u128::MAX / 1_000_000_000_000, 21_000)).await,
        "insufficient funds",
    );
    let garbage = raw(
        &url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x1234"]}),
    )
    .await;
    assert_eq!(garbage["error"]["code"], -32602, "{garbage}");

    // A nonce gap waits in the pool and is mined once the gap is filled.
    let queued = send(legacy(4, Some(1337), 2 * base, 21_000)).await;
    let queued_hash: B256 = serde_json::from_value(queued["result"].clone()).unwrap();
    assert!(
        p.get_transaction_receipt(queued_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        call(
            &url,
            "eth_getTransactionCount",
            json!([signer.address(), "pending"])
        )
        .await,
        json!("0x3")
    );
    send(legacy(3, Some(1337), 2 * base, 21_000)).await;
    assert!(
        p.get_transaction_receipt(queued_hash)
            .await
            .unwrap()
            .is_some(),
        "queued tx mined after the gap filled"
    );
}

#[tokio::test]
async fn dev_account_signing_methods() {
    let node = node().await;
    let url = node.http_url();
    let me = node.dev_signers()[2].clone();
    let accounts = call(&url, "eth_accounts", json!([])).await;
    assert_eq!(accounts.as_array().unwrap().len(), 10);

    // eth_sendTransaction fills nonce, gas and fees for dev accounts.
    let hash = call(
        &url,
        "eth_sendTransaction",
        json!([{"from": me.address(), "to": Address::repeat_byte(1), "value": "0x5"}]),
    )
    .await;
    let receipt = call(&url, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["status"], "0x1");

    // personal_sign and eth_sign give EIP-191 signatures by the account.
    let msg = Bytes::from_static(b"hello arca");
    let sig: Bytes =
        serde_json::from_value(call(&url, "personal_sign", json!([msg, me.address()])).await)
            .unwrap();
    let sig = alloy::primitives::Signature::try_from(sig.as_ref()).unwrap();
    assert_eq!(sig.recover_address_from_msg(&msg).unwrap(), me.address());
    let sig2: Bytes =
        serde_json::from_value(call(&url, "eth_sign", json!([me.address(), msg])).await).unwrap();
    assert_eq!(sig2, Bytes::from(sig.as_bytes().to_vec()));

    // eth_signTypedData_v4 signs the EIP-712 hash.
    let typed = json!({
        "types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"}, {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
                  "AppOrder": [{"name": "app", "type": "address"}, {"name": "appprice", "type": "uint256"}]},
        "primaryType": "AppOrder",
        "domain": {"name": "iExecODB", "version": "5.0.0", "chainId": 1337, "verifyingContract": Address::repeat_byte(3)},
        "message": {"app": Address::repeat_byte(4), "appprice": "0"}
    });
    let sig: Bytes = serde_json::from_value(
        call(
            &url,
            "eth_signTypedData_v4",
            json!([me.address(), typed.clone()]),
        )
        .await,
    )
    .unwrap();
    let data: alloy::dyn_abi::TypedData = serde_json::from_value(typed).unwrap();
    let sig = alloy::primitives::Signature::try_from(sig.as_ref()).unwrap();
    assert_eq!(
        sig.recover_address_from_prehash(&data.eip712_signing_hash().unwrap())
            .unwrap(),
        me.address()
    );

    // Unknown senders are refused with a hint.
    let answer = raw(&url, json!({"jsonrpc":"2.0","id":1,"method":"eth_sendTransaction","params":[{"from": Address::repeat_byte(8), "to": Address::repeat_byte(1)}]})).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("anvil_impersonateAccount"),
        "{answer}"
    );

    // Impersonation lets any account send without a key.
    let whale = Address::repeat_byte(0x77);
    call(
        &url,
        "anvil_setBalance",
        json!([whale, "0xde0b6b3a7640000"]),
    )
    .await;
    call(&url, "anvil_impersonateAccount", json!([whale])).await;
    let hash = call(
        &url,
        "eth_sendTransaction",
        json!([{"from": whale, "to": Address::repeat_byte(1), "value": "0x1"}]),
    )
    .await;
    let receipt = call(&url, "eth_getTransactionReceipt", json!([hash])).await;
    assert_eq!(receipt["from"], json!(whale));
    call(&url, "anvil_stopImpersonatingAccount", json!([whale])).await;
}

#[tokio::test]
async fn filters_snapshots_and_time() {
    let node = node().await;
    let url = node.http_url();
    let me = node.dev_signers()[0].clone();
    let p = provider(&url, me.clone());
    let probe = ChainProbe::deploy(&p, U256::ZERO).await.unwrap();

    let log_filter = call(
        &url,
        "eth_newFilter",
        json!([{"address": probe.address(), "fromBlock": "0x0"}]),
    )
    .await;
    let block_filter = call(&url, "eth_newBlockFilter", json!([])).await;
    increment(&probe, 1).await;
    increment(&probe, 1).await;
    let changes = call(&url, "eth_getFilterChanges", json!([log_filter])).await;
    assert_eq!(changes.as_array().unwrap().len(), 2);
    assert_eq!(
        call(&url, "eth_getFilterChanges", json!([log_filter])).await,
        json!([]),
        "changes are reported once"
    );
    assert_eq!(
        result_len(&url, "eth_getFilterChanges", json!([block_filter])).await,
        2
    );
    assert_eq!(
        result_len(&url, "eth_getFilterLogs", json!([log_filter])).await,
        2
    );
    assert_eq!(
        call(&url, "eth_uninstallFilter", json!([log_filter])).await,
        json!(true)
    );
    let gone = raw(
        &url,
        json!({"jsonrpc":"2.0","id":1,"method":"eth_getFilterChanges","params":[log_filter]}),
    )
    .await;
    assert!(
        gone["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{gone}"
    );

    // Snapshot, change things, revert: state, blocks and receipts are back.
    let snap = call(&url, "evm_snapshot", json!([])).await;
    let head = p.get_block_number().await.unwrap();
    let receipt = increment(&probe, 100).await;
    assert_eq!(probe.counter().call().await.unwrap(), U256::from(102));
    assert_eq!(call(&url, "evm_revert", json!([snap])).await, json!(true));
    assert_eq!(probe.counter().call().await.unwrap(), U256::from(2));
    assert_eq!(p.get_block_number().await.unwrap(), head);
    assert!(
        p.get_transaction_receipt(receipt.transaction_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        call(&url, "evm_revert", json!([snap])).await,
        json!(false),
        "a snapshot is used once"
    );
    // The same nonce can be used again after the revert (with a fresh client: alloy caches nonces).
    let p = provider(&url, me.clone());
    let probe = ChainProbe::new(*probe.address(), &p);
    increment(&probe, 1).await;
    assert_eq!(probe.counter().call().await.unwrap(), U256::from(3));

    // Historical reads see the past.
    let at_head: U256 = probe.counter().block(head.into()).call().await.unwrap();
    assert_eq!(at_head, U256::from(2));

    // Time moves: evm_increaseTime then evm_mine; evm_setNextBlockTimestamp pins the next block.
    let before = latest_timestamp(&p).await;
    call(&url, "evm_increaseTime", json!([3600])).await;
    call(&url, "evm_mine", json!([])).await;
    let after = latest_timestamp(&p).await;
    assert!(after >= before + 3600, "{before} -> {after}");
    call(&url, "evm_setNextBlockTimestamp", json!([after + 1000])).await;
    call(&url, "evm_mine", json!([])).await;
    let pinned = latest_timestamp(&p).await;
    assert_eq!(pinned, after + 1000);
    let (_, ts, ..) = probe
        .blockInfo()
        .call()
        .await
        .map(|r| (r.number, r.timestamp))
        .map(|(n, t)| (n, t, ()))
        .unwrap();
    assert_eq!(ts, U256::from(pinned));

    // anvil_setCode / anvil_setStorageAt edit state directly.
    let target = Address::repeat_byte(0x42);
    call(&url, "anvil_setCode", json!([target, "0x6001600055"])).await;
    assert_eq!(
        p.get_code_at(target).await.unwrap(),
        Bytes::from_static(&[0x60, 0x01, 0x60, 0x00, 0x55])
    );
    call(
        &url,
        "anvil_setStorageAt",
        json!([target, "0x0", B256::from(U256::from(9))]),
    )
    .await;
    assert_eq!(
        p.get_storage_at(target, U256::ZERO).await.unwrap(),
        U256::from(9)
    );
}

#[tokio::test]
async fn websocket_subscriptions_deliver_heads_and_logs() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let node = node().await;
    let me = node.dev_signers()[0].clone();
    let (mut ws, _) = tokio_tungstenite::connect_async(node.ws_url())
        .await
        .expect("ws connects");
    let http = provider(&node.http_url(), me.clone());
    let probe = ChainProbe::deploy(&http, U256::ZERO).await.unwrap();

    // Reads the next text frame as JSON (5 s at most).
    async fn next_json(
        ws: &mut tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    ) -> serde_json::Value {
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let Message::Text(t) = msg {
                return serde_json::from_str(&t).unwrap();
            }
        }
    }
    let send = |v: serde_json::Value| Message::Text(v.to_string().into());
    ws.send(send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}),
    ))
    .await
    .unwrap();
    let heads_id = next_json(&mut ws).await["result"].clone();
    ws.send(send(json!({"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": ["logs", {"address": probe.address()}]})))
        .await
        .unwrap();
    let logs_id = next_json(&mut ws).await["result"].clone();
    assert_ne!(heads_id, logs_id);

    let receipt = increment(&probe, 3).await;
    let (mut head, mut log) = (None, None);
    while head.is_none() || log.is_none() {
        let note = next_json(&mut ws).await;
        assert_eq!(note["method"], "eth_subscription");
        let params = &note["params"];
        if params["subscription"] == heads_id {
            head = Some(params["result"].clone());
        } else if params["subscription"] == logs_id {
            log = Some(params["result"].clone());
        }
    }
    assert_eq!(
        head.unwrap()["number"],
        json!(format!("{:#x}", receipt.block_number.unwrap()))
    );
    assert_eq!(
        log.unwrap()["transactionHash"],
        json!(receipt.transaction_hash)
    );

    // Plain requests work over the socket too, and unsubscribing stops notifications.
    ws.send(send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "eth_chainId", "params": []}),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["result"], "0x539");
    ws.send(send(
        json!({"jsonrpc": "2.0", "id": 4, "method": "eth_unsubscribe", "params": [heads_id]}),
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["result"], true);
}

#[tokio::test]
async fn malformed_input_gets_jsonrpc_errors_not_crashes() {
    let node = node().await;
    let url = node.http_url();
    let parse = reqwest_post(&url, "{not json".into()).await;
    assert!(parse.contains("-32700"), "{parse}");
    let invalid = raw(&url, json!({"jsonrpc": "2.0", "id": 1})).await;
    assert_eq!(invalid["error"]["code"], -32600);
    let empty = raw(&url, json!([])).await;
    assert_eq!(empty["error"]["code"], -32600);
    let unknown = raw(
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_doesNotExist", "params": []}),
    )
    .await;
    assert_eq!(unknown["error"]["code"], -32601);
    let bad_param = raw(
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x12"]}),
    )
    .await;
    assert_eq!(bad_param["error"]["code"], -32602);
    assert!(
        bad_param["error"]["message"]
            .as_str()
            .unwrap()
            .contains("address"),
        "{bad_param}"
    );
    let missing = raw(
        &url,
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getCode", "params": []}),
    )
    .await;
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing parameter 0"),
        "{missing}"
    );
    // Batches answer each request, errors included, in order.
    let batch = raw(
        &url,
        json!([
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "nope", "params": []},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber"}
        ]),
    )
    .await;
    assert_eq!(batch[0]["result"], "0x539");
    assert_eq!(batch[1]["error"]["code"], -32601);
    assert_eq!(batch[2]["result"], "0x0");
    // Oversized bodies are refused.
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":[\"{}\"]}}",
        "a".repeat(17 * 1024 * 1024)
    );
    let answer = reqwest_post(&url, huge).await;
    assert!(answer.contains("-32600"), "{answer}");
    // The node still answers.
    assert_eq!(call(&url, "eth_chainId", json!([])).await, "0x539");
}
