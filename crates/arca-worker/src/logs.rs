//! Size-capped capture of an app's stdout and stderr.
//!
//! iExec keeps the *last* 100,000 characters of each stream (`ComputeLogs.MAX_LOG_LENGTH`): the end
//! of a log is where an app says why it failed. [`TailBuffer`] keeps the last `cap` bytes of an
//! unbounded stream in bounded memory, so a chatty app cannot exhaust the worker.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Default cap per stream, in bytes, matching iExec's `MAX_LOG_LENGTH` (100,000).
pub const DEFAULT_LOG_CAP: usize = 100_000;

/// What an app printed, each stream cut to its last `cap` bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeLogs {
    /// The tail of standard output (lossy UTF-8).
    pub stdout: String,
    /// The tail of standard error (lossy UTF-8).
    pub stderr: String,
    /// Bytes of stdout dropped from the front to respect the cap.
    pub stdout_dropped: u64,
    /// Bytes of stderr dropped from the front to respect the cap.
    pub stderr_dropped: u64,
}

impl ComputeLogs {
    /// `sha256(len(stdout) as u64 BE ‖ stdout ‖ stderr)`: what a signed failure report commits
    /// to (the length prefix keeps `("ab","c")` and `("a","bc")` apart).
    pub fn digest(&self) -> B256 {
        let mut h = Sha256::new();
        h.update((self.stdout.len() as u64).to_be_bytes());
        h.update(self.stdout.as_bytes());
        h.update(self.stderr.as_bytes());
        B256::from(<[u8; 32]>::from(h.finalize()))
    }

    /// The last `n` lines of stderr, or of stdout when stderr is empty: where apps report failures.
    pub fn last_lines(&self, n: usize) -> String {
        let source = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        last_lines(source, n)
    }
}

/// The last `n` lines of `text`, without a trailing newline.
pub fn last_lines(text: &str, n: usize) -> String {
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if n == 0 || trimmed.is_empty() {
        return String::new();
    }
    // Walk back over n-1 newlines: the start of the n-th line from the end.
    let start = trimmed
        .rmatch_indices('\n')
        .nth(n - 1)
        .map_or(0, |(i, _)| i + 1);
    trimmed[start..].to_owned()
}

/// Keeps the last `cap` bytes pushed into it, in memory bounded by `2 * cap`.
#[derive(Debug)]
pub struct TailBuffer {
    cap: usize,
    buf: Vec<u8>,
    dropped: u64,
}

impl TailBuffer {
    /// An empty buffer keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            buf: Vec::new(),
            dropped: 0,
        }
    }

    /// Appends a chunk. Trimming happens only once the buffer doubles its cap, so the cost of
    /// moving bytes is amortised over at least `cap` pushed bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > self.cap.saturating_mul(2).max(1) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.buf.len() > self.cap {
            let excess = self.buf.len() - self.cap;
            self.buf.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// The kept tail as text and the number of bytes dropped. A UTF-8 sequence cut by the cap at
    /// the front is dropped too rather than shown as a replacement character.
    pub fn finish(mut self) -> (String, u64) {
        self.trim();
        let mut start = 0;
        if self.dropped > 0 {
            // Continuation bytes (0b10xx_xxxx) at the front belong to a character whose start was cut.
            while start < self.buf.len() && start < 3 && (self.buf[start] & 0xC0) == 0x80 {
                start += 1;
            }
        }
        let text = String::from_utf8_lossy(&self.buf[start..]).into_owned();
        (text, self.dropped + start as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_buffer_keeps_everything_under_the_cap() {
        let mut b = TailBuffer::new(10);
        b.push(b"hello");
        b.push(b" you");
        assert_eq!(b.finish(), ("hello you".to_owned(), 0));
    }

    #[test]
    fn tail_buffer_keeps_the_last_cap_bytes_of_many_chunks() {
        let mut b = TailBuffer::new(5);
        for i in 0..1000u32 {
            b.push(format!("{}", i % 10).as_bytes());
            // Memory stays bounded while streaming.
            assert!(b.buf.len() <= 10);
        }
        assert_eq!(b.finish(), ("56789".to_owned(), 995));
    }

    #[test]
    fn tail_buffer_drops_a_utf8_character_cut_at_the_front() {
        let mut b = TailBuffer::new(4);
        // "é" is two bytes (C3 A9); the cap keeps only its second byte plus "abc".
        b.push("xéabc".as_bytes());
        let (text, dropped) = b.finish();
        assert_eq!(text, "abc");
        assert_eq!(dropped, 3);
    }

    #[test]
    fn last_lines_takes_the_end() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a\nb\nc", 5), "a\nb\nc");
        assert_eq!(last_lines("only", 1), "only");
        assert_eq!(last_lines("", 3), "");
        assert_eq!(last_lines("a\nb", 0), "");
    }

    #[test]
    fn compute_logs_prefer_stderr_for_failures() {
        let logs = ComputeLogs {
            stdout: "progress 1\nprogress 2\n".into(),
            stderr: "Traceback\nValueError: boom\n".into(),
            ..Default::default()
        };
        assert_eq!(logs.last_lines(1), "ValueError: boom");
        let quiet = ComputeLogs {
            stdout: "progress 1\nfailed: no input\n".into(),
            ..Default::default()
        };
        assert_eq!(quiet.last_lines(1), "failed: no input");
    }
}
