//! The crate's one error type: every refusal of a quote has its own variant, so the SMS can log,
//! count and answer each reason differently, and every message says what failed and what to do.

use crate::claims::TcbStatus;

/// Why evidence was refused, or why an attestation helper failed.
#[derive(Debug, thiserror::Error)]
pub enum TeeError {
    /// The bytes are not a DCAP quote this verifier understands (SGX v3, TDX v4/v5, ECDSA-P256).
    #[error("malformed quote: {0}; pass a raw DCAP quote (SGX v3 or TDX v4/v5), binary or 0x-hex")]
    MalformedQuote(String),

    /// The ISV enclave / TD report signature does not verify with the quote's attestation key:
    /// the quote body (measurements, report data) was altered or the signature is not for it.
    #[error(
        "quote signature is invalid: the report body was altered or not signed by the quote's attestation key"
    )]
    QuoteSignatureInvalid,

    /// The quoting enclave's report is not signed by the PCK certificate, or does not commit to
    /// the attestation key.
    #[error("quoting-enclave report is invalid: {0}")]
    QeReportInvalid(String),

    /// The PCK certificate chain of the quote does not verify to the trust anchor.
    #[error("PCK certificate chain does not verify: {0}")]
    CertificateChain(String),

    /// The quote chains to the Arca development root while the dev root is not enabled.
    #[error(
        "the quote chains to the Arca dev root, not to Intel's SGX root CA: it comes from a simulated \
         enclave; accept it only in a development setup (SMS `--dev`, `arca tee verify --dev-root`)"
    )]
    DevRootRefused,

    /// A collateral signature (TCB info, QE identity, CRL) does not verify.
    #[error("collateral signature is invalid: {0}; fetch the collateral again from the PCCS")]
    CollateralSignatureInvalid(String),

    /// The collateral cannot be read (bad JSON, bad CRL encoding, wrong TEE type…).
    #[error("collateral is malformed: {0}")]
    CollateralMalformed(String),

    /// `now` lies outside the validity window of the collateral or of a certificate.
    #[error(
        "verification time {} is outside the collateral validity window: {detail}; use fresh collateral or a time inside its window",
        crate::format_rfc3339(*now)
    )]
    OutsideValidityWindow {
        /// The verification time (unix seconds).
        now: u64,
        /// Which item is expired or not yet valid.
        detail: String,
    },

    /// The platform's TCB matches no level of the TCB info (for example an outdated TDX module).
    #[error(
        "no TCB level of the collateral matches the platform: {0}; the platform needs a firmware/TDX module update"
    )]
    TcbLevelNotFound(String),

    /// The platform's TCB is revoked: its keys must be considered compromised.
    #[error("platform TCB is revoked")]
    TcbRevoked,

    /// The TCB status is valid but not accepted by the policy.
    #[error(
        "TCB status {status} is not accepted by the policy (advisories: {advisories:?}); accepted: {accepted:?}"
    )]
    TcbStatusRefused {
        /// The platform's status.
        status: TcbStatus,
        /// Intel security advisories that apply.
        advisories: Vec<String>,
        /// What the policy accepts.
        accepted: Vec<TcbStatus>,
    },

    /// The enclave or TD runs in debug mode, which the policy refuses (its memory is readable by
    /// the host).
    #[error(
        "debug enclave refused by the policy: a debug enclave's memory is readable by the host; rebuild it without debug"
    )]
    DebugRefused,

    /// TD attributes that dcap-qvl refuses outright (migratable TD, service TD binding, reserved bits…).
    #[error("TD attributes refused: {0}")]
    TdAttributesRefused(String),

    /// The enclave's measurement is not one the policy expects for this app.
    #[error(
        "measurement {actual} is not an expected measurement for this app (expected one of {expected:?}); check the app's mrenclave/fingerprint"
    )]
    MeasurementMismatch {
        /// The measurement found in the quote (hex).
        actual: String,
        /// The accepted measurements (hex).
        expected: Vec<String>,
    },

    /// The quote's report data is not the binding the verifier expected (another session key or
    /// another task: a replayed or misdirected quote).
    #[error(
        "report data mismatch: the quote binds {actual}, expected {expected}; the quote was made for another session key or task"
    )]
    ReportDataMismatch {
        /// Hex of the report data found.
        actual: String,
        /// Hex of the report data expected.
        expected: String,
    },

    /// Any other refusal reported by dcap-qvl, with its full reason.
    #[error("quote refused: {0}")]
    Refused(String),

    /// A caller-supplied value is invalid (image digest, time string, hex…).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = TeeError> = std::result::Result<T, E>;

impl TeeError {
    /// Maps one dcap-qvl error (an `anyhow` chain rendered with `{:#}`) to its variant.
    ///
    /// dcap-qvl only reports strings; it is pinned to `=0.7.1` and the tests assert the variant of
    /// every negative case, so a wording change upstream cannot silently merge two reasons.
    pub(crate) fn from_dcap(message: String, now: u64) -> Self {
        // Case-insensitive: webpki variants ("CrlExpired") and prose ("TCBInfo expired") mix.
        let lower = message.to_ascii_lowercase();
        let has = |needle: &str| lower.contains(&needle.to_ascii_lowercase());
        if has("ISV enclave report signature is invalid") {
            TeeError::QuoteSignatureInvalid
        } else if has("Signature is invalid for qe_report") || has("QE report hash mismatch") {
            TeeError::QeReportInvalid(message)
        } else if has("Signature is invalid for tcb_info")
            || has("Signature is invalid for qe_identity")
        {
            TeeError::CollateralSignatureInvalid(message)
        } else if has("expired") || has("in the future") || has("NotValidYet") {
            TeeError::OutsideValidityWindow {
                now,
                detail: message,
            }
        } else if has("CertRevoked") {
            // A certificate listed in a CRL: the chain is broken, not the TCB level.
            TeeError::CertificateChain(message)
        } else if has("Revoked") {
            TeeError::TcbRevoked
        } else if has("No matching TCB level")
            || has("below minimum required")
            || has("Fmspc mismatch")
        {
            TeeError::TcbLevelNotFound(message)
        } else if has("Debug mode is enabled") || has("TD profiling is enabled") {
            TeeError::DebugRefused
        } else if has("SERVTD_EXT")
            || has("Invalid MR service TD")
            || has("TD migration")
            || has("SEPT_VE_DISABLE")
            || has("Reserved bits in TD attributes")
        {
            TeeError::TdAttributesRefused(message)
        } else if has("CRL") && has("signature") {
            // A CRL not signed by its issuer ("InvalidCrlSignatureForPublicKey", "BadSignature").
            TeeError::CollateralSignatureInvalid(message)
        } else if has("Failed to verify certificate chain")
            || has("Failed to load root ca")
            || has("PCK certificate")
            || has("Certificate chain is too short")
        {
            TeeError::CertificateChain(message)
        } else if has("CRL") {
            TeeError::CollateralMalformed(message)
        } else if has("Failed to decode quote")
            || has("Unsupported DCAP")
            || has("Unknown QE vendor")
            || has("quote must have version")
            || has("Unsupported TEE type")
        {
            TeeError::MalformedQuote(message)
        } else if has("TcbInfo")
            || has("QeIdentity")
            || has("TCB info")
            || has("QE Identity")
            || has("issuer chain")
            || has("Failed to parse certs")
        {
            TeeError::CollateralMalformed(message)
        } else {
            TeeError::Refused(message)
        }
    }
}
