//! Content identifiers: the one CID form Arca produces and accepts.
//!
//! A result is named by a CIDv1 with multicodec `raw` (0x55) and multihash sha2-256
//! (0x12, length 0x20, then the 32-byte digest), written in multibase base32 (RFC 4648
//! lower-case alphabet, no padding) with the prefix `b`. The binary form is 36 bytes
//! (`01 55 12 20 ‖ digest`), so every id is `b` + 58 characters and starts with `bafkrei`.
//! This is what `ipfs add --cid-version 1 --raw-leaves` gives for a file of one block, so the
//! iexec SDK and any IPFS tooling recognise it, and the digest *is* the sha256 of the bytes:
//! a downloader can verify what it got from the id alone.

use std::fmt;
use std::str::FromStr;

/// The binary prefix: CID version 1, multicodec raw, multihash sha2-256 of 32 bytes.
const PREFIX: [u8; 4] = [0x01, 0x55, 0x12, 0x20];
/// RFC 4648 base32, lower-case (multibase `b`).
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// `b` + base32 of 36 bytes (288 bits → 58 characters, no padding).
pub const CID_LEN: usize = 59;

/// A CIDv1 raw sha2-256 content identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cid {
    digest: [u8; 32],
}

/// Why a text is not an Arca CID; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidParseError(pub String);

impl fmt::Display for CidParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidParseError {}

impl Cid {
    /// The CID of content whose sha256 is `digest`.
    pub fn from_sha256(digest: [u8; 32]) -> Cid {
        Cid { digest }
    }

    /// The CID of `bytes`.
    pub fn of(bytes: &[u8]) -> Cid {
        use sha2::Digest;
        Cid::from_sha256(sha2::Sha256::digest(bytes).into())
    }

    /// The sha256 of the content.
    pub fn sha256(&self) -> [u8; 32] {
        self.digest
    }

    /// The binary CID (36 bytes).
    pub fn to_bytes(&self) -> [u8; 36] {
        let mut out = [0u8; 36];
        out[..4].copy_from_slice(&PREFIX);
        out[4..].copy_from_slice(&self.digest);
        out
    }

    /// The gateway path the SDK downloads: `/ipfs/<cid>`.
    pub fn location(&self) -> String {
        format!("/ipfs/{self}")
    }
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    // the leftover bits are padding of the last character: they must be zero (canonical form)
    if bits > 0 && buffer & ((1 << bits) - 1) != 0 {
        return None;
    }
    Some(out)
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{}", base32_encode(&self.to_bytes()))
    }
}

impl FromStr for Cid {
    type Err = CidParseError;

    fn from_str(text: &str) -> Result<Cid, CidParseError> {
        let expected = "expected a CIDv1 raw sha2-256 in base32 (`bafkrei` followed by 52 lower-case letters/digits 2-7, 59 characters in all), as returned by the upload";
        if text.starts_with("Qm") {
            return Err(CidParseError(format!(
                "'{text}' is a CIDv0 (dag-pb); this store only holds raw blocks: {expected}"
            )));
        }
        let Some(body) = text.strip_prefix('b') else {
            return Err(CidParseError(format!(
                "'{text}' does not start with the multibase prefix 'b' (base32): {expected}"
            )));
        };
        if text.len() != CID_LEN {
            return Err(CidParseError(format!(
                "'{text}' has {} characters: {expected}",
                text.len()
            )));
        }
        let bytes = base32_decode(body).ok_or_else(|| {
            CidParseError(format!(
                "'{text}' is not canonical lower-case base32: {expected}"
            ))
        })?;
        if bytes.len() != 36 || bytes[..4] != PREFIX {
            return Err(CidParseError(format!(
                "'{text}' is not a CIDv1 with codec raw (0x55) and a sha2-256 multihash: {expected}"
            )));
        }
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&bytes[4..]);
        Ok(Cid { digest })
    }
}

impl serde::Serialize for Cid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cid, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with the PyPI `multiformats` package (0.3.x):
    //   CID("base32", 1, "raw", multihash.digest(data, "sha2-256"))
    // and, for the empty content, equal to the well-known `ipfs add --cid-version 1
    // --raw-leaves` id of an empty file.
    const EMPTY: &str = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    #[test]
    fn known_vectors() {
        assert_eq!(Cid::of(b"").to_string(), EMPTY);
        assert_eq!(
            Cid::of(b"hello world").to_string(),
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
        );
    }

    #[test]
    fn round_trips_and_exposes_the_sha256() {
        for data in [&b""[..], b"a", b"hello world", &[0xffu8; 1000]] {
            let cid = Cid::of(data);
            let text = cid.to_string();
            assert_eq!(text.len(), CID_LEN);
            assert!(text.starts_with("bafkrei"), "{text}");
            let back: Cid = text.parse().unwrap();
            assert_eq!(back, cid);
            use sha2::Digest;
            assert_eq!(back.sha256(), <[u8; 32]>::from(sha2::Sha256::digest(data)));
            assert_eq!(cid.location(), format!("/ipfs/{text}"));
        }
    }

    #[test]
    fn refuses_other_forms_with_a_reason() {
        let cases = [
            ("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR", "CIDv0"),
            (
                "zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA",
                "prefix",
            ),
            ("bafkrei", "characters"),
            // upper-case is base32upper (multibase `B`), not ours
            (
                "bAFKREIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",
                "canonical",
            ),
            // a dag-pb CIDv1 (codec 0x70) of the right length
            (
                "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
                "codec raw",
            ),
        ];
        for (text, why) in cases {
            let err = text.parse::<Cid>().unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(
                err.contains("bafkrei"),
                "the message shows the expected form: {err}"
            );
        }
    }
}
