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
//!
//! [`ImageRef`] splits an app's multiaddr (`host:port/repo:tag`, `repo@sha256:…`) into the parts
//! a pull needs: the registry host (for credentials and messages) and the reference pinned to
//! the on-chain checksum (`repo@sha256:<checksum>`), which is what the worker pulls so that what
//! runs is what the app owner registered, whatever the tag points to now.

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

/// Docker Hub, the registry of references whose first component names no host.
pub const DOCKER_HUB: &str = "docker.io";

/// An image reference split the way Docker reads it: `[host[:port]/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The repository as written, host included (`127.0.0.1:5000/hello`, `iexechub/vanitygen`).
    pub repository: String,
    /// The registry host: the first component when it has a `.` or a `:` or is `localhost`
    /// (Docker's rule), else [`DOCKER_HUB`].
    pub registry: String,
    /// The tag, if written.
    pub tag: Option<String>,
    /// The digest (`sha256:…`), if written; it pins the manifest.
    pub digest: Option<Checksum>,
}

impl ImageRef {
    /// Parses an app multiaddr. Only the shape is checked here (the daemon checks the rest);
    /// the error says what was expected.
    pub fn parse(image: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidImageReference {
            image: image.to_owned(),
            reason: reason.to_owned(),
        };
        if image.is_empty() {
            return Err(invalid("it is empty"));
        }
        if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("it contains whitespace"));
        }
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => {
                if !digest.starts_with("sha256:") {
                    return Err(invalid("the part after @ must be sha256:<64 hex digits>"));
                }
                let digest = digest
                    .parse::<Checksum>()
                    .map_err(|_| invalid("the part after @ must be sha256:<64 hex digits>"))?;
                (name, Some(digest))
            }
            None => (image, None),
        };
        // A ':' after the last '/' starts the tag; one before it is a registry port.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let (repo, tag) = name.split_at(last_slash + i);
                (repo, Some(&tag[1..]))
            }
            None => (name, None),
        };
        if repository.is_empty() || repository.ends_with('/') || repository.starts_with('/') {
            return Err(invalid(
                "expected [host[:port]/]name[:tag][@sha256:<digest>]",
            ));
        }
        if tag.is_some_and(str::is_empty) {
            return Err(invalid("the tag after ':' is empty"));
        }
        let registry = match repository.split_once('/') {
            Some((first, _))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                first.to_owned()
            }
            _ => DOCKER_HUB.to_owned(),
        };
        Ok(Self {
            repository: repository.to_owned(),
            registry,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// `repository@sha256:<checksum>`: the manifest the checksum designates, in this repository.
    pub fn pinned(&self, checksum: &Checksum) -> String {
        format!("{}@sha256:{}", self.repository, hex::encode(checksum.0))
    }

    /// The reference a pull without a checksum fetches: as written, with Docker's implicit
    /// `latest` tag made explicit (a pull with no tag would fetch every tag).
    pub fn as_pulled(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@sha256:{}", self.repository, hex::encode(d.0)),
            (None, Some(tag)) => format!("{}:{tag}", self.repository),
            (None, None) => format!("{}:latest", self.repository),
        }
    }
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

    #[test]
    fn image_refs_split_like_docker() {
        let r = ImageRef::parse("127.0.0.1:5000/hello:1").unwrap();
        assert_eq!(r.repository, "127.0.0.1:5000/hello");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.digest, None);
        let sum: Checksum = format!("0x{HEX}").parse().unwrap();
        assert_eq!(r.pinned(&sum), format!("127.0.0.1:5000/hello@sha256:{HEX}"));

        let r = ImageRef::parse(&format!("localhost:5000/a/b@sha256:{HEX}")).unwrap();
        assert_eq!(r.repository, "localhost:5000/a/b");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest, Some(sum));
        assert_eq!(r.as_pulled(), format!("localhost:5000/a/b@sha256:{HEX}"));

        let r = ImageRef::parse("iexechub/vanitygen").unwrap();
        assert_eq!(r.registry, DOCKER_HUB);
        assert_eq!(r.as_pulled(), "iexechub/vanitygen:latest");
        let r = ImageRef::parse("registry.example.com/app:2.0").unwrap();
        assert_eq!(r.registry, "registry.example.com");
        assert_eq!(
            ImageRef::parse("arca-hello-world:1.0.0").unwrap().registry,
            DOCKER_HUB
        );
    }

    #[test]
    fn malformed_image_refs_are_refused_with_a_reason() {
        for bad in [
            "",
            "a b:1",
            "repo:",
            "/repo",
            "host:5000/",
            "repo@sha256:1234",
            &format!("repo@md5:{HEX}"),
        ] {
            match ImageRef::parse(bad) {
                Err(Error::InvalidImageReference { image, reason }) => {
                    assert_eq!(image, bad);
                    assert!(!reason.is_empty());
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
