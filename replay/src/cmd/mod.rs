//! The commands of `tilegame-replay`, one module each, as library functions.
//!
//! Each command writes its report to a writer and returns the process exit status, so the
//! binary stays a thin clap wrapper and tests can snapshot exactly what a user sees.

pub mod diff;
pub mod dump;
pub mod export;
pub mod info;
pub mod play;
#[cfg(feature = "cli")]
pub mod plot;
pub mod sim;
pub mod stats;
pub mod verify;

use tilegame_protocol::replay_file::ReplayError;
use tilegame_protocol::replay_format::Record;

use crate::tool::{Progress, ReplayFile, ToolError};

/// How a file's records ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Tail {
    /// An End record: the recording finished cleanly.
    Ended {
        /// Frames the recorder says it wrote.
        frames: u64,
        /// Why it ended.
        reason: String,
    },
    /// The last chunk is torn (the recorder was killed mid-write); everything before it is read.
    Cut {
        /// Offset of the torn chunk.
        offset: u64,
        /// Frames read before it.
        frames: u64,
        /// The reader's message, with the chunk's offset.
        message: String,
    },
    /// Every chunk is whole but there is no End record (killed between two chunks).
    Unfinished {
        /// File size: where the records stop.
        offset: u64,
    },
    /// The command stopped reading before the end (the file's ending was not looked at).
    #[default]
    NotRead,
}

impl Tail {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Tail::Ended { frames, reason } => {
                format!("cleanly ({reason:?}; {frames} frames)")
            }
            Tail::Cut { message, .. } => format!("cut: {message}"),
            Tail::Unfinished { offset } => {
                format!("cut: no end record; the last whole chunk ends at offset {offset}")
            }
            Tail::NotRead => "not read to its end".to_owned(),
        }
    }

    /// Whether the recording ended cleanly.
    pub fn is_clean(&self) -> bool {
        matches!(self, Tail::Ended { .. })
    }
}

/// Whether to go on reading records.
pub enum Flow {
    /// Read the next record.
    Continue,
    /// Stop here.
    Stop,
}

/// Reads every record of `file`, calling `f` with each and its chunk's offset.
///
/// A torn last chunk ends the records with [`Tail::Cut`]; any other damage (a checksum, a chunk
/// sequence, the end record's count, bytes after the end) is an error naming its offset. `f`
/// returning [`Flow::Stop`] ends early with [`Tail::NotRead`].
pub fn scan(
    file: &ReplayFile,
    check_protocol: bool,
    label: &str,
    f: impl FnMut(&Record, u64) -> Result<Flow, ToolError>,
) -> Result<Tail, ToolError> {
    let mut reader = file.reader(check_protocol)?;
    scan_from(file, &mut reader, None, label, f)
}

/// [`scan`] from where `reader` stands, `ticks` the simulation ticks already read before it
/// (`None`: not a simulation recording, or none read).
pub fn scan_from<R: std::io::Read>(
    file: &ReplayFile,
    reader: &mut tilegame_protocol::replay_file::ReplayReader<R>,
    mut ticks: Option<u64>,
    label: &str,
    mut f: impl FnMut(&Record, u64) -> Result<Flow, ToolError>,
) -> Result<Tail, ToolError> {
    let progress = Progress::new(file.len(), label);
    let mut end = None;
    let mut n = 0u64;
    // A simulation recording holds no frames: what a cut keeps of it is ticks.
    let tail = loop {
        match (*reader).try_next() {
            Ok(Some(record)) => {
                n += 1;
                match &record {
                    Record::SimStart(_) => {
                        ticks.get_or_insert(0);
                    }
                    Record::SimTick(_) => *ticks.get_or_insert(0) += 1,
                    _ => {}
                }
                if n.is_multiple_of(4096) {
                    progress.set((*reader).position());
                }
                if let Record::End(e) = &record {
                    end = Some(Tail::Ended {
                        frames: e.frames,
                        reason: e.reason.clone(),
                    });
                }
                if let Flow::Stop = f(&record, (*reader).chunk_offset())? {
                    break Tail::NotRead;
                }
            }
            Ok(None) => {
                break end.unwrap_or(Tail::Unfinished {
                    offset: (*reader).position(),
                })
            }
            Err(e @ ReplayError::Truncated { offset, frames, .. }) => {
                let message = match (&e, ticks) {
                    (ReplayError::Truncated { cut, .. }, Some(ticks)) => {
                        format!("truncated chunk at offset {offset}: {cut} ({ticks} ticks kept)")
                    }
                    _ => e.to_string(),
                };
                break Tail::Cut {
                    offset,
                    frames,
                    message,
                };
            }
            Err(e) => {
                progress.finish();
                return Err(file.file_error(e));
            }
        }
    };
    progress.finish();
    Ok(tail)
}
