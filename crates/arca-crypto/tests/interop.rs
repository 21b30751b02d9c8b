//! Vectors produced by the real tools (files under `tests/data/`, see `tests/data/README.md` for how each was
//! made): the iexec SDK 9.0.1, `openssl enc` / `openssl pkeyutl`, and ethers v6. Arca must read all of them, and
//! must produce byte-identical ciphertext to openssl for the same key and IV.

use arca_crypto::keystore::{self, Address};
use arca_crypto::{AesKey, Checksum, dataset, result};
use std::path::PathBuf;

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

fn key(path: &str) -> AesKey {
    AesKey::from_base64(&String::from_utf8(read(path)).unwrap()).unwrap()
}

#[test]
fn sdk_encrypted_datasets_decrypt_and_checksums_match() {
    let checksums = String::from_utf8(read("sdk-dataset/checksums.txt")).unwrap();
    for line in checksums.lines() {
        let (sdk_checksum, file) = line.split_once(' ').unwrap();
        let encrypted = read(&format!("sdk-dataset/{file}"));
        assert_eq!(Checksum::of(&encrypted).to_string(), sdk_checksum, "{file}");
        let name = file.strip_suffix(".enc").unwrap();
        let mut plain = Vec::new();
        let summary = dataset::decrypt_stream(
            encrypted.as_slice(),
            &mut plain,
            &key(&format!("sdk-dataset/{name}.key")),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(summary.input_checksum.to_string(), sdk_checksum);
        let expected = if name == "empty.bin" {
            Vec::new()
        } else {
            read(&format!("sdk-dataset/{name}"))
        };
        assert_eq!(plain, expected, "{file}");
    }
}

#[test]
fn ciphertext_is_byte_identical_to_openssl() {
    let plain = read("openssl/plain.bin");
    let openssl = read("openssl/plain.bin.enc");
    let key = key("openssl/plain.bin.key");
    let iv: [u8; 16] = openssl[..16].try_into().unwrap();
    let mut ours = Vec::new();
    let summary =
        dataset::encrypt_stream(plain.as_slice(), &mut ours, &key, iv, &mut |_| {}).unwrap();
    assert_eq!(ours, openssl);
    assert_eq!(summary.checksum, Checksum::of(&openssl));
    assert_eq!(
        dataset::decrypt_bytes(&openssl, &key, "dataset").unwrap(),
        plain
    );
}

#[test]
fn openssl_built_result_archive_decrypts() {
    let private = String::from_utf8(read("openssl/beneficiary_key")).unwrap();
    let plain = result::decrypt_result(&read("openssl/result-encrypted.zip"), &private).unwrap();
    assert_eq!(plain, read("openssl/result-plain.zip"));

    // And the other way: an archive we build for that key decrypts with the same key.
    let public =
        result::parse_public_key(&String::from_utf8(read("openssl/beneficiary_key.pub")).unwrap())
            .unwrap();
    let archive = result::encrypt_result(&plain, &public).unwrap();
    assert_eq!(result::decrypt_result(&archive, &private).unwrap(), plain);
}

#[test]
fn ethers_and_arca_keystores_open_with_the_same_address() {
    let expected = Address::from_hex(
        String::from_utf8(read("ethers/address.txt"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let standard =
        keystore::load_keystore(&data("ethers/standard.json"), "arca-test-password").unwrap();
    assert_eq!(standard.address(), expected);
    assert_eq!(
        standard.address().to_string(),
        "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    );
    // ethers NFKC-normalises: the decomposed accent and the "ﬁ" ligature must be normalised the same way here.
    let light = keystore::load_keystore(
        &data("ethers/light-unicode.json"),
        "pa\u{301}ssword-\u{fb01}",
    )
    .unwrap();
    assert_eq!(light, standard);

    let arca_file = std::fs::read_dir(data("arca"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let name = arca_file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("UTC--") && name.ends_with("--2c7536E3605D9C16a7a3D7b1898e529396a65c23"),
        "{name}"
    );
    assert_eq!(
        keystore::load_keystore(&arca_file, "arca-test-password").unwrap(),
        standard
    );

    let err =
        keystore::load_keystore(&data("ethers/standard.json"), "not the password").unwrap_err();
    assert!(err.to_string().starts_with("wrong password"), "{err}");
}

#[test]
fn pbkdf2_keystores_from_the_v3_definition_open() {
    let key = keystore::load_keystore(&data("spec/pbkdf2.json"), "testpassword").unwrap();
    assert_eq!(
        key.to_hex().as_str(),
        "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"
    );
    assert_eq!(
        key.address().to_string(),
        "0x008AeEda4D805471dF9b2A5B0f38A0C3bCBA786b"
    );
}
