//! Wallet selection as in the iexec CLI: keystores in `~/.ethereum/keystore` (`--keystoredir global`, the
//! default), the project directory (`local`) or any path; `--wallet-file` names a file there,
//! `--wallet-address` picks a keystore by address; a plaintext `wallet.json` in the directory is used
//! when present (`arca init --unencrypted`).

use crate::{ClientError, Result};
use alloy::signers::local::PrivateKeySigner;
use arca_crypto::{PrivateKey, ScryptParams, UnencryptedWallet, keystore};
use std::path::{Path, PathBuf};

/// The wallet options shared by every command that signs.
#[derive(Debug, Clone, Default)]
pub struct WalletOptions {
    /// `global` (default), `local` or a path.
    pub keystoredir: Option<String>,
    /// File name inside the keystore directory (or a path).
    pub wallet_file: Option<String>,
    /// Address of the keystore to use.
    pub wallet_address: Option<String>,
    /// Keystore password.
    pub password: Option<String>,
}

/// A decrypted wallet.
#[derive(Debug, Clone)]
pub struct Wallet {
    /// The signer.
    pub signer: PrivateKeySigner,
    /// The file it came from.
    pub path: PathBuf,
}

impl WalletOptions {
    /// The keystore directory these options designate, relative paths resolved against `project_dir`.
    pub fn keystore_dir(&self, project_dir: &Path) -> Result<PathBuf> {
        match self.keystoredir.as_deref() {
            None | Some("global") => global_keystore_dir(),
            Some("local") => Ok(project_dir.to_path_buf()),
            Some(path) => Ok(project_dir.join(path)),
        }
    }

    /// Finds the wallet file without decrypting it.
    pub fn find(&self, project_dir: &Path) -> Result<PathBuf> {
        let dir = self.keystore_dir(project_dir)?;
        if let Some(file) = &self.wallet_file {
            let path = dir.join(file);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(ClientError::Wallet(format!(
                    "wallet file {} not found: check --wallet-file and --keystoredir",
                    path.display()
                )))
            };
        }
        let wanted = match &self.wallet_address {
            Some(text) => Some(crate::parse_address(text)?),
            None => None,
        };
        let plain = project_dir.join(keystore::UNENCRYPTED_WALLET_FILE);
        if wanted.is_none() && plain.is_file() {
            return Ok(plain);
        }
        let mut found = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let Ok(address) = keystore::keystore_address(&text) else {
                    continue;
                };
                let address = alloy::primitives::Address::from(address.0);
                if wanted.is_none_or(|w| w == address) {
                    found.push(path);
                }
            }
        }
        found.sort();
        match (found.len(), wanted) {
            (1, _) => Ok(found.remove(0)),
            (0, Some(w)) => Err(ClientError::Wallet(format!(
                "no keystore for {w} in {}: check --wallet-address and --keystoredir",
                dir.display()
            ))),
            (0, None) => Err(ClientError::Wallet(format!(
                "Missing wallet: no keystore in {}; create one with `arca wallet create` or `arca wallet import <privateKey>`, or point to one with --keystoredir/--wallet-file",
                dir.display()
            ))),
            (n, _) => Err(ClientError::Wallet(format!(
                "{n} keystores in {}: pick one with --wallet-address or --wallet-file",
                dir.display()
            ))),
        }
    }

    /// Finds and decrypts the wallet. A keystore needs [`WalletOptions::password`].
    pub fn load(&self, project_dir: &Path) -> Result<Wallet> {
        let path = self.find(project_dir)?;
        let key = if path
            .file_name()
            .is_some_and(|n| n == keystore::UNENCRYPTED_WALLET_FILE)
        {
            UnencryptedWallet::load(&path)?.1
        } else {
            let password = self.password.as_deref().ok_or_else(|| {
                ClientError::Wallet(format!(
                    "the wallet {} is encrypted: pass --password",
                    path.display()
                ))
            })?;
            keystore::load_keystore(&path, password)?
        };
        Ok(Wallet {
            signer: signer_of(&key)?,
            path,
        })
    }

    /// Whether a wallet file would be found (to decide whether to ask for a password).
    pub fn needs_password(&self, project_dir: &Path) -> bool {
        self.find(project_dir).is_ok_and(|p| {
            p.file_name()
                .is_none_or(|n| n != keystore::UNENCRYPTED_WALLET_FILE)
        })
    }

    /// Encrypts `key` with the password into the keystore directory (standard scrypt cost unless
    /// `ARCA_KEYSTORE_LIGHT=1`, meant for tests) and returns the file path.
    pub fn save(&self, project_dir: &Path, key: &PrivateKey) -> Result<PathBuf> {
        let dir = self.keystore_dir(project_dir)?;
        let password = self.password.as_deref().ok_or_else(|| {
            ClientError::Wallet(
                "a password is needed to encrypt the wallet: pass --password".into(),
            )
        })?;
        let params = if std::env::var("ARCA_KEYSTORE_LIGHT").is_ok_and(|v| v == "1") {
            ScryptParams::LIGHT
        } else {
            ScryptParams::STANDARD
        };
        Ok(keystore::save_keystore(&dir, key, password, params)?)
    }
}

/// `~/.ethereum/keystore` (the SDK's Linux default).
pub fn global_keystore_dir() -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .ok_or_else(|| ClientError::Wallet("HOME is not set: pass --keystoredir".into()))?;
    Ok(PathBuf::from(home).join(".ethereum").join("keystore"))
}

/// An alloy signer for a key.
pub fn signer_of(key: &PrivateKey) -> Result<PrivateKeySigner> {
    PrivateKeySigner::from_bytes(&(*key.as_bytes()).into())
        .map_err(|e| ClientError::Wallet(format!("unusable private key: {e}")))
}
