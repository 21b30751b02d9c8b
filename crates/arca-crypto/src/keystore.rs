//! Ethereum wallets as the iexec SDK stores them: the standard V3 JSON keystore (scrypt KDF, AES-128-CTR,
//! Keccak-256 MAC; the format of geth and ethers v6) and the SDK's unencrypted `wallet.json`
//! (`{privateKey, publicKey, address}`).
//!
//! Passwords are NFKC-normalised before key derivation, as ethers (hence the iexec SDK) does; on reading, the raw
//! bytes are tried as well, so keystores written by tools that do not normalise (geth) open too.

use crate::error::{CryptoError, Result};
use crate::fsutil;
use aes::Aes128;
use aes::cipher::{KeyIvInit, StreamCipher};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha3::{Digest, Keccak256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// File name of the SDK's unencrypted wallet (`iexec wallet create --unencrypted`).
pub const UNENCRYPTED_WALLET_FILE: &str = "wallet.json";

/// A secp256k1 private key (32 bytes). Wiped on drop; `Debug` prints only the address.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(Zeroizing<[u8; 32]>);

impl PrivateKey {
    /// A fresh random key (retried in the astronomically unlikely case it falls outside the curve order).
    pub fn generate() -> Self {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(bytes.as_mut());
            if let Ok(key) = Self::from_bytes(*bytes) {
                return key;
            }
        }
    }

    /// Validates raw bytes: a secp256k1 scalar in `1..n`.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self> {
        k256::SecretKey::from_slice(&bytes).map_err(|_| CryptoError::InvalidPrivateKey {
            reason: "not a valid secp256k1 scalar (zero or ≥ n)".into(),
        })?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// Parses 64 hex digits, with or without `0x`.
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, bytes.as_mut()).map_err(|e| {
            CryptoError::InvalidPrivateKey {
                reason: format!("{e} ({} characters after 0x)", digits.len()),
            }
        })?;
        Self::from_bytes(*bytes)
    }

    /// `0x`-prefixed lowercase hex, as ethers prints `wallet.privateKey`.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("0x{}", hex::encode(self.0.as_ref())))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The uncompressed public key `0x04 ‖ x ‖ y` (65 bytes).
    pub fn public_key(&self) -> [u8; 65] {
        let secret =
            k256::SecretKey::from_slice(self.0.as_ref()).expect("validated at construction");
        let point = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
            &secret.public_key(),
            false,
        );
        point
            .as_bytes()
            .try_into()
            .expect("uncompressed SEC1 point is 65 bytes")
    }

    /// The Ethereum address: the last 20 bytes of `keccak256(x ‖ y)`.
    pub fn address(&self) -> Address {
        let public = self.public_key();
        let hash = Keccak256::digest(&public[1..]);
        Address(hash[12..].try_into().expect("20 bytes"))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(<redacted>, address {})", self.address())
    }
}

/// A 20-byte Ethereum address; `Display` gives the EIP-55 mixed-case checksum form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// Parses `0x` + 40 hex digits (any case; the checksum is not enforced, as ethers does for lowercase input).
    pub fn from_hex(text: &str) -> Result<Self> {
        let digits = text.trim().strip_prefix("0x").unwrap_or(text.trim());
        let mut bytes = [0u8; 20];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| CryptoError::InvalidAddress {
            text: text.to_owned(),
        })?;
        Ok(Self(bytes))
    }

    /// Lowercase hex without `0x`, as stored in a keystore's `address` field.
    pub fn to_lower_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Address {
    /// EIP-55: a hex letter is upper-cased when the matching nibble of keccak256(lowercase hex) is ≥ 8.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lower = self.to_lower_hex();
        let hash = Keccak256::digest(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
            out.push(if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        f.write_str(&out)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

/// scrypt cost parameters for writing a keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptParams {
    /// log2 of N.
    pub log_n: u8,
    /// Block size r.
    pub r: u32,
    /// Parallelism p.
    pub p: u32,
}

impl ScryptParams {
    /// What geth (`StandardScryptN`), ethers v6 and the iexec SDK write: N = 2^17, r = 8, p = 1 (128 MiB, ~0.5 s).
    pub const STANDARD: Self = Self {
        log_n: 17,
        r: 8,
        p: 1,
    };
    /// geth's `LightScryptN` (N = 2^12): for tests and throwaway dev wallets only.
    pub const LIGHT: Self = Self {
        log_n: 12,
        r: 8,
        p: 6,
    };
}

/// Normalises a password the way ethers does before key derivation.
fn nfkc(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(password.nfkc().collect::<String>().into_bytes())
}

fn keccak_mac(derived: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    let mut mac = Keccak256::new();
    mac.update(&derived[16..32]);
    mac.update(ciphertext);
    mac.finalize().into()
}

/// Version-4 UUID text from 16 random bytes (the keystore `id`).
fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Encrypts `key` into V3 keystore JSON text with the given scrypt cost.
pub fn encrypt_keystore(key: &PrivateKey, password: &str, params: ScryptParams) -> Result<String> {
    encrypt_keystore_raw(key, &nfkc(password), params)
}

/// [`encrypt_keystore`] with the password bytes used as given (tests use it to mimic non-normalising writers).
fn encrypt_keystore_raw(key: &PrivateKey, password: &[u8], params: ScryptParams) -> Result<String> {
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    let mut id = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    rand::rngs::OsRng.fill_bytes(&mut id);

    let scrypt_params = scrypt::Params::new(params.log_n, params.r, params.p, 32).map_err(|e| {
        CryptoError::Keystore {
            reason: format!("invalid scrypt parameters {params:?}: {e}"),
        }
    })?;
    let mut derived = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &scrypt_params, derived.as_mut()).map_err(|e| {
        CryptoError::Keystore {
            reason: format!("scrypt: {e}"),
        }
    })?;

    let mut ciphertext = *key.as_bytes();
    Aes128Ctr::new(derived[..16].into(), &iv.into()).apply_keystream(&mut ciphertext);
    let mac = keccak_mac(derived.as_ref(), &ciphertext);

    // Field names and hex conventions (no 0x) of the Web3 Secret Storage definition; `crypto` in lowercase as geth
    // writes it (ethers matches keys case-insensitively and writes `Crypto`; both read either).
    let doc = json!({
        "address": key.address().to_lower_hex(),
        "id": uuid_v4(id),
        "version": 3,
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(iv) },
            "ciphertext": hex::encode(ciphertext),
            "kdf": "scrypt",
            "kdfparams": { "dklen": 32, "n": 1u64 << params.log_n, "p": params.p, "r": params.r, "salt": hex::encode(salt) },
            "mac": hex::encode(mac),
        },
    });
    Ok(doc.to_string())
}

/// Looks a key up case-insensitively, as ethers' `spelunk` does (`Crypto` vs `crypto`).
fn field<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn bad(reason: impl Into<String>) -> CryptoError {
    CryptoError::Keystore {
        reason: reason.into(),
    }
}

fn str_field<'a>(obj: &'a Value, path: &str) -> Result<&'a str> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = field(cur, part).ok_or_else(|| bad(format!("missing field '{path}'")))?;
    }
    cur.as_str()
        .ok_or_else(|| bad(format!("field '{path}' is not a string")))
}

fn hex_field(obj: &Value, path: &str) -> Result<Vec<u8>> {
    let text = str_field(obj, path)?;
    hex::decode(text.strip_prefix("0x").unwrap_or(text))
        .map_err(|e| bad(format!("field '{path}' is not hex ({e})")))
}

fn int_field(obj: &Value, path: &str) -> Result<u64> {
    let mut cur = obj;
    for part in path.split('.') {
        cur = field(cur, part).ok_or_else(|| bad(format!("missing field '{path}'")))?;
    }
    cur.as_u64()
        .ok_or_else(|| bad(format!("field '{path}' is not a non-negative integer")))
}

/// Derives the key-encryption key from the password with the file's KDF (scrypt, or pbkdf2-hmac-sha256 which
/// the V3 definition also allows).
fn derive(doc: &Value, password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let kdf = str_field(doc, "crypto.kdf")?;
    let salt = hex_field(doc, "crypto.kdfparams.salt")?;
    let dklen = int_field(doc, "crypto.kdfparams.dklen")?;
    if !(32..=64).contains(&dklen) {
        return Err(bad(format!("kdfparams.dklen is {dklen}; expected 32")));
    }
    let mut out = Zeroizing::new(vec![0u8; dklen as usize]);
    match kdf {
        "scrypt" => {
            let n = int_field(doc, "crypto.kdfparams.n")?;
            let r = int_field(doc, "crypto.kdfparams.r")?;
            let p = int_field(doc, "crypto.kdfparams.p")?;
            if !n.is_power_of_two() || n < 2 {
                return Err(bad(format!("scrypt n = {n} is not a power of two")));
            }
            // Refuse parameters that would need more than 4 GiB (128·r·N bytes): a hostile file could otherwise
            // exhaust memory. geth's and ethers' standard settings need 128 MiB.
            if 128u128 * r as u128 * n as u128 > 4 << 30 {
                return Err(bad(format!(
                    "scrypt parameters n = {n}, r = {r} need more than 4 GiB of memory"
                )));
            }
            let params = scrypt::Params::new(
                n.trailing_zeros() as u8,
                u32::try_from(r).map_err(|_| bad("scrypt r too large"))?,
                u32::try_from(p).map_err(|_| bad("scrypt p too large"))?,
                dklen as usize,
            )
            .map_err(|e| bad(format!("invalid scrypt parameters: {e}")))?;
            scrypt::scrypt(password, &salt, &params, &mut out)
                .map_err(|e| bad(format!("scrypt: {e}")))?;
        }
        "pbkdf2" => {
            let prf = str_field(doc, "crypto.kdfparams.prf")?;
            if prf != "hmac-sha256" {
                return Err(bad(format!(
                    "unsupported pbkdf2 prf '{prf}' (only hmac-sha256)"
                )));
            }
            let c = int_field(doc, "crypto.kdfparams.c")?;
            let rounds = u32::try_from(c).map_err(|_| bad("pbkdf2 iteration count too large"))?;
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, rounds, &mut out);
        }
        other => {
            return Err(bad(format!(
                "unsupported kdf '{other}' (expected scrypt or pbkdf2)"
            )));
        }
    }
    Ok(out)
}

/// Decrypts V3 keystore JSON text. A MAC mismatch is reported as [`CryptoError::WrongPassword`]; a keystore whose
/// `address` disagrees with the decrypted key is reported as corrupted.
pub fn decrypt_keystore(json_text: &str, password: &str) -> Result<PrivateKey> {
    let doc: Value = serde_json::from_str(json_text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let version =
        field(&doc, "version").and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
    if version != Some(3) {
        return Err(bad(format!(
            "version is {version:?}, only version 3 keystores are supported"
        )));
    }
    let cipher = str_field(&doc, "crypto.cipher")?;
    if cipher != "aes-128-ctr" {
        return Err(bad(format!(
            "unsupported cipher '{cipher}' (expected aes-128-ctr)"
        )));
    }
    let iv: [u8; 16] = hex_field(&doc, "crypto.cipherparams.iv")?
        .try_into()
        .map_err(|_| bad("cipherparams.iv is not 16 bytes"))?;
    let ciphertext = hex_field(&doc, "crypto.ciphertext")?;
    if ciphertext.len() != 32 {
        return Err(bad(format!(
            "ciphertext is {} bytes, expected 32",
            ciphertext.len()
        )));
    }
    let mac = hex_field(&doc, "crypto.mac")?;

    let normalized = nfkc(password);
    let mut candidates: Vec<&[u8]> = vec![&normalized];
    if normalized.as_slice() != password.as_bytes() {
        candidates.push(password.as_bytes());
    }
    for candidate in candidates {
        let derived = derive(&doc, candidate)?;
        if keccak_mac(&derived, &ciphertext).as_slice() != mac.as_slice() {
            continue;
        }
        let mut plain = Zeroizing::new([0u8; 32]);
        plain.copy_from_slice(&ciphertext);
        Aes128Ctr::new(derived[..16].into(), &iv.into()).apply_keystream(plain.as_mut());
        let key = PrivateKey::from_bytes(*plain)?;
        if let Some(stored) = field(&doc, "address").and_then(Value::as_str) {
            let stored = Address::from_hex(stored)?;
            if stored != key.address() {
                return Err(bad(format!(
                    "the file says address {stored} but the key decrypts to {}: the keystore is corrupted",
                    key.address()
                )));
            }
        }
        return Ok(key);
    }
    Err(CryptoError::WrongPassword)
}

/// The `address` a keystore declares, read without the password (to pick a wallet by address).
pub fn keystore_address(json_text: &str) -> Result<Address> {
    let doc: Value = serde_json::from_str(json_text).map_err(|e| bad(format!("not JSON ({e})")))?;
    Address::from_hex(str_field(&doc, "address")?)
}

/// Civil date from days since 1970-01-01 (proleptic Gregorian; Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The file name the iexec SDK gives a new keystore: `UTC--YYYY-MM-DDTHH-mm-ss.mmm000000Z--<checksummed address
/// without 0x>` (geth's layout, with the nanosecond field padded from milliseconds as the SDK does).
pub fn keystore_file_name(address: &Address, at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "UTC--{y:04}-{mo:02}-{d:02}T{:02}-{:02}-{:02}.{:03}000000Z--{}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis(),
        &address.to_string()[2..]
    )
}

/// Encrypts `key` and saves it in `dir` under [`keystore_file_name`]; returns the path. The directory is created
/// if needed; the file appears atomically.
pub fn save_keystore(
    dir: &Path,
    key: &PrivateKey,
    password: &str,
    params: ScryptParams,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(CryptoError::io("creating the keystore directory", dir))?;
    let text = encrypt_keystore(key, password, params)?;
    let path = dir.join(keystore_file_name(&key.address(), SystemTime::now()));
    fsutil::write_file_atomic(&path, text.as_bytes(), false)?;
    Ok(path)
}

/// Reads and decrypts a keystore file.
pub fn load_keystore(path: &Path, password: &str) -> Result<PrivateKey> {
    let text =
        std::fs::read_to_string(path).map_err(CryptoError::io("reading the keystore", path))?;
    decrypt_keystore(&text, password).map_err(|e| match e {
        CryptoError::Keystore { reason } => bad(format!("{}: {reason}", path.display())),
        other => other,
    })
}

/// The SDK's plaintext `wallet.json`: `{"privateKey": "0x…", "publicKey": "0x04…", "address": "0x<checksummed>"}`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UnencryptedWallet {
    /// 0x-prefixed 32-byte hex.
    pub private_key: String,
    /// 0x-prefixed uncompressed public key (65 bytes, leading 04).
    pub public_key: String,
    /// EIP-55 checksummed address.
    pub address: String,
}

impl fmt::Debug for UnencryptedWallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnencryptedWallet")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl UnencryptedWallet {
    /// The wallet.json contents for a key.
    pub fn from_key(key: &PrivateKey) -> Self {
        Self {
            private_key: key.to_hex().to_string(),
            public_key: format!("0x{}", hex::encode(key.public_key())),
            address: key.address().to_string(),
        }
    }

    /// Parses wallet.json text and checks that the address matches the key.
    pub fn parse(text: &str) -> Result<(Self, PrivateKey)> {
        let wallet: Self = serde_json::from_str(text)
            .map_err(|e| bad(format!("{UNENCRYPTED_WALLET_FILE} is malformed ({e})")))?;
        let key = PrivateKey::from_hex(&wallet.private_key)?;
        if Address::from_hex(&wallet.address)? != key.address() {
            return Err(bad(format!(
                "{UNENCRYPTED_WALLET_FILE} says address {} but its private key is for {}",
                wallet.address,
                key.address()
            )));
        }
        Ok((wallet, key))
    }

    /// Pretty JSON with two-space indentation, as the SDK's `saveJSONToFile` writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain strings serialise")
    }

    /// Writes `dir/wallet.json` atomically; an existing file is kept unless `overwrite`.
    pub fn save(&self, dir: &Path, overwrite: bool) -> Result<PathBuf> {
        let path = dir.join(UNENCRYPTED_WALLET_FILE);
        fsutil::write_file_atomic(&path, self.to_json().as_bytes(), overwrite)?;
        Ok(path)
    }

    /// Reads and checks a `wallet.json` file.
    pub fn load(path: &Path) -> Result<(Self, PrivateKey)> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(CryptoError::io("reading the wallet", path))?,
        );
        Self::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    // Well-known test key (anvil/hardhat account #0).
    const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDR0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    #[test]
    fn address_and_eip55() {
        let key = PrivateKey::from_hex(KEY0).unwrap();
        assert_eq!(key.address().to_string(), ADDR0);
        assert_eq!(
            Address::from_hex(&ADDR0.to_lowercase()).unwrap(),
            key.address()
        );
        let err = Address::from_hex("0x1234").unwrap_err();
        assert!(err.to_string().contains("40 hex digits"), "{err}");
    }

    #[test]
    fn light_round_trip_and_wrong_password() {
        let key = PrivateKey::generate();
        let text = encrypt_keystore(
            &key,
            "correct horse",
            ScryptParams {
                log_n: 10,
                r: 8,
                p: 1,
            },
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["version"], 3);
        assert_eq!(doc["address"], key.address().to_lower_hex());
        assert_eq!(doc["crypto"]["kdfparams"]["n"], 1024);
        assert_eq!(decrypt_keystore(&text, "correct horse").unwrap(), key);
        let err = decrypt_keystore(&text, "wrong").unwrap_err();
        assert!(matches!(err, CryptoError::WrongPassword), "{err}");
        assert!(err.to_string().contains("wrong password"));
    }

    #[test]
    fn passwords_are_nfkc_normalised_and_raw_bytes_still_open() {
        let key = PrivateKey::generate();
        let light = ScryptParams {
            log_n: 10,
            r: 8,
            p: 1,
        };
        let decomposed = "pa\u{301}ss";
        // Written as ethers does (normalised): the precomposed and decomposed spellings both open it.
        let text = encrypt_keystore(&key, decomposed, light).unwrap();
        assert_eq!(decrypt_keystore(&text, "p\u{e1}ss").unwrap(), key);
        assert_eq!(decrypt_keystore(&text, decomposed).unwrap(), key);
        // Written by a tool that does not normalise (geth): the exact bytes still open it.
        let raw = encrypt_keystore_raw(&key, decomposed.as_bytes(), light).unwrap();
        assert_eq!(decrypt_keystore(&raw, decomposed).unwrap(), key);
    }

    #[test]
    fn malformed_keystores_are_named() {
        let err = decrypt_keystore("{}", "x").unwrap_err().to_string();
        assert!(err.contains("only version 3"), "{err}");
        let err = decrypt_keystore("not json", "x").unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
        let err = decrypt_keystore(r#"{"version":3,"crypto":{"cipher":"aes-128-ctr"}}"#, "x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing field 'crypto.cipherparams.iv'"),
            "{err}"
        );
        let err = PrivateKey::from_hex("0x1234").unwrap_err().to_string();
        assert!(err.contains("invalid private key"), "{err}");
    }

    #[test]
    fn file_name_matches_the_sdk_layout() {
        let key = PrivateKey::from_hex(KEY0).unwrap();
        // 2026-11-24T08:32:10.123Z
        let at = UNIX_EPOCH + Duration::from_millis(1_795_509_130_123);
        assert_eq!(
            keystore_file_name(&key.address(), at),
            "UTC--2026-11-24T08-32-10.123000000Z--f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn unencrypted_wallet_shape() {
        let key = PrivateKey::from_hex(KEY0).unwrap();
        let wallet = UnencryptedWallet::from_key(&key);
        let text = wallet.to_json();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["privateKey"], KEY0);
        assert_eq!(doc["address"], ADDR0);
        assert_eq!(doc["publicKey"].as_str().unwrap().len(), 2 + 130);
        assert!(doc["publicKey"].as_str().unwrap().starts_with("0x04"));
        let dir = tempfile::tempdir().unwrap();
        let path = wallet.save(dir.path(), false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(matches!(
            wallet.save(dir.path(), false),
            Err(CryptoError::AlreadyExists { .. })
        ));
        let (parsed, parsed_key) = UnencryptedWallet::load(&path).unwrap();
        assert_eq!(parsed, wallet);
        assert_eq!(parsed_key, key);
        let tampered = text.replace(
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "0x0000000000000000000000000000000000000001",
        );
        assert!(
            UnencryptedWallet::parse(&tampered)
                .unwrap_err()
                .to_string()
                .contains("says address")
        );
    }
}
