//! Dataset encryption, byte-compatible with the iexec SDK (`iexec dataset encrypt`):
//! `IV (16 random bytes) ‖ AES-256-CBC(PKCS#7)(plaintext)`, the 32-byte key stored as base64, and the on-chain
//! checksum `0x ‖ sha256(encrypted file)`.
//!
//! Unlike the SDK (which holds the whole file, and several copies of it, in memory) everything here streams in
//! [`CHUNK_SIZE`] pieces, so memory stays constant whatever the file size. Encryption is pipelined over two
//! threads: CBC encryption is inherently serial, so while one thread encrypts chunk *n* the other hashes and
//! writes chunk *n − 1*; the checksum therefore costs no second pass over the output.

use crate::error::{CryptoError, Result};
use crate::fsutil;
use aes::Aes256;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;
use std::sync::mpsc;
use zeroize::Zeroizing;

/// AES block size, also the IV length.
pub const IV_LEN: usize = 16;
/// AES-256 key length.
pub const KEY_LEN: usize = 32;
/// Streaming chunk: 1 MiB amortises syscalls and channel hand-offs while keeping memory to a few MiB.
pub const CHUNK_SIZE: usize = 1 << 20;

type CbcEnc = cbc::Encryptor<Aes256>;
type CbcDec = cbc::Decryptor<Aes256>;

/// A 32-byte AES-256 key (dataset key or one-time result key). Wiped from memory on drop; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct AesKey(Zeroizing<[u8; KEY_LEN]>);

impl AesKey {
    /// A fresh key from the OS random generator (what the SDK's `generateAes256Key` does).
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses the base64 text stored in `.secrets/datasets/*.key` and pushed to the SMS. Surrounding whitespace
    /// (a trailing newline added by an editor) is ignored.
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes =
            Zeroizing::new(
                BASE64
                    .decode(text.trim())
                    .map_err(|e| CryptoError::InvalidAesKey {
                        reason: format!("not valid base64 ({e})"),
                    })?,
            );
        let key: [u8; KEY_LEN] =
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| CryptoError::InvalidAesKey {
                    reason: format!("decodes to {} bytes, not {KEY_LEN}", bytes.len()),
                })?;
        Ok(Self::from_bytes(key))
    }

    /// The base64 text form, exactly as the SDK writes key files (no trailing newline).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0.as_ref())
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

/// A SHA-256 digest, printed and parsed as the `0x`-prefixed lowercase hex used for on-chain checksums.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// SHA-256 of an in-memory buffer.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// SHA-256 of a file, read in chunks (the worker uses it to check a downloaded dataset).
    pub fn of_file(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(CryptoError::io("opening", path))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK_SIZE];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(CryptoError::io("reading", path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Self(hasher.finalize().into()))
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({self})")
    }
}

impl FromStr for Checksum {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self> {
        let hex_part = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out)
            .map_err(|_| CryptoError::InvalidChecksum { text: s.to_owned() })?;
        Ok(Self(out))
    }
}

/// What an encryption pass produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptSummary {
    /// Plaintext bytes read.
    pub plain_len: u64,
    /// Bytes written: IV + ciphertext (always `16 + (plain_len / 16 + 1) * 16`).
    pub encrypted_len: u64,
    /// SHA-256 of everything written: the dataset checksum.
    pub checksum: Checksum,
}

/// What a decryption pass produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecryptSummary {
    /// Encrypted bytes read (IV included).
    pub encrypted_len: u64,
    /// Plaintext bytes written.
    pub plain_len: u64,
    /// SHA-256 of the encrypted input, so a caller can check the on-chain checksum without a second read.
    pub input_checksum: Checksum,
}

/// The size of the encrypted form of `plain_len` bytes (IV + PKCS#7-padded ciphertext).
pub fn encrypted_len(plain_len: u64) -> u64 {
    IV_LEN as u64 + (plain_len / 16 + 1) * 16
}

/// Reads until `buf` is full or the stream ends; returns the number of bytes read (less than `buf.len()` only at
/// end of stream). A single `read` may legitimately return less than asked (pipes, sockets), hence the loop.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encrypts `reader` into `writer` as `iv ‖ AES-256-CBC-PKCS7(plaintext)` and returns sizes and the SHA-256 of
/// the output. `progress` is called with the cumulative number of plaintext bytes consumed.
///
/// Read errors are reported as [`CryptoError::Stream`] with action "reading the input", write errors with
/// "writing the output"; file-level callers re-label them with paths.
pub fn encrypt_stream<R: Read, W: Write + Send>(
    mut reader: R,
    writer: W,
    key: &AesKey,
    iv: [u8; IV_LEN],
    progress: &mut dyn FnMut(u64),
) -> Result<EncryptSummary> {
    let mut cipher = CbcEnc::new(key.as_bytes().into(), &iv.into());

    // A fixed pool of POOL buffers circulates: filled and encrypted here, hashed and written by the sink thread,
    // then handed back. Reusing them (rather than allocating per chunk) keeps memory constant and avoids paying
    // page faults on fresh memory for every MiB. Each buffer has IV_LEN spare bytes for the final padding.
    const POOL: usize = 4;
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(POOL);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 1..POOL {
        empty_tx
            .send(vec![0u8; CHUNK_SIZE + IV_LEN])
            .expect("the receiver is alive");
    }

    std::thread::scope(|scope| {
        let sink = scope.spawn(move || -> io::Result<(Checksum, u64)> {
            let mut writer = writer;
            let mut hasher = Sha256::new();
            hasher.update(iv);
            writer.write_all(&iv)?;
            let mut written = IV_LEN as u64;
            for (buf, len) in full_rx {
                hasher.update(&buf[..len]);
                writer.write_all(&buf[..len])?;
                written += len as u64;
                // The producer may already have finished; a closed return channel is not an error.
                let _ = empty_tx.send(buf);
            }
            writer.flush()?;
            Ok((Checksum(hasher.finalize().into()), written))
        });

        // If the sink dies (write error), `send`/`recv` fail; we stop and report the sink's own error below.
        let produce = || -> Result<u64> {
            let mut plain_len = 0u64;
            let mut buf = vec![0u8; CHUNK_SIZE + IV_LEN];
            loop {
                let n = read_full(&mut reader, &mut buf[..CHUNK_SIZE])
                    .map_err(CryptoError::stream("reading the input"))?;
                plain_len += n as u64;
                if n < CHUNK_SIZE {
                    // End of input: pad and encrypt the remainder in one go (PKCS#7 always adds 1..=16 bytes).
                    let out_len = cipher
                        .encrypt_padded_mut::<Pkcs7>(&mut buf, n)
                        .expect("the buffer keeps IV_LEN spare bytes for the padding")
                        .len();
                    progress(plain_len);
                    let _ = full_tx.send((buf, out_len));
                    return Ok(plain_len);
                }
                // A full chunk is a whole number of blocks (CHUNK_SIZE is a multiple of 16): no carry-over.
                let (blocks, _) = InOutBuf::from(&mut buf[..CHUNK_SIZE]).into_chunks::<U16>();
                cipher.encrypt_blocks_inout_mut(blocks);
                progress(plain_len);
                if full_tx.send((buf, CHUNK_SIZE)).is_err() {
                    return Ok(plain_len);
                }
                buf = match empty_rx.recv() {
                    Ok(next) => next,
                    Err(_) => return Ok(plain_len),
                };
            }
        };
        let produced = produce();
        drop(full_tx);
        let sunk = sink
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("writer thread panicked")));
        // A write failure is the root cause when both sides failed (the reader side only saw a closed channel).
        let (checksum, encrypted_len) = sunk.map_err(CryptoError::stream("writing the output"))?;
        let plain_len = produced?;
        Ok(EncryptSummary {
            plain_len,
            encrypted_len,
            checksum,
        })
    })
}

/// Decrypts `iv ‖ AES-256-CBC-PKCS7(plaintext)` from `reader` into `writer`, hashing the input on the way.
/// `progress` is called with the cumulative number of encrypted bytes consumed.
///
/// A wrong key shows up as a padding error at the very end (CBC has no integrity check): by then `writer` has
/// received garbage, which is why [`decrypt_file`] writes to a temporary file and only keeps it on success.
pub fn decrypt_stream<R: Read, W: Write>(
    mut reader: R,
    mut writer: W,
    key: &AesKey,
    progress: &mut dyn FnMut(u64),
) -> Result<DecryptSummary> {
    let mut hasher = Sha256::new();
    let mut iv = [0u8; IV_LEN];
    let got = read_full(&mut reader, &mut iv).map_err(CryptoError::stream("reading the input"))?;
    if got < IV_LEN {
        return Err(CryptoError::Decrypt {
            what: "dataset",
            reason: format!(
                "input is {got} bytes, shorter than the 16-byte IV (not an encrypted dataset)"
            ),
        });
    }
    hasher.update(iv);
    let mut cipher = CbcDec::new(key.as_bytes().into(), &iv.into());
    let mut encrypted_len = IV_LEN as u64;
    let mut plain_len = 0u64;
    let mut buf = vec![0u8; CHUNK_SIZE];
    // The last block must be held back until end of input: only then do we know it carries the padding.
    let mut carry = 0usize;
    loop {
        let n = read_full(&mut reader, &mut buf[carry..])
            .map_err(CryptoError::stream("reading the input"))?;
        hasher.update(&buf[carry..carry + n]);
        encrypted_len += n as u64;
        let len = carry + n;
        if len < buf.len() {
            if len == 0 || !len.is_multiple_of(16) {
                return Err(CryptoError::Decrypt {
                    what: "dataset",
                    reason: format!(
                        "ciphertext is {} bytes, not a positive multiple of 16 (truncated or not AES-CBC)",
                        encrypted_len - IV_LEN as u64
                    ),
                });
            }
            let plain = cipher
                .decrypt_padded_mut::<Pkcs7>(&mut buf[..len])
                .map_err(|_| CryptoError::Decrypt {
                    what: "dataset",
                    reason: "bad PKCS#7 padding: wrong key, or the file is corrupted".into(),
                })?;
            writer
                .write_all(plain)
                .map_err(CryptoError::stream("writing the output"))?;
            plain_len += plain.len() as u64;
            writer
                .flush()
                .map_err(CryptoError::stream("writing the output"))?;
            progress(encrypted_len);
            return Ok(DecryptSummary {
                encrypted_len,
                plain_len,
                input_checksum: Checksum(hasher.finalize().into()),
            });
        }
        // Buffer full (CHUNK_SIZE is a multiple of 16): decrypt all but the last block.
        let ready = len - 16;
        let (blocks, _) = InOutBuf::from(&mut buf[..ready]).into_chunks::<U16>();
        cipher.decrypt_blocks_inout_mut(blocks);
        writer
            .write_all(&buf[..ready])
            .map_err(CryptoError::stream("writing the output"))?;
        plain_len += ready as u64;
        buf.copy_within(ready..len, 0);
        carry = 16;
        progress(encrypted_len);
    }
}

/// Encrypts in memory (small payloads such as result archives): `iv ‖ AES-256-CBC-PKCS7(plain)` with a random IV.
pub fn encrypt_bytes(plain: &[u8], key: &AesKey) -> Vec<u8> {
    let mut iv = [0u8; IV_LEN];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let mut out = Vec::with_capacity(encrypted_len(plain.len() as u64) as usize);
    out.extend_from_slice(&iv);
    out.extend_from_slice(
        &CbcEnc::new(key.as_bytes().into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain),
    );
    out
}

/// Decrypts `iv ‖ AES-256-CBC-PKCS7(plain)` in memory. `what` names the payload in errors.
pub fn decrypt_bytes(data: &[u8], key: &AesKey, what: &'static str) -> Result<Vec<u8>> {
    if data.len() < 2 * IV_LEN || !data.len().is_multiple_of(16) {
        return Err(CryptoError::Decrypt {
            what,
            reason: format!(
                "{} bytes is not IV + a positive multiple of 16 (truncated or not AES-CBC)",
                data.len()
            ),
        });
    }
    let (iv, body) = data.split_at(IV_LEN);
    CbcDec::new(key.as_bytes().into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(body)
        .map_err(|_| CryptoError::Decrypt {
            what,
            reason: "bad PKCS#7 padding: wrong key, or corrupted data".into(),
        })
}

/// Relabels a path-less stream error from [`encrypt_stream`]/[`decrypt_stream`] with the file it concerns.
fn with_paths(err: CryptoError, input: &Path, output: &Path) -> CryptoError {
    match err {
        CryptoError::Stream {
            action: "reading the input",
            source,
        } => CryptoError::Io {
            action: "reading",
            path: input.to_path_buf(),
            source,
        },
        CryptoError::Stream {
            action: "writing the output",
            source,
        } => CryptoError::Io {
            action: "writing",
            path: output.to_path_buf(),
            source,
        },
        other => other,
    }
}

/// Encrypts the file `input` to `output` with a fresh random IV. The output appears atomically (temporary file
/// in the same directory, then rename); unless `overwrite`, an existing `output` is an error and stays untouched.
/// `progress` receives the cumulative plaintext bytes processed (the total is the input file's size).
pub fn encrypt_file(
    input: &Path,
    output: &Path,
    key: &AesKey,
    overwrite: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<EncryptSummary> {
    if !overwrite && output.exists() {
        return Err(CryptoError::AlreadyExists {
            path: output.to_path_buf(),
        });
    }
    let reader = File::open(input).map_err(CryptoError::io("opening", input))?;
    let mut tmp = fsutil::temp_beside(output)?;
    let mut iv = [0u8; IV_LEN];
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let summary = encrypt_stream(reader, tmp.as_file_mut(), key, iv, progress)
        .map_err(|e| with_paths(e, input, output))?;
    // Temporary files are created 0600; an encrypted dataset is meant to be published, so give it the usual 0644
    // (what the SDK's plain write produces under the common umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(CryptoError::io("setting permissions of", output))?;
    }
    fsutil::persist(tmp, output, overwrite)?;
    Ok(summary)
}

/// Decrypts the file `input` (as written by [`encrypt_file`] or the iexec SDK) to `output`, atomically. If
/// `expected` is given, the input's SHA-256 must match it (the on-chain dataset checksum), else nothing is kept.
pub fn decrypt_file(
    input: &Path,
    output: &Path,
    key: &AesKey,
    expected: Option<Checksum>,
    overwrite: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<DecryptSummary> {
    if !overwrite && output.exists() {
        return Err(CryptoError::AlreadyExists {
            path: output.to_path_buf(),
        });
    }
    let reader = File::open(input).map_err(CryptoError::io("opening", input))?;
    let mut tmp = fsutil::temp_beside(output)?;
    let summary = decrypt_stream(reader, tmp.as_file_mut(), key, progress)
        .map_err(|e| with_paths(e, input, output))?;
    if let Some(expected) = expected
        && expected != summary.input_checksum
    {
        return Err(CryptoError::Decrypt {
            what: "dataset",
            reason: format!(
                "checksum mismatch for {}: expected {expected}, file has {}",
                input.display(),
                summary.input_checksum
            ),
        });
    }
    fsutil::persist(tmp, output, overwrite)?;
    Ok(summary)
}

/// True when the CPU offers AES instructions, which the `aes` crate detects and uses at run time
/// (otherwise it falls back to a constant-time software implementation several times slower).
pub fn aes_hardware_accelerated() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("sse2")
    }
    // Elsewhere the `aes` crate's hardware support depends on build flags we do not set: report software.
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random bytes (xorshift), so the tests need no fixtures for large inputs.
    fn sample(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// The one-shot RustCrypto path, independent of our chunking logic.
    fn reference(plain: &[u8], key: &AesKey, iv: [u8; 16]) -> Vec<u8> {
        let mut out = iv.to_vec();
        out.extend(
            CbcEnc::new(key.as_bytes().into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain),
        );
        out
    }

    #[test]
    fn streaming_matches_one_shot_at_chunk_boundaries() {
        let key = AesKey::from_bytes([0x42; 32]);
        let iv = [9u8; 16];
        // Sizes around the block and chunk boundaries, where carry and padding logic can go wrong.
        for len in [
            0,
            1,
            15,
            16,
            17,
            CHUNK_SIZE - 17,
            CHUNK_SIZE - 1,
            CHUNK_SIZE,
            CHUNK_SIZE + 1,
            3 * CHUNK_SIZE + 5,
        ] {
            let plain = sample(len, len as u64 + 1);
            let mut out = Vec::new();
            let mut last = 0;
            let summary =
                encrypt_stream(plain.as_slice(), &mut out, &key, iv, &mut |n| last = n).unwrap();
            assert_eq!(out, reference(&plain, &key, iv), "len {len}");
            assert_eq!(summary.plain_len, len as u64);
            assert_eq!(summary.encrypted_len, encrypted_len(len as u64));
            assert_eq!(summary.checksum, Checksum::of(&out));
            assert_eq!(last, len as u64, "progress reaches the total");

            let mut back = Vec::new();
            let d = decrypt_stream(out.as_slice(), &mut back, &key, &mut |_| {}).unwrap();
            assert_eq!(back, plain, "len {len}");
            assert_eq!(d.input_checksum, summary.checksum);
            assert_eq!(d.plain_len, len as u64);
        }
    }

    /// A reader that returns at most 7 bytes per call, like a slow pipe.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn short_reads_do_not_change_the_output() {
        let key = AesKey::generate();
        let plain = sample(100_003, 7);
        let mut a = Vec::new();
        encrypt_stream(Trickle(&plain), &mut a, &key, [1; 16], &mut |_| {}).unwrap();
        assert_eq!(a, reference(&plain, &key, [1; 16]));
        let mut back = Vec::new();
        decrypt_stream(Trickle(&a), &mut back, &key, &mut |_| {}).unwrap();
        assert_eq!(back, plain);
    }

    #[test]
    fn wrong_key_and_truncation_are_reported() {
        let key = AesKey::generate();
        let enc = encrypt_bytes(b"some dataset content", &key);
        let other = AesKey::generate();
        let err = decrypt_stream(enc.as_slice(), io::sink(), &other, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("wrong key"), "{err}");
        let err = decrypt_stream(&enc[..enc.len() - 1], io::sink(), &key, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a positive multiple of 16"), "{err}");
        let err = decrypt_stream(&enc[..10], io::sink(), &key, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("shorter than the 16-byte IV"), "{err}");
        assert_eq!(
            decrypt_bytes(&enc, &key, "x").unwrap(),
            b"some dataset content"
        );
    }

    #[test]
    fn key_base64_round_trip_and_errors() {
        let key = AesKey::generate();
        let text = key.to_base64();
        assert_eq!(text.len(), 44);
        assert_eq!(AesKey::from_base64(&format!("{text}\n")).unwrap(), key);
        let err = AesKey::from_base64("c2hvcnQ=").unwrap_err().to_string();
        assert!(err.contains("decodes to 5 bytes, not 32"), "{err}");
        let err = AesKey::from_base64("***").unwrap_err().to_string();
        assert!(err.contains("not valid base64"), "{err}");
        assert_eq!(format!("{key:?}"), "AesKey(<redacted>)");
    }

    #[test]
    fn checksum_text_form() {
        let c = Checksum::of(b"");
        assert_eq!(
            c.to_string(),
            "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(c.to_string().parse::<Checksum>().unwrap(), c);
        let err = "0x12".parse::<Checksum>().unwrap_err();
        assert!(matches!(err, CryptoError::InvalidChecksum { .. }), "{err}");
    }

    #[test]
    fn files_are_written_atomically_and_not_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("data.csv");
        let enc = dir.path().join("data.csv.enc");
        let out = dir.path().join("data.back");
        let plain = sample(CHUNK_SIZE + 100, 3);
        std::fs::write(&src, &plain).unwrap();
        let key = AesKey::generate();
        let summary = encrypt_file(&src, &enc, &key, false, &mut |_| {}).unwrap();
        assert_eq!(Checksum::of_file(&enc).unwrap(), summary.checksum);

        // No overwrite without the flag, and the existing file is untouched.
        let before = std::fs::read(&enc).unwrap();
        let err = encrypt_file(&src, &enc, &key, false, &mut |_| {}).unwrap_err();
        assert!(matches!(err, CryptoError::AlreadyExists { .. }), "{err}");
        assert!(err.to_string().contains("--force"));
        assert_eq!(std::fs::read(&enc).unwrap(), before);
        encrypt_file(&src, &enc, &key, true, &mut |_| {}).unwrap();
        assert_ne!(
            std::fs::read(&enc).unwrap(),
            before,
            "a new IV makes a new file"
        );

        let expected = Checksum::of_file(&enc).unwrap();
        decrypt_file(&enc, &out, &key, Some(expected), false, &mut |_| {}).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), plain);

        // Failures leave neither the output nor a temporary file behind.
        std::fs::remove_file(&out).unwrap();
        let err =
            decrypt_file(&enc, &out, &AesKey::generate(), None, false, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("wrong key"), "{err}");
        let err = decrypt_file(
            &enc,
            &out,
            &key,
            Some(Checksum([0; 32])),
            false,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        let err =
            encrypt_file(&dir.path().join("missing"), &out, &key, false, &mut |_| {}).unwrap_err();
        assert!(
            err.to_string().contains("opening") && err.to_string().contains("missing"),
            "{err}"
        );
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["data.csv", "data.csv.enc"]);
    }

    #[test]
    fn write_errors_name_the_output() {
        // A writer that fails after the first chunk: the error must surface (not a hang, not a success).
        struct Failing(usize);
        impl Write for Failing {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk full"));
                }
                self.0 -= 1;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let plain = sample(5 * CHUNK_SIZE, 11);
        let err = encrypt_stream(
            plain.as_slice(),
            Failing(2),
            &AesKey::generate(),
            [0; 16],
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("writing the output") && err.to_string().contains("disk full"),
            "{err}"
        );
    }
}
