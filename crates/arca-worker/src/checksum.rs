//! App image checksums: what the on-chain `checksum` of an app means for a Docker image, and the
//! check that a local image is the one the app designates.
//!
//! An image has two content digests, and which one exists depends on where it came from:
//! - the **repo digest** (`repo@sha256:…`): sha256 of the registry *manifest*. It exists only for
//!   images pushed to or pulled from a registry, and it is what `iexec app deploy` records (the
//!   SDK documents `docker pull … | grep Digest`). It changes with layer compression, so a
//!   locally built image has none until it is pushed.
//! - the **image id** (`sha256:…`): sha256 of the image *config*, which names every layer by the
//!   digest of its uncompressed content. Every image has one; Docker keeps it across push and
//!   pull, and the manifest points at it, so it binds the same content as the repo digest.
//!
//! Arca accepts a match on either. A registry image is checked as iExec does (repo digest); a
//! locally built or loaded image — all of Arca's test and quickstart apps, built offline — is
//! checked by its image id, the only digest it has. Accepting the id of a registry image loses
//! nothing: whoever can forge a config with a given sha256 could forge a manifest too.
//!
//! An all-zero checksum means "none declared" (as for datasets, §3.1) and is not checked.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A 32-byte checksum as stored on chain (`bytes32`), shown as `0x…`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    /// Whether this is the all-zero value, meaning no checksum was declared.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Checksum {
    type Err = Error;

    /// Accepts `0x…` (on-chain form), `sha256:…` (Docker form) or bare hex, any case.
    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidChecksum {
            value: s.to_owned(),
        };
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .or_else(|| s.strip_prefix("sha256:"))
            .unwrap_or(s);
        if digits.len() != 64 {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(digits, &mut out).map_err(|_| invalid())?;
        Ok(Self(out))
    }
}

/// Which of an image's digests matched the expected checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestMatch {
    /// The image id (config digest): a locally built or loaded image.
    ImageId,
    /// A registry manifest digest, with the `repo@sha256:…` reference that matched.
    RepoDigest(String),
}

/// Checks `expected` against an image's id and repo digests (as `docker image inspect` reports
/// them: `Id` = `sha256:…`, `RepoDigests` = `name@sha256:…`). `None` when nothing matches.
pub fn match_image_digest(
    expected: &Checksum,
    image_id: &str,
    repo_digests: &[String],
) -> Option<DigestMatch> {
    let same = |digest: &str| digest.parse::<Checksum>().is_ok_and(|c| c == *expected);
    if same(image_id) {
        return Some(DigestMatch::ImageId);
    }
    repo_digests
        .iter()
        .find(|r| r.rsplit_once('@').is_some_and(|(_, d)| same(d)))
        .map(|r| DigestMatch::RepoDigest(r.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "3eb61f88481958ea580392f5a7b74317a7b077840009bfe6bccc5c06a2547b81";

    #[test]
    fn parses_every_spelling_of_the_same_digest() {
        let a: Checksum = format!("0x{HEX}").parse().unwrap();
        let b: Checksum = format!("sha256:{HEX}").parse().unwrap();
        let c: Checksum = HEX.to_uppercase().parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_string(), format!("0x{HEX}"));
        assert!(!a.is_zero());
        assert!(
            format!("0x{}", "0".repeat(64))
                .parse::<Checksum>()
                .unwrap()
                .is_zero()
        );
    }

    #[test]
    fn rejects_malformed_checksums() {
        for bad in [
            "",
            "0x",
            "0x1234",
            &format!("0x{HEX}00"),
            &format!("0x{}", "zz".repeat(32)),
        ] {
            assert!(
                matches!(bad.parse::<Checksum>(), Err(Error::InvalidChecksum { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn local_image_matches_by_id() {
        let expected: Checksum = format!("0x{HEX}").parse().unwrap();
        assert_eq!(
            match_image_digest(&expected, &format!("sha256:{HEX}"), &[]),
            Some(DigestMatch::ImageId)
        );
    }

    #[test]
    fn registry_image_matches_by_repo_digest() {
        let expected: Checksum = format!("0x{HEX}").parse().unwrap();
        let other = format!("sha256:{}", "1".repeat(64));
        let repo = vec![
            format!("127.0.0.1:5000/app@sha256:{}", "2".repeat(64)),
            format!("127.0.0.1:5000/app@sha256:{HEX}"),
        ];
        assert_eq!(
            match_image_digest(&expected, &other, &repo),
            Some(DigestMatch::RepoDigest(repo[1].clone()))
        );
    }

    #[test]
    fn different_image_does_not_match() {
        let expected: Checksum = format!("0x{HEX}").parse().unwrap();
        let other = format!("sha256:{}", "1".repeat(64));
        let repo = vec![format!("app@sha256:{}", "2".repeat(64)), "garbage".into()];
        assert_eq!(match_image_digest(&expected, &other, &repo), None);
    }
}
