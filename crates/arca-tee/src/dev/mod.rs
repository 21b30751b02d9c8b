//! Development attestation: a deterministic dev PKI that signs real-format DCAP quotes and
//! collateral, verified by the same [`crate::DcapVerifier`] as Intel's with the dev root as
//! trust anchor — accepted only where that anchor is explicitly enabled.

mod der;
mod pki;

pub(crate) use pki::DEV_TEE_TCB_SVN;
pub use pki::{DEFAULT_DEV_SEED, DEV_SUBJECT_MARKER, DevPki, DevTcb};
