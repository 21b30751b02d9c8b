//! TEE attestation for Arca: the check every confidentiality promise rests on — "this quote
//! proves the expected code runs on genuine hardware" — behind two small traits.
//!
//! - An [`Attester`] produces [`Evidence`] (a DCAP quote) binding 64 bytes of report data.
//!   [`sim::SimEnclave`] is the dev attester the worker uses without TDX hardware.
//! - A [`Verifier`] turns evidence plus [`Collateral`] into [`Claims`] at a time `now` that is
//!   always a parameter. [`DcapVerifier`] is the one implementation: Intel's full QVL logic from
//!   `dcap-qvl` (SGX quote v3, TDX quote v4/v5) followed by a data-driven [`Policy`], with a warm
//!   cache so a platform's collateral work is done once and each further quote costs two ECDSA
//!   verifications (the SMS calls it once per session request).
//! - Dev quotes ([`dev::DevPki`]) are real quote structures signed by a deterministic dev PKI.
//!   They go through the very same verifier; only the trust anchor differs, and it is accepted
//!   only when explicitly enabled ([`DcapVerifier::with_dev_root`]). Otherwise the refusal says
//!   the quote chains to the Arca dev root, not to Intel's ([`TeeError::DevRootRefused`]).
//! - [`report_data`] defines how report data binds an enclave session key and a task id.
//! - [`pccs`] lists the PCCS requests for a quote's collateral and assembles the answers (the
//!   caller does the HTTP); [`Collateral::from_file`] reads recorded collateral offline.
//!
//! ```
//! use arca_tee::{dev::DevPki, sim::SimEnclave, Attester, DcapVerifier, Policy, Verifier};
//! use std::sync::Arc;
//!
//! let pki = Arc::new(DevPki::default());
//! let now = 1_800_000_000; // a parameter, never read from the clock here
//! let collateral = pki.collateral(now - 3600);
//! let image = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
//! let enclave = SimEnclave::new(pki.clone(), image, "python3 /app/main.py")?;
//! let task_id = [7u8; 32];
//! let evidence = enclave.attest(&arca_tee::report_data::bind(&task_id, b"session-key"))?;
//!
//! // Production: the dev root is refused with its own reason.
//! let prod = DcapVerifier::new(Policy::production());
//! assert!(matches!(
//!     prod.verify(&evidence, &collateral, now),
//!     Err(arca_tee::TeeError::DevRootRefused)
//! ));
//! // Development: accepted, and the SMS checks the binding and the app's measurement.
//! let dev = DcapVerifier::new(Policy::production()).with_dev_root(pki.root_der().to_vec());
//! let claims = dev.verify(&evidence, &collateral, now)?;
//! arca_tee::report_data::check(&claims, &task_id, b"session-key")?;
//! dev.policy().check_measurement(&claims, &[hex::encode(enclave.measurement())])?;
//! // The same three checks in one call, as the SMS makes them per session request:
//! let app = [hex::encode(enclave.measurement())];
//! dev.verify_session(&evidence, &collateral, now, &task_id, b"session-key", &app)?;
//! # Ok::<(), arca_tee::TeeError>(())
//! ```

pub mod claims;
pub mod collateral;
pub mod dev;
mod error;
pub mod pccs;
pub mod policy;
pub mod report_data;
pub mod sim;
mod verifier;

pub use claims::{Claims, Measurements, TcbStatus, TeeType, TrustAnchor};
pub use collateral::Collateral;
pub use error::{Result, TeeError};
pub use policy::Policy;
pub use verifier::{CacheStats, DcapVerifier};

/// Attestation evidence: one raw DCAP quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    quote: Vec<u8>,
}

impl Evidence {
    /// Wraps raw quote bytes.
    pub fn new(quote: Vec<u8>) -> Self {
        Evidence { quote }
    }

    /// Reads a quote file's contents: raw binary, or hex (optionally `0x`-prefixed, whitespace
    /// ignored). A binary quote never looks like hex: it starts with a little-endian version
    /// (bytes 03/04/05 then 00). `raw = true` skips the hex detection.
    pub fn from_file_bytes(bytes: &[u8], raw: bool) -> Result<Self> {
        if raw {
            return Ok(Self::new(bytes.to_vec()));
        }
        let text: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let text = text.strip_prefix(b"0x").unwrap_or(&text);
        if !text.is_empty() && text.iter().all(u8::is_ascii_hexdigit) {
            let quote = hex::decode(text)
                .map_err(|e| TeeError::MalformedQuote(format!("hex quote file: {e}")))?;
            Ok(Self::new(quote))
        } else {
            Ok(Self::new(bytes.to_vec()))
        }
    }

    /// The quote bytes.
    pub fn quote(&self) -> &[u8] {
        &self.quote
    }
}

/// Produces evidence that binds `report_data` (see [`report_data::bind`]).
pub trait Attester: Send + Sync {
    /// A fresh quote whose report data is `report_data`.
    fn attest(&self, report_data: &[u8; 64]) -> Result<Evidence>;
}

/// Checks evidence against collateral at time `now` (unix seconds) and returns what it proves,
/// or the reason it is refused.
pub trait Verifier: Send + Sync {
    /// Verifies `evidence`; `now` is always supplied by the caller (never read from a clock).
    fn verify(&self, evidence: &Evidence, collateral: &Collateral, now: u64) -> Result<Claims>;
}

/// Parses an RFC 3339 time (`2025-07-01T00:00:00Z`) to unix seconds.
pub fn parse_rfc3339(s: &str) -> Result<u64> {
    let t = chrono::DateTime::parse_from_rfc3339(s.trim()).map_err(|e| {
        TeeError::InvalidInput(format!(
            "`{s}` is not an RFC 3339 time ({e}); write e.g. 2025-07-01T00:00:00Z"
        ))
    })?;
    u64::try_from(t.timestamp())
        .map_err(|_| TeeError::InvalidInput(format!("`{s}` is before 1970")))
}

/// Formats unix seconds as RFC 3339 (UTC), for messages.
pub fn format_rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{unix} (unix s)"))
}
