//! Order tags as the SDK writes them: a list of names (`["tee","tdx"]`), a comma-separated string
//! (`"tee,tdx"`) or a bytes32 hex string. Names map to bit positions of the last bytes (PoCo §1.11).

use crate::{ClientError, Result};
use alloy::primitives::{B256, U256};
use serde_json::Value;

/// The SDK's `TAG_MAP`: name → bit position.
pub const TAG_BITS: [(&str, usize); 5] = [
    ("tee", 0),
    ("scone", 1),
    ("gramine", 2),
    ("tdx", 3),
    ("gpu", 8),
];

fn invalid(value: &str) -> ClientError {
    ClientError::Validation {
        what: "tag",
        value: value.to_string(),
        hint: Some(format!(
            "use names among {} or a bytes32 hex string",
            TAG_BITS.map(|(n, _)| n).join(", ")
        )),
    }
}

/// Encodes tag names into the bytes32 tag.
pub fn encode_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<B256> {
    let mut tag = U256::ZERO;
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        let (_, bit) = TAG_BITS
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| invalid(name))?;
        tag |= U256::from(1) << *bit;
    }
    Ok(B256::from(tag))
}

/// Parses a tag given on the command line: hex (`0x…`) or comma-separated names.
pub fn parse(text: &str) -> Result<B256> {
    if let Some(hex) = text.strip_prefix("0x") {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(text));
        }
        return text.parse().map_err(|_| invalid(text));
    }
    encode_names(text.split(','))
}

/// Parses a tag from iexec.json: a list of names or a string ([`parse`]).
pub fn from_json(value: &Value) -> Result<B256> {
    match value {
        Value::String(s) => parse(s),
        Value::Array(items) => {
            let names = items
                .iter()
                .map(|v| v.as_str().ok_or_else(|| invalid(&v.to_string())))
                .collect::<Result<Vec<_>>>()?;
            encode_names(names)
        }
        other => Err(invalid(&other.to_string())),
    }
}

/// The names of the known bits set in `tag` (unknown bits are ignored; see the hex form for them).
pub fn names(tag: B256) -> Vec<&'static str> {
    let value = U256::from_be_bytes(tag.0);
    TAG_BITS
        .iter()
        .filter(|(_, bit)| value.bit(*bit))
        .map(|(n, _)| *n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_sdk() {
        let t = parse("tee,tdx").unwrap();
        assert_eq!(t.0[31], 0x09);
        assert_eq!(
            from_json(&serde_json::json!(["tee", "scone"])).unwrap().0[31],
            0x03
        );
        assert_eq!(parse("gpu").unwrap().0[30], 0x01);
        assert_eq!(parse("").unwrap(), B256::ZERO);
        assert_eq!(names(t), vec!["tee", "tdx"]);
        let hex = "0x0000000000000000000000000000000000000000000000000000000000000101";
        assert_eq!(names(parse(hex).unwrap()), vec!["tee", "gpu"]);
        assert!(parse("sgx").is_err());
        assert!(parse("0x12").is_err());
    }
}
