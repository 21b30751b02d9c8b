//! `arca sms`: runs the Secret Management Service (iexec-compatible secret push/check and the
//! attested release of secrets to TEE tasks) against a chain with the PoCo contracts.

use anyhow::{Context as _, bail};
use arca_sms::{Config, MasterKey, PgStore, SecretStore, SqliteStore};
use clap::Args;
use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

/// Options of `arca sms`.
#[derive(Debug, Args)]
pub(crate) struct SmsArgs {
    /// Address to listen on (iExec's SMS uses port 13300).
    #[arg(long, default_value = "127.0.0.1:13300")]
    listen: SocketAddr,
    /// JSON-RPC endpoint of the chain.
    #[arg(long, default_value = "http://127.0.0.1:8545", env = "ARCA_RPC_URL")]
    rpc: String,
    /// The hub (PoCo) address, as printed by `arca deploy`.
    #[arg(long, env = "ARCA_HUB")]
    hub: alloy::primitives::Address,
    /// SQLite database of the sealed secrets [default: sms.db]. Not with --postgres-url.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Keep the sealed secrets, sessions and release log in this Postgres database instead, to
    /// share them between several SMS processes: postgres://user:password@host:port/database
    /// (tables sms_*, created if needed; no TLS). Needs a master key. Not with --db.
    #[arg(
        long,
        env = "ARCA_SMS_POSTGRES_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    postgres_url: Option<String>,
    /// File holding the 32-byte master key (raw, or 64 hex digits). Alternatively set
    /// ARCA_SMS_MASTER_KEY (64 hex digits). The key is never printed.
    #[arg(long)]
    master_key_file: Option<PathBuf>,
    /// Accept quotes of simulated enclaves (the Arca dev PKI). Development only. Without a
    /// master key, secrets then live in memory under a random key.
    #[arg(long)]
    dev: bool,
    /// URL enclaves reach this SMS at (default: http://<listen>).
    #[arg(long)]
    public_url: Option<String>,
    /// Seconds a TEE session stays usable after creation.
    #[arg(long, default_value_t = 300)]
    session_ttl: u64,
}

fn master_key(args: &SmsArgs) -> anyhow::Result<Option<MasterKey>> {
    if let Some(path) = &args.master_key_file {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the master key file {}", path.display()))?;
        return Ok(Some(MasterKey::parse(&bytes)?));
    }
    match std::env::var("ARCA_SMS_MASTER_KEY") {
        Ok(hex) => Ok(Some(MasterKey::parse(hex.as_bytes())?)),
        Err(_) => Ok(None),
    }
}

fn store(args: &SmsArgs) -> anyhow::Result<Arc<dyn SecretStore>> {
    if let Some(url) = &args.postgres_url {
        if let Some(db) = &args.db {
            bail!(
                "--postgres-url (or ARCA_SMS_POSTGRES_URL) and --db {} both given: the secrets \
                 live in one store; drop --db to use Postgres, or unset the URL to use SQLite",
                db.display()
            );
        }
        // a random --dev key would leave secrets no restart (or other SMS) can open
        let Some(key) = master_key(args)? else {
            bail!(
                "the Postgres secret store needs a master key shared by every SMS using it: pass \
                 --master-key-file <file> or set ARCA_SMS_MASTER_KEY (64 hex digits)"
            );
        };
        let store = PgStore::open(url, key)?;
        eprintln!("secret store: Postgres {}", store.target());
        return Ok(Arc::new(store));
    }
    let db = args.db.clone().unwrap_or_else(|| PathBuf::from("sms.db"));
    match master_key(args)? {
        Some(key) => Ok(Arc::new(SqliteStore::open(&db, key).with_context(
            || format!("opening the secret store {}", db.display()),
        )?)),
        None if args.dev => {
            eprintln!(
                "no master key (--master-key-file or ARCA_SMS_MASTER_KEY): --dev keeps secrets in memory under a random key"
            );
            Ok(Arc::new(SqliteStore::in_memory(
                MasterKey::new(rand_key()),
            )?))
        }
        None => bail!(
            "no master key: pass --master-key-file <file> or set ARCA_SMS_MASTER_KEY (64 hex digits); \
             create one with `head -c 32 /dev/urandom > sms.key`"
        ),
    }
}

fn rand_key() -> [u8; 32] {
    // A fresh signing key is 32 uniformly random bytes from the OS generator.
    alloy::signers::local::PrivateKeySigner::random()
        .to_bytes()
        .0
}

pub(crate) fn run(args: SmsArgs) -> anyhow::Result<ExitCode> {
    let store = store(&args)?;
    let config = Config {
        rpc_url: args.rpc.clone(),
        hub: args.hub,
        dev: args.dev,
        public_url: args.public_url.clone(),
        session_ttl: args.session_ttl,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let handle = arca_sms::spawn(args.listen, config, store)
            .await
            .with_context(|| format!("starting the SMS (chain {}, hub {})", args.rpc, args.hub))?;
        eprintln!(
            "SMS listening on {}{}",
            handle.url(),
            if args.dev {
                " (--dev: simulated enclaves accepted)"
            } else {
                ""
            }
        );
        tokio::select! {
            r = handle.wait() => r.context("the SMS stopped")?,
            _ = tokio::signal::ctrl_c() => eprintln!("stopping the SMS…"),
        }
        Ok(ExitCode::SUCCESS)
    })
}
