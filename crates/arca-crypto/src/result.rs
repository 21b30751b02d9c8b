//! Result encryption for a beneficiary, as iExec's TEE post-compute writes it and the iexec SDK reads it:
//!
//! - the beneficiary owns an RSA-4096 key pair (private key PEM PKCS#8, public key PEM SPKI, as node's
//!   `generateKeyPair` writes them for `iexec result generate-encryption-keypair`);
//! - the public key reaches the SMS as `base64(PEM text)`;
//! - post-compute encrypts `iexec_out.zip` with a one-time AES-256 key into `iexec_out.zip.aes`
//!   (`IV ‖ AES-256-CBC-PKCS7`), wraps the raw 32-byte key with RSA PKCS#1 v1.5 into `aes-key.rsa`, and zips
//!   both at the root of the archive that gets uploaded;
//! - the requester opens that archive, unwraps the key and gets the plain `iexec_out.zip` back. The SDK's two
//!   legacy layouts are still accepted: an `aes-key.rsa` holding base64 text of the RSA ciphertext whose
//!   plaintext is itself a base64 key, and a 16-byte key meaning AES-128-ECB over a base64 payload.
//!
//! RSA comes from the `rsa` crate (0.9), whose PKCS#1 v1.5 decryption is not constant-time (RUSTSEC-2023-0071,
//! "Marvin"). That matters for a service answering decryption queries; here decryption only happens locally, on
//! the requester's own machine and files, so no attacker can time it. PKCS#1 v1.5 itself is imposed by iExec.

use crate::dataset::{self, AesKey};
use crate::error::{CryptoError, Result};
use crate::fsutil;
use aes::Aes128;
use aes::cipher::{BlockDecrypt, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey, RsaPublicKey};
use std::fs::File;
use std::io::{Cursor, Read, Seek, Write};
use std::path::Path;
use zeroize::Zeroizing;

/// Member of the encrypted archive holding `IV ‖ AES-256-CBC(iexec_out.zip)`.
pub const ENCRYPTED_RESULT_ENTRY: &str = "iexec_out.zip.aes";
/// Member of the encrypted archive holding the RSA-wrapped AES key.
pub const ENCRYPTED_KEY_ENTRY: &str = "aes-key.rsa";
/// RSA modulus size used by iExec for beneficiary keys.
pub const RSA_BITS: usize = 4096;
/// Same bounds as the SDK's `decryptResult`: a wrapped key is at most 1000 bytes, a result at most 1 GB.
const MAX_KEY_ENTRY: u64 = 1000;
const MAX_RESULT_ENTRY: u64 = 1_000_000_000;

/// A beneficiary key pair as PEM text, ready to be saved as `<address>_key` and `<address>_key.pub`.
#[derive(Clone)]
pub struct ResultKeyPair {
    /// `-----BEGIN PRIVATE KEY-----` (PKCS#8), LF line endings. Wiped on drop.
    pub private_pem: Zeroizing<String>,
    /// `-----BEGIN PUBLIC KEY-----` (SPKI), LF line endings.
    pub public_pem: String,
}

impl std::fmt::Debug for ResultKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultKeyPair")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

/// Generates an RSA key pair of `bits` bits (use [`RSA_BITS`]; tests use smaller keys for speed).
/// Takes seconds for 4096 bits: prime search time varies widely from run to run.
pub fn generate_keypair(bits: usize) -> Result<ResultKeyPair> {
    let private =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).map_err(|e| CryptoError::Rsa {
            action: "key generation",
            reason: e.to_string(),
        })?;
    let private_pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CryptoError::Rsa {
            action: "private key encoding",
            reason: e.to_string(),
        })?;
    let public_pem = private
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| CryptoError::Rsa {
            action: "public key encoding",
            reason: e.to_string(),
        })?;
    Ok(ResultKeyPair {
        private_pem: Zeroizing::new(private_pem.to_string()),
        public_pem,
    })
}

/// Parses a beneficiary private key: PEM PKCS#8 (`BEGIN PRIVATE KEY`, what iExec writes) or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`, which the SDK's forge parser also takes).
pub fn parse_private_key(pem: &str) -> Result<RsaPrivateKey> {
    let pem = pem.trim();
    let parsed = if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
        RsaPrivateKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())
    } else {
        RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())
    };
    parsed.map_err(|reason| CryptoError::Rsa {
        action: "private key parsing",
        reason: format!(
            "{reason} (expected a PEM RSA private key as written by `result generate-encryption-keypair`)"
        ),
    })
}

/// Parses a beneficiary public key given as PEM SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`)
/// text, or as the SMS form: base64 of that PEM text.
pub fn parse_public_key(text: &str) -> Result<RsaPublicKey> {
    let text = text.trim();
    let pem: String = if text.starts_with("-----BEGIN") {
        text.to_owned()
    } else {
        let decoded = BASE64.decode(text).map_err(|e| CryptoError::Rsa {
            action: "public key parsing",
            reason: format!("neither PEM nor base64 of a PEM ({e})"),
        })?;
        String::from_utf8(decoded).map_err(|_| CryptoError::Rsa {
            action: "public key parsing",
            reason: "base64 does not decode to PEM text".into(),
        })?
    };
    let pem = pem.trim();
    let parsed = if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        RsaPublicKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())
    } else {
        RsaPublicKey::from_public_key_pem(pem).map_err(|e| e.to_string())
    };
    parsed.map_err(|reason| CryptoError::Rsa {
        action: "public key parsing",
        reason,
    })
}

/// The value pushed to the SMS as secret `iexec-result-encryption-public-key`: base64 of the PEM text when given
/// PEM, otherwise the input unchanged (assumed already base64), like the SDK's `formatEncryptionKey`.
pub fn public_key_to_sms_secret(public_key: &str) -> String {
    if public_key.starts_with("-----BEGIN PUBLIC KEY-----") {
        BASE64.encode(public_key.as_bytes())
    } else {
        public_key.to_owned()
    }
}

/// Post-compute side: encrypts the plain result archive for the beneficiary and returns the bytes of the archive
/// to upload (a zip holding `iexec_out.zip.aes` and `aes-key.rsa` at its root).
pub fn encrypt_result(plain_zip: &[u8], beneficiary: &RsaPublicKey) -> Result<Vec<u8>> {
    let key = AesKey::generate();
    let payload = dataset::encrypt_bytes(plain_zip, &key);
    let wrapped = beneficiary
        .encrypt(&mut rand::rngs::OsRng, Pkcs1v15Encrypt, key.as_bytes())
        .map_err(|e| CryptoError::Rsa {
            action: "key wrapping",
            reason: e.to_string(),
        })?;
    build_archive(&[
        (ENCRYPTED_RESULT_ENTRY, &payload),
        (ENCRYPTED_KEY_ENTRY, &wrapped),
    ])
}

/// Zips `(name, bytes)` members at the archive root. Members are stored, not deflated: ciphertext does not
/// compress, so deflating would only burn CPU.
pub(crate) fn build_archive(members: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let zip_err = |e: zip::result::ZipError| CryptoError::ResultArchive {
        reason: format!("building the zip: {e}"),
    };
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for (name, bytes) in members {
        writer.start_file(*name, options).map_err(zip_err)?;
        writer
            .write_all(bytes)
            .map_err(CryptoError::stream("writing the result zip"))?;
    }
    Ok(writer.finish().map_err(zip_err)?.into_inner())
}

/// Reads one member of the encrypted archive, refusing anything larger than `max` bytes (zip-bomb guard: the
/// declared size is checked first, then the actual read is capped).
fn read_member<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    max: u64,
) -> Result<Vec<u8>> {
    let member = archive
        .by_name(name)
        .map_err(|_| CryptoError::ResultArchive {
            reason: format!(
                "missing {name} at the root of the archive (is this an encrypted iExec result?)"
            ),
        })?;
    if member.size() > max {
        return Err(CryptoError::ResultArchive {
            reason: format!("{name} is too large ({} bytes)", member.size()),
        });
    }
    let mut out = Vec::with_capacity(member.size() as usize);
    member
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| CryptoError::ResultArchive {
            reason: format!("reading {name}: {e}"),
        })?;
    if out.len() as u64 > max {
        return Err(CryptoError::ResultArchive {
            reason: format!("{name} is larger than {max} bytes"),
        });
    }
    Ok(out)
}

/// Unwraps the AES key: raw PKCS#1 v1.5 ciphertext (current format), else the legacy base64-in-base64 form.
fn unwrap_key(wrapped: &[u8], private: &RsaPrivateKey) -> Result<Zeroizing<Vec<u8>>> {
    if let Ok(key) = private.decrypt(Pkcs1v15Encrypt, wrapped) {
        return Ok(Zeroizing::new(key));
    }
    let legacy = || -> Option<Zeroizing<Vec<u8>>> {
        let text = std::str::from_utf8(wrapped).ok()?;
        let ciphertext = BASE64.decode(text.trim()).ok()?;
        let key_b64 = Zeroizing::new(private.decrypt(Pkcs1v15Encrypt, &ciphertext).ok()?);
        let text = std::str::from_utf8(&key_b64).ok()?;
        BASE64.decode(text.trim()).ok().map(Zeroizing::new)
    };
    legacy().ok_or_else(|| CryptoError::Rsa {
        action: "result key decryption",
        reason: "aes-key.rsa cannot be decrypted with this private key (the result was encrypted for another \
                 beneficiary key; check --beneficiary-key-file)"
            .into(),
    })
}

/// Legacy results: AES-128-ECB with PKCS#7 over the base64-decoded payload.
fn decrypt_legacy_ecb(payload: &[u8], key: &[u8]) -> Result<Vec<u8>> {
    let err = |reason: &str| CryptoError::Decrypt {
        what: "legacy (AES-128-ECB) result",
        reason: reason.into(),
    };
    let text = std::str::from_utf8(payload).map_err(|_| err("payload is not base64 text"))?;
    let mut data = BASE64
        .decode(text.trim())
        .map_err(|_| err("payload is not valid base64"))?;
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(err("ciphertext length is not a positive multiple of 16"));
    }
    let cipher = Aes128::new_from_slice(key).map_err(|_| err("key is not 16 bytes"))?;
    for block in data.chunks_exact_mut(16) {
        cipher.decrypt_block(block.into());
    }
    let pad = *data.last().unwrap_or(&0) as usize;
    if pad == 0 || pad > 16 || !data[data.len() - pad..].iter().all(|&b| b as usize == pad) {
        return Err(err("bad PKCS#7 padding: wrong key, or corrupted data"));
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

/// Requester side: from the downloaded encrypted archive and the beneficiary's PEM private key, returns the bytes
/// of the plain `iexec_out.zip`.
pub fn decrypt_result(encrypted_archive: &[u8], private_key_pem: &str) -> Result<Vec<u8>> {
    let private = parse_private_key(private_key_pem)?;
    decrypt_result_with(encrypted_archive, &private)
}

/// Same as [`decrypt_result`] with an already parsed key.
pub fn decrypt_result_with(encrypted_archive: &[u8], private: &RsaPrivateKey) -> Result<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(encrypted_archive)).map_err(|e| {
        CryptoError::ResultArchive {
            reason: format!("not a readable zip file ({e})"),
        }
    })?;
    let wrapped = read_member(&mut archive, ENCRYPTED_KEY_ENTRY, MAX_KEY_ENTRY)?;
    let payload = read_member(&mut archive, ENCRYPTED_RESULT_ENTRY, MAX_RESULT_ENTRY)?;
    let key = unwrap_key(&wrapped, private)?;
    match key.len() {
        32 => {
            let key = AesKey::from_bytes(key.as_slice().try_into().expect("length checked"));
            dataset::decrypt_bytes(&payload, &key, "result archive")
        }
        16 => decrypt_legacy_ecb(&payload, &key),
        n => Err(CryptoError::Decrypt {
            what: "result archive",
            reason: format!(
                "the unwrapped key is {n} bytes; expected 32 (AES-256-CBC) or 16 (legacy AES-128-ECB)"
            ),
        }),
    }
}

/// Streaming form of [`encrypt_result`] for post-compute: reads the plain `iexec_out.zip` at `plain_zip` and writes
/// the encrypted archive to `output` (atomically) in constant memory, whatever the result size.
pub fn encrypt_result_file(
    plain_zip: &Path,
    output: &Path,
    beneficiary: &RsaPublicKey,
    overwrite: bool,
) -> Result<()> {
    if !overwrite && output.exists() {
        return Err(CryptoError::AlreadyExists {
            path: output.to_path_buf(),
        });
    }
    let key = AesKey::generate();
    let wrapped = beneficiary
        .encrypt(&mut rand::rngs::OsRng, Pkcs1v15Encrypt, key.as_bytes())
        .map_err(|e| CryptoError::Rsa {
            action: "key wrapping",
            reason: e.to_string(),
        })?;
    let input = File::open(plain_zip).map_err(CryptoError::io("opening", plain_zip))?;
    let mut tmp = fsutil::temp_beside(output)?;
    let zip_err = |e: zip::result::ZipError| CryptoError::ResultArchive {
        reason: format!("writing {}: {e}", output.display()),
    };
    let mut writer = zip::ZipWriter::new(tmp.as_file_mut());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    writer
        .start_file(ENCRYPTED_RESULT_ENTRY, options)
        .map_err(zip_err)?;
    let mut iv = [0u8; dataset::IV_LEN];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut iv);
    dataset::encrypt_stream(input, &mut writer, &key, iv, &mut |_| {}).map_err(|e| match e {
        CryptoError::Stream {
            action: "reading the input",
            source,
        } => CryptoError::Io {
            action: "reading",
            path: plain_zip.to_path_buf(),
            source,
        },
        CryptoError::Stream { source, .. } => CryptoError::Io {
            action: "writing",
            path: output.to_path_buf(),
            source,
        },
        other => other,
    })?;
    writer
        .start_file(ENCRYPTED_KEY_ENTRY, options)
        .map_err(zip_err)?;
    writer
        .write_all(&wrapped)
        .map_err(CryptoError::io("writing", output))?;
    writer.finish().map_err(zip_err)?;
    fsutil::persist(tmp, output, overwrite)?;
    Ok(())
}

/// Streaming form of [`decrypt_result_with`] for `result decrypt`: reads the encrypted archive at `archive` and
/// writes the plain `iexec_out.zip` to `output` (atomically; nothing is left behind on a wrong key). The current
/// format streams in constant memory with no size cap; the legacy ECB form is bounded like the SDK (1 GB).
pub fn decrypt_result_file(
    archive: &Path,
    private: &RsaPrivateKey,
    output: &Path,
    overwrite: bool,
) -> Result<()> {
    if !overwrite && output.exists() {
        return Err(CryptoError::AlreadyExists {
            path: output.to_path_buf(),
        });
    }
    let file = File::open(archive).map_err(CryptoError::io("opening", archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| CryptoError::ResultArchive {
        reason: format!("{} is not a readable zip file ({e})", archive.display()),
    })?;
    let wrapped = read_member(&mut zip, ENCRYPTED_KEY_ENTRY, MAX_KEY_ENTRY)?;
    let key = unwrap_key(&wrapped, private)?;
    let mut tmp = fsutil::temp_beside(output)?;
    match key.len() {
        32 => {
            let key = AesKey::from_bytes(key.as_slice().try_into().expect("length checked"));
            let member =
                zip.by_name(ENCRYPTED_RESULT_ENTRY)
                    .map_err(|_| CryptoError::ResultArchive {
                        reason: format!(
                            "missing {ENCRYPTED_RESULT_ENTRY} at the root of the archive"
                        ),
                    })?;
            dataset::decrypt_stream(member, tmp.as_file_mut(), &key, &mut |_| {}).map_err(|e| {
                match e {
                    CryptoError::Decrypt { reason, .. } => CryptoError::Decrypt {
                        what: "result archive",
                        reason,
                    },
                    CryptoError::Stream { action, source } => CryptoError::ResultArchive {
                        reason: format!("{action}: {source}"),
                    },
                    other => other,
                }
            })?;
        }
        16 => {
            let payload = read_member(&mut zip, ENCRYPTED_RESULT_ENTRY, MAX_RESULT_ENTRY)?;
            let plain = decrypt_legacy_ecb(&payload, &key)?;
            tmp.write_all(&plain)
                .map_err(CryptoError::io("writing", output))?;
        }
        n => {
            return Err(CryptoError::Decrypt {
                what: "result archive",
                reason: format!(
                    "the unwrapped key is {n} bytes; expected 32 (AES-256-CBC) or 16 (legacy AES-128-ECB)"
                ),
            });
        }
    }
    fsutil::persist(tmp, output, overwrite)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncrypt;
    use std::sync::OnceLock;

    /// One small key shared by the tests: RSA key generation is the slow part, the format does not depend on size.
    fn test_key() -> &'static (RsaPrivateKey, String) {
        static KEY: OnceLock<(RsaPrivateKey, String)> = OnceLock::new();
        KEY.get_or_init(|| {
            let pair = generate_keypair(1024).expect("keygen");
            (
                parse_private_key(&pair.private_pem).expect("parse"),
                pair.public_pem,
            )
        })
    }

    #[test]
    fn round_trip_current_format() {
        let (private, public_pem) = test_key();
        let public = parse_public_key(public_pem).unwrap();
        let plain = b"PK\x03\x04 pretend this is iexec_out.zip".repeat(100);
        let archive = encrypt_result(&plain, &public).unwrap();

        // The archive holds exactly the two members, at its root, with the expected sizes.
        let mut zip = zip::ZipArchive::new(Cursor::new(archive.as_slice())).unwrap();
        let mut names: Vec<_> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        names.sort();
        assert_eq!(names, [ENCRYPTED_KEY_ENTRY, ENCRYPTED_RESULT_ENTRY]);
        assert_eq!(zip.by_name(ENCRYPTED_KEY_ENTRY).unwrap().size(), 128);
        assert_eq!(
            zip.by_name(ENCRYPTED_RESULT_ENTRY).unwrap().size(),
            dataset::encrypted_len(plain.len() as u64)
        );

        assert_eq!(decrypt_result_with(&archive, private).unwrap(), plain);
    }

    #[test]
    fn file_forms_stream_and_agree_with_the_in_memory_forms() {
        let (private, public_pem) = test_key();
        let public = parse_public_key(public_pem).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let plain_path = dir.path().join("iexec_out.zip");
        let plain: Vec<u8> = (0..(3 << 20) + 7).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&plain_path, &plain).unwrap();
        let enc_path = dir.path().join("encrypted.zip");
        encrypt_result_file(&plain_path, &enc_path, &public, false).unwrap();
        let archive = std::fs::read(&enc_path).unwrap();
        // The streamed archive is readable by the in-memory reader (as the SDK reads it), and vice versa.
        assert_eq!(decrypt_result_with(&archive, private).unwrap(), plain);
        let out = dir.path().join("out.zip");
        decrypt_result_file(&enc_path, private, &out, false).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), plain);
        let err = decrypt_result_file(&enc_path, private, &out, false).unwrap_err();
        assert!(matches!(err, CryptoError::AlreadyExists { .. }), "{err}");

        // A wrong key leaves nothing behind.
        let other = RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        let out2 = dir.path().join("out2.zip");
        assert!(decrypt_result_file(&enc_path, &other, &out2, false).is_err());
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["encrypted.zip", "iexec_out.zip", "out.zip"]);
    }

    #[test]
    fn legacy_base64_wrapped_key_and_ecb_payload() {
        let (private, public_pem) = test_key();
        let public = parse_public_key(public_pem).unwrap();
        let plain = b"legacy result bytes, 37 bytes long!!".to_vec();
        let key16 = [7u8; 16];
        // Legacy writer: RSA(base64(key)) stored as base64 text; payload = base64(AES-128-ECB-PKCS7(plain)).
        let wrapped = public
            .encrypt(
                &mut rand::rngs::OsRng,
                Pkcs1v15Encrypt,
                BASE64.encode(key16).as_bytes(),
            )
            .unwrap();
        let mut padded = plain.clone();
        let pad = 16 - plain.len() % 16;
        padded.extend(std::iter::repeat_n(pad as u8, pad));
        let cipher = Aes128::new_from_slice(&key16).unwrap();
        for block in padded.chunks_exact_mut(16) {
            cipher.encrypt_block(block.into());
        }
        let archive = build_archive(&[
            (ENCRYPTED_KEY_ENTRY, BASE64.encode(&wrapped).as_bytes()),
            (ENCRYPTED_RESULT_ENTRY, BASE64.encode(&padded).as_bytes()),
        ])
        .unwrap();
        assert_eq!(decrypt_result_with(&archive, private).unwrap(), plain);
    }

    #[test]
    fn wrong_key_and_bad_archives_are_named() {
        let (_, public_pem) = test_key();
        let archive = encrypt_result(b"data", &parse_public_key(public_pem).unwrap()).unwrap();
        let other = RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap();
        let err = decrypt_result_with(&archive, &other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("another beneficiary key"), "{err}");

        let err = decrypt_result_with(b"not a zip", &other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a readable zip"), "{err}");

        let only_key = build_archive(&[(ENCRYPTED_KEY_ENTRY, b"x")]).unwrap();
        let err = decrypt_result_with(&only_key, &other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing iexec_out.zip.aes"), "{err}");

        let big_key = build_archive(&[
            (ENCRYPTED_KEY_ENTRY, &[0u8; 1001]),
            (ENCRYPTED_RESULT_ENTRY, b""),
        ])
        .unwrap();
        let err = decrypt_result_with(&big_key, &other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("too large"), "{err}");

        let err = parse_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
            .unwrap_err();
        assert!(err.to_string().contains("private key parsing"), "{err}");
    }

    #[test]
    fn sms_encoding_is_base64_of_the_pem_text() {
        let (_, public_pem) = test_key();
        let secret = public_key_to_sms_secret(public_pem);
        assert_eq!(BASE64.decode(&secret).unwrap(), public_pem.as_bytes());
        // Already-encoded values pass through untouched, and both forms parse to the same key.
        assert_eq!(public_key_to_sms_secret(&secret), secret);
        assert_eq!(
            parse_public_key(&secret).unwrap(),
            parse_public_key(public_pem).unwrap()
        );
    }

    #[test]
    fn pem_shapes_match_node() {
        let (_, public_pem) = test_key();
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(public_pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(public_pem.lines().all(|l| l.len() <= 64));
    }
}
