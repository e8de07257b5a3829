//! What every command shares: opening a file, the tool's errors and exit codes, progress.
//!
//! Commands must fail the same way whatever went wrong with a file: one line naming the file,
//! the offset and the reason, and exit status 2 (1 is reserved for "the replay diverged").
//! The progress bar only appears when stderr is a terminal, so that piped output and tests see
//! exactly the same bytes every time.

#[cfg(feature = "cli")]
use std::io::IsTerminal;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tilegame_protocol::replay_file::{ReplayError, ReplayReader};

use crate::engine::{EngineError, SeekError};

/// Files smaller than this get no progress bar.
#[cfg(feature = "cli")]
const PROGRESS_MIN_BYTES: u64 = 1 << 20;

/// Exit status for a file that cannot be read, is corrupt, or is of another version/protocol.
pub const EXIT_BAD_FILE: u8 = 2;

/// Exit status for a replay that diverged (or two recordings that differ).
pub const EXIT_DIVERGED: u8 = 1;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReplayError,
    },
    /// The file's header, version, protocol or a chunk is bad.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReplayError,
    },
    /// A record could not be replayed.
    #[error("{path}: at chunk offset {offset}: {source}")]
    Engine {
        /// The file.
        path: PathBuf,
        /// Offset of the chunk holding the record.
        offset: u64,
        /// Why.
        source: EngineError,
    },
    /// A simulation recording could not be re-simulated.
    #[error("{path}: at chunk offset {offset}: {source}")]
    Resim {
        /// The file.
        path: PathBuf,
        /// Offset of the chunk holding the record.
        offset: u64,
        /// Why.
        source: tilegame_sim::resim::ResimError,
    },
    /// Seeking failed.
    #[error("{path}: {source}")]
    Seek {
        /// The file.
        path: PathBuf,
        /// Why.
        source: SeekError,
    },
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing to stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
}

impl ToolError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ToolError::Write { .. } | ToolError::Output(_) => 1,
            _ => EXIT_BAD_FILE,
        }
    }

    /// Whether this is a broken pipe on stdout (e.g. `dump | head`), which is not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ToolError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Where a replay file's bytes come from.
#[derive(Debug, Clone)]
enum Source {
    /// A file on disk, streamed each time it is read.
    Disk {
        /// Its size when opened.
        len: u64,
    },
    /// Bytes in memory (tests, tampered copies).
    Memory(Arc<Vec<u8>>),
}

/// A replay file: its path and a way to stream its records (never read whole into memory).
#[derive(Debug, Clone)]
pub struct ReplayFile {
    /// Where it came from (for messages).
    pub path: PathBuf,
    source: Source,
}

/// A reader over a [`ReplayFile`]'s records (it may be handed to another thread: `scan`
/// reads on one while the commands work on the records).
pub type FileReader<'a> = ReplayReader<Box<dyn Read + Send + 'a>>;

/// Bytes that can be read and sought in (a file on disk or in memory).
pub trait ReadSeek: Read + std::io::Seek {}

impl<T: Read + std::io::Seek> ReadSeek for T {}

impl ReplayFile {
    /// Opens a file on disk (it is read as a stream by each command).
    pub fn open(path: &Path) -> Result<Self, ToolError> {
        let open_error = |source: std::io::Error| ToolError::Open {
            path: path.to_owned(),
            source: ReplayError::Io(source),
        };
        let file = std::fs::File::open(path).map_err(open_error)?;
        let len = file.metadata().map_err(open_error)?.len();
        Ok(ReplayFile {
            path: path.to_owned(),
            source: Source::Disk { len },
        })
    }

    /// Wraps bytes already in memory.
    pub fn from_bytes(path: impl Into<PathBuf>, data: Vec<u8>) -> Self {
        ReplayFile {
            path: path.into(),
            source: Source::Memory(Arc::new(data)),
        }
    }

    /// The file's size in bytes.
    pub fn len(&self) -> u64 {
        match &self.source {
            Source::Disk { len } => *len,
            Source::Memory(data) => data.len() as u64,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole file's bytes (for tests and tools that rewrite files; commands stream).
    pub fn bytes(&self) -> Result<Vec<u8>, ToolError> {
        match &self.source {
            Source::Disk { .. } => std::fs::read(&self.path).map_err(|e| ToolError::Open {
                path: self.path.clone(),
                source: ReplayError::Io(e),
            }),
            Source::Memory(data) => Ok(data.as_ref().clone()),
        }
    }

    /// A fresh stream of the file's records, with the container's own errors.
    pub fn open_reader(&self) -> Result<FileReader<'_>, ReplayError> {
        let input: Box<dyn Read + Send + '_> = match &self.source {
            Source::Disk { .. } => Box::new(std::io::BufReader::with_capacity(
                64 * 1024,
                std::fs::File::open(&self.path)?,
            )),
            Source::Memory(data) => Box::new(data.as_slice()),
        };
        ReplayReader::new(input)
    }

    /// The file's bytes, to read at any offset (seeking bisects a file with it).
    pub fn seekable(&self) -> Result<Box<dyn ReadSeek + '_>, ReplayError> {
        Ok(match &self.source {
            Source::Disk { .. } => Box::new(std::io::BufReader::with_capacity(
                64 * 1024,
                std::fs::File::open(&self.path)?,
            )),
            Source::Memory(data) => Box::new(std::io::Cursor::new(data.as_slice())),
        })
    }

    /// A reader over the file; `check_protocol` also refuses other protocols.
    pub fn reader(&self, check_protocol: bool) -> Result<FileReader<'_>, ToolError> {
        let reader = self.open_reader().map_err(|e| self.file_error(e))?;
        if check_protocol {
            reader.check_protocol().map_err(|e| self.file_error(e))?;
        }
        Ok(reader)
    }

    /// Wraps a container error with this file's path.
    pub fn file_error(&self, source: ReplayError) -> ToolError {
        ToolError::File {
            path: self.path.clone(),
            source,
        }
    }

    /// Wraps an engine error with this file's path and the chunk's offset.
    pub fn engine_error(&self, offset: u64, source: EngineError) -> ToolError {
        ToolError::Engine {
            path: self.path.clone(),
            offset,
            source,
        }
    }
}

/// A progress bar over a file's bytes, drawn only when stderr is a terminal.
#[cfg(feature = "cli")]
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

/// No progress bar: the library without the `cli` feature (the page) has no terminal.
#[cfg(not(feature = "cli"))]
pub struct Progress;

#[cfg(not(feature = "cli"))]
impl Progress {
    /// Nothing to draw.
    pub fn new(_len: u64, _what: &str) -> Self {
        Progress
    }

    /// Nothing to move.
    pub fn set(&self, _pos: u64) {}

    /// Nothing to remove.
    pub fn finish(&self) {}
}

#[cfg(feature = "cli")]
impl Progress {
    /// A bar for `len` bytes labelled `what` (hidden for small files or when not a terminal).
    pub fn new(len: u64, what: &str) -> Self {
        let bar = (len >= PROGRESS_MIN_BYTES && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(len);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.to_owned());
            bar
        });
        Progress { bar }
    }

    /// Moves the bar to `pos` bytes.
    pub fn set(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Formats a byte count with thousands separators.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats milliseconds since 1970 as a UTC date and time (`YYYY-MM-DD hh:mm:ss.mmm UTC`).
pub fn utc_date(unix_ms: u64) -> String {
    match i64::try_from(unix_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
    {
        Some(t) => t.strftime("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
        None => format!("{unix_ms} ms after 1970 (out of the calendar's range)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(utc_date(951_782_400_123), "2000-02-29 00:00:00.123 UTC");
        assert_eq!(utc_date(1_764_078_612_345), "2025-11-25 13:50:12.345 UTC");
        assert!(utc_date(u64::MAX).contains("out of the calendar")); // a hostile header
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn missing_files_are_exit_2() {
        let e = ReplayFile::open(Path::new("/nonexistent/x.tgr")).unwrap_err();
        assert_eq!(e.exit_code(), EXIT_BAD_FILE);
        assert!(e.to_string().starts_with("/nonexistent/x.tgr: i/o error"));
    }
}
