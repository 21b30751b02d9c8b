//! Collateral from a PCCS (Intel's Provisioning Certificate Caching Service, API v4), without
//! doing any I/O here: [`requests`] lists the GETs to make for a quote, the caller (the SMS, with
//! its own HTTP client and timeouts) performs them, and [`assemble`] turns the answers into
//! [`Collateral`]. Keeping HTTP out of this crate keeps it synchronous, small and testable.
//!
//! The signed JSON documents (`tcbInfo`, `enclaveIdentity`) are kept byte-exact (`RawValue`):
//! re-serializing them would break their signatures.

use crate::collateral::Collateral;
use crate::{Evidence, Result, TeeError};
use dcap_qvl::quote::Quote;
use serde::Deserialize;
use serde_json::value::RawValue;

/// One collateral item fetched from the PCCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// CRL of the PCK CA that issued the platform's PCK certificate (DER body).
    PckCrl,
    /// CRL of the root CA (a PCCS answers it hex-encoded; DER is accepted too).
    RootCaCrl,
    /// Signed TCB info for the platform's FMSPC.
    TcbInfo,
    /// Signed identity of the quoting enclave (QE for SGX, TD_QE for TDX).
    QeIdentity,
}

/// A GET to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which item it fetches.
    pub part: Part,
    /// The full URL.
    pub url: String,
}

/// What the PCCS answered (only successful answers: report HTTP errors yourself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// Response headers (names compared case-insensitively).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl Response {
    fn header(&self, names: &[&str]) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .map(|(_, v)| v.as_str())
    }
}

/// The four GETs that fetch the collateral for `evidence` from the PCCS at `pccs_url` (for
/// example `https://pccs.local:8081`; a trailing `/sgx|tdx/certification/v4` is tolerated).
pub fn requests(pccs_url: &str, evidence: &Evidence) -> Result<Vec<Request>> {
    let quote =
        Quote::parse(evidence.quote()).map_err(|e| TeeError::MalformedQuote(format!("{e:#}")))?;
    let fmspc = dcap_qvl::intel::quote_fmspc(&quote)
        .map_err(|e| TeeError::MalformedQuote(format!("FMSPC of the PCK certificate: {e:#}")))?;
    let ca = dcap_qvl::intel::quote_ca(&quote)
        .map_err(|e| TeeError::MalformedQuote(format!("PCK CA of the quote: {e:#}")))?;
    let base = pccs_url
        .trim_end_matches('/')
        .trim_end_matches("/sgx/certification/v4")
        .trim_end_matches("/tdx/certification/v4");
    let tee = if quote.header.is_sgx() { "sgx" } else { "tdx" };
    let fmspc = hex::encode_upper(fmspc);
    Ok(vec![
        Request {
            part: Part::PckCrl,
            url: format!(
                "{base}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
                ca.as_id_str()
            ),
        },
        Request {
            part: Part::RootCaCrl,
            url: format!("{base}/sgx/certification/v4/rootcacrl"),
        },
        Request {
            part: Part::TcbInfo,
            url: format!("{base}/{tee}/certification/v4/tcb?fmspc={fmspc}"),
        },
        Request {
            part: Part::QeIdentity,
            url: format!("{base}/{tee}/certification/v4/qe/identity"),
        },
    ])
}

#[derive(Deserialize)]
struct TcbInfoBody<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    tcb_info: &'a RawValue,
    signature: String,
}

#[derive(Deserialize)]
struct QeIdentityBody<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    enclave_identity: &'a RawValue,
    signature: String,
}

/// Builds the collateral from the PCCS answers to [`requests`] (one per [`Part`]).
pub fn assemble(responses: &[(Part, Response)]) -> Result<Collateral> {
    let get = |part: Part| {
        responses
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, r)| r)
            .ok_or_else(|| bad(format!("no PCCS answer for {part:?}")))
    };
    let chain = |part: Part, names: &[&str]| -> Result<String> {
        let value = get(part)?.header(names).ok_or_else(|| {
            bad(format!(
                "PCCS answer for {part:?} lacks the {} header",
                names[0]
            ))
        })?;
        percent_decode(value)
    };

    let pck = get(Part::PckCrl)?;
    let root = get(Part::RootCaCrl)?;
    let tcb: TcbInfoBody<'_> = serde_json::from_slice(&get(Part::TcbInfo)?.body).map_err(|e| {
        bad(format!(
            "TCB info answer is not {{tcbInfo, signature}} JSON: {e}"
        ))
    })?;
    let qe: QeIdentityBody<'_> =
        serde_json::from_slice(&get(Part::QeIdentity)?.body).map_err(|e| {
            bad(format!(
                "QE identity answer is not {{enclaveIdentity, signature}} JSON: {e}"
            ))
        })?;
    let hex_field = |what: &str, s: &str| {
        hex::decode(s.trim()).map_err(|e| bad(format!("{what} signature is not hex: {e}")))
    };
    Ok(Collateral::new(dcap_qvl::QuoteCollateralV3 {
        pck_crl_issuer_chain: chain(Part::PckCrl, &["SGX-PCK-CRL-Issuer-Chain"])?,
        root_ca_crl: der_or_hex(&root.body),
        pck_crl: der_or_hex(&pck.body),
        tcb_info_issuer_chain: chain(
            Part::TcbInfo,
            &["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"],
        )?,
        tcb_info: tcb.tcb_info.get().to_string(),
        tcb_info_signature: hex_field("TCB info", &tcb.signature)?,
        qe_identity_issuer_chain: chain(Part::QeIdentity, &["SGX-Enclave-Identity-Issuer-Chain"])?,
        qe_identity: qe.enclave_identity.get().to_string(),
        qe_identity_signature: hex_field("QE identity", &qe.signature)?,
        pck_certificate_chain: None,
    }))
}

fn bad(msg: String) -> TeeError {
    TeeError::CollateralMalformed(msg)
}

/// A CRL body: DER (starts with a SEQUENCE tag) or the hex text a PCCS returns.
fn der_or_hex(body: &[u8]) -> Vec<u8> {
    if body.first() == Some(&0x30) {
        return body.to_vec();
    }
    let text: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    hex::decode(&text).unwrap_or_else(|_| body.to_vec())
}

/// Percent-decoding of the issuer-chain headers (PEM text, URL-encoded by the PCCS).
fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(format!("bad percent-encoding in issuer chain at byte {i}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad("issuer chain is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::DevPki;
    use crate::sim::SimEnclave;
    use crate::{Attester, DcapVerifier, Policy, Verifier};
    use std::sync::Arc;

    fn percent_encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// Serves the dev collateral the way a PCCS does, and checks the round trip.
    #[test]
    fn requests_and_assembly_round_trip_through_a_pccs_shaped_answer() {
        let pki = Arc::new(DevPki::default());
        let evidence = SimEnclave::new(
            pki.clone(),
            "sha256:4444444444444444444444444444444444444444444444444444444444444444",
            "",
        )
        .unwrap()
        .attest(&[0; 64])
        .unwrap();
        let reqs = requests("https://pccs.local:8081/sgx/certification/v4/", &evidence).unwrap();
        let urls: Vec<&str> = reqs.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://pccs.local:8081/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
                "https://pccs.local:8081/sgx/certification/v4/rootcacrl",
                "https://pccs.local:8081/tdx/certification/v4/tcb?fmspc=00A7CADE7000",
                "https://pccs.local:8081/tdx/certification/v4/qe/identity",
            ]
        );

        let now = 1_800_000_000;
        let c = pki.collateral(now - 60);
        let d = c.as_dcap();
        let header = |k: &str, v: &str| vec![(k.to_string(), percent_encode(v))];
        let answers = [
            (
                Part::PckCrl,
                Response {
                    headers: header("SGX-PCK-CRL-Issuer-Chain", &d.pck_crl_issuer_chain),
                    body: d.pck_crl.clone(),
                },
            ),
            (
                Part::RootCaCrl,
                Response {
                    headers: vec![],
                    body: hex::encode(&d.root_ca_crl).into_bytes(),
                },
            ),
            (
                Part::TcbInfo,
                Response {
                    headers: header("tcb-info-issuer-chain", &d.tcb_info_issuer_chain),
                    body: format!(
                        r#"{{"tcbInfo":{},"signature":"{}"}}"#,
                        d.tcb_info,
                        hex::encode(&d.tcb_info_signature)
                    )
                    .into_bytes(),
                },
            ),
            (
                Part::QeIdentity,
                Response {
                    headers: header(
                        "SGX-Enclave-Identity-Issuer-Chain",
                        &d.qe_identity_issuer_chain,
                    ),
                    body: format!(
                        r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
                        d.qe_identity,
                        hex::encode(&d.qe_identity_signature)
                    )
                    .into_bytes(),
                },
            ),
        ];
        let assembled = assemble(&answers).unwrap();
        assert_eq!(assembled.digest(), c.digest(), "byte-exact collateral");
        DcapVerifier::new(Policy::production())
            .with_dev_root(pki.root_der().to_vec())
            .verify(&evidence, &assembled, now)
            .unwrap();

        let err = assemble(&answers[..3]).unwrap_err();
        assert!(
            err.to_string().contains("no PCCS answer for QeIdentity"),
            "{err}"
        );
    }
}
