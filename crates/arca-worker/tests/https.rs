//! `https://` inputs and datasets: the worker's default HTTP client downloads over TLS from a
//! server whose CA the operator added with `SSL_CERT_FILE` (the convention of curl and openssl),
//! and refuses, with the reason in the message, a certificate that does not name the host.
//!
//! The test CA and server certificate (valid until 2126, SAN IP:127.0.0.1 only) are in
//! `tests/data/tls`. `SSL_CERT_FILE` is process-wide, so the test re-runs itself in a child
//! process that has it set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca_worker::download::{FetchOptions, fetch};
use arca_worker::pipeline::default_http_client;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls")
}

/// A one-route HTTPS/1.1 server: every GET answers `body`.
async fn serve_https(body: &'static [u8]) -> u16 {
    let certs = CertificateDer::pem_file_iter(tls_dir().join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_dir().join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the client distrusts us) is part of the test.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[test]
fn https_downloads_are_verified_against_the_operators_roots() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "https_child", "--ignored", "--nocapture"])
        .env("SSL_CERT_FILE", tls_dir().join("ca.pem"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child test failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

/// Run by the test above with `SSL_CERT_FILE` set.
#[test]
#[ignore = "run by https_downloads_are_verified_against_the_operators_roots"]
fn https_child() {
    assert!(
        std::env::var_os("SSL_CERT_FILE").is_some(),
        "run through https_downloads_are_verified_against_the_operators_roots"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        const BODY: &[u8] = b"dataset bytes over TLS";
        let port = serve_https(BODY).await;
        let dir = tempfile::tempdir().unwrap();
        let http = default_http_client();
        let opts = FetchOptions {
            http: &http,
            ipfs_gateway: None,
            file_roots: &[],
            max_bytes: 1 << 20,
        };

        let dest = dir.path().join("dataset");
        let got = fetch(&format!("https://127.0.0.1:{port}/d.bin"), &dest, &opts)
            .await
            .expect("a server whose CA is in SSL_CERT_FILE is trusted");
        assert_eq!(std::fs::read(&dest).unwrap(), BODY);
        assert_eq!(got.sha256, <[u8; 32]>::from(Sha256::digest(BODY)));
        assert_eq!(got.len, BODY.len() as u64);

        // The certificate names 127.0.0.1 only: reached as `localhost`, the handshake fails and
        // the message carries the reason, not just "error sending request".
        let dest = dir.path().join("other");
        let err = fetch(&format!("https://localhost:{port}/d.bin"), &dest, &opts)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("https://localhost"), "{err}");
        assert!(err.to_lowercase().contains("certificate"), "{err}");
        assert!(
            !dest.exists(),
            "nothing is left behind by a refused download"
        );
    });
}
