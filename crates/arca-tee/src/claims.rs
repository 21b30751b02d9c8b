//! What an accepted quote proves: [`Claims`] (TEE type, trust anchor, TCB status, debug flag,
//! measurements, report data) and the small value types they are made of.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Which kind of trusted execution environment produced the quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TeeType {
    /// An Intel SGX enclave (quote v3).
    Sgx,
    /// An Intel TDX trust domain (quote v4 or v5).
    Tdx,
}

impl fmt::Display for TeeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TeeType::Sgx => "SGX",
            TeeType::Tdx => "TDX",
        })
    }
}

/// The root of trust the quote's certificates chain to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrustAnchor {
    /// Intel's SGX Root CA: real hardware.
    Intel,
    /// The Arca development root: a simulated enclave. Only accepted where explicitly enabled.
    ArcaDev,
}

impl fmt::Display for TrustAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrustAnchor::Intel => "Intel SGX Root CA",
            TrustAnchor::ArcaDev => "Arca DEV root (simulated enclave)",
        })
    }
}

/// The platform's TCB status after merging platform, QE and TDX module levels (Intel's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TcbStatus {
    /// Fully patched.
    UpToDate,
    /// Patched, but the software must mitigate advisories itself.
    SWHardeningNeeded,
    /// Platform configuration (BIOS) needed.
    ConfigurationNeeded,
    /// Configuration and software hardening needed.
    ConfigurationAndSWHardeningNeeded,
    /// Outdated microcode or firmware.
    OutOfDate,
    /// Outdated and configuration needed.
    OutOfDateConfigurationNeeded,
    /// TD 1.5: launched with an outdated TCB, current TCB is fine.
    TDRelaunchAdvised,
    /// TD 1.5: relaunch advised and configuration needed.
    TDRelaunchAdvisedConfigurationNeeded,
    /// Keys compromised.
    Revoked,
}

impl TcbStatus {
    pub(crate) fn from_dcap(status: dcap_qvl::TcbStatus) -> Self {
        use dcap_qvl::TcbStatus as D;
        match status {
            D::UpToDate => TcbStatus::UpToDate,
            D::SWHardeningNeeded => TcbStatus::SWHardeningNeeded,
            D::ConfigurationNeeded => TcbStatus::ConfigurationNeeded,
            D::ConfigurationAndSWHardeningNeeded => TcbStatus::ConfigurationAndSWHardeningNeeded,
            D::OutOfDate => TcbStatus::OutOfDate,
            D::OutOfDateConfigurationNeeded => TcbStatus::OutOfDateConfigurationNeeded,
            D::TDRelaunchAdvised => TcbStatus::TDRelaunchAdvised,
            D::TDRelaunchAdvisedConfigurationNeeded => {
                TcbStatus::TDRelaunchAdvisedConfigurationNeeded
            }
            D::Revoked => TcbStatus::Revoked,
        }
    }
}

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The code identity reported by the quote.
// Claims are built once per verification and moved, never stored in bulk: boxing the TDX
// registers would cost an allocation per quote for no benefit.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Measurements {
    /// SGX enclave identity.
    Sgx {
        /// Hash of the enclave's initial code and data (MRENCLAVE).
        #[serde(with = "hex::serde")]
        mr_enclave: [u8; 32],
        /// Hash of the enclave signer's key (MRSIGNER).
        #[serde(with = "hex::serde")]
        mr_signer: [u8; 32],
        /// Product id chosen by the signer.
        isv_prod_id: u16,
        /// Security version chosen by the signer.
        isv_svn: u16,
    },
    /// TDX trust-domain identity.
    Tdx {
        /// Hash of the TD's initial memory (firmware) (MRTD). The sim enclave puts its app
        /// measurement here.
        #[serde(with = "hex::serde")]
        mr_td: [u8; 48],
        /// Runtime measurement registers RTMR0–3 (meaningful with an event log).
        rtmr: [Rtmr; 4],
        /// Opaque configuration id set by the host at TD launch (MRCONFIGID).
        #[serde(with = "hex::serde")]
        mr_config_id: [u8; 48],
    },
}

/// One 48-byte TDX runtime measurement register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rtmr(#[serde(with = "hex::serde")] pub [u8; 48]);

impl Measurements {
    /// The measurement an app's `mrenclave`/fingerprint is compared with: MRENCLAVE for SGX,
    /// MRTD for TDX.
    pub fn primary(&self) -> &[u8] {
        match self {
            Measurements::Sgx { mr_enclave, .. } => mr_enclave,
            Measurements::Tdx { mr_td, .. } => mr_td,
        }
    }
}

/// Everything a verified quote proves. Produced only by a [`crate::Verifier`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// SGX or TDX.
    pub tee_type: TeeType,
    /// Intel or the Arca dev root.
    pub trust_anchor: TrustAnchor,
    /// The merged TCB status.
    pub tcb_status: TcbStatus,
    /// Intel security advisories (INTEL-SA-…) that apply to the platform.
    pub advisory_ids: Vec<String>,
    /// Whether the enclave/TD runs in debug mode.
    pub debug: bool,
    /// Code identity.
    pub measurements: Measurements,
    /// The 64 bytes the enclave bound into its report (see [`crate::report_data`]).
    #[serde(with = "hex::serde")]
    pub report_data: [u8; 64],
    /// End of the collateral's validity window (unix seconds): collateral must be refreshed
    /// before then.
    pub collateral_expires_at: u64,
}

impl Claims {
    /// Refuses unless the report data equals `expected` (see [`crate::report_data::bind`]).
    pub fn require_report_data(&self, expected: &[u8; 64]) -> crate::Result<()> {
        if &self.report_data == expected {
            Ok(())
        } else {
            Err(crate::TeeError::ReportDataMismatch {
                actual: hex::encode(self.report_data),
                expected: hex::encode(expected),
            })
        }
    }
}
