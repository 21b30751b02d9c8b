//! Dev attestation on the production path: quotes from the sim enclave, signed by the
//! deterministic dev PKI, verified by the same `DcapVerifier` — accepted only with the dev root
//! enabled, and subject to the same policy as real quotes.

use arca_tee::dev::{DevPki, DevTcb};
use arca_tee::sim::{SimEnclave, measure};
use arca_tee::{
    Attester, DcapVerifier, Evidence, Measurements, Policy, TcbStatus, TeeError, TeeType,
    TrustAnchor, Verifier, report_data,
};
use std::sync::{Arc, OnceLock};

const NOW: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z
const IMAGE_A: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const IMAGE_B: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const TASK: [u8; 32] = [0x42; 32];

/// Building the PKI costs a few signatures; share one per test binary.
fn pki() -> Arc<DevPki> {
    static PKI: OnceLock<Arc<DevPki>> = OnceLock::new();
    PKI.get_or_init(|| Arc::new(DevPki::default())).clone()
}

fn dev_verifier(policy: Policy) -> DcapVerifier {
    DcapVerifier::new(policy).with_dev_root(pki().root_der().to_vec())
}

fn attest(image: &str, session_key: &[u8]) -> Evidence {
    SimEnclave::new(pki(), image, "/app/run")
        .unwrap()
        .attest(&report_data::bind(&TASK, session_key))
        .unwrap()
}

#[test]
fn a_dev_quote_is_accepted_with_the_dev_root_and_carries_the_app_measurement() {
    let collateral = pki().collateral(NOW - 86_400);
    let claims = dev_verifier(Policy::production())
        .verify(&attest(IMAGE_A, b"key-1"), &collateral, NOW)
        .unwrap();
    assert_eq!(claims.tee_type, TeeType::Tdx);
    assert_eq!(claims.trust_anchor, TrustAnchor::ArcaDev);
    assert_eq!(claims.tcb_status, TcbStatus::UpToDate);
    assert!(!claims.debug);
    assert_eq!(
        claims.measurements.primary(),
        measure(IMAGE_A, "/app/run").unwrap()
    );
    assert!(
        matches!(claims.measurements, Measurements::Tdx { rtmr, .. } if rtmr.iter().all(|r| r.0 == [0; 48]))
    );
    report_data::check(&claims, &TASK, b"key-1").unwrap();
    let err = report_data::check(&claims, &TASK, b"another key").unwrap_err();
    assert!(matches!(err, TeeError::ReportDataMismatch { .. }), "{err}");
    assert_eq!(claims.collateral_expires_at, NOW - 86_400 + 30 * 86_400);
}

#[test]
fn without_the_dev_root_a_dev_quote_is_refused_as_chaining_to_the_arca_dev_root() {
    let collateral = pki().collateral(NOW - 86_400);
    let err = DcapVerifier::new(Policy::production())
        .verify(&attest(IMAGE_A, b"key"), &collateral, NOW)
        .unwrap_err();
    assert!(matches!(err, TeeError::DevRootRefused), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("Arca dev root") && msg.contains("not to Intel"),
        "{msg}"
    );
}

#[test]
fn a_quote_from_another_dev_pki_is_not_accepted_by_a_verifier_trusting_the_default_one() {
    let other = Arc::new(DevPki::from_seed(&[9u8; 32]));
    let evidence = SimEnclave::new(other.clone(), IMAGE_A, "")
        .unwrap()
        .attest(&[0u8; 64])
        .unwrap();
    // Its own collateral, but the verifier trusts only the default dev root (and Intel's).
    let err = dev_verifier(Policy::production())
        .verify(&evidence, &other.collateral(NOW - 60), NOW)
        .unwrap_err();
    assert!(matches!(err, TeeError::DevRootRefused), "{err}");
    // With its own root it passes: the anchor is the only difference.
    DcapVerifier::new(Policy::production())
        .with_dev_root(other.root_der().to_vec())
        .verify(&evidence, &other.collateral(NOW - 60), NOW)
        .unwrap();
}

#[test]
fn the_dev_pki_is_deterministic_from_its_seed() {
    let a = DevPki::from_seed(&[5u8; 32]);
    let b = DevPki::from_seed(&[5u8; 32]);
    assert_eq!(a.root_der(), b.root_der());
    assert_ne!(a.root_der(), pki().root_der());
    assert_eq!(a.collateral(NOW).to_json(), b.collateral(NOW).to_json());
    let quote = |p: DevPki| {
        SimEnclave::new(Arc::new(p), IMAGE_A, "")
            .unwrap()
            .attest(&[1u8; 64])
            .unwrap()
    };
    assert_eq!(quote(a), quote(b));
}

#[test]
fn a_debug_enclave_is_refused_by_the_production_policy_only() {
    let collateral = pki().collateral(NOW - 60);
    let evidence = SimEnclave::new(pki(), IMAGE_A, "")
        .unwrap()
        .with_debug(true)
        .attest(&[0u8; 64])
        .unwrap();
    let err = dev_verifier(Policy::production())
        .verify(&evidence, &collateral, NOW)
        .unwrap_err();
    assert!(matches!(err, TeeError::DebugRefused), "{err}");
    let debug_ok = Policy {
        allow_debug: true,
        ..Policy::production()
    };
    let claims = dev_verifier(debug_ok)
        .verify(&evidence, &collateral, NOW)
        .unwrap();
    assert!(claims.debug);
}

#[test]
fn tcb_statuses_follow_the_policy() {
    let evidence = attest(IMAGE_A, b"k");
    let with = |status, advisories: &[&str]| {
        let tcb = DevTcb {
            status,
            advisory_ids: advisories.iter().map(|s| s.to_string()).collect(),
        };
        dev_verifier(Policy::production()).verify(
            &evidence,
            &pki().collateral_with(NOW - 60, 86_400, &tcb),
            NOW,
        )
    };
    let claims = with(TcbStatus::SWHardeningNeeded, &["INTEL-SA-00615"]).unwrap();
    assert_eq!(claims.advisory_ids, ["INTEL-SA-00615"]);
    let err = with(TcbStatus::OutOfDate, &["INTEL-SA-00837"]).unwrap_err();
    assert!(
        matches!(
            err,
            TeeError::TcbStatusRefused {
                status: TcbStatus::OutOfDate,
                ..
            }
        ),
        "{err}"
    );
    let err = with(TcbStatus::Revoked, &[]).unwrap_err();
    assert!(matches!(err, TeeError::TcbRevoked), "{err}");
}

#[test]
fn expired_dev_collateral_is_refused() {
    let collateral = pki().collateral_with(NOW - 2 * 86_400, 86_400, &DevTcb::default());
    let err = dev_verifier(Policy::production())
        .verify(&attest(IMAGE_A, b"k"), &collateral, NOW)
        .unwrap_err();
    assert!(
        matches!(err, TeeError::OutsideValidityWindow { .. }),
        "{err}"
    );
}

#[test]
fn apps_on_one_platform_share_the_warm_entry_yet_keep_their_own_measurement() {
    let v = dev_verifier(Policy::production());
    let collateral = pki().collateral(NOW - 60);
    let a = v.verify(&attest(IMAGE_A, b"k1"), &collateral, NOW).unwrap();
    let b = v.verify(&attest(IMAGE_B, b"k2"), &collateral, NOW).unwrap();
    assert_eq!(
        a.measurements.primary(),
        measure(IMAGE_A, "/app/run").unwrap()
    );
    assert_eq!(
        b.measurements.primary(),
        measure(IMAGE_B, "/app/run").unwrap()
    );
    report_data::check(&b, &TASK, b"k2").unwrap();
    let stats = v.cache_stats();
    assert_eq!((stats.misses, stats.hits), (1, 1));

    // Warm, the per-quote checks still run: a body byte flipped after signing is refused.
    let mut tampered = attest(IMAGE_B, b"k3").quote().to_vec();
    tampered[48 + 520] ^= 1; // first report-data byte
    let err = v
        .verify(&Evidence::new(tampered), &collateral, NOW)
        .unwrap_err();
    assert!(matches!(err, TeeError::QuoteSignatureInvalid), "{err}");
    assert_eq!(
        v.cache_stats().hits,
        1,
        "a refused quote is not counted as a hit"
    );
}

#[test]
fn a_warm_platform_does_not_let_a_debug_td_through() {
    let v = dev_verifier(Policy::production());
    let collateral = pki().collateral(NOW - 60);
    v.verify(&attest(IMAGE_A, b"k"), &collateral, NOW).unwrap();
    let debug = SimEnclave::new(pki(), IMAGE_A, "/app/run")
        .unwrap()
        .with_debug(true)
        .attest(&report_data::bind(&TASK, b"k"))
        .unwrap();
    let err = v.verify(&debug, &collateral, NOW).unwrap_err();
    assert!(matches!(err, TeeError::DebugRefused), "{err}");
}

#[test]
fn per_app_expected_measurements_are_enforced() {
    let collateral = pki().collateral(NOW - 60);
    let m_a = hex::encode(measure(IMAGE_A, "/app/run").unwrap());
    let v = dev_verifier(Policy::production().expecting([&m_a]));
    v.verify(&attest(IMAGE_A, b"k"), &collateral, NOW).unwrap();
    let err = v
        .verify(&attest(IMAGE_B, b"k"), &collateral, NOW)
        .unwrap_err();
    assert!(matches!(err, TeeError::MeasurementMismatch { .. }), "{err}");
}

#[test]
fn quote_files_may_be_binary_or_hex() {
    let evidence = attest(IMAGE_A, b"k");
    let hex_file = format!("0x{}\n", hex::encode(evidence.quote()));
    assert_eq!(
        Evidence::from_file_bytes(hex_file.as_bytes(), false).unwrap(),
        evidence
    );
    assert_eq!(
        Evidence::from_file_bytes(evidence.quote(), false).unwrap(),
        evidence
    );
    assert_eq!(
        Evidence::from_file_bytes(evidence.quote(), true).unwrap(),
        evidence
    );
}

#[test]
fn verify_session_checks_quote_binding_and_app_measurement_together() {
    let v = dev_verifier(Policy::production());
    let collateral = pki().collateral(NOW - 60);
    let evidence = attest(IMAGE_A, b"session-key");
    let app = [hex::encode(measure(IMAGE_A, "/app/run").unwrap())];
    let claims = v
        .verify_session(&evidence, &collateral, NOW, &TASK, b"session-key", &app)
        .unwrap();
    assert_eq!(claims.trust_anchor, TrustAnchor::ArcaDev);
    let err = v
        .verify_session(&evidence, &collateral, NOW, &[0; 32], b"session-key", &app)
        .unwrap_err();
    assert!(matches!(err, TeeError::ReportDataMismatch { .. }), "{err}");
    let other_app = [hex::encode(measure(IMAGE_B, "/app/run").unwrap())];
    let err = v
        .verify_session(
            &evidence,
            &collateral,
            NOW,
            &TASK,
            b"session-key",
            &other_app,
        )
        .unwrap_err();
    assert!(matches!(err, TeeError::MeasurementMismatch { .. }), "{err}");
}
