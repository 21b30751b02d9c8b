//! [`DevPki`]: a complete, deterministic imitation of Intel's DCAP PKI for development — root CA,
//! PCK platform CA, PCK certificate with the SGX extension, TCB-info/QE-identity signer, CRLs,
//! a quoting enclave's report and an attestation key — all derived from a 32-byte seed.
//!
//! Everything it signs has exactly Intel's formats, so dev quotes go through the very same
//! dcap-qvl verification as real ones; only the trust anchor differs. Certificates are valid
//! from 2020-01-01 to 2049-12-31; the collateral window is chosen by the caller.

use super::der;
use crate::claims::TcbStatus;
use crate::collateral::Collateral;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// The seed of the shared Arca dev PKI (`arca tee verify --dev-root`, the SMS `--dev` mode and
/// the worker's sim enclave all use it unless told otherwise). It is public: anything signed by
/// this PKI proves nothing about hardware.
pub const DEFAULT_DEV_SEED: [u8; 32] = *b"arca/dev-pki/v1 NOT-FOR-PROD!!!!";

/// Marker put in every dev certificate's subject, used to recognise (and refuse) dev chains.
pub const DEV_SUBJECT_MARKER: &str = "Arca Dev";

/// The dev platform's FMSPC (family-model-stepping-platform-custom SKU).
pub(crate) const DEV_FMSPC: [u8; 6] = [0x00, 0xA7, 0xCA, 0xDE, 0x70, 0x00];
/// The dev platform's CPU SVN (one byte per SGX TCB component).
pub(crate) const DEV_CPU_SVN: [u8; 16] = [3; 16];
/// The dev platform's PCE SVN.
pub(crate) const DEV_PCE_SVN: u16 = 13;
/// The dev TDX module's TEE TCB SVN; byte 1 (module version) is 0, so no module identity is
/// needed in the TCB info.
pub(crate) const DEV_TEE_TCB_SVN: [u8; 16] = [5, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const DEV_QE_ISV_PROD_ID: u16 = 2;
const DEV_QE_ISV_SVN: u16 = 4;
const CERT_NOT_BEFORE: u64 = 1_577_836_800; // 2020-01-01T00:00:00Z
const CERT_NOT_AFTER: u64 = 2_524_607_999; // 2049-12-31T23:59:59Z

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_CN: &str = "2.5.4.3";
const OID_O: &str = "2.5.4.10";
const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
const OID_KEY_USAGE: &str = "2.5.29.15";
const OID_CRL_NUMBER: &str = "2.5.29.20";
const OID_SGX: &str = "1.2.840.113741.1.13.1";

/// How the dev collateral rates the dev platform (to exercise policies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevTcb {
    /// Status of the TCB level the dev platform matches.
    pub status: TcbStatus,
    /// Advisories attached to that level.
    pub advisory_ids: Vec<String>,
}

impl Default for DevTcb {
    fn default() -> Self {
        DevTcb {
            status: TcbStatus::UpToDate,
            advisory_ids: Vec::new(),
        }
    }
}

/// The dev PKI: keys and certificates derived from a seed, plus the quoting enclave's fixed
/// report. Cheap to clone behind an `Arc`; building one costs a few ECDSA signatures.
pub struct DevPki {
    root_key: SigningKey,
    pck_ca_key: SigningKey,
    tcb_key: SigningKey,
    attestation_key: SigningKey,
    root_der: Vec<u8>,
    pck_ca_der: Vec<u8>,
    tcb_der: Vec<u8>,
    /// PEM chain PCK leaf → PCK CA → root, as embedded in quotes (certification data type 5).
    pck_chain_pem: String,
    qe_id: [u8; 16],
    qe_report: [u8; 384],
    qe_report_signature: [u8; 64],
    qe_auth_data: [u8; 32],
    qe_mr_signer: [u8; 32],
}

impl fmt::Debug for DevPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys stay out of logs even though they are dev keys.
        f.debug_struct("DevPki")
            .field("root_sha256", &hex::encode(Sha256::digest(&self.root_der)))
            .finish_non_exhaustive()
    }
}

impl Default for DevPki {
    /// The shared Arca dev PKI ([`DEFAULT_DEV_SEED`]).
    fn default() -> Self {
        Self::from_seed(&DEFAULT_DEV_SEED)
    }
}

impl DevPki {
    /// Derives every key and certificate from `seed`; the same seed always gives the same bytes.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let root_key = derive_key(seed, "root-ca");
        let pck_ca_key = derive_key(seed, "pck-platform-ca");
        let pck_key = derive_key(seed, "pck");
        let tcb_key = derive_key(seed, "tcb-signer");
        let attestation_key = derive_key(seed, "attestation-key");

        let root_name = name("Arca Dev SGX Root CA");
        let pck_ca_name = name("Arca Dev SGX PCK Platform CA");
        let root_der = certificate(
            &root_key,
            &root_name,
            &root_name,
            &root_key,
            1,
            &[&ca_extensions(None)],
        );
        let pck_ca_der = certificate(
            &root_key,
            &root_name,
            &pck_ca_name,
            &pck_ca_key,
            2,
            &[&ca_extensions(Some(0))],
        );
        let tcb_der = certificate(
            &root_key,
            &root_name,
            &name("Arca Dev SGX TCB Signing"),
            &tcb_key,
            3,
            &[&key_usage(0x80 | 0x40)],
        );
        let ppid = Sha256::digest([seed.as_slice(), b"ppid"].concat());
        let pck_der = certificate(
            &pck_ca_key,
            &pck_ca_name,
            &name("Arca Dev SGX PCK Certificate"),
            &pck_key,
            4,
            &[&key_usage(0x80 | 0x40), &sgx_extension(&ppid[..16])],
        );
        let pck_chain_pem = [&pck_der, &pck_ca_der, &root_der]
            .iter()
            .map(|d| pem_cert(d))
            .collect();

        // The quoting enclave's report commits to the attestation key (and its auth data) in
        // its report data; the PCK key signs that report. Both are fixed for a platform.
        let qe_auth_data: [u8; 32] = Sha256::digest([seed.as_slice(), b"qe-auth"].concat()).into();
        let qe_mr_signer: [u8; 32] = Sha256::digest(b"arca/tee/dev-quoting-enclave").into();
        let mut qe_report = [0u8; 384];
        qe_report[..16].copy_from_slice(&DEV_CPU_SVN);
        // misc_select (16..20) = 0, reserved (20..48)
        qe_report[48] = 0x11; // attributes: INIT | MODE64BIT, not DEBUG
        qe_report[64..96].copy_from_slice(&Sha256::digest(b"arca/tee/dev-qe-mrenclave"));
        qe_report[128..160].copy_from_slice(&qe_mr_signer);
        qe_report[256..258].copy_from_slice(&DEV_QE_ISV_PROD_ID.to_le_bytes());
        qe_report[258..260].copy_from_slice(&DEV_QE_ISV_SVN.to_le_bytes());
        let mut hashed = attestation_public_key(&attestation_key).to_vec();
        hashed.extend_from_slice(&qe_auth_data);
        qe_report[320..352].copy_from_slice(&Sha256::digest(&hashed));
        let qe_report_signature = raw_signature(&pck_key, &qe_report);
        let mut qe_id = [0u8; 16];
        qe_id.copy_from_slice(&Sha256::digest([seed.as_slice(), b"qe-id"].concat())[..16]);

        DevPki {
            root_key,
            pck_ca_key,
            tcb_key,
            attestation_key,
            root_der,
            pck_ca_der,
            tcb_der,
            pck_chain_pem,
            qe_id,
            qe_report,
            qe_report_signature,
            qe_auth_data,
            qe_mr_signer,
        }
    }

    /// The dev root CA certificate (DER): the trust anchor to enable in development.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// Collateral valid for 30 days from `issued_at` (unix seconds), rating the platform
    /// UpToDate.
    pub fn collateral(&self, issued_at: u64) -> Collateral {
        self.collateral_with(issued_at, 30 * 24 * 3600, &DevTcb::default())
    }

    /// Collateral valid over `[issued_at, issued_at + valid_for]`, rating the platform `tcb`.
    pub fn collateral_with(&self, issued_at: u64, valid_for: u64, tcb: &DevTcb) -> Collateral {
        let next_update = issued_at + valid_for;
        let (issue, next) = (rfc3339(issued_at), rfc3339(next_update));
        let svns = |svn: &[u8]| -> Vec<serde_json::Value> {
            svn.iter()
                .map(|s| serde_json::json!({ "svn": s }))
                .collect()
        };
        // Two levels: the dev platform meets the first (status chosen by the caller); the
        // second, older one is there so TCB matching has something to fall through to.
        let tcb_info = serde_json::json!({
            "id": "TDX",
            "version": 3,
            "issueDate": issue,
            "nextUpdate": next,
            "fmspc": hex::encode_upper(DEV_FMSPC),
            "pceId": "0000",
            "tcbType": 0,
            "tcbEvaluationDataNumber": 1,
            "tdxModule": {
                "mrsigner": hex::encode_upper([0u8; 48]),
                "attributes": "0000000000000000",
                "attributesMask": "FFFFFFFFFFFFFFFF"
            },
            "tdxModuleIdentities": [],
            "tcbLevels": [
                {
                    "tcb": {
                        "sgxtcbcomponents": svns(&DEV_CPU_SVN),
                        "pcesvn": DEV_PCE_SVN,
                        "tdxtcbcomponents": svns(&DEV_TEE_TCB_SVN)
                    },
                    "tcbDate": "2026-01-01T00:00:00Z",
                    "tcbStatus": tcb.status.to_string(),
                    "advisoryIDs": tcb.advisory_ids
                },
                {
                    "tcb": {
                        "sgxtcbcomponents": svns(&[1; 16]),
                        "pcesvn": 1,
                        "tdxtcbcomponents": svns(&[1; 16])
                    },
                    "tcbDate": "2024-01-01T00:00:00Z",
                    "tcbStatus": "OutOfDate",
                    "advisoryIDs": ["ARCA-DEV-OLD"]
                }
            ]
        })
        .to_string();
        let qe_identity = serde_json::json!({
            "id": "TD_QE",
            "version": 2,
            "issueDate": issue,
            "nextUpdate": next,
            "tcbEvaluationDataNumber": 1,
            "miscselect": "00000000",
            "miscselectMask": "FFFFFFFF",
            "attributes": "11000000000000000000000000000000",
            "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
            "mrsigner": hex::encode_upper(self.qe_mr_signer),
            "isvprodid": DEV_QE_ISV_PROD_ID,
            "tcbLevels": [
                { "tcb": { "isvsvn": DEV_QE_ISV_SVN }, "tcbDate": "2026-01-01T00:00:00Z", "tcbStatus": "UpToDate" }
            ]
        })
        .to_string();
        let root_name = name("Arca Dev SGX Root CA");
        let pck_ca_name = name("Arca Dev SGX PCK Platform CA");
        let signer_chain = pem_cert(&self.tcb_der) + &pem_cert(&self.root_der);
        Collateral::new(dcap_qvl::QuoteCollateralV3 {
            pck_crl_issuer_chain: pem_cert(&self.pck_ca_der) + &pem_cert(&self.root_der),
            root_ca_crl: crl(&self.root_key, &root_name, issued_at, next_update),
            pck_crl: crl(&self.pck_ca_key, &pck_ca_name, issued_at, next_update),
            tcb_info_issuer_chain: signer_chain.clone(),
            tcb_info_signature: raw_signature(&self.tcb_key, tcb_info.as_bytes()).to_vec(),
            tcb_info,
            qe_identity_issuer_chain: signer_chain,
            qe_identity_signature: raw_signature(&self.tcb_key, qe_identity.as_bytes()).to_vec(),
            qe_identity,
            pck_certificate_chain: None,
        })
    }

    /// Builds a TDX v4 quote over `body` (584-byte TD 1.0 report), signed by the attestation
    /// key, with the fixed QE report and the PCK chain as certification data.
    pub(crate) fn quote(&self, body: &[u8; 584]) -> Vec<u8> {
        let mut header = Vec::with_capacity(48);
        header.extend_from_slice(&4u16.to_le_bytes()); // version
        header.extend_from_slice(&2u16.to_le_bytes()); // ECDSA-256 with P-256
        header.extend_from_slice(&0x81u32.to_le_bytes()); // TDX
        header.extend_from_slice(&DEV_QE_ISV_SVN.to_le_bytes()); // QE SVN
        header.extend_from_slice(&DEV_PCE_SVN.to_le_bytes()); // PCE SVN
        // The QE vendor id must be Intel's: verifiers only know Intel's quoting enclave format.
        header.extend_from_slice(&dcap_qvl::INTEL_QE_VENDOR_ID);
        header.extend_from_slice(&self.qe_id); // user data: QE id …
        header.extend_from_slice(&[0u8; 4]); // … and padding to 20 bytes
        let mut signed = header;
        signed.extend_from_slice(body);

        let mut inner = Vec::new(); // certification data type 5: the PCK chain
        inner.extend_from_slice(&5u16.to_le_bytes());
        inner.extend_from_slice(&(self.pck_chain_pem.len() as u32).to_le_bytes());
        inner.extend_from_slice(self.pck_chain_pem.as_bytes());
        let mut qe_data = Vec::new(); // certification data type 6: QE report + its signature
        qe_data.extend_from_slice(&self.qe_report);
        qe_data.extend_from_slice(&self.qe_report_signature);
        qe_data.extend_from_slice(&(self.qe_auth_data.len() as u16).to_le_bytes());
        qe_data.extend_from_slice(&self.qe_auth_data);
        qe_data.extend_from_slice(&inner);

        let mut auth = Vec::new();
        auth.extend_from_slice(&raw_signature(&self.attestation_key, &signed));
        auth.extend_from_slice(&attestation_public_key(&self.attestation_key));
        auth.extend_from_slice(&6u16.to_le_bytes());
        auth.extend_from_slice(&(qe_data.len() as u32).to_le_bytes());
        auth.extend_from_slice(&qe_data);

        let mut quote = signed;
        quote.extend_from_slice(&(auth.len() as u32).to_le_bytes());
        quote.extend_from_slice(&auth);
        quote
    }
}

/// A P-256 key from `SHA-256(domain ‖ label ‖ seed ‖ counter)`, retrying in the (negligible)
/// case the hash is not a valid scalar.
fn derive_key(seed: &[u8; 32], label: &str) -> SigningKey {
    let mut counter = 0u32;
    loop {
        let mut h = Sha256::new();
        h.update(b"arca/tee/dev-pki/v1\0");
        h.update(label.as_bytes());
        h.update([0]);
        h.update(seed);
        h.update(counter.to_be_bytes());
        if let Ok(key) = SigningKey::from_slice(&h.finalize()) {
            return key;
        }
        counter += 1;
    }
}

/// ECDSA-P256-SHA256 (RFC 6979, deterministic) as raw `r ‖ s`, the form DCAP structures use.
fn raw_signature(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    let sig: Signature = key.sign(message);
    let mut out = [0u8; 64];
    out.copy_from_slice(&sig.to_bytes());
    out
}

/// Uncompressed public key without the 0x04 prefix: DCAP's attestation-key format.
fn attestation_public_key(key: &SigningKey) -> [u8; 64] {
    let point = key.verifying_key().to_sec1_point(false);
    let mut out = [0u8; 64];
    out.copy_from_slice(&point.as_bytes()[1..65]);
    out
}

fn name(cn: &str) -> Vec<u8> {
    debug_assert!(cn.contains(DEV_SUBJECT_MARKER));
    der::seq(&[
        &der::set(&[&der::seq(&[&der::oid(OID_CN), &der::utf8(cn)])]),
        &der::set(&[&der::seq(&[
            &der::oid(OID_O),
            &der::utf8("Arca development PKI - not Intel, proves no hardware"),
        ])]),
    ])
}

fn algorithm() -> Vec<u8> {
    der::seq(&[&der::oid(OID_ECDSA_SHA256)])
}

fn extension(oid: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        der::seq(&[&der::oid(oid), &der::boolean(true), &der::octets(value)])
    } else {
        der::seq(&[&der::oid(oid), &der::octets(value)])
    }
}

fn key_usage(flags: u8) -> Vec<u8> {
    extension(OID_KEY_USAGE, true, &der::flag_bits(flags))
}

/// BasicConstraints cA=TRUE (with an optional path length) + KeyUsage keyCertSign | cRLSign.
fn ca_extensions(path_len: Option<u64>) -> Vec<u8> {
    let bc = match path_len {
        Some(n) => der::seq(&[&der::boolean(true), &der::uint_u64(n)]),
        None => der::seq(&[&der::boolean(true)]),
    };
    [
        extension(OID_BASIC_CONSTRAINTS, true, &bc),
        key_usage(0x04 | 0x02),
    ]
    .concat()
}

/// Intel's SGX extension (OID 1.2.840.113741.1.13.1) as in a Platform-CA PCK certificate:
/// PPID, TCB (16 components, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type, platform instance id
/// and configuration flags.
fn sgx_extension(ppid: &[u8]) -> Vec<u8> {
    let entry =
        |suffix: &str, value: &[u8]| der::seq(&[&der::oid(&format!("{OID_SGX}.{suffix}")), value]);
    let mut tcb = Vec::new();
    for (i, svn) in DEV_CPU_SVN.iter().enumerate() {
        tcb.extend(entry(
            &format!("2.{}", i + 1),
            &der::uint_u64(u64::from(*svn)),
        ));
    }
    tcb.extend(entry("2.17", &der::uint_u64(u64::from(DEV_PCE_SVN))));
    tcb.extend(entry("2.18", &der::octets(&DEV_CPU_SVN)));
    let configuration = [
        entry("7.1", &der::boolean(false)), // dynamic platform
        entry("7.2", &der::boolean(false)), // cached keys
        entry("7.3", &der::boolean(false)), // SMT enabled
    ]
    .concat();
    let body = [
        entry("1", &der::octets(ppid)),
        entry("2", &der::tlv(0x30, &tcb)),
        entry("3", &der::octets(&[0, 0])),
        entry("4", &der::octets(&DEV_FMSPC)),
        entry("5", &der::enumerated(1)), // Scalable
        entry("6", &der::octets(&Sha256::digest(ppid)[..16])),
        entry("7", &der::tlv(0x30, &configuration)),
    ]
    .concat();
    extension(OID_SGX, false, &der::tlv(0x30, &body))
}

fn certificate(
    issuer_key: &SigningKey,
    issuer: &[u8],
    subject: &[u8],
    subject_key: &SigningKey,
    serial: u64,
    extensions: &[&[u8]],
) -> Vec<u8> {
    let spki = der::seq(&[
        &der::seq(&[&der::oid(OID_EC_PUBLIC_KEY), &der::oid(OID_P256)]),
        &der::bits(subject_key.verifying_key().to_sec1_point(false).as_bytes()),
    ]);
    let tbs = der::seq(&[
        &der::explicit(0, &der::uint_u64(2)), // v3
        &der::uint_u64(serial),
        &algorithm(),
        issuer,
        &der::seq(&[&der::time(CERT_NOT_BEFORE), &der::time(CERT_NOT_AFTER)]),
        subject,
        &spki,
        &der::explicit(3, &der::tlv(0x30, &extensions.concat())),
    ]);
    signed(issuer_key, &tbs)
}

/// An empty v2 CRL (with the CRL number extension webpki requires).
fn crl(key: &SigningKey, issuer: &[u8], this_update: u64, next_update: u64) -> Vec<u8> {
    let tbs = der::seq(&[
        &der::uint_u64(1), // v2
        &algorithm(),
        issuer,
        &der::time(this_update),
        &der::time(next_update),
        &der::explicit(
            0,
            &der::seq(&[&extension(OID_CRL_NUMBER, false, &der::uint_u64(1))]),
        ),
    ]);
    signed(key, &tbs)
}

/// `SEQUENCE { tbs, algorithm, BIT STRING(DER ECDSA signature) }`.
fn signed(key: &SigningKey, tbs: &[u8]) -> Vec<u8> {
    let rs = raw_signature(key, tbs);
    let sig = der::seq(&[&der::uint(&rs[..32]), &der::uint(&rs[32..])]);
    der::seq(&[tbs, &algorithm(), &der::bits(&sig)])
}

fn pem_cert(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn rfc3339(unix: u64) -> String {
    chrono::DateTime::from_timestamp(unix as i64, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
