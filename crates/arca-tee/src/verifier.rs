//! [`DcapVerifier`]: the one verification path for Intel-signed and dev-signed quotes.
//!
//! **Cold path** (first quote of a platform under a given collateral): the full Intel QVL logic
//! of dcap-qvl — collateral signatures and CRLs, PCK chain to the trust anchor, QE report
//! signature and identity, quote signature, TCB level — then Arca's [`Policy`].
//!
//! **Warm path**: what the cold path proved about a platform depends only on the collateral,
//! the trust anchor and the quote's platform part (header, TCB-relevant body fields, attestation
//! key, QE report, PCK chain) — not on the app's measurements, report data or quote signature.
//! That result is cached under a digest of exactly those inputs for as long as `now` stays in
//! the collateral's validity window. A warm verification still checks, every time, the QE
//! report signature with the cached PCK key, the QE report's commitment to the attestation key,
//! and the quote signature over the whole body, then applies the policy. Any change to a cached
//! input is a cache miss and goes through the cold path.

use crate::claims::{Claims, Measurements, Rtmr, TcbStatus, TeeType, TrustAnchor};
use crate::collateral::Collateral;
use crate::dev::DEV_SUBJECT_MARKER;
use crate::policy::Policy;
use crate::{Evidence, Result, TeeError, Verifier};
use dcap_qvl::configs::RustCryptoConfig;
use dcap_qvl::quote::{AuthData, Quote, Report};
use dcap_qvl::verify::QuoteVerifier;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use scale::Encode;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Upper bound on cached platforms; beyond it expired entries are dropped, then everything.
const CACHE_CAPACITY: usize = 4096;

/// Counters of the warm cache, for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Verifications served by the warm path.
    pub hits: u64,
    /// Verifications that ran the full cold path.
    pub misses: u64,
    /// Platforms currently cached.
    pub entries: usize,
}

/// What the cold path established about one platform under one collateral.
#[derive(Debug)]
struct Warm {
    pck_key: VerifyingKey,
    /// The quote's attestation key, parsed once (it is part of the cache key).
    attestation_key: VerifyingKey,
    trust_anchor: TrustAnchor,
    tcb_status: TcbStatus,
    advisory_ids: Vec<String>,
    valid_from: u64,
    valid_until: u64,
}

/// Verifies DCAP quotes (SGX v3, TDX v4/v5) against Intel's root, and against the Arca dev
/// root only when built with [`DcapVerifier::with_dev_root`]. Cheap to share (`&self`, `Sync`).
pub struct DcapVerifier {
    policy: Policy,
    intel: QuoteVerifier<RustCryptoConfig>,
    dev: Option<(Vec<u8>, QuoteVerifier<RustCryptoConfig>)>,
    cache: RwLock<HashMap<[u8; 32], Arc<Warm>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for DcapVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DcapVerifier")
            .field("policy", &self.policy)
            .field("dev_root_enabled", &self.dev.is_some())
            .field("cache", &self.cache_stats())
            .finish()
    }
}

impl DcapVerifier {
    /// A verifier trusting Intel's SGX Root CA only (production).
    pub fn new(policy: Policy) -> Self {
        DcapVerifier {
            policy,
            intel: QuoteVerifier::new_prod()
                .with_config::<RustCryptoConfig>()
                .allow_debug(true),
            dev: None,
            cache: RwLock::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Also trusts `dev_root_der` (normally [`crate::dev::DevPki::root_der`]): quotes from
    /// simulated enclaves are then accepted, each acceptance logged. Development only.
    pub fn with_dev_root(mut self, dev_root_der: Vec<u8>) -> Self {
        tracing::warn!(
            root_sha256 = %hex::encode(Sha256::digest(&dev_root_der)),
            "DEV trust anchor enabled: quotes from simulated enclaves will be accepted"
        );
        let verifier = QuoteVerifier::<RustCryptoConfig>::new_with_config(dev_root_der.clone())
            .allow_debug(true);
        self.dev = Some((dev_root_der, verifier));
        self
    }

    /// The policy applied after cryptographic verification.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Warm-cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.cache.read().map(|c| c.len()).unwrap_or(0),
        }
    }

    /// Verifies cryptographically and returns the claims without applying the policy (for
    /// tools that print why a policy refuses: `arca tee verify`).
    pub fn verify_without_policy(
        &self,
        evidence: &Evidence,
        collateral: &Collateral,
        now: u64,
    ) -> Result<Claims> {
        let raw = evidence.quote();
        let quote = Quote::parse(raw).map_err(|e| TeeError::MalformedQuote(format!("{e:#}")))?;
        let chain = pck_chain(&quote, collateral)?;
        let anchor = self.anchor_for(&chain);
        let key = cache_key(anchor, collateral, &quote, raw)?;

        let cached = self.cache.read().ok().and_then(|c| c.get(&key).cloned());
        if let Some(warm) = cached.filter(|w| (w.valid_from..=w.valid_until).contains(&now)) {
            check_signatures(&warm, &quote, raw)?;
            self.hits.fetch_add(1, Ordering::Relaxed);
            return claims_from(&quote, &warm);
        }

        self.misses.fetch_add(1, Ordering::Relaxed);
        let warm = Arc::new(self.cold(raw, &quote, collateral, now, anchor, &chain)?);
        let claims = claims_from(&quote, &warm)?;
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, w| w.valid_until >= now);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(key, warm);
        }
        Ok(claims)
    }

    /// Full dcap-qvl verification with the chosen anchor.
    fn cold(
        &self,
        raw: &[u8],
        quote: &Quote,
        collateral: &Collateral,
        now: u64,
        anchor: TrustAnchor,
        chain: &[Vec<u8>],
    ) -> Result<Warm> {
        let verifier = match (&self.dev, anchor) {
            (Some((_, dev)), TrustAnchor::ArcaDev) => dev,
            _ => &self.intel,
        };
        let claims = verifier
            // `claims_only`: dcap-qvl reports the verdict, Arca's Policy judges it.
            .verify_with_policy(
                raw,
                collateral.as_dcap(),
                now,
                &dcap_qvl::QuotePolicy::claims_only(now),
            )
            .map_err(|e| {
                // Name the real reason when a dev quote meets a production verifier: otherwise
                // it reads as an obscure "unknown issuer".
                if anchor == TrustAnchor::Intel && chains_to_dev_root(chain) {
                    TeeError::DevRootRefused
                } else {
                    TeeError::from_dcap(format!("{e:#}"), now)
                }
            })?;
        let leaf = chain
            .first()
            .ok_or_else(|| TeeError::CertificateChain("empty PCK certificate chain".into()))?;
        Ok(Warm {
            pck_key: certificate_key(leaf)?,
            attestation_key: attestation_key(quote)?,
            trust_anchor: anchor,
            tcb_status: TcbStatus::from_dcap(claims.tcb.status),
            advisory_ids: claims.tcb.advisory_ids,
            valid_from: claims.latest_issue_date,
            valid_until: claims.earliest_expiration_date,
        })
    }

    /// Everything to check before releasing secrets to an enclave session, in one call: the
    /// quote under the policy, its report data binding `task_id` and `session_key`
    /// ([`crate::report_data::bind`]), and the app's measurement being one of
    /// `app_measurements` (hex, from the app's on-chain mrenclave/fingerprint).
    pub fn verify_session(
        &self,
        evidence: &Evidence,
        collateral: &Collateral,
        now: u64,
        task_id: &[u8; 32],
        session_key: &[u8],
        app_measurements: &[impl AsRef<str>],
    ) -> Result<Claims> {
        let claims = self.verify(evidence, collateral, now)?;
        crate::report_data::check(&claims, task_id, session_key)?;
        self.policy.check_measurement(&claims, app_measurements)?;
        Ok(claims)
    }

    fn anchor_for(&self, chain: &[Vec<u8>]) -> TrustAnchor {
        match (&self.dev, chain.last()) {
            (Some((root, _)), Some(top)) if top == root => TrustAnchor::ArcaDev,
            _ => TrustAnchor::Intel,
        }
    }
}

impl Verifier for DcapVerifier {
    fn verify(&self, evidence: &Evidence, collateral: &Collateral, now: u64) -> Result<Claims> {
        let claims = self.verify_without_policy(evidence, collateral, now)?;
        self.policy.check(&claims)?;
        if !claims.advisory_ids.is_empty() {
            tracing::info!(status = %claims.tcb_status, advisories = ?claims.advisory_ids,
                "quote accepted with security advisories");
        }
        if claims.trust_anchor == TrustAnchor::ArcaDev {
            tracing::warn!(measurement = %hex::encode(claims.measurements.primary()),
                "DEV quote accepted: simulated enclave, no hardware protection");
        }
        Ok(claims)
    }
}

/// The PCK chain (DER, leaf first) as dcap-qvl will use it: from the collateral if it carries
/// one, else from the quote's certification data.
fn pck_chain(quote: &Quote, collateral: &Collateral) -> Result<Vec<Vec<u8>>> {
    if let Some(pem_chain) = &collateral.as_dcap().pck_certificate_chain {
        let pems = pem::parse_many(pem_chain.as_bytes())
            .map_err(|e| TeeError::CollateralMalformed(format!("pck_certificate_chain: {e}")))?;
        return Ok(pems.into_iter().map(pem::Pem::into_contents).collect());
    }
    dcap_qvl::intel::extract_cert_chain(quote)
        .map_err(|e| TeeError::MalformedQuote(format!("PCK certificate chain: {e:#}")))
}

fn chains_to_dev_root(chain: &[Vec<u8>]) -> bool {
    use der::Decode as _;
    chain.last().is_some_and(|top| {
        x509_cert::Certificate::from_der(top).is_ok_and(|cert| {
            cert.tbs_certificate()
                .subject()
                .to_string()
                .contains(DEV_SUBJECT_MARKER)
        })
    })
}

/// The P-256 public key of a certificate.
fn certificate_key(cert_der: &[u8]) -> Result<VerifyingKey> {
    use der::Decode as _;
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|e| TeeError::CertificateChain(format!("PCK certificate: {e}")))?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes())
        .map_err(|e| TeeError::CertificateChain(format!("PCK certificate key is not P-256: {e}")))
}

/// Digest of everything the cold path's verdict depends on (see the module docs): anchor,
/// collateral, header, the report body with app-chosen fields zeroed, and the authentication
/// data after the quote signature (attestation key, QE report and signature, PCK chain).
fn cache_key(
    anchor: TrustAnchor,
    collateral: &Collateral,
    quote: &Quote,
    raw: &[u8],
) -> Result<[u8; 32]> {
    let mut platform_body = quote.report.clone();
    match &mut platform_body {
        Report::SgxEnclave(r) => {
            r.mr_enclave = [0; 32];
            r.mr_signer = [0; 32];
            r.isv_prod_id = 0;
            r.isv_svn = 0;
            r.report_data = [0; 64];
        }
        Report::TD10(r) => clear_td(r),
        Report::TD15(r) => clear_td(&mut r.base),
        Report::TD15Ex(r) => clear_td(&mut r.base.base),
    }
    let body = match &platform_body {
        Report::SgxEnclave(r) => r.encode(),
        Report::TD10(r) => r.encode(),
        Report::TD15(r) => r.encode(),
        Report::TD15Ex(r) => r.encode(),
    };
    // Raw layout after the signed part: u32 length, 64-byte quote signature, then the rest.
    let auth_rest = raw
        .get(quote.signed_length() + 4 + 64..)
        .ok_or_else(|| TeeError::MalformedQuote("authentication data is truncated".into()))?;
    let mut h = Sha256::new();
    h.update([anchor as u8]);
    h.update(collateral.digest());
    h.update(quote.header.encode());
    h.update((body.len() as u64).to_be_bytes());
    h.update(&body);
    h.update(auth_rest);
    Ok(h.finalize().into())
}

/// Zeroes the TD fields the app or host chooses freely and dcap-qvl never judges.
fn clear_td(r: &mut dcap_qvl::quote::TDReport10) {
    r.mr_td = [0; 48];
    r.mr_config_id = [0; 48];
    r.mr_owner = [0; 48];
    r.mr_owner_config = [0; 48];
    r.rt_mr0 = [0; 48];
    r.rt_mr1 = [0; 48];
    r.rt_mr2 = [0; 48];
    r.rt_mr3 = [0; 48];
    r.report_data = [0; 64];
}

/// The quote's authentication data fields the warm path checks, borrowed.
struct AuthParts<'a> {
    quote_signature: &'a [u8; 64],
    attestation_key: &'a [u8; 64],
    qe_report: &'a [u8; 384],
    qe_report_signature: &'a [u8; 64],
    qe_auth_data: &'a [u8],
}

fn auth_parts(quote: &Quote) -> AuthParts<'_> {
    match &quote.auth_data {
        AuthData::V3(a) => AuthParts {
            quote_signature: &a.ecdsa_signature,
            attestation_key: &a.ecdsa_attestation_key,
            qe_report: &a.qe_report,
            qe_report_signature: &a.qe_report_signature,
            qe_auth_data: &a.qe_auth_data.data,
        },
        AuthData::V4(a) => AuthParts {
            quote_signature: &a.ecdsa_signature,
            attestation_key: &a.ecdsa_attestation_key,
            qe_report: &a.qe_report_data.qe_report,
            qe_report_signature: &a.qe_report_data.qe_report_signature,
            qe_auth_data: &a.qe_report_data.qe_auth_data.data,
        },
    }
}

/// The attestation key as a P-256 point (DCAP stores it as raw `x ‖ y`).
fn attestation_key(quote: &Quote) -> Result<VerifyingKey> {
    let mut sec1 = [0x04u8; 65];
    sec1[1..].copy_from_slice(auth_parts(quote).attestation_key);
    VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| TeeError::QuoteSignatureInvalid)
}

/// The per-quote checks of the warm path: QE report signed by the PCK key, QE report committing
/// to the attestation key, quote body signed by the attestation key.
fn check_signatures(warm: &Warm, quote: &Quote, raw: &[u8]) -> Result<()> {
    let auth = auth_parts(quote);
    let qe_sig = Signature::from_slice(auth.qe_report_signature).map_err(|_| {
        TeeError::QeReportInvalid("QE report signature is not a P-256 signature".into())
    })?;
    warm.pck_key.verify(auth.qe_report, &qe_sig).map_err(|_| {
        TeeError::QeReportInvalid("Signature is invalid for qe_report in quote".into())
    })?;
    let mut h = Sha256::new();
    h.update(auth.attestation_key);
    h.update(auth.qe_auth_data);
    if h.finalize()[..] != auth.qe_report[320..352] {
        return Err(TeeError::QeReportInvalid("QE report hash mismatch".into()));
    }
    let sig =
        Signature::from_slice(auth.quote_signature).map_err(|_| TeeError::QuoteSignatureInvalid)?;
    let signed = raw
        .get(..quote.signed_length())
        .ok_or_else(|| TeeError::MalformedQuote("quote is truncated".into()))?;
    warm.attestation_key
        .verify(signed, &sig)
        .map_err(|_| TeeError::QuoteSignatureInvalid)
}

fn claims_from(quote: &Quote, warm: &Warm) -> Result<Claims> {
    let (tee_type, debug, measurements, report_data) = match &quote.report {
        Report::SgxEnclave(r) => (
            TeeType::Sgx,
            r.attributes[0] & 0x02 != 0,
            Measurements::Sgx {
                mr_enclave: r.mr_enclave,
                mr_signer: r.mr_signer,
                isv_prod_id: r.isv_prod_id,
                isv_svn: r.isv_svn,
            },
            r.report_data,
        ),
        other => {
            let r = other
                .as_td10()
                .ok_or_else(|| TeeError::MalformedQuote("unknown report body".into()))?;
            (
                TeeType::Tdx,
                // TUD bits (debug, profiling): any of them makes the TD untrusted.
                r.td_attributes[0] != 0,
                Measurements::Tdx {
                    mr_td: r.mr_td,
                    rtmr: [r.rt_mr0, r.rt_mr1, r.rt_mr2, r.rt_mr3].map(Rtmr),
                    mr_config_id: r.mr_config_id,
                },
                r.report_data,
            )
        }
    };
    Ok(Claims {
        tee_type,
        trust_anchor: warm.trust_anchor,
        tcb_status: warm.tcb_status,
        advisory_ids: warm.advisory_ids.clone(),
        debug,
        measurements,
        report_data,
        collateral_expires_at: warm.valid_until,
    })
}
