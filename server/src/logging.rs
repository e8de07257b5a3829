//! Log set-up shared by the server and client binaries: one line per event, colour only on a
//! terminal.
//!
//! Some errors carry multi-line messages (binrw's parse errors list the fields they went
//! through). Logged as they are, one event spans several lines and a log reader or `grep` loses
//! its context, so every event's interior line breaks are replaced with " | " before it is
//! written. ANSI colour codes are written only when standard error is a terminal, so log files
//! stay plain text.

use std::io::{IsTerminal, Write};

/// How events are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields), for log collectors.
    Json,
}

/// Installs the global subscriber: `RUST_LOG` or `default_filter`, to standard error, as text.
pub fn init(default_filter: &str) {
    init_as(default_filter, LogFormat::Text);
}

/// Installs the global subscriber in `format`: `RUST_LOG` or `default_filter`, to standard
/// error.
pub fn init_as(default_filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_filter.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(|| OneLine(std::io::stderr()))
            .try_init(),
        // JSON escapes line breaks inside strings: every event is one line already.
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_writer(std::io::stderr)
            .try_init(),
    };
}

/// A private runtime directory (`$TMPDIR/tilegame-runtime-UID`, mode 0700, owned by this user)
/// for binaries started without `XDG_RUNTIME_DIR`; `None` if it cannot be made safely.
pub fn private_runtime_dir() -> Option<std::path::PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let dir = std::env::temp_dir().join(format!("tilegame-runtime-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        // Use it only if it is ours and private (not a directory someone else planted).
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        (meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0)
            .then_some(dir)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Flattens `text` to one line (for log fields and messages that may span several).
pub fn one_line(text: &str) -> String {
    let trimmed = text.trim_end_matches(['\n', '\r']);
    if !trimmed.contains(['\n', '\r']) {
        return trimmed.to_owned();
    }
    trimmed
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A writer that receives one formatted event per `write_all` and writes it as one line.
struct OneLine<W: Write>(W);

impl<W: Write> Write for OneLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let body = buf.strip_suffix(b"\n").unwrap_or(buf);
        if !body.contains(&b'\n') && !body.contains(&b'\r') {
            return self.0.write(buf);
        }
        let text = String::from_utf8_lossy(body);
        let mut line = one_line(&text).into_bytes();
        line.push(b'\n');
        self.0.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_text_becomes_one_line() {
        assert_eq!(
            one_line("bad packet: oops\n While parsing field 'locale'\n  at 0x4\n"),
            "bad packet: oops | While parsing field 'locale' | at 0x4"
        );
        assert_eq!(one_line("plain\n"), "plain");
    }

    #[test]
    fn the_writer_flattens_each_event() {
        let mut out = OneLine(Vec::new());
        out.write_all(b"WARN dropping client: a\n b\n").unwrap();
        out.write_all(b"INFO fine\n").unwrap();
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "WARN dropping client: a | b\nINFO fine\n"
        );
    }
}
