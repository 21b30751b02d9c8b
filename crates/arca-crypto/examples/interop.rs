//! `interop`: a thin command-line face of `arca-crypto`, used by `scripts/test.d/30-crypto-interop.sh` to check
//! the formats live against openssl, ethers v6 and the iexec SDK (and handy to regenerate test fixtures).
//!
//! Usage: `cargo run -p arca-crypto --example interop -- <command> <args…>`; see `usage()` for the commands.

use arca_crypto::{AesKey, PrivateKey, ScryptParams, dataset, keystore, result, write_file_atomic};
use std::path::Path;
use std::process::ExitCode;

fn usage() -> &'static str {
    "commands:
  aes-ni                                   print whether AES instructions are used (yes/no)
  speed MIB                                in-memory MiB/s of encrypt, sha256 and decrypt (one thread each)
  dataset-encrypt KEYFILE IN OUT           encrypt IN with the base64 key in KEYFILE, print the checksum
  dataset-decrypt KEYFILE IN OUT           decrypt IN (IV ‖ AES-256-CBC) to OUT, print the input checksum
  result-keygen BITS DIR                   write DIR/key (PKCS#8 PEM) and DIR/key.pub (SPKI PEM)
  result-encrypt PUBKEY PLAIN.zip OUT.zip  encrypt a result archive for a beneficiary
  result-decrypt PRIVKEY ENC.zip OUT.zip   decrypt an encrypted result archive
  sms-secret PUBKEY                        print the SMS form of a public key (base64 of the PEM)
  keystore-write PRIVKEY PASSWORD DIR [light]  write a V3 keystore, print its path
  keystore-read FILE PASSWORD              decrypt a V3 keystore, print its address"
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&argv) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Separates the cipher's own speed from file I/O and threading when reading the encrypt benchmark.
fn speed(mib: usize) -> Result<(), String> {
    use std::time::Instant;
    let plain = vec![0x5au8; mib << 20];
    let key = AesKey::generate();
    let rate = |t: Instant| mib as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let encrypted = dataset::encrypt_bytes(&plain, &key);
    let enc = rate(t);
    let t = Instant::now();
    let sum = arca_crypto::Checksum::of(&encrypted);
    let sha = rate(t);
    let t = Instant::now();
    let back = dataset::decrypt_bytes(&encrypted, &key, "speed test").map_err(|e| e.to_string())?;
    let dec = rate(t);
    assert_eq!(back.len(), plain.len(), "round trip of {sum}");
    let t = Instant::now();
    let streamed = dataset::encrypt_stream(
        plain.as_slice(),
        std::io::sink(),
        &key,
        [0; 16],
        &mut |_| {},
    )
    .map_err(|e| e.to_string())?;
    let stream = rate(t);
    assert_eq!(streamed.plain_len, plain.len() as u64);
    println!(
        "aes-256-cbc encrypt {enc:.0} MiB/s, sha256 {sha:.0} MiB/s, aes-256-cbc decrypt {dec:.0} MiB/s, \
         streamed encrypt+sha256 {stream:.0} MiB/s"
    );
    Ok(())
}

fn read_text(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))
}

fn run(argv: &[&str]) -> Result<(), String> {
    let err = |e: arca_crypto::CryptoError| e.to_string();
    match argv {
        ["aes-ni"] => println!(
            "{}",
            if dataset::aes_hardware_accelerated() {
                "yes"
            } else {
                "no"
            }
        ),
        ["speed", mib] => speed(
            mib.parse()
                .map_err(|_| format!("MIB must be a number, got {mib}"))?,
        )?,
        ["dataset-encrypt", key, input, output] => {
            let key = AesKey::from_base64(&read_text(key)?).map_err(err)?;
            let s =
                dataset::encrypt_file(Path::new(input), Path::new(output), &key, true, &mut |_| {})
                    .map_err(err)?;
            println!("{}", s.checksum);
        }
        ["dataset-decrypt", key, input, output] => {
            let key = AesKey::from_base64(&read_text(key)?).map_err(err)?;
            let s = dataset::decrypt_file(
                Path::new(input),
                Path::new(output),
                &key,
                None,
                true,
                &mut |_| {},
            )
            .map_err(err)?;
            println!("{}", s.input_checksum);
        }
        ["result-keygen", bits, dir] => {
            let bits: usize = bits
                .parse()
                .map_err(|_| format!("BITS must be a number, got {bits}"))?;
            let pair = result::generate_keypair(bits).map_err(err)?;
            let dir = Path::new(dir);
            write_file_atomic(&dir.join("key"), pair.private_pem.as_bytes(), true).map_err(err)?;
            write_file_atomic(&dir.join("key.pub"), pair.public_pem.as_bytes(), true)
                .map_err(err)?;
        }
        ["result-encrypt", public, plain, output] => {
            let public = result::parse_public_key(&read_text(public)?).map_err(err)?;
            result::encrypt_result_file(Path::new(plain), Path::new(output), &public, true)
                .map_err(err)?;
        }
        ["result-decrypt", private, archive, output] => {
            let private = result::parse_private_key(&read_text(private)?).map_err(err)?;
            result::decrypt_result_file(Path::new(archive), &private, Path::new(output), true)
                .map_err(err)?;
        }
        ["sms-secret", public] => {
            println!("{}", result::public_key_to_sms_secret(&read_text(public)?))
        }
        ["keystore-write", key, password, dir, rest @ ..] => {
            let params = match rest {
                [] => ScryptParams::STANDARD,
                ["light"] => ScryptParams::LIGHT,
                _ => return Err(usage().into()),
            };
            let key = PrivateKey::from_hex(key).map_err(err)?;
            let path =
                keystore::save_keystore(Path::new(dir), &key, password, params).map_err(err)?;
            println!("{}", path.display());
        }
        ["keystore-read", file, password] => {
            let key = keystore::load_keystore(Path::new(file), password).map_err(err)?;
            println!("{}", key.address());
        }
        _ => return Err(usage().into()),
    }
    Ok(())
}
