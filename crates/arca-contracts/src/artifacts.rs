//! The committed contract artifacts embedded in the binary: creation bytecode and selectors of
//! the hub's facets (the typed bindings in [`crate::bindings`] cover everything else). The
//! deployer routes each facet's selectors to it, so the routing table always matches the code.

use crate::ContractsError;
use alloy::primitives::{Bytes, FixedBytes};
use serde::Deserialize;

/// One deployable contract: its name, creation bytecode and external function selectors.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: &'static str,
    pub bytecode: Bytes,
    pub selectors: Vec<FixedBytes<4>>,
}

/// The hub's facets, in routing order (each selector belongs to exactly one of them).
const FACETS: [(&str, &str); 6] = [
    (
        "ConfigFacet",
        include_str!("../../../contracts/artifacts/ConfigFacet.json"),
    ),
    (
        "EscrowFacet",
        include_str!("../../../contracts/artifacts/EscrowFacet.json"),
    ),
    (
        "OrderFacet",
        include_str!("../../../contracts/artifacts/OrderFacet.json"),
    ),
    (
        "MatchFacet",
        include_str!("../../../contracts/artifacts/MatchFacet.json"),
    ),
    (
        "TaskFacet",
        include_str!("../../../contracts/artifacts/TaskFacet.json"),
    ),
    (
        "ViewFacet",
        include_str!("../../../contracts/artifacts/ViewFacet.json"),
    ),
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArtifact {
    bytecode: RawCode,
    method_identifiers: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawCode {
    object: String,
}

fn parse(name: &'static str, json: &str) -> Result<Artifact, ContractsError> {
    let bad = |reason: String| ContractsError::Artifact {
        name: name.to_string(),
        reason,
    };
    let raw: RawArtifact = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let bytecode: Bytes = raw
        .bytecode
        .object
        .parse()
        .map_err(|e| bad(format!("bytecode: {e}")))?;
    let selectors = raw
        .method_identifiers
        .values()
        .map(|hex| {
            format!("0x{hex}")
                .parse::<FixedBytes<4>>()
                .map_err(|e| bad(format!("selector {hex}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Artifact {
        name,
        bytecode,
        selectors,
    })
}

/// The hub's facet artifacts, parsed.
pub fn facets() -> Result<Vec<Artifact>, ContractsError> {
    FACETS
        .iter()
        .map(|(name, json)| parse(name, json))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn facets_parse_and_no_selector_is_served_twice() {
        let facets = facets().unwrap();
        assert_eq!(facets.len(), 6);
        let mut seen = HashSet::new();
        for facet in &facets {
            assert!(!facet.bytecode.is_empty(), "{} has no bytecode", facet.name);
            for sel in &facet.selectors {
                assert!(
                    seen.insert(*sel),
                    "selector {sel} of {} is also in another facet",
                    facet.name
                );
            }
        }
        // matchOrders' selector, as in PoCo's IexecInterfaceToken
        assert!(seen.contains(&FixedBytes::from([0x15, 0x61, 0x94, 0xd4])));
    }
}
