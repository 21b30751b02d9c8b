//! [`Collateral`]: Intel's verification collateral for one platform (TCB info, QE identity, CRLs
//! and their issuer chains), loaded once and identified by a digest so verified results can be
//! cached per collateral.

use crate::{Result, TeeError};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The collateral a quote is verified against, in dcap-qvl's `QuoteCollateralV3` JSON form
/// (the format PCCS clients and the recorded vectors use; CRLs and signatures are hex).
///
/// Build it once (from a file, a PCCS answer or [`crate::dev::DevPki::collateral`]) and reuse
/// it: its digest is computed here, once, and keys the verifier's warm cache.
#[derive(Debug, Clone)]
pub struct Collateral {
    inner: dcap_qvl::QuoteCollateralV3,
    digest: [u8; 32],
}

impl Collateral {
    /// Wraps parsed collateral.
    pub fn new(inner: dcap_qvl::QuoteCollateralV3) -> Self {
        // The signed JSON strings, CRLs and chains are exactly what verification depends on;
        // hashing them with length prefixes identifies this collateral unambiguously.
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(inner.pck_crl_issuer_chain.as_bytes());
        field(&inner.root_ca_crl);
        field(&inner.pck_crl);
        field(inner.tcb_info_issuer_chain.as_bytes());
        field(inner.tcb_info.as_bytes());
        field(&inner.tcb_info_signature);
        field(inner.qe_identity_issuer_chain.as_bytes());
        field(inner.qe_identity.as_bytes());
        field(&inner.qe_identity_signature);
        field(
            inner
                .pck_certificate_chain
                .as_deref()
                .unwrap_or("")
                .as_bytes(),
        );
        let digest = h.finalize().into();
        Collateral { inner, digest }
    }

    /// Parses the JSON form.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let inner = serde_json::from_slice(json).map_err(|e| {
            TeeError::CollateralMalformed(format!(
                "not QuoteCollateralV3 JSON ({e}); expected the object written by a PCCS client or `DevPki::collateral`"
            ))
        })?;
        Ok(Self::new(inner))
    }

    /// Reads and parses a JSON file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| TeeError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&bytes)
    }

    /// The JSON form (what [`Collateral::from_json`] reads).
    pub fn to_json(&self) -> String {
        // Serializing plain strings and byte vectors cannot fail.
        serde_json::to_string_pretty(&self.inner).unwrap_or_default()
    }

    /// The dcap-qvl structure.
    pub fn as_dcap(&self) -> &dcap_qvl::QuoteCollateralV3 {
        &self.inner
    }

    /// SHA-256 over all collateral fields (cache key part).
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}
