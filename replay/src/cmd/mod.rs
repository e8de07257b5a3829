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

use tilegame_protocol::replay_file::{ReplayError, ReplayReader};
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
///
/// Natively, a connection's recording (client or server side: frames) of 64 KiB or more is
/// read on a second thread, a few batches of records ahead of `f` (`pipeline`): the
/// container's work (reading, checksums, inflation, record decoding) overlaps the command's. The records, their offsets
/// and every error reach `f` and the caller in the same order as when read on one thread, so
/// what a command reports does not depend on it. Simulation recordings (no frames; their
/// records are mostly large) and the page (wasm32, one thread) read in turn.
pub fn scan(
    file: &ReplayFile,
    check_protocol: bool,
    label: &str,
    f: impl FnMut(&Record, u64) -> Result<Flow, ToolError>,
) -> Result<Tail, ToolError> {
    let mut reader = file.reader(check_protocol)?;
    #[cfg(not(target_arch = "wasm32"))]
    if file.len() >= pipeline::MIN_FILE
        && reader.header().recorder != tilegame_protocol::replay_format::Recorder::Simulation
    {
        return pipeline::scan(file, reader, label, f);
    }
    scan_from(file, &mut reader, None, label, f)
}

/// Records in file order with where each came from: what [`scan_stream`] reads.
trait RecordStream {
    /// The next record, as [`ReplayReader::try_next`], with the offset of its chunk and the
    /// bytes of the file consumed after it.
    fn next_record(&mut self) -> Result<Option<(&Record, u64, u64)>, ReplayError>;
    /// Bytes of the file consumed so far.
    fn position(&self) -> u64;
}

/// A [`ReplayReader`] read on this thread.
struct InTurn<'r, R: std::io::Read> {
    reader: &'r mut ReplayReader<R>,
    record: Option<Record>,
}

impl<R: std::io::Read> RecordStream for InTurn<'_, R> {
    fn next_record(&mut self) -> Result<Option<(&Record, u64, u64)>, ReplayError> {
        self.record = self.reader.try_next()?;
        let (offset, position) = (
            self.reader.chunk_offset(),
            ReplayReader::position(self.reader),
        );
        Ok(self.record.as_ref().map(|r| (r, offset, position)))
    }
    fn position(&self) -> u64 {
        ReplayReader::position(self.reader)
    }
}

/// [`scan`] from where `reader` stands, `ticks` the simulation ticks already read before it
/// (`None`: not a simulation recording, or none read).
pub fn scan_from<R: std::io::Read>(
    file: &ReplayFile,
    reader: &mut ReplayReader<R>,
    ticks: Option<u64>,
    label: &str,
    f: impl FnMut(&Record, u64) -> Result<Flow, ToolError>,
) -> Result<Tail, ToolError> {
    let mut stream = InTurn {
        reader,
        record: None,
    };
    scan_stream(file, &mut stream, ticks, label, f)
}

/// [`scan_from`] over any [`RecordStream`].
fn scan_stream(
    file: &ReplayFile,
    reader: &mut impl RecordStream,
    mut ticks: Option<u64>,
    label: &str,
    mut f: impl FnMut(&Record, u64) -> Result<Flow, ToolError>,
) -> Result<Tail, ToolError> {
    let progress = Progress::new(file.len(), label);
    let mut end = None;
    let mut n = 0u64;
    // A simulation recording holds no frames: what a cut keeps of it is ticks.
    let tail = loop {
        match reader.next_record() {
            Ok(Some((record, offset, position))) => {
                n += 1;
                match &record {
                    Record::SimStart(_) => {
                        ticks.get_or_insert(0);
                    }
                    Record::SimTick(_) => *ticks.get_or_insert(0) += 1,
                    _ => {}
                }
                if n.is_multiple_of(4096) {
                    progress.set(position);
                }
                if let Record::End(e) = &record {
                    end = Some(Tail::Ended {
                        frames: e.frames,
                        reason: e.reason.clone(),
                    });
                }
                if let Flow::Stop = f(record, offset)? {
                    break Tail::NotRead;
                }
            }
            Ok(None) => {
                break end.unwrap_or(Tail::Unfinished {
                    offset: reader.position(),
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

/// Reading a connection's recording on a second thread while the records are used on the
/// caller's.
///
/// The reader thread hands over batches of decoded records (with their chunk offsets and the
/// file position after each) through a channel of [`DEPTH`] batches, each closed at
/// [`BATCH_RECORDS`] records or [`BATCH_BYTES`] bytes of frames; emptied batches go back to it
/// to be refilled. Memory stays within the reader's budget: frames and tick hashes are small
/// (at most [`DEPTH`] + 2 batches of them are held at once, about 3 MiB), and any other record
/// (a keyframe, which may decode to megabytes) closes its batch, and the reader, which tells
/// such a record from its tag before decoding it, decodes the next one only once that batch
/// has come back: such a record is never held twice, as on one thread, and the frames between
/// two keyframes flow without a pause. The reader's end (a clean end, a cut or damage) travels after the last record
/// before it, so the caller sees exactly the sequence one thread would. When the caller stops
/// early, the reader stops at its next batch.
#[cfg(not(target_arch = "wasm32"))]
mod pipeline {
    use std::sync::mpsc;

    use tilegame_protocol::replay_file::ReplayError;
    use tilegame_protocol::replay_format::Record;

    use super::{scan_stream, Flow, RecordStream, Tail};
    use crate::tool::{FileReader, ReplayFile, ToolError};

    /// The smallest file read on two threads: below it (about 900 ticks of 20 players), the
    /// second thread's start, milliseconds on a loaded machine, costs more than it saves.
    pub(super) const MIN_FILE: u64 = 64 << 10;
    /// Batches in flight between the threads.
    const DEPTH: usize = 4;
    /// Records per batch at most.
    const BATCH_RECORDS: usize = 1024;
    /// Frame bytes per batch before it closes (a frame is at most 256 KiB).
    const BATCH_BYTES: usize = 256 << 10;

    /// A record with its chunk's offset and the file position after it.
    type Item = (Record, u64, u64);

    /// How reading ended, with the file position there.
    type End = (Result<(), ReplayError>, u64);

    /// What the reader thread sends: records, then (in the last batch) how reading ended.
    struct Batch {
        records: Vec<Item>,
        end: Option<End>,
    }

    /// The bytes a record holds, or `None` for one that may hold megabytes (keyframes, and
    /// anything else a connection's recording does not hold per tick).
    fn small(record: &Record) -> Option<usize> {
        match record {
            Record::Frame(f) => Some(f.bytes.len()),
            Record::TickHash(_) | Record::TickHashLow(_) | Record::End(_) => Some(0),
            _ => None,
        }
    }

    /// The caller's side: records from the batches received, in order. A used batch goes back
    /// whole, so its records are freed on the thread that made them.
    struct Receiver {
        rx: mpsc::Receiver<Batch>,
        back: mpsc::Sender<Vec<Item>>,
        batch: Vec<Item>,
        next: usize,
        end: Option<End>,
        position: u64,
    }

    impl RecordStream for Receiver {
        fn next_record(&mut self) -> Result<Option<(&Record, u64, u64)>, ReplayError> {
            while self.next >= self.batch.len() {
                // The batch is used up: back to the reader (which may be waiting for it)
                // before waiting for the next. (Not the empty one the receiver starts with.)
                let used = std::mem::take(&mut self.batch);
                if used.capacity() > 0 {
                    let _ = self.back.send(used);
                }
                self.next = 0;
                if let Some((end, position)) = self.end.take() {
                    self.position = position;
                    return end.map(|()| None);
                }
                let Ok(batch) = self.rx.recv() else {
                    // The reader always sends how it ended before it stops; a reader thread
                    // gone without it can only have panicked, which the scope reports.
                    return Ok(None);
                };
                self.batch = batch.records;
                self.end = batch.end;
            }
            let (record, offset, position) = &self.batch[self.next];
            self.next += 1;
            self.position = *position;
            Ok(Some((record, *offset, *position)))
        }
        fn position(&self) -> u64 {
            self.position
        }
    }

    /// Reads `reader`'s records on the second thread: see the module's doc.
    fn read_ahead(
        mut reader: FileReader<'_>,
        tx: mpsc::SyncSender<Batch>,
        back: mpsc::Receiver<Vec<Item>>,
    ) {
        // Batches sent and given back (they come back in order), the one holding the latest
        // large record, and those given back (emptied here, so that their records are freed on
        // the thread that made them).
        let (mut sent, mut returned) = (0u64, 0u64);
        let mut large_batch: Option<u64> = None;
        let mut spare: Vec<Vec<Item>> = Vec::new();
        let take_back = |mut used: Vec<Item>, returned: &mut u64, spare: &mut Vec<Vec<Item>>| {
            used.clear();
            spare.push(used);
            *returned += 1;
        };
        loop {
            while let Ok(used) = back.try_recv() {
                take_back(used, &mut returned, &mut spare);
            }
            let mut records = spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(BATCH_RECORDS));
            let mut bytes = 0usize;
            let mut large = false;
            let end = loop {
                // A large record is decoded only once the previous one is let go of.
                let large_out = large_batch.is_some_and(|b| returned <= b);
                match reader.next_may_be_large() {
                    Ok(true) if large_out => {
                        if !records.is_empty() {
                            break None;
                        }
                        while large_batch.is_some_and(|b| returned <= b) {
                            match back.recv() {
                                Ok(used) => take_back(used, &mut returned, &mut spare),
                                Err(_) => return,
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => break Some((Err(e), reader.position())),
                }
                match reader.try_next() {
                    Ok(Some(record)) => {
                        let size = small(&record);
                        records.push((record, reader.chunk_offset(), reader.position()));
                        match size {
                            Some(n) => bytes += n,
                            None => large = true,
                        }
                        if large || records.len() >= BATCH_RECORDS || bytes >= BATCH_BYTES {
                            break None;
                        }
                    }
                    Ok(None) => break Some((Ok(()), reader.position())),
                    Err(e) => break Some((Err(e), reader.position())),
                }
            };
            let last = end.is_some();
            if tx.send(Batch { records, end }).is_err() || last {
                return;
            }
            if large {
                large_batch = Some(sent);
            }
            sent += 1;
        }
    }

    /// [`super::scan`] with the reading on a second thread.
    pub(super) fn scan(
        file: &ReplayFile,
        reader: FileReader<'_>,
        label: &str,
        f: impl FnMut(&Record, u64) -> Result<Flow, ToolError>,
    ) -> Result<Tail, ToolError> {
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::sync_channel(DEPTH);
            let (back_tx, back_rx) = mpsc::channel();
            s.spawn(move || read_ahead(reader, tx, back_rx));
            let mut receiver = Receiver {
                rx,
                back: back_tx,
                batch: Vec::new(),
                next: 0,
                end: None,
                position: 0,
            };
            // `receiver` is dropped before the scope joins the reader, which then stops at its
            // next send.
            scan_stream(file, &mut receiver, None, label, f)
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::fmt::Write as _;

    use tilegame_protocol::replay_file::{written_format, ReplayWriter};

    use super::*;

    /// Everything a scan shows its caller (each record with its chunk's offset, then how it
    /// ended), read on two threads (`pipeline::scan`) or on one (`scan_from`), stopping after
    /// `stop` records.
    fn seen(file: &ReplayFile, pipelined: bool, stop: usize) -> String {
        let mut out = String::new();
        let mut n = 0;
        let f = |record: &Record, offset: u64| {
            n += 1;
            let _ = writeln!(out, "{offset} {record:?}");
            Ok(if n == stop {
                Flow::Stop
            } else {
                Flow::Continue
            })
        };
        let result = if pipelined {
            // (Whatever the file's size.)
            file.reader(true)
                .and_then(|reader| pipeline::scan(file, reader, "test", f))
        } else {
            file.reader(true)
                .and_then(|mut reader| scan_from(file, &mut reader, None, "test", f))
        };
        let _ = write!(out, "{result:?}");
        out
    }

    /// The committed fixture (format 2, stored chunks) and the same records rewritten as format
    /// 4 (compressed chunks of a few records each, so that a scan crosses many batches).
    fn files() -> Vec<(String, Vec<u8>)> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.tgr");
        let fixture = std::fs::read(path).expect("the fixture");
        let file = ReplayFile::from_bytes("small.tgr", fixture.clone());
        let mut reader = file.open_reader().expect("header");
        let mut header = reader.header().clone();
        header.format_version = written_format(header.format_version);
        let mut writer = ReplayWriter::new(Vec::new(), &header).expect("header");
        for (i, record) in reader.by_ref().enumerate() {
            writer.push(&record).expect("record");
            if i % 7 == 6 {
                writer.flush().expect("flush");
            }
        }
        vec![
            ("fixture".into(), fixture),
            ("rewritten".into(), writer.finish().expect("finish")),
        ]
    }

    #[test]
    fn reading_on_a_second_thread_shows_what_one_thread_shows() {
        for (name, data) in files() {
            let whole = ReplayFile::from_bytes(format!("{name}.tgr"), data.clone());
            let all = seen(&whole, false, 0);
            let records = all.lines().count() - 1;
            assert!(all.contains(" Keyframe("), "{name}: no keyframe");
            // More than a batch, and keyframes (each closes its batch).
            assert!(records > 256, "{name}: {records} records");
            for stop in [0, 1, 255, 256, 257, records / 2] {
                assert_eq!(
                    seen(&whole, true, stop),
                    seen(&whole, false, stop),
                    "{name}, stopping after {stop}"
                );
            }
            // Every kind of damage and cut, at the same records and offsets either way.
            for at in (0..data.len()).step_by(41) {
                let mut changed = data.clone();
                changed[at] ^= 0x5a;
                let file = ReplayFile::from_bytes(format!("{name}-changed-{at}.tgr"), changed);
                assert_eq!(
                    seen(&file, true, 0),
                    seen(&file, false, 0),
                    "{name}: byte {at}"
                );
                let file =
                    ReplayFile::from_bytes(format!("{name}-cut-{at}.tgr"), data[..at].to_vec());
                assert_eq!(
                    seen(&file, true, 0),
                    seen(&file, false, 0),
                    "{name}: cut at {at}"
                );
            }
        }
    }
}
