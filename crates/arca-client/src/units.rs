//! Amounts with units, as the iexec CLI reads them: `<amount> [unit]`, or `"<amount> <unit>"` in one
//! argument. RLC amounts are counted in nRLC (9 decimals), ether amounts in wei (18 decimals).

use crate::{ClientError, Result};
use alloy::primitives::U256;

/// What an amount counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    /// RLC, in nRLC.
    Rlc,
    /// Ether (the chain's native coin), in wei.
    Ether,
}

/// The unit names the SDK accepts, with their currency and decimals.
const UNITS: &[(&str, Currency, u32)] = &[
    ("nrlc", Currency::Rlc, 0),
    ("rlc", Currency::Rlc, 9),
    ("wei", Currency::Ether, 0),
    ("kwei", Currency::Ether, 3),
    ("mwei", Currency::Ether, 6),
    ("gwei", Currency::Ether, 9),
    ("szabo", Currency::Ether, 12),
    ("finney", Currency::Ether, 15),
    ("ether", Currency::Ether, 18),
    ("eth", Currency::Ether, 18),
];

fn invalid(value: &str, hint: &str) -> ClientError {
    ClientError::Validation {
        what: "amount",
        value: value.to_string(),
        hint: Some(hint.to_string()),
    }
}

/// Parses `amount` with an optional `unit` (or a unit inside `amount`, as in `"1 RLC"`); without a unit
/// `default_unit` applies. Returns the amount in the currency's smallest unit. A unit of the other currency
/// (ether for an RLC amount) is refused.
pub fn parse_amount(
    amount: &str,
    unit: Option<&str>,
    default_unit: &str,
    currency: Currency,
) -> Result<U256> {
    let mut parts = amount.split_whitespace();
    let number = parts
        .next()
        .ok_or_else(|| invalid(amount, "empty amount"))?;
    let inline_unit = parts.next();
    if parts.next().is_some() || (inline_unit.is_some() && unit.is_some()) {
        return Err(invalid(amount, "expected `<amount> [unit]`"));
    }
    let unit_name = unit.or(inline_unit).unwrap_or(default_unit);
    let accepted: Vec<&str> = UNITS
        .iter()
        .filter(|(_, c, _)| *c == currency)
        .map(|(n, _, _)| *n)
        .collect();
    let (_, unit_currency, decimals) = UNITS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(unit_name))
        .ok_or_else(|| ClientError::Validation {
            what: "unit",
            value: unit_name.to_string(),
            hint: Some(format!("use one of {}", accepted.join(", "))),
        })?;
    if *unit_currency != currency {
        return Err(ClientError::Validation {
            what: "unit for this amount",
            value: unit_name.to_string(),
            hint: Some(format!("use one of {}", accepted.join(", "))),
        });
    }
    to_base_units(number, *decimals).ok_or_else(|| {
        invalid(
            number,
            &format!("expected a non-negative number with at most {decimals} decimals"),
        )
    })
}

/// `"1.5"` with 9 decimals → 1 500 000 000; `None` when malformed or too precise.
fn to_base_units(number: &str, decimals: u32) -> Option<U256> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !all_digits(frac) || frac.len() > decimals as usize {
        return None;
    }
    let padded = format!("{int}{frac:0<width$}", width = decimals as usize);
    let padded = padded.trim_start_matches('0');
    if padded.is_empty() {
        return Some(U256::ZERO);
    }
    U256::from_str_radix(padded, 10).ok()
}

/// Formats a base-unit amount with `decimals` decimals, trimming trailing zeros (`1500000000`, 9 → `1.5`).
pub fn format_units(value: U256, decimals: u32) -> String {
    let text = value.to_string();
    let decimals = decimals as usize;
    let (int, frac) = if text.len() > decimals {
        text.split_at(text.len() - decimals)
    } else {
        ("0", text.as_str())
    };
    let frac = format!("{frac:0>decimals$}");
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_like_the_sdk() {
        let rlc = |a, u| parse_amount(a, u, "nRLC", Currency::Rlc);
        assert_eq!(rlc("5", None).unwrap(), U256::from(5));
        assert_eq!(rlc("5", Some("RLC")).unwrap(), U256::from(5_000_000_000u64));
        assert_eq!(rlc("1.5 RLC", None).unwrap(), U256::from(1_500_000_000u64));
        assert_eq!(rlc("0.000000001", Some("rlc")).unwrap(), U256::from(1));
        assert!(rlc("0.0000000001", Some("RLC")).is_err());
        assert!(rlc("1", Some("ether")).is_err());
        assert!(rlc("-1", None).is_err());
        assert!(rlc("1e9", None).is_err());
        let eth = parse_amount("0.1", None, "ether", Currency::Ether).unwrap();
        assert_eq!(eth, U256::from(100_000_000_000_000_000u64));
    }

    #[test]
    fn formats_units() {
        assert_eq!(format_units(U256::from(1_500_000_000u64), 9), "1.5");
        assert_eq!(format_units(U256::from(5), 9), "0.000000005");
        assert_eq!(format_units(U256::ZERO, 18), "0");
        assert_eq!(format_units(U256::from(2_000_000_000u64), 9), "2");
    }
}
