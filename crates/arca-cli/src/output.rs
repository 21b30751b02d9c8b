//! What the iexec-compatible commands share: the global options (`--raw`, `--chain`, wallet options,
//! `--force`), the project/wallet/chain plumbing, and the output contract: with `--raw`, exactly one JSON
//! object on stdout (`{"ok":true,…}` or `{"ok":false,"error":{"name","message"}}`); otherwise concise
//! human text on stdout, spinners on stderr, errors on stderr.

use anyhow::Context as _;
use arca_client::{Client, ClientError, Project, wallet::WalletOptions};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget};
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::process::ExitCode;

/// Options most iexec commands accept.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// Print exactly one JSON object on stdout ({"ok":true,…} or {"ok":false,"error":…}).
    #[arg(long)]
    pub raw: bool,
    /// Chain name from chain.json [default: its "default"].
    #[arg(long, value_name = "NAME")]
    pub chain: Option<String>,
    /// Keystore directory: global (~/.ethereum/keystore), local (the project) or a path.
    #[arg(long, value_name = "PATH")]
    pub keystoredir: Option<String>,
    /// Wallet file name in the keystore directory.
    #[arg(long, value_name = "FILE")]
    pub wallet_file: Option<String>,
    /// Address of the keystore to use.
    #[arg(long, value_name = "ADDRESS")]
    pub wallet_address: Option<String>,
    /// Wallet password (otherwise asked on a terminal; required when not interactive).
    #[arg(long, env = "ARCA_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Never ask: overwrite or proceed.
    #[arg(long)]
    pub force: bool,
    /// No spinners, progress bars or notices on stderr (results and errors are still printed).
    #[arg(long)]
    pub quiet: bool,
    /// Blocks to wait after each transaction before it counts as done.
    #[arg(long, value_name = "BLOCKS", default_value_t = 1)]
    pub confirms: u64,
}

/// A command's successful result: the `--raw` fields and the human text.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub json: Map<String, Value>,
    pub human: String,
}

impl Outcome {
    pub(crate) fn new(human: impl Into<String>) -> Self {
        Self {
            json: Map::new(),
            human: human.into(),
        }
    }

    pub(crate) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.json.insert(key.to_string(), value.into());
        self
    }
}

/// Prints the outcome per the output contract and maps it to the exit code.
pub(crate) fn emit(raw: bool, result: anyhow::Result<Outcome>) -> anyhow::Result<ExitCode> {
    match (raw, result) {
        (true, Ok(outcome)) => {
            let mut map = Map::new();
            map.insert("ok".into(), Value::Bool(true));
            map.extend(outcome.json);
            println!("{}", Value::Object(map));
            Ok(ExitCode::SUCCESS)
        }
        (false, Ok(outcome)) => {
            if !outcome.human.is_empty() {
                println!("{}", outcome.human);
            }
            Ok(ExitCode::SUCCESS)
        }
        (true, Err(err)) => {
            let name = err
                .chain()
                .find_map(|e| e.downcast_ref::<ClientError>())
                .map_or("Error", ClientError::name);
            let error = serde_json::json!({"name": name, "message": format!("{err:#}")});
            println!("{}", serde_json::json!({"ok": false, "error": error}));
            Ok(ExitCode::FAILURE)
        }
        (false, Err(err)) => Err(err),
    }
}

/// Runs an async command body on a fresh runtime.
pub(crate) fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(future)
}

/// A spinner on stderr for human mode on a terminal; hidden otherwise.
pub(crate) fn spinner(raw: bool, message: &str) -> ProgressBar {
    if raw || quiet() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    bar
}

/// `--quiet` anywhere on the command line (read once; spinners and notices consult it).
pub(crate) fn quiet() -> bool {
    static QUIET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *QUIET.get_or_init(|| std::env::args().any(|a| a == "--quiet"))
}

/// A notice on stderr (human mode only, silenced by `--quiet`).
pub(crate) fn notice(raw: bool, text: impl std::fmt::Display) {
    if !raw && !quiet() {
        eprintln!("ℹ {text}");
    }
}

impl Common {
    /// The selected chain of chain.json: its name and entry.
    pub(crate) fn chain_conf(
        &self,
        project: &Project,
    ) -> anyhow::Result<(String, arca_client::project::ChainConf)> {
        Ok(project.chain_json()?.select(self.chain.as_deref())?)
    }

    /// The SMS of the selected chain.
    pub(crate) fn sms(&self, project: &Project) -> anyhow::Result<crate::sms_client::SmsClient> {
        let (name, conf) = self.chain_conf(project)?;
        let url = conf.sms.with_context(|| {
            format!(
                "chain.json: chains.{name}.sms is missing: set it to the SMS URL (`arca sms` listens on http://127.0.0.1:13300)"
            )
        })?;
        Ok(crate::sms_client::SmsClient::new(&url))
    }

    /// The wallet's signer (decrypting the keystore).
    pub(crate) fn signer(
        &self,
        project: &Project,
    ) -> anyhow::Result<alloy::signers::local::PrivateKeySigner> {
        Ok(self
            .wallet_options(project, false)?
            .load(project.dir())?
            .signer)
    }

    /// The project in the current directory.
    pub(crate) fn project(&self) -> anyhow::Result<Project> {
        Ok(Project::new(
            std::env::current_dir().context("cannot read the current directory")?,
        ))
    }

    /// The wallet options, asking for the password on a terminal when a keystore needs one.
    pub(crate) fn wallet_options(
        &self,
        project: &Project,
        for_new: bool,
    ) -> anyhow::Result<WalletOptions> {
        let mut options = WalletOptions {
            keystoredir: self.keystoredir.clone(),
            wallet_file: self.wallet_file.clone(),
            wallet_address: self.wallet_address.clone(),
            password: self.password.clone(),
        };
        let needs = for_new || options.needs_password(project.dir());
        if needs && options.password.is_none() && std::io::stdin().is_terminal() && !self.raw {
            options.password = Some(ask("Wallet password: ")?);
        }
        Ok(options)
    }

    /// Connects to the selected chain, with the wallet when `signing`.
    pub(crate) async fn client(&self, project: &Project, signing: bool) -> anyhow::Result<Client> {
        let chains = project.chain_json()?;
        let (name, conf) = chains.select(self.chain.as_deref())?;
        let signer = if signing {
            Some(
                self.wallet_options(project, false)?
                    .load(project.dir())?
                    .signer,
            )
        } else {
            None
        };
        Ok(Client::connect(&name, &conf, signer)
            .await?
            .with_confirms(self.confirms))
    }

    /// The wallet's address without decrypting it (keystores declare it), if a wallet is found.
    pub(crate) fn wallet_address(&self, project: &Project) -> Option<alloy::primitives::Address> {
        if let Some(text) = &self.wallet_address {
            return arca_client::parse_address(text).ok();
        }
        let options = WalletOptions {
            keystoredir: self.keystoredir.clone(),
            wallet_file: self.wallet_file.clone(),
            ..Default::default()
        };
        let path = options.find(project.dir()).ok()?;
        let text = std::fs::read_to_string(path).ok()?;
        let value: Value = serde_json::from_str(&text).ok()?;
        let address = value.get("address")?.as_str()?;
        let address = if address.starts_with("0x") {
            address.to_string()
        } else {
            format!("0x{address}")
        };
        address.parse().ok()
    }
}

/// Reads a password or secret from the terminal without echoing it, after printing `prompt` on stderr.
pub(crate) fn ask(prompt: &str) -> anyhow::Result<String> {
    let term = console::Term::stderr();
    term.write_str(prompt).ok();
    term.read_secure_line().context("reading from the terminal")
}
