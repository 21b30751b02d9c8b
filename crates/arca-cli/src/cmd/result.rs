//! `arca result generate-encryption-keypair|push-encryption-key|check-encryption-key|decrypt`, as the
//! iexec SDK (iexec-protocol.md §3.2): an RSA-4096 beneficiary key pair in
//! `.secrets/beneficiary/<address>_key` (PKCS#8 PEM) and `<address>_key.pub` (SPKI PEM), the public key
//! pushed to the SMS as the web2 secret `iexec-result-encryption-public-key` (value base64(PEM)), and
//! decryption of an encrypted result archive into `results.zip`.

use crate::output::{Common, Outcome, block_on, emit, notice, spinner};
use crate::sms_client::RESULT_KEY_SECRET;
use alloy::primitives::Address;
use anyhow::{Context as _, bail};
use arca_crypto::result as rc;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the SDK keeps beneficiary keys, relative to the project.
pub(crate) const BENEFICIARY_DIR: &str = ".secrets/beneficiary";
/// The file `result decrypt` writes (SDK name).
const DECRYPTED_FILE: &str = "results.zip";

/// Result subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ResultCommand {
    /// Generate the beneficiary RSA-4096 key pair in .secrets/beneficiary/.
    #[command(name = "generate-encryption-keypair", alias = "generate-keys")]
    Generate(GenerateArgs),
    /// Push the beneficiary public key to the SMS (web2 secret iexec-result-encryption-public-key).
    #[command(name = "push-encryption-key", alias = "push-secret")]
    Push(PushArgs),
    /// Check that a beneficiary's public key is in the SMS.
    #[command(name = "check-encryption-key", alias = "check-secret")]
    Check(CheckArgs),
    /// Decrypt an encrypted result archive into results.zip.
    Decrypt(DecryptArgs),
}

/// Options of `generate-encryption-keypair`.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Folder of the beneficiary keys [default: .secrets/beneficiary].
    #[arg(long, value_name = "PATH")]
    beneficiary_keystoredir: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Options of `push-encryption-key`.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Replace the key already in the SMS.
    #[arg(long)]
    force_update: bool,
    /// Public key file to push [default: .secrets/beneficiary/<address>_key.pub].
    #[arg(long, value_name = "PATH")]
    secret_path: Option<PathBuf>,
    /// Accepted for compatibility (SDK v8): Arca runs one SMS for every TEE framework.
    #[arg(long, value_name = "FRAMEWORK")]
    tee_framework: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `check-encryption-key`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Beneficiary address [default: the wallet].
    address: Option<String>,
    /// Accepted for compatibility (SDK v8): Arca runs one SMS for every TEE framework.
    #[arg(long, value_name = "FRAMEWORK")]
    tee_framework: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Options of `decrypt`.
#[derive(Debug, Args)]
pub(crate) struct DecryptArgs {
    /// The encrypted result archive (as downloaded by `arca task show --download`).
    encrypted_results_path: PathBuf,
    /// Folder of the beneficiary keys [default: .secrets/beneficiary].
    #[arg(long, value_name = "PATH")]
    beneficiary_keystoredir: Option<PathBuf>,
    /// Private key file [default: <beneficiary-keystoredir>/<wallet address>_key].
    #[arg(long, value_name = "PATH")]
    beneficiary_key_file: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(command: ResultCommand) -> anyhow::Result<ExitCode> {
    match command {
        ResultCommand::Generate(a) => emit(a.common.raw, generate(&a)),
        ResultCommand::Push(a) => emit(a.common.raw, block_on(push(&a))),
        ResultCommand::Check(a) => emit(a.common.raw, block_on(check(&a))),
        ResultCommand::Decrypt(a) => emit(a.common.raw, decrypt(&a)),
    }
}

/// The beneficiary key folder: the flag, else `.secrets/beneficiary` of the project.
fn key_dir(common: &Common, given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let project = common.project()?;
    Ok(match given {
        Some(p) => project.dir().join(p),
        None => project.dir().join(BENEFICIARY_DIR),
    })
}

/// `<dir>/<address>_key` and `<dir>/<address>_key.pub` (checksummed address, as the SDK).
pub(crate) fn key_files(dir: &Path, address: Address) -> (PathBuf, PathBuf) {
    let base = format!("{}_key", address.to_checksum(None));
    (dir.join(&base), dir.join(format!("{base}.pub")))
}

fn wallet(common: &Common) -> anyhow::Result<Address> {
    let project = common.project()?;
    common.wallet_address(&project).context(
        "no wallet found: create one with `arca wallet create` or pass --wallet-address/--wallet-file",
    )
}

fn generate(args: &GenerateArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let address = wallet(common)?;
    let dir = key_dir(common, args.beneficiary_keystoredir.as_deref())?;
    let (private, public) = key_files(&dir, address);
    if !common.force {
        for file in [&private, &public] {
            if file.exists() {
                bail!(
                    "{} already exists: pass --force to replace the key pair (results encrypted for the old key then become unreadable)",
                    file.display()
                );
            }
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let bar = spinner(common.raw, "generating an RSA-4096 key pair");
    let pair = rc::generate_keypair(rc::RSA_BITS)?;
    bar.finish_and_clear();
    // the private key first: a public key without its private half would be worse than nothing
    arca_crypto::write_file_atomic(&private, pair.private_pem.as_bytes(), true)?;
    arca_crypto::write_file_atomic(&public, pair.public_pem.as_bytes(), true)?;
    let human = format!(
        "✔ Generated new encryption key pair for beneficiary {address}\n  private key: {}\n  public key:  {}\n\
         Back up the private key: without it encrypted results are lost.\n\
         Next: `arca result push-encryption-key` to let enclaves encrypt results for you.",
        private.display(),
        public.display()
    );
    Ok(Outcome::new(human)
        .with("privateKeyFile", private.display().to_string())
        .with("publicKeyFile", public.display().to_string()))
}

async fn push(args: &PushArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let address = wallet(common)?;
    let path = match &args.secret_path {
        Some(p) => project.dir().join(p),
        None => key_files(&project.dir().join(BENEFICIARY_DIR), address).1,
    };
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the public key {}: run `arca result generate-encryption-keypair` or pass --secret-path",
            path.display()
        )
    })?;
    // refuse a file that is not a public key before anything leaves the machine
    rc::parse_public_key(text.trim())
        .with_context(|| format!("{} is not an RSA public key", path.display()))?;
    let value = rc::public_key_to_sms_secret(text.trim_end_matches('\n'));
    let signer = common.signer(&project)?;
    if signer.address() != address {
        bail!(
            "the wallet is {} but the key files are for {address}",
            signer.address()
        );
    }
    let bar = spinner(common.raw, "pushing the encryption key to the SMS");
    let exists = sms.web2_secret_exists(address, RESULT_KEY_SECRET).await?;
    if exists && !args.force_update {
        bar.finish_and_clear();
        bail!(
            "the result encryption key of {address} already exists in the SMS ({}): pass --force-update to replace it",
            sms.url()
        );
    }
    sms.push_web2_secret(&signer, RESULT_KEY_SECRET, &value, exists)
        .await?;
    bar.finish_and_clear();
    let verb = if exists { "updated" } else { "pushed" };
    Ok(Outcome::new(format!(
        "✔ Encryption key {verb} in the SMS ({}) for beneficiary {address}",
        sms.url()
    ))
    .with("isPushed", true)
    .with("isUpdated", exists))
}

async fn check(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let sms = common.sms(&project)?;
    let address = match &args.address {
        Some(text) => arca_client::parse_address(text)?,
        None => wallet(common)?,
    };
    let set = sms.web2_secret_exists(address, RESULT_KEY_SECRET).await?;
    let human = if set {
        format!("✔ Encryption key exists in the SMS for beneficiary {address}")
    } else {
        format!(
            "✖ No encryption key in the SMS for beneficiary {address}: run `arca result push-encryption-key`"
        )
    };
    Ok(Outcome::new(human).with("isEncryptionKeySet", set))
}

fn decrypt(args: &DecryptArgs) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let project = common.project()?;
    let input = project.dir().join(&args.encrypted_results_path);
    if !input.is_file() {
        bail!(
            "{} not found: pass the encrypted result archive (`arca task show <taskid> --download` writes <taskid>.zip)",
            input.display()
        );
    }
    let key_file = match &args.beneficiary_key_file {
        Some(p) => project.dir().join(p),
        None => {
            let dir = key_dir(common, args.beneficiary_keystoredir.as_deref())?;
            key_files(&dir, wallet(common)?).0
        }
    };
    let pem = read_private_key(&key_file)?;
    let private = rc::parse_private_key(&pem)
        .with_context(|| format!("{} is not a beneficiary private key", key_file.display()))?;
    let output = project.dir().join(DECRYPTED_FILE);
    if output.exists() && !common.force {
        bail!(
            "{} already exists: pass --force to overwrite it",
            output.display()
        );
    }
    notice(
        common.raw,
        format!("decrypting {} with {}", input.display(), key_file.display()),
    );
    rc::decrypt_result_file(&input, &private, &output, true).with_context(|| {
        format!(
            "decrypting {} (is it encrypted for this beneficiary key?)",
            input.display()
        )
    })?;
    Ok(Outcome::new(format!(
        "✔ Result decrypted in {}: `unzip {DECRYPTED_FILE}` to read it",
        output.display()
    ))
    .with("resultPath", output.display().to_string()))
}

/// Reads a private key file, naming the fix when it is missing.
fn read_private_key(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the beneficiary private key {}: pass --beneficiary-key-file, or --beneficiary-keystoredir holding <address>_key",
            path.display()
        )
    })
}
