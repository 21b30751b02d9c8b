//! The simulated enclave the worker runs apps in when no TDX hardware exists: a dev
//! [`Attester`] whose measurement is a documented, deterministic function of the app image and
//! entrypoint, and whose quotes are TDX v4 quotes signed by the [`DevPki`].
//!
//! **Measurement (v1).** `MRTD = SHA-384("arca/tee/sim-measurement/v1" ‖ field(digest) ‖
//! field(entrypoint))` where `field(x) = u32_be(len(x)) ‖ x`, `digest` is the image's manifest
//! digest normalized to `sha256:<64 lowercase hex>` and `entrypoint` is the command the enclave
//! runs (empty = the image's own entrypoint). `arca tee measure` prints it; it is what goes into
//! an app's mrenclave/fingerprint field. RTMR0–3 and MRCONFIGID are zero.

use crate::dev::{DEV_TEE_TCB_SVN, DevPki};
use crate::{Attester, Evidence, Result, TeeError};
use sha2::{Digest, Sha384};
use std::sync::Arc;

const MEASUREMENT_DOMAIN: &[u8] = b"arca/tee/sim-measurement/v1";

/// Normalizes an image reference to `sha256:<64 lowercase hex>`.
///
/// Accepts `sha256:<hex>`, `<name>@sha256:<hex>` and iExec's checksum form `0x<hex>`. Image
/// names are not resolved (that needs a registry or a Docker daemon): pass the digest, e.g. the
/// `@sha256:…` part of `docker inspect --format '{{index .RepoDigests 0}}' <image>`.
pub fn normalize_image_digest(image: &str) -> Result<String> {
    let image = image.trim();
    let hex_part = if let Some((_, d)) = image.rsplit_once("@sha256:") {
        d
    } else if let Some(d) = image.strip_prefix("sha256:") {
        d
    } else if let Some(d) = image.strip_prefix("0x") {
        d
    } else {
        return Err(TeeError::InvalidInput(format!(
            "`{image}` is not an image digest: pass `sha256:<64 hex>` (or `name@sha256:<64 hex>`, \
             or iExec's `0x<64 hex>` checksum); find it with \
             `docker inspect --format '{{{{index .RepoDigests 0}}}}' {image}`"
        )));
    };
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TeeError::InvalidInput(format!(
            "`{image}`: a sha256 digest has exactly 64 hex digits"
        )));
    }
    Ok(format!("sha256:{}", hex_part.to_ascii_lowercase()))
}

/// The sim enclave's MRTD for an app image and entrypoint (definition in the module docs).
pub fn measure(image: &str, entrypoint: &str) -> Result<[u8; 48]> {
    let digest = normalize_image_digest(image)?;
    let mut h = Sha384::new();
    h.update(MEASUREMENT_DOMAIN);
    for field in [digest.as_bytes(), entrypoint.as_bytes()] {
        h.update((field.len() as u32).to_be_bytes());
        h.update(field);
    }
    Ok(h.finalize().into())
}

/// A simulated TDX enclave running one app: produces dev-signed quotes over report data.
#[derive(Debug, Clone)]
pub struct SimEnclave {
    pki: Arc<DevPki>,
    mr_td: [u8; 48],
    debug: bool,
}

impl SimEnclave {
    /// The enclave for `image` (a digest, see [`normalize_image_digest`]) run with `entrypoint`.
    pub fn new(pki: Arc<DevPki>, image: &str, entrypoint: &str) -> Result<Self> {
        Ok(SimEnclave {
            pki,
            mr_td: measure(image, entrypoint)?,
            debug: false,
        })
    }

    /// Marks the TD as debug (TDX attribute DEBUG): such quotes are refused by the production
    /// policy. For tests and local debugging.
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// The measurement this enclave reports (MRTD).
    pub fn measurement(&self) -> [u8; 48] {
        self.mr_td
    }

    /// The 584-byte TD 1.0 report body.
    fn body(&self, report_data: &[u8; 64]) -> [u8; 584] {
        let mut b = [0u8; 584];
        b[..16].copy_from_slice(&DEV_TEE_TCB_SVN);
        // MRSEAM (16..64) identifies the TDX module build; the dev module is "all ones".
        b[16..64].fill(0xA7);
        // MRSIGNER_SEAM (64..112) and SEAMATTRIBUTES (112..120) stay zero: Intel's module values.
        // TDATTRIBUTES (120..128): SEPT_VE_DISABLE (bit 28), which verifiers require; DEBUG is bit 0.
        let attributes: u64 = (1 << 28) | u64::from(self.debug);
        b[120..128].copy_from_slice(&attributes.to_le_bytes());
        // XFAM (128..136): x87, SSE, AVX, AVX-512 state, as a typical TD.
        b[128..136].copy_from_slice(&0x0000_0000_0006_1ae7u64.to_le_bytes());
        b[136..184].copy_from_slice(&self.mr_td);
        // MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3 (184..520) stay zero.
        b[520..584].copy_from_slice(report_data);
        b
    }
}

impl Attester for SimEnclave {
    fn attest(&self, report_data: &[u8; 64]) -> Result<Evidence> {
        Ok(Evidence::new(self.pki.quote(&self.body(report_data))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn digest_forms_normalize_to_one() {
        let upper = D.to_ascii_uppercase().replace("SHA256", "sha256");
        for form in [
            D.to_string(),
            format!("repo/app:1@{D}"),
            D.replace("sha256:", "0x"),
            upper,
        ] {
            assert_eq!(normalize_image_digest(&form).unwrap(), D);
        }
        let err = normalize_image_digest("python:3.12")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an image digest"), "{err}");
        assert!(normalize_image_digest("sha256:abc").is_err());
    }

    #[test]
    fn measurement_is_a_pinned_function_of_digest_and_entrypoint() {
        let m = measure(D, "python3 /app/main.py").unwrap();
        // Pinned (computed independently with Python's hashlib from the documented formula):
        // changing the definition changes every app's registered mrenclave.
        assert_eq!(
            hex::encode(m),
            "fd4715c1ce9ca28b3254de48ac98b7074a20ad6708da26ca6ddf39c3a0f6279fa0a6ba6875becfb1f6c7092c8b8eded4"
        );
        assert_ne!(m, measure(D, "").unwrap());
        assert_eq!(
            m,
            measure(&D.replace("sha256:", "0x"), "python3 /app/main.py").unwrap()
        );
    }
}
