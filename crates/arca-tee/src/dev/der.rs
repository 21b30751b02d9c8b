//! A minimal DER writer, just what the dev PKI needs to emit X.509 certificates and CRLs
//! (SEQUENCE, SET, INTEGER, OID, strings, times, explicit tags). Parsing is never done here:
//! the output is checked by dcap-qvl's own X.509/CRL parsers in the tests.

/// Tag-length-value with a definite, minimal length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

pub(crate) fn set(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

/// `[n]` EXPLICIT (constructed, context-specific).
pub(crate) fn explicit(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0xA0 | n, content)
}

pub(crate) fn boolean(v: bool) -> Vec<u8> {
    tlv(0x01, &[if v { 0xFF } else { 0x00 }])
}

/// INTEGER from an unsigned big-endian magnitude (leading zeros stripped, a 0x00 added when the
/// high bit would make it negative).
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let mut body = magnitude[skip..].to_vec();
    if body.first().is_none_or(|b| b & 0x80 != 0) {
        body.insert(0, 0);
    }
    tlv(0x02, &body)
}

pub(crate) fn uint_u64(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

pub(crate) fn enumerated(v: u8) -> Vec<u8> {
    tlv(0x0A, &[v])
}

pub(crate) fn octets(v: &[u8]) -> Vec<u8> {
    tlv(0x04, v)
}

/// BIT STRING with whole bytes (0 unused bits): keys and signatures.
pub(crate) fn bits(v: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(v.len() + 1);
    body.push(0);
    body.extend_from_slice(v);
    tlv(0x03, &body)
}

/// BIT STRING holding a one-byte flag set (KeyUsage), with the DER-minimal unused-bit count.
pub(crate) fn flag_bits(byte: u8) -> Vec<u8> {
    let unused = if byte == 0 {
        0
    } else {
        byte.trailing_zeros() as u8
    };
    tlv(0x03, &[unused, byte])
}

pub(crate) fn utf8(s: &str) -> Vec<u8> {
    tlv(0x0C, s.as_bytes())
}

/// OBJECT IDENTIFIER from its dotted form (constants only, so a malformed one is a bug).
pub(crate) fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().unwrap_or_default())
        .collect();
    let mut body = Vec::new();
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut chunk = vec![(arc & 0x7F) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7F) as u8);
            rest >>= 7;
        }
        chunk.reverse();
        body.extend_from_slice(&chunk);
    }
    tlv(0x06, &body)
}

/// An X.509 time: UTCTime (`YYMMDDHHMMSSZ`) up to 2049, GeneralizedTime from 2050 on, as
/// RFC 5280 requires.
pub(crate) fn time(unix: u64) -> Vec<u8> {
    let t = i64::try_from(unix)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    if chrono::Datelike::year(&t) < 2050 {
        tlv(0x17, t.format("%y%m%d%H%M%SZ").to_string().as_bytes())
    } else {
        tlv(0x18, t.format("%Y%m%d%H%M%SZ").to_string().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_values() {
        // ecdsa-with-SHA256
        assert_eq!(
            oid("1.2.840.10045.4.3.2"),
            [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]
        );
        assert_eq!(uint_u64(0), [0x02, 0x01, 0x00]);
        assert_eq!(uint_u64(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(tlv(0x04, &[0u8; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(time(0), tlv(0x17, b"700101000000Z"));
        assert_eq!(time(2_524_607_999), tlv(0x17, b"491231235959Z"));
        assert_eq!(time(2_524_608_000), tlv(0x18, b"20500101000000Z"));
        // keyCertSign | cRLSign = bits 5 and 6 -> 0x06 with one unused bit
        assert_eq!(flag_bits(0x06), [0x03, 0x02, 0x01, 0x06]);
    }
}
