//! `arca tee …`: attestation tools over `arca-tee` — `measure` prints the sim enclave's
//! measurement of an app image (resolving an image name through the local Docker Engine API when
//! given a name rather than a digest), `verify` checks a DCAP quote against collateral (exit 0
//! when accepted, 1 with the reason when refused), `sim-quote` writes a dev quote and its
//! collateral to try `verify --dev-root` with.

use anyhow::Context;
use arca_tee::dev::DevPki;
use arca_tee::sim::{SimEnclave, measure, normalize_image_digest};
use arca_tee::{
    Attester, Claims, Collateral, DcapVerifier, Evidence, Measurements, Policy, TrustAnchor,
};
use clap::{Args, Subcommand};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// TEE attestation subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TeeCommand {
    /// Print the measurement (MRTD) the sim enclave reports for an app image: the value for the
    /// app's mrenclave/fingerprint field.
    Measure(MeasureArgs),
    /// Verify a DCAP quote (SGX v3, TDX v4/v5) against collateral; exit 0 if accepted, 1 if refused.
    Verify(VerifyArgs),
    /// Write a dev quote from the sim enclave and matching dev collateral (for `verify --dev-root`).
    SimQuote(SimQuoteArgs),
}

/// `arca tee measure`.
#[derive(Debug, Args)]
pub(crate) struct MeasureArgs {
    /// The app image: its digest (`sha256:<64 hex>`, `name@sha256:<64 hex>`, `0x<64 hex>`), or
    /// a local image name, resolved through Docker (`DOCKER_HOST`, unix socket) to its registry
    /// digest, or its image id when it has none (the digests the worker accepts as checksum).
    image: String,
    /// The command the enclave runs (empty = the image's own entrypoint).
    #[arg(long, default_value = "")]
    entrypoint: String,
    /// Print the app's mrenclave JSON (framework, version, entrypoint, fingerprint) instead.
    #[arg(long)]
    json: bool,
}

/// `arca tee verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The quote: raw binary, or hex (optionally `0x`-prefixed).
    quote: PathBuf,
    /// Collateral JSON (QuoteCollateralV3, as written by a PCCS client or `sim-quote`).
    #[arg(long)]
    collateral: PathBuf,
    /// Verification time, RFC 3339 (default: now). Recorded collateral needs a time inside its window.
    #[arg(long)]
    at: Option<String>,
    /// Also trust the Arca dev root (simulated enclaves). Development only.
    #[arg(long)]
    dev_root: bool,
    /// The quote file is raw binary: do not try to read it as hex.
    #[arg(long)]
    raw: bool,
}

/// `arca tee sim-quote`.
#[derive(Debug, Args)]
pub(crate) struct SimQuoteArgs {
    /// App image digest (as for `measure`).
    #[arg(long)]
    image: String,
    /// The command the enclave runs.
    #[arg(long, default_value = "")]
    entrypoint: String,
    /// 64 bytes of report data, hex (default: zeros).
    #[arg(long)]
    report_data: Option<String>,
    /// Where to write the quote (0x-hex text).
    #[arg(long)]
    out: PathBuf,
    /// Where to write the collateral JSON.
    #[arg(long)]
    collateral_out: PathBuf,
    /// Start of the collateral's 30-day window, RFC 3339 (default: now).
    #[arg(long)]
    at: Option<String>,
}

pub(crate) fn run(command: TeeCommand) -> anyhow::Result<ExitCode> {
    match command {
        TeeCommand::Measure(args) => {
            println!("{}", measure_output(&args, &docker_socket()?)?);
            Ok(ExitCode::SUCCESS)
        }
        TeeCommand::Verify(args) => {
            let (report, accepted) = verify(&args)?;
            if accepted {
                print!("{report}");
                Ok(ExitCode::SUCCESS)
            } else {
                // The claims (if any) on stdout, the verdict where errors go.
                let (claims, reason) = report.rsplit_once("REFUSED").unwrap_or(("", &report));
                print!("{claims}");
                eprint!("REFUSED{reason}");
                Ok(ExitCode::from(1))
            }
        }
        TeeCommand::SimQuote(args) => {
            sim_quote(&args)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn measure_output(args: &MeasureArgs, docker: &Path) -> anyhow::Result<String> {
    let digest = match normalize_image_digest(&args.image) {
        Ok(digest) => digest,
        Err(not_a_digest) => {
            let digest = resolve_image(&args.image, docker).with_context(|| {
                format!(
                    "{not_a_digest}; resolving `{}` through Docker at {} failed too",
                    args.image,
                    docker.display()
                )
            })?;
            eprintln!("{} resolves to {digest}", args.image);
            digest
        }
    };
    let m = hex::encode(measure(&digest, &args.entrypoint)?);
    if !args.json {
        return Ok(m);
    }
    let json = serde_json::json!({
        "framework": "TDX",
        "version": "arca-sim/v1",
        "entrypoint": args.entrypoint,
        "image": digest,
        "fingerprint": m,
    });
    Ok(serde_json::to_string_pretty(&json)?)
}

/// The Docker Engine socket: `DOCKER_HOST` (`unix://…` only) or the default path.
fn docker_socket() -> anyhow::Result<PathBuf> {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => host
            .strip_prefix("unix://")
            .map(PathBuf::from)
            .with_context(|| format!("DOCKER_HOST={host}: only unix:// sockets are supported")),
        _ => Ok(PathBuf::from("/var/run/docker.sock")),
    }
}

/// `GET /images/{name}/json` on the Docker Engine API (HTTP/1.0 over the unix socket: one
/// request, the daemon closes the connection, no client library needed). Returns the registry
/// digest (`RepoDigests`) if the image has one, else its id.
fn resolve_image(name: &str, socket: &Path) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).with_context(|| {
        format!(
            "cannot connect to {} (is Docker running?)",
            socket.display()
        )
    })?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    // Image references only use [A-Za-z0-9._/:@-]; escape anything else so it stays one path.
    let escaped: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'/' | b':' | b'@' | b'-' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    write!(
        stream,
        "GET /images/{escaped}/json HTTP/1.0\r\nHost: docker\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP answer from Docker")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    match status {
        "200" => {}
        "404" => anyhow::bail!("no local image `{name}`: pull or build it first"),
        other => anyhow::bail!("Docker answered HTTP {other}: {}", body.trim()),
    }
    let image: serde_json::Value =
        serde_json::from_str(body).context("Docker's image JSON does not parse")?;
    let repo_digest = image["RepoDigests"]
        .as_array()
        .and_then(|d| d.first())
        .and_then(|d| d.as_str());
    let chosen = repo_digest
        .or_else(|| image["Id"].as_str())
        .context("Docker's image JSON has neither RepoDigests nor Id")?;
    Ok(normalize_image_digest(chosen)?)
}

fn now_or(at: Option<&str>) -> anyhow::Result<u64> {
    match at {
        Some(at) => Ok(arca_tee::parse_rfc3339(at)?),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock is before 1970")?
            .as_secs()),
    }
}

/// Runs a verification and renders it; `Ok((text, accepted))`. Only unreadable inputs are errors.
fn verify(args: &VerifyArgs) -> anyhow::Result<(String, bool)> {
    let bytes = std::fs::read(&args.quote)
        .with_context(|| format!("cannot read quote file {}", args.quote.display()))?;
    let evidence = Evidence::from_file_bytes(&bytes, args.raw)?;
    let collateral = Collateral::from_file(&args.collateral)?;
    let now = now_or(args.at.as_deref())?;
    let mut verifier = DcapVerifier::new(Policy::production());
    if args.dev_root {
        eprintln!(
            "*** DEV ROOT ENABLED: quotes from simulated enclaves are accepted; they prove no hardware ***"
        );
        verifier = verifier.with_dev_root(DevPki::default().root_der().to_vec());
    }
    let mut out = String::new();
    let _ = writeln!(out, "verified at:    {}", arca_tee::format_rfc3339(now));
    match verifier.verify_without_policy(&evidence, &collateral, now) {
        Err(e) => {
            let _ = writeln!(out, "REFUSED: {e}");
            Ok((out, false))
        }
        Ok(claims) => {
            render_claims(&mut out, &claims);
            match verifier.policy().check(&claims) {
                Ok(()) => {
                    let dev = if claims.trust_anchor == TrustAnchor::ArcaDev {
                        " (DEV: simulated enclave)"
                    } else {
                        ""
                    };
                    let _ = writeln!(out, "ACCEPTED by the production policy{dev}");
                    Ok((out, true))
                }
                Err(e) => {
                    let _ = writeln!(out, "REFUSED: {e}");
                    Ok((out, false))
                }
            }
        }
    }
}

fn render_claims(out: &mut String, c: &Claims) {
    let advisories = if c.advisory_ids.is_empty() {
        "(none)".to_string()
    } else {
        c.advisory_ids.join(", ")
    };
    let _ = writeln!(out, "tee type:       {}", c.tee_type);
    let _ = writeln!(out, "trust anchor:   {}", c.trust_anchor);
    let _ = writeln!(out, "tcb status:     {}", c.tcb_status);
    let _ = writeln!(out, "advisories:     {advisories}");
    let _ = writeln!(
        out,
        "debug:          {}",
        if c.debug { "YES" } else { "no" }
    );
    match &c.measurements {
        Measurements::Sgx {
            mr_enclave,
            mr_signer,
            isv_prod_id,
            isv_svn,
        } => {
            let _ = writeln!(out, "mrenclave:      {}", hex::encode(mr_enclave));
            let _ = writeln!(out, "mrsigner:       {}", hex::encode(mr_signer));
            let _ = writeln!(out, "isv prod id:    {isv_prod_id}");
            let _ = writeln!(out, "isv svn:        {isv_svn}");
        }
        Measurements::Tdx {
            mr_td,
            rtmr,
            mr_config_id,
        } => {
            let _ = writeln!(out, "mrtd:           {}", hex::encode(mr_td));
            for (i, r) in rtmr.iter().enumerate() {
                let _ = writeln!(out, "rtmr{i}:          {}", hex::encode(r.0));
            }
            let _ = writeln!(out, "mrconfigid:     {}", hex::encode(mr_config_id));
        }
    }
    let _ = writeln!(out, "report data:    {}", hex::encode(c.report_data));
    let _ = writeln!(
        out,
        "collateral until: {}",
        arca_tee::format_rfc3339(c.collateral_expires_at)
    );
}

fn sim_quote(args: &SimQuoteArgs) -> anyhow::Result<()> {
    let mut report_data = [0u8; 64];
    if let Some(h) = &args.report_data {
        let bytes =
            hex::decode(h.trim().trim_start_matches("0x")).context("--report-data is not hex")?;
        anyhow::ensure!(
            bytes.len() <= 64,
            "--report-data has {} bytes, at most 64",
            bytes.len()
        );
        report_data[..bytes.len()].copy_from_slice(&bytes);
    }
    let pki = Arc::new(DevPki::default());
    let enclave = SimEnclave::new(pki.clone(), &args.image, &args.entrypoint)?;
    let evidence = enclave.attest(&report_data)?;
    let issued = now_or(args.at.as_deref())?;
    std::fs::write(&args.out, format!("0x{}\n", hex::encode(evidence.quote())))
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    std::fs::write(&args.collateral_out, pki.collateral(issued).to_json())
        .with_context(|| format!("cannot write {}", args.collateral_out.display()))?;
    eprintln!(
        "DEV quote written to {} (mrtd {}), collateral valid 30 days from {} in {}",
        args.out.display(),
        hex::encode(enclave.measurement()),
        arca_tee::format_rfc3339(issued),
        args.collateral_out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("arca-tee-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn sim_quote_then_verify_accepts_only_with_the_dev_root() {
        let (quote, collateral) = (scratch("q.hex"), scratch("c.json"));
        sim_quote(&SimQuoteArgs {
            image: IMAGE.into(),
            entrypoint: "/run".into(),
            report_data: Some("0xabcd".into()),
            out: quote.clone(),
            collateral_out: collateral.clone(),
            at: Some("2027-01-01T00:00:00Z".into()),
        })
        .unwrap();
        let args = |dev_root| VerifyArgs {
            quote: quote.clone(),
            collateral: collateral.clone(),
            at: Some("2027-01-02T00:00:00Z".into()),
            dev_root,
            raw: false,
        };
        let (out, accepted) = verify(&args(true)).unwrap();
        assert!(accepted, "{out}");
        let mrtd = hex::encode(measure(IMAGE, "/run").unwrap());
        assert!(out.contains(&format!("mrtd:           {mrtd}")), "{out}");
        assert!(out.contains("report data:    abcd00"), "{out}");
        assert!(out.contains("DEV"), "{out}");

        let (out, accepted) = verify(&args(false)).unwrap();
        assert!(!accepted);
        assert!(
            out.contains("REFUSED: the quote chains to the Arca dev root"),
            "{out}"
        );
    }

    #[test]
    fn measure_prints_hex_or_the_mrenclave_json() {
        let no_docker = scratch("no-docker.sock");
        let args = |json| MeasureArgs {
            image: IMAGE.into(),
            entrypoint: "/run".into(),
            json,
        };
        let hex_out = measure_output(&args(false), &no_docker).unwrap();
        assert_eq!(hex_out, hex::encode(measure(IMAGE, "/run").unwrap()));
        let json: serde_json::Value =
            serde_json::from_str(&measure_output(&args(true), &no_docker).unwrap()).unwrap();
        assert_eq!(json["fingerprint"], hex_out.as_str());
        assert_eq!(json["framework"], "TDX");
        let err = measure_output(
            &MeasureArgs {
                image: "arca-test/no-such-image:never".into(),
                entrypoint: String::new(),
                json: false,
            },
            &no_docker,
        )
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("not an image digest") && err.contains("is Docker running"),
            "{err}"
        );
    }

    /// A fake Docker Engine on a unix socket answering one `GET /images/…/json`.
    fn fake_docker(
        name: &str,
        status: &'static str,
        body: String,
    ) -> (PathBuf, std::thread::JoinHandle<String>) {
        use std::io::{Read, Write};
        let socket = scratch(name);
        let _ = std::fs::remove_file(&socket);
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let n = conn.read(&mut request).unwrap();
            write!(
                conn,
                "HTTP/1.0 {status}\r\nContent-Type: application/json\r\n\r\n{body}"
            )
            .unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        (socket, handle)
    }

    #[test]
    fn image_names_resolve_through_docker_to_the_repo_digest_or_the_id() {
        let digest = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
        let id = "sha256:6666666666666666666666666666666666666666666666666666666666666666";
        let body = format!(r#"{{"Id":"{id}","RepoDigests":["python@{digest}"]}}"#);
        let (socket, server) = fake_docker("d1.sock", "200 OK", body);
        assert_eq!(resolve_image("python:3.12", &socket).unwrap(), digest);
        assert!(
            server
                .join()
                .unwrap()
                .starts_with("GET /images/python:3.12/json HTTP/1.0")
        );

        let (socket, server) = fake_docker(
            "d2.sock",
            "200 OK",
            format!(r#"{{"Id":"{id}","RepoDigests":[]}}"#),
        );
        let args = MeasureArgs {
            image: "arca/local-app".into(),
            entrypoint: String::new(),
            json: false,
        };
        assert_eq!(
            measure_output(&args, &socket).unwrap(),
            hex::encode(measure(id, "").unwrap())
        );
        server.join().unwrap();

        let (socket, server) = fake_docker(
            "d3.sock",
            "404 Not Found",
            r#"{"message":"No such image"}"#.into(),
        );
        let err = resolve_image("nope:1", &socket).unwrap_err().to_string();
        assert!(err.contains("no local image `nope:1`"), "{err}");
        server.join().unwrap();
    }
}
