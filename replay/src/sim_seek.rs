//! Seeking in a simulation recording without reading it from the start.
//!
//! A format-3 simulation recording starts a chunk and a new compressed stream with each
//! keyframe (`tilegame_sim::simlog`), so the keyframe for any tick is found by bisecting the
//! file's bytes: each probe finds the first such chunk after an offset (its header's CRC,
//! chained from the file's seal, tells a real chunk from bytes that look like one) and reads
//! only its keyframe. About log2(file size / keyframe spacing) probes, then a re-simulation of
//! the ticks after the keyframe: the cost does not grow with the recording's length. Older
//! formats have no such chunks: their seek reads from the start.

use tilegame_protocol::replay_file::{ReplayError, ReplayReader};
use tilegame_protocol::replay_format::{Record, SimKeyframe, SimStart};
use tilegame_sim::resim::{Divergence, Resim, ResimError, Step};

use crate::tool::{ReadSeek, ReplayFile, ToolError};

/// A re-simulation brought to a tick.
pub struct Seeked {
    /// The loop after the tick (or at the last tick recorded before it).
    pub resim: Resim,
    /// The keyframe it started from (`None`: from SimStart).
    pub keyframe: Option<u32>,
    /// Keyframe chunks read while bisecting.
    pub probes: u32,
    /// Ticks re-simulated after the keyframe.
    pub ticks: u64,
    /// Where the re-simulation left the recording, if it did (the seek stops there).
    pub diverged: Option<Divergence>,
}

/// A reader that can start at any chunk.
pub type Reader<'a> = ReplayReader<Box<dyn ReadSeek + 'a>>;

/// The first keyframe chunk at or after byte `from`: its offset and keyframe.
fn keyframe_after(
    file: &ReplayFile,
    mut from: u64,
) -> Result<Option<(u64, SimKeyframe)>, ToolError> {
    loop {
        let input = file.seekable().map_err(|e| file.file_error(e))?;
        let Some(mut reader) = Reader::resume(input, from).map_err(|e| file.file_error(e))? else {
            return Ok(None);
        };
        let at = reader.position();
        match reader.try_next().map_err(|e| file.file_error(e))? {
            Some(Record::SimKeyframe(k)) => return Ok(Some((at, k))),
            // A stream restarted for size, or the first chunk: not a keyframe.
            _ => from = at + 1,
        }
    }
}

/// Re-simulates `file` to the end of tick `tick` from the latest keyframe at or before it,
/// without building snapshots (`Resim::set_replicate`): the world and the hashes are exact, the
/// clients' replication views are the keyframe's. [`seek_replicating`] keeps them too.
pub fn seek(file: &ReplayFile, tick: u32) -> Result<Seeked, ToolError> {
    seek_with(file, tick, false)
}

/// [`seek`] with every snapshot built on the way (for a stream derived from there on).
pub fn seek_replicating(file: &ReplayFile, tick: u32) -> Result<Seeked, ToolError> {
    seek_with(file, tick, true)
}

/// Where a seek starts: the loop restored from the latest keyframe at or before a tick (or
/// built from SimStart), and a reader at the record after it.
pub struct Located<'a> {
    /// The loop at the keyframe (or before the first tick).
    pub resim: Resim,
    /// The reader, next at the record after the keyframe (or after SimStart).
    pub reader: Reader<'a>,
    /// The keyframe's tick (`None`: from SimStart).
    pub keyframe: Option<u32>,
    /// Keyframe chunks read while bisecting.
    pub probes: u32,
}

fn seek_with(file: &ReplayFile, tick: u32, replicate: bool) -> Result<Seeked, ToolError> {
    let Located {
        mut resim,
        mut reader,
        keyframe,
        probes,
    } = locate(file, tick, replicate)?;
    let resim_error = |offset, source: ResimError| ToolError::Resim {
        path: file.path.clone(),
        offset,
        source,
    };
    let mut ticks = 0;
    let mut diverged = None;
    if keyframe.is_none_or(|k| k < tick) {
        loop {
            let record = match reader.try_next() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                // A cut tail ends the recording where it was cut (as `verify` reads it).
                Err(ReplayError::Truncated { .. }) => break,
                Err(e) => return Err(file.file_error(e)),
            };
            let offset = reader.chunk_offset();
            match resim.apply(&record).map_err(|e| resim_error(offset, e))? {
                Step::Applied => {}
                Step::Ticked { tick: t, .. } => {
                    ticks += 1;
                    if t >= tick {
                        break;
                    }
                }
                Step::Diverged(d) => {
                    diverged = Some(d);
                    break;
                }
            }
        }
    }
    Ok(Seeked {
        resim,
        keyframe,
        probes,
        ticks,
        diverged,
    })
}

/// Finds the latest keyframe at or before `tick` (bisecting the file) and restores the loop
/// there, its format and replication set; nothing after the keyframe is applied yet.
pub fn locate(file: &ReplayFile, tick: u32, replicate: bool) -> Result<Located<'_>, ToolError> {
    let mut first = file.reader(true)?;
    let start: SimStart = match first.try_next().map_err(|e| file.file_error(e))? {
        Some(Record::SimStart(s)) => s,
        _ => {
            return Err(ToolError::Usage(format!(
                "{}: not a server simulation recording (no SimStart first)",
                file.path.display()
            )))
        }
    };
    let format = first.format_version();
    drop(first);
    let resim_error = |offset, source: ResimError| ToolError::Resim {
        path: file.path.clone(),
        offset,
        source,
    };
    let mut best: Option<(u64, SimKeyframe)> = None;
    let mut probes = 0;
    if format >= 3 {
        let (mut lo, mut hi) = (0u64, file.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            probes += 1;
            match keyframe_after(file, mid)? {
                Some((at, k)) if k.tick <= tick => {
                    lo = at + 1;
                    best = Some((at, k));
                }
                _ => hi = mid,
            }
        }
    }
    let (mut resim, reader, keyframe) = match best {
        Some((at, k)) => {
            let resim = Resim::from_keyframe(&start, &k).map_err(|e| resim_error(at, e))?;
            let input = file.seekable().map_err(|e| file.file_error(e))?;
            let mut reader = Reader::resume(input, at)
                .map_err(|e| file.file_error(e))?
                .ok_or_else(|| {
                    ToolError::Usage(format!(
                        "{}: the keyframe chunk at {at} is gone",
                        file.path.display()
                    ))
                })?;
            // The keyframe itself.
            reader.try_next().map_err(|e| file.file_error(e))?;
            (resim, reader, Some(k.tick))
        }
        None => {
            let resim = Resim::new(&start).map_err(|e| resim_error(0, e))?;
            let input = file.seekable().map_err(|e| file.file_error(e))?;
            let mut reader = Reader::new(input).map_err(|e| file.file_error(e))?;
            // SimStart.
            reader.try_next().map_err(|e| file.file_error(e))?;
            (resim, reader, None)
        }
    };
    resim.set_format(format);
    resim.set_replicate(replicate);
    Ok(Located {
        resim,
        reader,
        keyframe,
        probes,
    })
}
