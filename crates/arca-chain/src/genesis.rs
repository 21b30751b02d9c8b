//! Dev accounts: keys derived from a BIP-39 mnemonic along m/44'/60'/0'/0/i, exactly as anvil,
//! hardhat and ethers derive them, so every tool's default accounts work unchanged.

use crate::ChainError;
use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};

/// Derives `count` dev signers from `mnemonic`.
pub fn dev_signers(mnemonic: &str, count: u32) -> Result<Vec<PrivateKeySigner>, ChainError> {
    (0..count)
        .map(|index| {
            MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(index)
                .and_then(|b| b.build())
                .map_err(|e| ChainError::Mnemonic {
                    index,
                    reason: e.to_string(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::address;

    #[test]
    fn standard_mnemonic_gives_the_well_known_accounts() {
        let signers = dev_signers(crate::config::DEFAULT_MNEMONIC, 2).unwrap();
        assert_eq!(
            signers[0].address(),
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            signers[1].address(),
            address!("70997970C51812dc3A010C7d01b50e0d17dc79C8")
        );
    }

    #[test]
    fn bad_mnemonic_is_a_clear_error() {
        let err = dev_signers("not a mnemonic", 1).unwrap_err();
        assert!(err.to_string().contains("invalid mnemonic"), "{err}");
    }
}
