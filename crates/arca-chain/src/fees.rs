//! EIP-1559 base fee rules and the dev chain's fee suggestions.

/// Tip suggested by `eth_maxPriorityFeePerGas` (1 gwei, as anvil).
pub const SUGGESTED_PRIORITY_FEE: u128 = 1_000_000_000;

const ELASTICITY_MULTIPLIER: u64 = 2;
const BASE_FEE_MAX_CHANGE_DENOMINATOR: u128 = 8;

/// Base fee of the block after a parent with the given gas use (EIP-1559).
pub fn next_base_fee(parent_gas_used: u64, parent_gas_limit: u64, parent_base_fee: u64) -> u64 {
    let target = parent_gas_limit / ELASTICITY_MULTIPLIER;
    if target == 0 {
        return parent_base_fee;
    }
    let base = parent_base_fee as u128;
    let (used, target) = (parent_gas_used as u128, target as u128);
    if used == target {
        parent_base_fee
    } else if used > target {
        let delta = (base * (used - target) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR).max(1);
        (base + delta).min(u64::MAX as u128) as u64
    } else {
        let delta = base * (target - used) / target / BASE_FEE_MAX_CHANGE_DENOMINATOR;
        (base - delta) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_eip1559() {
        // Empty parent: -12.5%.
        assert_eq!(next_base_fee(0, 30_000_000, 1_000_000_000), 875_000_000);
        // Exactly on target: unchanged.
        assert_eq!(
            next_base_fee(15_000_000, 30_000_000, 1_000_000_000),
            1_000_000_000
        );
        // Full parent: +12.5%.
        assert_eq!(
            next_base_fee(30_000_000, 30_000_000, 1_000_000_000),
            1_125_000_000
        );
        // A single transfer.
        assert_eq!(
            next_base_fee(21_000, 30_000_000, 1_000_000_000),
            875_175_000
        );
    }
}
