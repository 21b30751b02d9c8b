//! The Postgres connection behind Arca's Postgres stores (market orderbook, SMS secrets,
//! scheduler state), and the schema-per-test helper their tests share.
//!
//! The `postgres` client is sync but panics when called from a tokio runtime thread, and the
//! services call their stores from async handlers; so one dedicated thread owns the client and
//! runs jobs in order, reconnecting first when the server closed the connection. Errors carry
//! the driver's causes and name the URL with its password replaced by `***`.

use postgres::{Client, NoTls};
use std::sync::mpsc;

/// A job for the connection thread: gets the (re)connected client, or why there is none.
type Job = Box<dyn FnOnce(Result<&mut Client, String>) + Send>;

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The URL does not parse (message names the redacted URL and the expected form).
    BadUrl(String),
    /// The server did not accept the connection (message says what to check).
    Connect(String),
    /// The connection thread could not start.
    Thread(std::io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::BadUrl(m) | OpenError::Connect(m) => f.write_str(m),
            OpenError::Thread(e) => write!(f, "starting the Postgres thread: {e}"),
        }
    }
}

impl std::error::Error for OpenError {}

/// A connection owned by its own thread.
#[derive(Debug)]
pub struct PgConnection {
    jobs: mpsc::Sender<Job>,
    target: String,
}

impl PgConnection {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or libpq's
    /// `key=value` form) from a thread named `thread_name`. `fallback` ends the connection
    /// error's advice (e.g. how to use the embedded SQLite store instead).
    pub fn open(url: &str, thread_name: &str, fallback: &str) -> Result<Self, OpenError> {
        let target = redact(url);
        let config: postgres::Config = url.parse().map_err(|e| {
            OpenError::BadUrl(format!(
                "{target} is not a Postgres URL ({e}); expected postgres://user:password@host:port/database"
            ))
        })?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel();
        let thread_target = target.clone();
        std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || connection_thread(config, thread_target, queue, ready))
            .map_err(OpenError::Thread)?;
        connected
            .recv()
            .unwrap_or_else(|_| Err("the connection thread stopped".into()))
            .map_err(|e| {
                OpenError::Connect(format!(
                    "cannot connect to Postgres at {target}: {e}; check that the server runs and \
                     that the user and database exist (createdb), or {fallback}"
                ))
            })?;
        Ok(PgConnection { jobs, target })
    }

    /// The URL, its password replaced by `***`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs `job` on the connection thread and waits for its answer. The outer error is a
    /// connection problem (no client, thread gone), already naming the redacted URL; the inner
    /// result is the job's own.
    pub fn run<R: Send + 'static, E: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<R, E> + Send + 'static,
    ) -> Result<Result<R, E>, String> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client| {
            let _ = reply.send(client.map(job));
        });
        let gone = || format!("Postgres {}: connection thread stopped", self.target);
        self.jobs.send(job).map_err(|_| gone())?;
        answer
            .recv()
            .map_err(|_| gone())?
            .map_err(|e| format!("Postgres {}: {e}", self.target))
    }
}

/// Owns the client: runs jobs in order, reconnecting first if the server closed the connection.
fn connection_thread(
    config: postgres::Config,
    target: String,
    queue: mpsc::Receiver<Job>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let mut client = match config.connect(NoTls) {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            c
        }
        Err(e) => {
            let _ = ready.send(Err(describe(&e)));
            return;
        }
    };
    for job in queue {
        if client.is_closed() {
            match config.connect(NoTls) {
                Ok(c) => {
                    tracing::warn!(%target, "reconnected to Postgres");
                    client = c;
                }
                Err(e) => {
                    job(Err(format!("reconnecting: {}", describe(&e))));
                    continue;
                }
            }
        }
        // a panicking job drops its reply (the caller gets an error), the thread serves on
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(&mut client))));
    }
}

/// The error with the server's message and the driver's causes, which `Display` alone may omit.
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            // the driver's message is generic ("error connecting to server"): add its causes
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                text = format!("{text}: {c}");
                cause = c.source();
            }
            text
        }
    }
}

/// `url` with the password replaced by `***` (URL userinfo or a `password=` pair).
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if let Some((userinfo, host)) = authority.rsplit_once('@')
            && let Some((user, _)) = userinfo.split_once(':')
        {
            return format!("{scheme}://{user}:***@{host}{tail}");
        }
        let words: Vec<String> = url
            .split('&')
            .map(|p| match p.split_once("password=") {
                Some((head, _)) => format!("{head}password=***"),
                None => p.to_owned(),
            })
            .collect();
        return words.join("&");
    }
    url.split_whitespace()
        .map(|w| {
            if w.starts_with("password=") {
                "password=***"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// For tests: `ARCA_TEST_POSTGRES_URL` pointed at a freshly created `schema` (dropped first,
/// so a re-run starts empty), or `None` when the variable is unset — said on stderr, so a
/// skipped test is visible (scripts/test.d/47-postgres.sh sets it and fails on any skip).
pub fn test_schema_url(schema: &str) -> Option<String> {
    let Ok(base) = std::env::var("ARCA_TEST_POSTGRES_URL") else {
        // straight to stderr: libtest captures print!/eprint! of passing tests, not this
        use std::io::Write as _;
        // one write, so lines of parallel tests do not interleave
        let line = format!(
            "SKIPPED Postgres test ({schema}): ARCA_TEST_POSTGRES_URL is not set (see scripts/test.d/47-postgres.sh)\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    };
    let mut c = Client::connect(&base, NoTls).expect("ARCA_TEST_POSTGRES_URL connects");
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .expect("creating the test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-csearch_path%3D{schema}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://arca:s3cret@db:5432/market?sslmode=disable"),
            "postgres://arca:***@db:5432/market?sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://arca@db/market"),
            "postgresql://arca@db/market"
        );
        assert_eq!(
            redact("postgres:///market?host=/run&password=s3cret"),
            "postgres:///market?host=/run&password=***"
        );
        assert_eq!(
            redact("host=db user=arca password=s3cret dbname=m"),
            "host=db user=arca password=*** dbname=m"
        );
    }

    #[test]
    fn a_bad_url_is_refused_naming_the_form_without_the_password() {
        let err = PgConnection::open("postgres://u:s3cret@h:notaport/db", "t", "x").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, OpenError::BadUrl(_)), "{text}");
        assert!(
            !text.contains("s3cret") && text.contains("postgres://user:password@host"),
            "{text}"
        );
    }
}
