//! Fetching a task's inputs (iexec-protocol.md §4.1): input files from `iexec_input_files` and the
//! dataset from its on-chain multiaddr.
//!
//! - Input files are saved as `/iexec_in/<0x + lowercase sha256 hex of the URL string>`, as
//!   iExec's `FileHashUtils.createFileNameFromUri` names them, so an app finds them by name.
//! - URLs: `http://…`; `/ipfs/<cid>` and `ipfs://<cid>` through the worker's IPFS gateway (e.g.
//!   Arca's result store, which serves `/ipfs/<cid>`); `file://…` only under directories the
//!   operator allowed, because a requester names these URLs and would otherwise have the worker
//!   copy any local file it can read (its own key, other tasks' data) into the app's inputs.
//!   `https://` is verified against the system's roots (`/etc/ssl/certs`); an operator whose
//!   files sit behind a private CA adds it with `SSL_CERT_FILE` / `SSL_CERT_DIR`, as for curl.
//! - Every download is written to a temporary file in the destination directory, hashed while
//!   streaming, capped in size, and renamed into place only when complete.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// Where a file comes from, after resolving iExec's URL forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An HTTP URL (IPFS paths already joined to the gateway).
    Http(String),
    /// A local file.
    File(PathBuf),
}

/// The file name of an input file in `/iexec_in`: `0x` + lowercase hex sha256 of the URL text.
pub fn input_file_name(url: &str) -> String {
    format!("0x{}", hex::encode(Sha256::digest(url.as_bytes())))
}

/// Resolves an input file or dataset URL. `ipfs_gateway` is the base URL `/ipfs/<cid>` paths
/// are fetched from (`None`: IPFS URLs are refused with a message saying what to configure).
pub fn resolve(url: &str, ipfs_gateway: Option<&str>) -> Result<Source> {
    let bad = |reason: String| Error::Download {
        url: url.to_owned(),
        reason,
    };
    let url_trimmed = url.trim();
    let ipfs_path = if let Some(cid) = url_trimmed.strip_prefix("ipfs://") {
        Some(format!("/ipfs/{cid}"))
    } else if url_trimmed.starts_with("/ipfs/") {
        Some(url_trimmed.to_owned())
    } else {
        None
    };
    if let Some(path) = ipfs_path {
        if path.len() <= "/ipfs/".len() {
            return Err(bad("an IPFS URL needs a CID: /ipfs/<cid>".into()));
        }
        let gateway = ipfs_gateway.ok_or_else(|| {
            bad("the worker has no IPFS gateway configured to fetch /ipfs/<cid> from (set the pipeline's ipfs_gateway, e.g. the result store's URL)".into())
        })?;
        return Ok(Source::Http(format!(
            "{}{path}",
            gateway.trim_end_matches('/')
        )));
    }
    if let Some(path) = url_trimmed.strip_prefix("file://") {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(bad(
                "a file:// URL needs an absolute path (file:///dir/file)".into(),
            ));
        }
        return Ok(Source::File(path));
    }
    if url_trimmed.starts_with("http://") || url_trimmed.starts_with("https://") {
        return Ok(Source::Http(url_trimmed.to_owned()));
    }
    Err(bad(
        "unsupported URL: expected http(s)://…, /ipfs/<cid>, ipfs://<cid> or file:///…".into(),
    ))
}

/// Refuses a `file://` path outside the allowed roots (after resolving symlinks and `..`).
pub fn check_file_allowed(url: &str, path: &Path, roots: &[PathBuf]) -> Result<PathBuf> {
    let refuse = |reason: String| Error::Download {
        url: url.to_owned(),
        reason,
    };
    let real = path
        .canonicalize()
        .map_err(|e| refuse(format!("cannot open {}: {e}", path.display())))?;
    let allowed = roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .any(|root| real.starts_with(root));
    if !allowed {
        return Err(refuse(if roots.is_empty() {
            "file:// URLs are disabled on this worker (no allowed directory configured); publish the file over http:// or IPFS".into()
        } else {
            format!(
                "{} is outside the directories this worker serves file:// URLs from ({})",
                real.display(),
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }));
    }
    Ok(real)
}

/// A finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// sha256 of the bytes written.
    pub sha256: [u8; 32],
    /// Number of bytes written.
    pub len: u64,
}

/// Options of [`fetch`].
#[derive(Debug, Clone)]
pub struct FetchOptions<'a> {
    /// The HTTP client.
    pub http: &'a reqwest::Client,
    /// Base URL for `/ipfs/<cid>`.
    pub ipfs_gateway: Option<&'a str>,
    /// Directories `file://` URLs may point into.
    pub file_roots: &'a [PathBuf],
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
}

/// Downloads `url` to `dest` (atomically) and returns its sha256 and length.
pub async fn fetch(url: &str, dest: &Path, opts: &FetchOptions<'_>) -> Result<Downloaded> {
    let fail = |reason: String| Error::Download {
        url: url.to_owned(),
        reason,
    };
    let dir = dest
        .parent()
        .ok_or_else(|| fail(format!("destination {} has no parent", dest.display())))?;
    let io = |operation: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            operation,
            path,
            source,
        }
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("create a temp file in", dir))?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    let too_big = |max: u64| fail(format!("larger than the worker's limit of {max} bytes"));
    match resolve(url, opts.ipfs_gateway)? {
        Source::File(path) => {
            let real = check_file_allowed(url, &path, opts.file_roots)?;
            let max = opts.max_bytes;
            let (tmp_back, digest, n) = tokio::task::spawn_blocking(move || -> Result<_> {
                let mut file = std::fs::File::open(&real).map_err(io("open", &real))?;
                let meta = file.metadata().map_err(io("stat", &real))?;
                if !meta.is_file() {
                    return Err(Error::Download {
                        url: format!("file://{}", real.display()),
                        reason: "not a regular file".into(),
                    });
                }
                if meta.len() > max {
                    return Err(Error::Download {
                        url: format!("file://{}", real.display()),
                        reason: format!("larger than the worker's limit of {max} bytes"),
                    });
                }
                let mut hasher = Sha256::new();
                let mut writer = HashingWriter {
                    inner: tmp.as_file_mut(),
                    hasher: &mut hasher,
                };
                let n = std::io::copy(&mut file, &mut writer).map_err(io("copy", &real))?;
                Ok((tmp, hasher.finalize().into(), n))
            })
            .await
            .map_err(|e| fail(format!("copy task failed: {e}")))??;
            tmp = tmp_back;
            finish(tmp, dest)?;
            return Ok(Downloaded {
                sha256: digest,
                len: n,
            });
        }
        Source::Http(http_url) => {
            let mut response = opts
                .http
                .get(&http_url)
                .send()
                .await
                .map_err(|e| fail(format!("GET {http_url}: {}", error_chain(&e))))?;
            let status = response.status();
            if !status.is_success() {
                return Err(fail(format!("GET {http_url} answered HTTP {status}")));
            }
            if response
                .content_length()
                .is_some_and(|l| l > opts.max_bytes)
            {
                return Err(too_big(opts.max_bytes));
            }
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| fail(format!("reading GET {http_url}: {}", error_chain(&e))))?
            {
                len += chunk.len() as u64;
                if len > opts.max_bytes {
                    return Err(too_big(opts.max_bytes));
                }
                hasher.update(&chunk);
                tmp.write_all(&chunk).map_err(io("write", tmp.path()))?;
            }
        }
    }
    finish(tmp, dest)?;
    Ok(Downloaded {
        sha256: hasher.finalize().into(),
        len,
    })
}

/// The error and its causes on one line: reqwest's own message ("error sending request") hides
/// the reason a user can act on (connection refused, certificate not trusted, name mismatch).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn finish(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<()> {
    tmp.as_file().sync_all().map_err(|source| Error::Io {
        operation: "sync",
        path: tmp.path().to_path_buf(),
        source,
    })?;
    // The app reads inputs as whatever user its image runs as.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(dest).map_err(|e| Error::Io {
        operation: "rename into",
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

struct HashingWriter<'a, W> {
    inner: W,
    hasher: &'a mut Sha256,
}

impl<W: std::io::Write> std::io::Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_are_sha256_of_the_url_text() {
        // the FIPS 180-2 test vector sha256("abc")
        assert_eq!(
            input_file_name("abc"),
            "0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let name = input_file_name("http://host/file.csv");
        assert_eq!(name.len(), 66);
        assert_eq!(name, name.to_lowercase());
        assert_ne!(name, input_file_name("http://host/file.csv?x"));
    }

    #[test]
    fn urls_resolve_by_form() {
        let gw = Some("http://store:8080/");
        assert_eq!(
            resolve("/ipfs/QmX", gw).unwrap(),
            Source::Http("http://store:8080/ipfs/QmX".into())
        );
        assert_eq!(
            resolve("ipfs://QmX", gw).unwrap(),
            Source::Http("http://store:8080/ipfs/QmX".into())
        );
        assert_eq!(
            resolve("http://h/a", None).unwrap(),
            Source::Http("http://h/a".into())
        );
        assert_eq!(
            resolve(" https://h/a", None).unwrap(),
            Source::Http("https://h/a".into())
        );
        assert_eq!(
            resolve("file:///data/x", None).unwrap(),
            Source::File("/data/x".into())
        );
        for (url, needle) in [
            ("/ipfs/QmX", "no IPFS gateway"),
            ("/ipfs/", "needs a CID"),
            ("file://rel/x", "absolute path"),
            ("ftp://h/a", "unsupported URL"),
        ] {
            let err = resolve(url, None).unwrap_err().to_string();
            assert!(err.contains(needle), "{url}: {err}");
            assert!(err.contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn file_urls_stay_under_allowed_roots() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let inside = root.path().join("in.txt");
        let outside = other.path().join("out.txt");
        std::fs::write(&inside, "a").unwrap();
        std::fs::write(&outside, "b").unwrap();
        let roots = [root.path().to_path_buf()];
        assert!(check_file_allowed("u", &inside, &roots).is_ok());
        let escape = root
            .path()
            .join("..")
            .join(other.path().file_name().unwrap())
            .join("out.txt");
        assert!(
            check_file_allowed("u", &escape, &roots)
                .unwrap_err()
                .to_string()
                .contains("outside")
        );
        // a symlink inside pointing outside is judged by its target
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(check_file_allowed("u", &link, &roots).is_err());
        assert!(
            check_file_allowed("u", &inside, &[])
                .unwrap_err()
                .to_string()
                .contains("disabled")
        );
    }

    #[tokio::test]
    async fn file_fetch_hashes_and_caps() {
        let root = tempfile::tempdir().unwrap();
        let src = root.path().join("src.bin");
        std::fs::write(&src, b"hello").unwrap();
        let out = tempfile::tempdir().unwrap();
        let http = reqwest::Client::new();
        let roots = [root.path().to_path_buf()];
        let mut opts = FetchOptions {
            http: &http,
            ipfs_gateway: None,
            file_roots: &roots,
            max_bytes: 100,
        };
        let url = format!("file://{}", src.display());
        let dest = out.path().join("copy");
        let got = fetch(&url, &dest, &opts).await.unwrap();
        assert_eq!(got.len, 5);
        assert_eq!(got.sha256, <[u8; 32]>::from(Sha256::digest(b"hello")));
        assert_eq!(std::fs::read(&dest).unwrap(), b"hello");
        opts.max_bytes = 4;
        let err = fetch(&url, &out.path().join("c2"), &opts)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("limit of 4 bytes"), "{err}");
        // nothing half-written is left behind
        assert!(!out.path().join("c2").exists());
    }
}
