//! ABI compatibility with iExec PoCo 6.1.0: every function, event and error of the reference
//! `IexecInterfaceToken` must exist in the hub's ABI (`contracts/artifacts/IexecHub.json`) with
//! the same name, input types (hence selector), outputs, mutability, and for events the same
//! indexed flags and parameter names (clients decode logs by name).
//!
//! The reference ABI comes from the npm package `@iexec/poco@6.1.0`, unpacked into a cache by
//! `scripts/test.d/20-contracts.sh`, which passes its directory in `ARCA_POCO_DIR`. Without it
//! the test prints how to get it and skips.

use alloy::json_abi::{EventParam, JsonAbi, Param};
use std::path::PathBuf;

fn param_type(p: &Param) -> String {
    if p.ty.starts_with("tuple") {
        let inner: Vec<String> = p.components.iter().map(param_type).collect();
        format!("({}){}", inner.join(","), &p.ty["tuple".len()..])
    } else {
        p.ty.clone()
    }
}

fn event_param(p: &EventParam) -> String {
    let ty = if p.ty.starts_with("tuple") {
        let inner: Vec<String> = p.components.iter().map(param_type).collect();
        format!("({}){}", inner.join(","), &p.ty["tuple".len()..])
    } else {
        p.ty.clone()
    };
    format!("{ty}{} {}", if p.indexed { " indexed" } else { "" }, p.name)
}

fn types(params: &[Param]) -> String {
    params.iter().map(param_type).collect::<Vec<_>>().join(",")
}

/// One line per function / event / error: what must be identical for clients.
fn describe(abi: &JsonAbi) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in abi.functions() {
        let key = format!("function {}({})", f.name, types(&f.inputs));
        out.push((
            key.clone(),
            format!(
                "{key} returns ({}) {:?}",
                types(&f.outputs),
                f.state_mutability
            ),
        ));
    }
    for e in abi.events() {
        let key = format!(
            "event {}({})",
            e.name,
            e.inputs
                .iter()
                .map(param_type_of_event)
                .collect::<Vec<_>>()
                .join(",")
        );
        let params: Vec<String> = e.inputs.iter().map(event_param).collect();
        out.push((
            key.clone(),
            format!("{key} [{}] anonymous={}", params.join(", "), e.anonymous),
        ));
    }
    for e in abi.errors() {
        let key = format!("error {}({})", e.name, types(&e.inputs));
        out.push((key.clone(), key));
    }
    out
}

fn param_type_of_event(p: &EventParam) -> String {
    event_param(p)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn load(path: &PathBuf) -> JsonAbi {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let abi = if value.is_array() {
        value
    } else {
        value["abi"].clone()
    };
    serde_json::from_value(abi).unwrap()
}

#[test]
fn hub_abi_covers_iexec_interface_token() {
    let Ok(dir) = std::env::var("ARCA_POCO_DIR") else {
        eprintln!(
            "SKIPPED hub_abi_covers_iexec_interface_token: ARCA_POCO_DIR is not set. Run \
             `scripts/test.sh 20-contracts` (it unpacks `npm pack @iexec/poco@6.1.0` into \
             ~/.cache/arca/poco-6.1.0) and set ARCA_POCO_DIR=~/.cache/arca/poco-6.1.0/package"
        );
        return;
    };
    let reference = load(&PathBuf::from(dir).join("abis/contracts/IexecInterfaceToken.json"));
    let ours = load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/artifacts/IexecHub.json"),
    );
    let ours: std::collections::HashMap<String, String> = describe(&ours).into_iter().collect();
    let reference = describe(&reference);
    assert!(
        reference.len() > 100,
        "the reference ABI looks truncated ({} entries)",
        reference.len()
    );
    let mut problems = Vec::new();
    for (key, full) in &reference {
        match ours.get(key) {
            None => problems.push(format!("missing:   {full}")),
            Some(mine) if mine != full => {
                problems.push(format!("different: {full}\n    ours:  {mine}"))
            }
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "hub ABI vs IexecInterfaceToken 6.1.0:\n{}",
        problems.join("\n")
    );
    println!(
        "all {} functions, events and errors of IexecInterfaceToken match",
        reference.len()
    );
}
