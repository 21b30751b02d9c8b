//! `arca dataset …`: dataset commands of the iexec CLI. `encrypt` works like `iexec dataset encrypt` (SDK v9):
//! every file of `datasets/original/` becomes `datasets/encrypted/<name>.enc`, its base64 AES key goes to
//! `.secrets/datasets/<name>.key` and `.secrets/datasets/dataset.key` (the last one encrypted), and the checksum
//! to put on chain is printed.
//!
//! Differences from the SDK, all on the safe side: files are streamed (constant memory, progress bar) instead of
//! loaded whole; outputs are checked before any work starts, so without `--force` nothing is overwritten and
//! nothing is half-done; each output appears atomically. Within one run `dataset.key` is simply updated for each
//! file (the SDK prompts before replacing it, so without `--force` it stops at the second file). Key files are
//! created readable by their owner only (0600), where the SDK leaves them world-readable.

use anyhow::{Context, bail};
use arca_crypto::{AesKey, dataset, write_file_atomic};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

/// Key file rewritten on every encryption with the last key, for `dataset push-secret` without arguments.
const DEFAULT_KEY_FILE: &str = "dataset.key";

/// Dataset subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DatasetCommand {
    /// Encrypt every file of the original dataset folder (AES-256-CBC, as the iexec SDK) and print its checksum.
    Encrypt(EncryptArgs),
    /// Add a dataset section to iexec.json (`--encrypted` also creates the dataset folders).
    Init(DatasetInitArgs),
    /// Register the dataset of iexec.json on chain.
    Deploy(crate::output::Common),
    /// Show a dataset (address, index, or the last deployed).
    Show(DatasetShowArgs),
    /// Count the datasets of an owner.
    Count(DatasetCountArgs),
    /// Push the dataset key to the SMS (only the dataset owner can).
    PushSecret(crate::cmd::secret::DatasetPushArgs),
    /// Check that the dataset key is in the SMS.
    CheckSecret(crate::cmd::secret::CheckArgs),
    /// Which tasks, enclaves and measurements received the dataset key, and whether the SMS's
    /// release log verifies.
    SecretLog(crate::cmd::secret::DatasetLogArgs),
    /// Sign a dataset order (iexec.json template and flags) and publish it on the market.
    Publish(crate::cmd::orderbook::PublishArgs),
    /// Unpublish the last (or --all) dataset orders of a dataset from the market.
    Unpublish(crate::cmd::orderbook::UnpublishArgs),
}

/// Options of `arca dataset init`.
#[derive(Debug, Args)]
pub(crate) struct DatasetInitArgs {
    /// Prepare an encrypted dataset: create datasets/original, datasets/encrypted and .secrets/datasets.
    #[arg(long)]
    encrypted: bool,
    #[command(flatten)]
    common: crate::output::Common,
}

/// Options of `arca dataset show`.
#[derive(Debug, Args)]
pub(crate) struct DatasetShowArgs {
    /// Address or index (default: last deployed on this chain).
    address_or_index: Option<String>,
    /// Owner whose entries an index counts (default: the wallet).
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    common: crate::output::Common,
}

/// Options of `arca dataset count`.
#[derive(Debug, Args)]
pub(crate) struct DatasetCountArgs {
    /// Owner (default: the wallet).
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    common: crate::output::Common,
}

/// `dataset init`: the iexec.json section, and with `--encrypted` the folders `dataset encrypt` uses.
fn init(args: DatasetInitArgs) -> anyhow::Result<ExitCode> {
    let outcome = (|| {
        if args.encrypted {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            for dir in [
                ["datasets", "original"],
                ["datasets", "encrypted"],
                [".secrets", "datasets"],
            ] {
                let path = cwd.join(dir[0]).join(dir[1]);
                std::fs::create_dir_all(&path)
                    .with_context(|| format!("creating {}", path.display()))?;
            }
        }
        crate::cmd::app::init(&args.common, arca_client::Resource::Dataset, false)
    })();
    crate::output::emit(args.common.raw, outcome)
}

/// Options of `arca dataset encrypt` (same names and defaults as `iexec dataset encrypt`).
#[derive(Debug, Args)]
pub(crate) struct EncryptArgs {
    /// Replace existing encrypted files and keys.
    #[arg(long)]
    force: bool,
    /// Folder for the dataset keys [default: .secrets/datasets].
    #[arg(long, value_name = "PATH")]
    dataset_keystoredir: Option<PathBuf>,
    /// Folder of the files to encrypt [default: datasets/original].
    #[arg(long, value_name = "PATH")]
    original_dataset_dir: Option<PathBuf>,
    /// Folder for the encrypted files [default: datasets/encrypted].
    #[arg(long, value_name = "PATH")]
    encrypted_dataset_dir: Option<PathBuf>,
}

pub(crate) fn run(command: DatasetCommand) -> anyhow::Result<ExitCode> {
    match command {
        DatasetCommand::Encrypt(args) => encrypt(args),
        DatasetCommand::Init(args) => init(args),
        DatasetCommand::Deploy(c) => crate::output::emit(
            c.raw,
            crate::output::block_on(crate::cmd::app::deploy(&c, arca_client::Resource::Dataset)),
        ),
        DatasetCommand::Show(a) => crate::output::emit(
            a.common.raw,
            crate::output::block_on(crate::cmd::app::show(
                &a.common,
                arca_client::Resource::Dataset,
                a.address_or_index.as_deref(),
                a.user.as_deref(),
            )),
        ),
        DatasetCommand::Count(a) => crate::output::emit(
            a.common.raw,
            crate::output::block_on(crate::cmd::app::count(
                &a.common,
                arca_client::Resource::Dataset,
                a.user.as_deref(),
            )),
        ),
        DatasetCommand::PushSecret(a) => crate::output::emit(
            a.common_raw(),
            crate::output::block_on(crate::cmd::secret::dataset_push(&a)),
        ),
        DatasetCommand::CheckSecret(a) => crate::output::emit(
            a.common_raw(),
            crate::output::block_on(crate::cmd::secret::dataset_check(&a)),
        ),
        DatasetCommand::SecretLog(a) => crate::output::emit(
            a.common.raw,
            crate::output::block_on(crate::cmd::secret::dataset_log(&a)),
        ),
        DatasetCommand::Publish(a) => crate::output::emit(
            a.common.raw,
            crate::output::block_on(crate::cmd::orderbook::publish(
                arca_client::Resource::Dataset,
                &a,
            )),
        ),
        DatasetCommand::Unpublish(a) => crate::output::emit(
            a.common.raw,
            crate::output::block_on(crate::cmd::orderbook::unpublish(
                arca_client::Resource::Dataset,
                &a,
            )),
        ),
    }
}

/// The folders `encrypt` works with, absolute (the SDK prints absolute paths too).
struct Folders {
    secrets: PathBuf,
    original: PathBuf,
    encrypted: PathBuf,
}

impl Folders {
    fn resolve(args: &EncryptArgs) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let pick = |given: &Option<PathBuf>, default: &[&str]| match given {
            Some(p) => cwd.join(p),
            None => default.iter().fold(cwd.clone(), |acc, part| acc.join(part)),
        };
        Ok(Self {
            secrets: pick(&args.dataset_keystoredir, &[".secrets", "datasets"]),
            original: pick(&args.original_dataset_dir, &["datasets", "original"]),
            encrypted: pick(&args.encrypted_dataset_dir, &["datasets", "encrypted"]),
        })
    }
}

/// One file to encrypt and where its outputs go.
struct Job {
    name: String,
    input: PathBuf,
    output: PathBuf,
    key_file: PathBuf,
    size: u64,
}

fn encrypt(args: EncryptArgs) -> anyhow::Result<ExitCode> {
    let folders = Folders::resolve(&args)?;
    let missing: Vec<String> = [&folders.secrets, &folders.original, &folders.encrypted]
        .into_iter()
        .filter(|p| !p.is_dir())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "folders for dataset encryption are missing ({}); run \"arca dataset init --encrypted\" or create them",
            missing.join(", ")
        );
    }

    let jobs = plan(&folders)?;
    if jobs.is_empty() {
        bail!(
            "input folder \"{}\" has no regular file, nothing to encrypt",
            folders.original.display()
        );
    }
    let default_key = folders.secrets.join(DEFAULT_KEY_FILE);
    if !args.force {
        // Check every output up front: refusing halfway through would leave some datasets re-keyed and others not.
        let existing: Vec<String> = jobs
            .iter()
            .flat_map(|j| [&j.output, &j.key_file])
            .chain(std::iter::once(&default_key))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            bail!(
                "refusing to overwrite {}; pass --force to replace them",
                existing.join(", ")
            );
        }
    }

    if !dataset::aes_hardware_accelerated() {
        tracing::warn!(
            "this CPU has no AES instructions: encryption runs in software and is several times slower"
        );
    }
    for job in &jobs {
        eprintln!("ℹ Encrypting {}", job.name);
        let key = AesKey::generate();
        let bar = progress_bar(job.size);
        let summary =
            dataset::encrypt_file(&job.input, &job.output, &key, args.force, &mut |done| {
                bar.set_position(done)
            })
            .with_context(|| format!("encrypting {}", job.input.display()))?;
        bar.finish_and_clear();
        // Keys are written after the encrypted file: if that fails, remove the file rather than leave a dataset
        // whose key is lost.
        let keys = write_file_atomic(&job.key_file, key.to_base64().as_bytes(), args.force)
            .and_then(|()| write_file_atomic(&default_key, key.to_base64().as_bytes(), true));
        if let Err(err) = keys {
            let _ = std::fs::remove_file(&job.output);
            return Err(err).context(format!("saving the key of {}", job.name));
        }
        eprintln!(
            "ℹ Generated dataset encryption key for {} in {}",
            job.name,
            job.key_file.display()
        );
        eprintln!(
            "ℹ Generated encrypted dataset for {} in {}",
            job.name,
            job.output.display()
        );
        eprintln!("ℹ Dataset checksum is {}", summary.checksum);
        // stdout carries only the results, one line per dataset, for scripts: "<checksum> <encrypted file>".
        println!("{} {}", summary.checksum, job.output.display());
    }
    eprintln!(
        "✔ Encrypted datasets stored in \"{}\", you can publish the encrypted files.\nDatasets keys stored in \"{}\", \
         make sure to backup them.\nOnce you deploy an encrypted dataset run \"arca dataset push-secret \
         [datasetAddress]\" to securely share the dataset key with the workers.",
        folders.encrypted.display(),
        folders.secrets.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Lists the regular files of the original folder, sorted so `dataset.key` deterministically holds the key of the
/// last name. Like the SDK, anything that is not a regular file (sub-folder, symlink) is skipped with a notice.
fn plan(folders: &Folders) -> anyhow::Result<Vec<Job>> {
    let entries = std::fs::read_dir(&folders.original)
        .with_context(|| format!("cannot list {}", folders.original.display()))?;
    let mut jobs = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", folders.original.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(entry.path())
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        if !meta.is_file() {
            eprintln!("ℹ Datasets must be single file, skipping {name}");
            continue;
        }
        jobs.push(Job {
            input: entry.path(),
            output: folders.encrypted.join(format!("{name}.enc")),
            key_file: folders.secrets.join(format!("{name}.key")),
            size: meta.len(),
            name,
        });
    }
    jobs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(jobs)
}

/// A byte progress bar on stderr; indicatif hides it by itself when stderr is not a terminal (CI, pipes).
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("  {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("static template is valid");
    bar.set_style(style);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_skips_non_files_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("original");
        std::fs::create_dir_all(original.join("sub")).unwrap();
        std::fs::write(original.join("b.csv"), b"b").unwrap();
        std::fs::write(original.join("a.csv"), b"aa").unwrap();
        let folders = Folders {
            secrets: dir.path().join("s"),
            original,
            encrypted: dir.path().join("e"),
        };
        let jobs = plan(&folders).unwrap();
        let names: Vec<_> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["a.csv", "b.csv"]);
        assert_eq!(jobs[0].size, 2);
        assert_eq!(jobs[0].output, dir.path().join("e").join("a.csv.enc"));
        assert_eq!(jobs[1].key_file, dir.path().join("s").join("b.csv.key"));
    }
}
