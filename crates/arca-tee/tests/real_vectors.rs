//! Real Intel-signed quotes (recorded vectors shipped in the dcap-qvl 0.7.1 package) through
//! `DcapVerifier`: expected statuses and measurements, and every negative case refused with its
//! own reason.

mod common;

use arca_tee::{
    Claims, Collateral, DcapVerifier, Evidence, Measurements, Policy, TcbStatus, TeeError, TeeType,
    TrustAnchor, Verifier,
};
use common::{SGX, TDX_OUTDATED, TDX_V4, TDX_V5, load};

fn verifier() -> DcapVerifier {
    DcapVerifier::new(Policy::production())
}

fn tdx(claims: &Claims) -> (String, [String; 4]) {
    match &claims.measurements {
        Measurements::Tdx { mr_td, rtmr, .. } => {
            (hex::encode(mr_td), rtmr.map(|r| hex::encode(r.0)))
        }
        other => panic!("expected TDX measurements, got {other:?}"),
    }
}

/// Flips one bit of byte `index` (negative = from the end).
fn flipped(bytes: &[u8], index: isize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let i = if index < 0 {
        out.len() - index.unsigned_abs()
    } else {
        index as usize
    };
    out[i] ^= 0x01;
    out
}

#[test]
fn sgx_v3_vector_verifies_with_its_status_advisories_and_measurements() {
    let (evidence, collateral, at) = load(&SGX);
    let claims = verifier().verify(&evidence, &collateral, at).unwrap();
    assert_eq!(claims.tee_type, TeeType::Sgx);
    assert_eq!(claims.trust_anchor, TrustAnchor::Intel);
    assert_eq!(
        claims.tcb_status,
        TcbStatus::ConfigurationAndSWHardeningNeeded
    );
    assert_eq!(claims.advisory_ids, ["INTEL-SA-00289", "INTEL-SA-00615"]);
    assert!(!claims.debug);
    assert_eq!(
        claims.measurements,
        Measurements::Sgx {
            mr_enclave: hex_array(
                "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
            ),
            mr_signer: hex_array(
                "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
            ),
            isv_prod_id: 0,
            isv_svn: 0,
        }
    );
    let mut expected_rd = [0u8; 64];
    expected_rd[..13].copy_from_slice(b"Hello, world!");
    assert_eq!(claims.report_data, expected_rd);
    assert_eq!(
        claims.collateral_expires_at,
        arca_tee::parse_rfc3339("2025-07-19T10:01:18Z").unwrap()
    );
}

#[test]
fn tdx_v4_vector_verifies_up_to_date_with_its_measurements() {
    let (evidence, collateral, at) = load(&TDX_V4);
    let claims = verifier().verify(&evidence, &collateral, at).unwrap();
    assert_eq!(
        (claims.tee_type, claims.tcb_status),
        (TeeType::Tdx, TcbStatus::UpToDate)
    );
    assert!(claims.advisory_ids.is_empty());
    assert!(!claims.debug);
    let (mr_td, rtmr) = tdx(&claims);
    assert_eq!(
        mr_td,
        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7"
    );
    assert_eq!(
        rtmr[0],
        "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0"
    );
    assert_eq!(
        rtmr[1],
        "0084452c01668329d4bc06acdf58a7205c26743304509973949e5619bf81a6a7aea8c323c173019b3093d54e579e9378"
    );
    assert_eq!(
        rtmr[2],
        "d833feef2cd945148aa38ead2c53e9b7f138190aaaebfc551dccd829fc207aa3ba80b70870d7330733642e01d48c3132"
    );
    assert_eq!(rtmr[3], "0".repeat(96));
    assert_eq!(
        hex::encode(claims.report_data),
        "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20"
    );
}

#[test]
fn tdx_v5_td15ex_vector_verifies_up_to_date_with_its_measurements() {
    let (evidence, collateral, at) = load(&TDX_V5);
    let claims = verifier().verify(&evidence, &collateral, at).unwrap();
    assert_eq!(
        (claims.tee_type, claims.tcb_status),
        (TeeType::Tdx, TcbStatus::UpToDate)
    );
    let (mr_td, rtmr) = tdx(&claims);
    assert_eq!(
        mr_td,
        "2a674327c50218dba880066b349b8d559d749ed68dce33fd651c184a877d084b07a9e583767a7ad5da13ed91deec2b70"
    );
    assert_eq!(
        rtmr[0],
        "0345d2a146eec673fb3861a4d88c5093ef0934b142884294377628cf09fb21bfa979acec61e79f925f5fccaad0827165"
    );
    assert_eq!(
        rtmr[1],
        "3484cd07ba093cede0938303617d6da58f3c6a895ddd5461b3bdd0b29f40e869d4c92642867b44bd3619451bd78ff2d0"
    );
    assert_eq!(
        rtmr[2],
        "83b7a9a35ed613c17a8b9d36a49f28b095f54daa78b328c93eef10ae3e21094c1411467e3371157c4cde5e0beb72dcb8"
    );
    assert_eq!(
        rtmr[3],
        "556d4986cae57e7e3756b6471e4951be6f5f1b4e70942c72325223d6af239da90f1484eeb627727e6d2c0755393b5fdf"
    );
    assert_eq!(
        hex::encode(claims.report_data),
        "2945321c99222c3622a14cf7feaab073e799be14b5f3e73cd2e6cad64e5f062463ad204f33f0a39e47d098330db88ca5b5d0a7afce540dfe4c4fe4a377190731"
    );
}

#[test]
fn outdated_tdx_vector_is_refused_for_its_tcb_level() {
    let (evidence, collateral, at) = load(&TDX_OUTDATED);
    let err = verifier().verify(&evidence, &collateral, at).unwrap_err();
    assert!(matches!(err, TeeError::TcbLevelNotFound(_)), "{err}");
}

#[test]
fn second_verification_is_warm_and_gives_the_same_claims() {
    let v = verifier();
    let (evidence, collateral, at) = load(&TDX_V4);
    let cold = v.verify(&evidence, &collateral, at).unwrap();
    let warm = v.verify(&evidence, &collateral, at + 60).unwrap();
    assert_eq!(cold, warm);
    let stats = v.cache_stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, 1, 1));
}

/// Verifies a tampered quote twice: with a fresh verifier (cold path) and with one whose warm
/// cache already holds the genuine quote's platform. Both must refuse, with the same reason.
fn refused_cold_and_warm(tampered: &[u8]) -> TeeError {
    let (genuine, collateral, at) = load(&TDX_V4);
    let cold = verifier()
        .verify(&Evidence::new(tampered.to_vec()), &collateral, at)
        .unwrap_err();
    let warm_verifier = verifier();
    warm_verifier.verify(&genuine, &collateral, at).unwrap();
    let warm = warm_verifier
        .verify(&Evidence::new(tampered.to_vec()), &collateral, at)
        .unwrap_err();
    assert_eq!(
        cold.to_string(),
        warm.to_string(),
        "cold and warm paths disagree"
    );
    cold
}

fn hex_array<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

// TDX v4 layout: header 0..48, TD report 48..632, u32 auth length 632..636, quote signature
// 636..700, attestation key 700..764, then certification data (type 6: QE report at 770..1154,
// its signature 1154..1218, …).

#[test]
fn one_flipped_byte_in_the_quote_body_is_refused_as_a_bad_quote_signature() {
    let (evidence, ..) = load(&TDX_V4);
    // A byte of MRTD (report offset 136).
    let err = refused_cold_and_warm(&flipped(evidence.quote(), 48 + 136));
    assert!(matches!(err, TeeError::QuoteSignatureInvalid), "{err}");
}

#[test]
fn one_flipped_byte_in_the_quote_signature_is_refused() {
    let (evidence, ..) = load(&TDX_V4);
    let err = refused_cold_and_warm(&flipped(evidence.quote(), 636 + 10));
    assert!(matches!(err, TeeError::QuoteSignatureInvalid), "{err}");
}

#[test]
fn one_flipped_byte_in_the_qe_report_signature_is_refused() {
    let (evidence, ..) = load(&TDX_V4);
    let err = refused_cold_and_warm(&flipped(evidence.quote(), 1154 + 5));
    assert!(matches!(err, TeeError::QeReportInvalid(_)), "{err}");
}

#[test]
fn one_flipped_byte_in_the_collateral_is_refused_as_a_bad_collateral_signature() {
    let (evidence, collateral, at) = load(&TDX_V4);
    let mut tampered = collateral.as_dcap().clone();
    // A digit of the TCB evaluation data number inside the signed TCB info JSON.
    tampered.tcb_info = tampered.tcb_info.replacen(
        "\"tcbEvaluationDataNumber\":17",
        "\"tcbEvaluationDataNumber\":18",
        1,
    );
    assert_ne!(&tampered.tcb_info, &collateral.as_dcap().tcb_info);
    let err = verifier()
        .verify(&evidence, &Collateral::new(tampered), at)
        .unwrap_err();
    assert!(
        matches!(err, TeeError::CollateralSignatureInvalid(_)),
        "{err}"
    );

    let mut tampered = collateral.as_dcap().clone();
    tampered.qe_identity_signature[3] ^= 0x01;
    let err = verifier()
        .verify(&evidence, &Collateral::new(tampered), at)
        .unwrap_err();
    assert!(
        matches!(err, TeeError::CollateralSignatureInvalid(_)),
        "{err}"
    );

    // The CRL signature is the last bytes of the CRL.
    let mut tampered = collateral.as_dcap().clone();
    tampered.root_ca_crl = flipped(&tampered.root_ca_crl, -3);
    let err = verifier()
        .verify(&evidence, &Collateral::new(tampered), at)
        .unwrap_err();
    assert!(
        matches!(err, TeeError::CollateralSignatureInvalid(_)),
        "{err}"
    );
}

#[test]
fn a_time_outside_the_collateral_window_is_refused_cold_and_warm() {
    let v = verifier();
    let (evidence, collateral, at) = load(&SGX);
    v.verify(&evidence, &collateral, at).unwrap();
    for when in ["2025-07-20T00:00:00Z", "2025-06-01T00:00:00Z"] {
        let now = arca_tee::parse_rfc3339(when).unwrap();
        let err = v.verify(&evidence, &collateral, now).unwrap_err();
        assert!(
            matches!(err, TeeError::OutsideValidityWindow { now: n, .. } if n == now),
            "{when}: {err}"
        );
    }
}

#[test]
fn a_quote_for_another_report_data_is_refused() {
    let (evidence, collateral, at) = load(&SGX);
    let claims = verifier().verify(&evidence, &collateral, at).unwrap();
    let expected = arca_tee::report_data::bind(&[1u8; 32], b"the session key the SMS expects");
    let err = claims.require_report_data(&expected).unwrap_err();
    assert!(matches!(err, TeeError::ReportDataMismatch { .. }), "{err}");
}

#[test]
fn a_policy_accepting_only_up_to_date_refuses_the_sgx_vector_by_status() {
    let policy = Policy {
        accepted_tcb_statuses: vec![TcbStatus::UpToDate],
        ..Policy::production()
    };
    let (evidence, collateral, at) = load(&SGX);
    let err = DcapVerifier::new(policy)
        .verify(&evidence, &collateral, at)
        .unwrap_err();
    match err {
        TeeError::TcbStatusRefused {
            status, advisories, ..
        } => {
            assert_eq!(status, TcbStatus::ConfigurationAndSWHardeningNeeded);
            assert_eq!(advisories, ["INTEL-SA-00289", "INTEL-SA-00615"]);
        }
        other => panic!("expected TcbStatusRefused, got {other}"),
    }
}

#[test]
fn expected_measurements_are_enforced() {
    let (evidence, collateral, at) = load(&TDX_V4);
    let mr_td = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7";
    let ok =
        DcapVerifier::new(Policy::production().expecting([format!("0x{}", mr_td.to_uppercase())]));
    ok.verify(&evidence, &collateral, at).unwrap();
    let other = DcapVerifier::new(Policy::production().expecting(["ab".repeat(48)]));
    let err = other.verify(&evidence, &collateral, at).unwrap_err();
    assert!(
        matches!(err, TeeError::MeasurementMismatch { ref actual, .. } if actual == mr_td),
        "{err}"
    );
}

#[test]
fn garbage_is_a_malformed_quote() {
    let (_, collateral, at) = load(&TDX_V4);
    let err = verifier()
        .verify(&Evidence::new(vec![4, 0, 2, 0]), &collateral, at)
        .unwrap_err();
    assert!(matches!(err, TeeError::MalformedQuote(_)), "{err}");
}
