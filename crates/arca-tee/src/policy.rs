//! [`Policy`]: what a verifier accepts, as plain data (serde) so it lives in configuration files:
//! accepted TCB statuses, whether debug enclaves pass, and the measurements expected for an app.

use crate::claims::{Claims, TcbStatus};
use crate::{Result, TeeError};
use serde::{Deserialize, Serialize};

/// Acceptance rules applied to the claims of a cryptographically valid quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// TCB statuses accepted. Anything else is refused; `Revoked` is refused whatever this says.
    pub accepted_tcb_statuses: Vec<TcbStatus>,
    /// Accept enclaves/TDs in debug mode. Only for development: their memory is readable by the
    /// host, so no secret may be released to them.
    pub allow_debug: bool,
    /// Accepted primary measurements (MRENCLAVE for SGX, MRTD for TDX), lowercase hex. Empty
    /// means "any": per-app checks then go through [`Policy::check_measurement`].
    pub expected_measurements: Vec<String>,
}

impl Default for Policy {
    /// The production policy: UpToDate, SWHardeningNeeded and ConfigurationAndSWHardeningNeeded
    /// (advisories are logged), no debug, any measurement.
    fn default() -> Self {
        Policy {
            accepted_tcb_statuses: vec![
                TcbStatus::UpToDate,
                TcbStatus::SWHardeningNeeded,
                TcbStatus::ConfigurationAndSWHardeningNeeded,
            ],
            allow_debug: false,
            expected_measurements: Vec::new(),
        }
    }
}

impl Policy {
    /// The production policy (same as [`Policy::default`]).
    pub fn production() -> Self {
        Self::default()
    }

    /// This policy with the accepted measurements replaced (hex, any case).
    pub fn expecting(mut self, measurements: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.expected_measurements = measurements
            .into_iter()
            .map(|m| normalize_hex(m.as_ref()))
            .collect();
        self
    }

    /// Applies every rule to `claims`; the first failing rule is the refusal reason.
    pub fn check(&self, claims: &Claims) -> Result<()> {
        if claims.tcb_status == TcbStatus::Revoked {
            return Err(TeeError::TcbRevoked);
        }
        if !self.accepted_tcb_statuses.contains(&claims.tcb_status) {
            return Err(TeeError::TcbStatusRefused {
                status: claims.tcb_status,
                advisories: claims.advisory_ids.clone(),
                accepted: self.accepted_tcb_statuses.clone(),
            });
        }
        if claims.debug && !self.allow_debug {
            return Err(TeeError::DebugRefused);
        }
        if !self.expected_measurements.is_empty() {
            self.check_measurement(claims, &self.expected_measurements)?;
        }
        Ok(())
    }

    /// Refuses unless the claims' primary measurement is one of `expected` (hex, any case, an
    /// optional `0x`). This is the per-app check the SMS makes with the app's on-chain
    /// mrenclave/fingerprint.
    pub fn check_measurement(&self, claims: &Claims, expected: &[impl AsRef<str>]) -> Result<()> {
        let actual = hex::encode(claims.measurements.primary());
        let expected: Vec<String> = expected.iter().map(|e| normalize_hex(e.as_ref())).collect();
        if expected.contains(&actual) {
            Ok(())
        } else {
            Err(TeeError::MeasurementMismatch { actual, expected })
        }
    }
}

fn normalize_hex(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix("0x").unwrap_or(s).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_is_data_with_production_defaults() {
        // Omitted fields take the production defaults; unknown fields are refused so a typo in
        // a configuration file cannot silently loosen the policy.
        let p: Policy = serde_json::from_str(r#"{"expected_measurements": ["0xAB"]}"#).unwrap();
        assert_eq!(
            p,
            Policy {
                expected_measurements: vec!["0xAB".into()],
                ..Policy::production()
            }
        );
        let dev: Policy = serde_json::from_str(
            r#"{"allow_debug": true, "accepted_tcb_statuses": ["OutOfDate"]}"#,
        )
        .unwrap();
        assert!(dev.allow_debug);
        assert_eq!(dev.accepted_tcb_statuses, [TcbStatus::OutOfDate]);
        let typo = serde_json::from_str::<Policy>(r#"{"allow_debugg": true}"#).unwrap_err();
        assert!(typo.to_string().contains("unknown field"), "{typo}");
        let round = serde_json::to_string(&Policy::production()).unwrap();
        assert_eq!(
            serde_json::from_str::<Policy>(&round).unwrap(),
            Policy::production()
        );
    }
}
