//! The replay-file container: a sealed header, then checksummed, numbered, compressed chunks of
//! records.
//!
//! Every record type is generated from `spec/replay.ron`; this module only frames them. Format
//! 4 (written) is format 3's container with shorter records ([`crate::replay_format::CompactRecord`]:
//! a frame as its bytes plus increases of its sequence number, tick and milliseconds; tick
//! hashes of 16 bits each), chunks flushed every 0.5 s, and each chunk's DEFLATE block written
//! with fixed or dynamic Huffman codes, whichever is shorter (two compressors see the same
//! bytes, so either output continues the stream), its sync-flush marker (00 00 FF FF) left out
//! and put back by the reader (as WebSocket's permessage-deflate does). Format
//! 3 groups records into chunks whose bodies are raw DEFLATE (one stream running on
//! from chunk to chunk, restarted every [`RESTART_BYTES`] so the file stays close to the size of
//! what it records) and makes any change to a file visible: the header carries a CRC-32 seal,
//! every chunk header its sequence number and a CRC-32 of itself (lengths included), every chunk
//! body a CRC-32 of its stored bytes, and the End record's frame count is checked against the
//! frames read, with nothing allowed after it. The only damage read as "the recorder was
//! killed" is a clean tail truncation: the file ends inside its last chunk (or exactly between
//! two chunks). Format 2 (one uncompressed chunk per flush) and format 1 (no seal, no sequence
//! numbers) are still read.
//!
//! The writer never reads a clock: its callers flush on their own time bound (the recorders
//! every [`FLUSH_INTERVAL_MS`]), and a chunk is written by itself once its records reach
//! [`CHUNK_TARGET`] bytes.
//!
//! The reader streams: it holds one chunk body (at most [`MAX_CHUNK`], and never more than the
//! bytes actually present), its inflation (at most the `raw_length` it declares, itself at most
//! [`MAX_CHUNK`]; a chunk that inflates to more is refused as soon as it does) after at most
//! 512 KiB of the stream's earlier output, and decodes one record at a time from it, so
//! reading any file costs at most [`READ_BUDGET`] bytes whatever it claims.
//! Nothing here panics on a hostile file.

use std::io::{self, Read, Write};

use miniz_oxide::deflate::core::{
    compress as deflate_core, create_comp_flags_from_zip_params,
    deflate_flags::TDEFL_FORCE_ALL_STATIC_BLOCKS, CompressorOxide, TDEFLFlush, TDEFLStatus,
};

use crate::replay_format::{
    ChunkHeader, ChunkHeaderV1, ChunkHeaderV3, CompactFrame, CompactRecord, CompactTickHash,
    FileHeader, FileHeaderSeal, Frame, Record, TickHashLow,
};
use crate::wire::{decode_body, encode_body};

/// The format version this code writes.
pub const FORMAT_VERSION: u16 = 6;

/// The format a writer gives a file whose header says `version`: [`FORMAT_VERSION`], except
/// that a header from an older format keeps its own (one from formats 1 to 3 becomes 4, the
/// oldest with today's container), so that tick hashes copied from such a file keep the
/// definition they were computed with: formats 1 to 4 hash client ticks by FNV-1a, 1 to 5
/// simulation ticks (see `spec/replay.ron`).
pub fn written_format(version: u16) -> u16 {
    version.clamp(4, FORMAT_VERSION)
}

/// The oldest format version this code reads.
pub const OLDEST_FORMAT_VERSION: u16 = 1;

/// Largest chunk body accepted (16 MiB).
pub const MAX_CHUNK: u32 = 16 << 20;

/// Size of an encoded chunk header (format 2).
pub const CHUNK_HEADER_LEN: usize = 22;

/// Size of an encoded chunk header (format 3).
pub const CHUNK_HEADER_LEN_V3: usize = 27;

/// Records gathered before a chunk is written without waiting for a flush (64 KiB).
pub const CHUNK_TARGET: usize = 64 << 10;

/// Inflated bytes after which the writer starts a new DEFLATE stream (a reader may start there).
pub const RESTART_BYTES: u64 = 4 << 20;

/// How often the recorders flush what they gathered (ms): a killed recorder loses at most this
/// much, plus the time its last write takes (the bound promised is 0.5 s).
pub const FLUSH_INTERVAL_MS: u64 = 500;

/// Chunk codec: records stored as they are.
pub const CODEC_STORED: u8 = 0;

/// Chunk codec: raw DEFLATE continuing the previous compressed chunks' stream.
pub const CODEC_DEFLATE: u8 = 1;

/// Chunk codec: raw DEFLATE starting a new stream.
pub const CODEC_DEFLATE_RESTART: u8 = 2;

/// Size of an encoded chunk header in format 1.
pub const CHUNK_HEADER_LEN_V1: usize = 14;

/// Size of the header seal (format 2).
pub const SEAL_LEN: usize = 4;

/// Largest possible encoded [`FileHeader`] (its strings at their maximum lengths).
pub const MAX_FILE_HEADER: usize = 8 + 2 + 4 + 8 + 1 + (1 + 64) + (1 + 16) + 8 + 5;

/// The most memory reading any file may take: one chunk body, plus one record decoded from it
/// (a frame of at most 256 KiB, or a keyframe's compressed bytes and their bounded inflation).
pub const READ_BUDGET: usize = 64 << 20;

/// Bytes of a format 3 chunk header covered by its own CRC (everything before `header_crc32`).
const CHUNK_HEADER_SIGNED_V3: usize = CHUNK_HEADER_LEN_V3 - 4;

/// What is wrong with a damaged part of a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Damage {
    /// The file header does not decode.
    #[error("malformed file header: {message}")]
    FileHeader {
        /// The decoder's explanation.
        message: String,
    },
    /// The header's seal does not match its bytes.
    #[error("file header checksum {computed:#010x} does not match the seal {stored:#010x}")]
    FileHeaderChecksum {
        /// The seal.
        stored: u32,
        /// Computed over the header.
        computed: u32,
    },
    /// Format version 0 does not exist.
    #[error("format version 0 is invalid")]
    FormatVersionZero,
    /// A chunk header's own checksum does not match (a changed length, count or sequence).
    #[error("chunk header checksum {computed:#010x} does not match {stored:#010x}")]
    ChunkHeaderChecksum {
        /// Recorded.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// A chunk header does not start with `CK`.
    #[error("no chunk magic (found {found:02x?})")]
    ChunkMagic {
        /// The bytes found.
        found: Vec<u8>,
    },
    /// A chunk is missing, repeated or out of place.
    #[error("chunk number {found} where chunk {expected} was expected (a chunk was dropped, repeated or moved)")]
    ChunkSequence {
        /// The next number expected.
        expected: u32,
        /// The number found.
        found: u32,
    },
    /// A chunk declares an impossible length.
    #[error("chunk length {length} is not within 1..={MAX_CHUNK}")]
    ChunkLength {
        /// Declared length.
        length: u32,
    },
    /// A chunk declares an impossible inflated length.
    #[error("chunk inflated length {raw_length} is not within 1..={MAX_CHUNK} (or is not its length when stored)")]
    RawLength {
        /// Declared inflated length.
        raw_length: u32,
    },
    /// A chunk names a codec that does not exist.
    #[error("chunk codec {codec} is unknown (0 stored, 1 deflate, 2 deflate restarting)")]
    Codec {
        /// The codec byte.
        codec: u8,
    },
    /// A compressed chunk continues a stream that no earlier chunk started.
    #[error("chunk continues a compressed stream that no earlier chunk started")]
    NoStream,
    /// A compressed chunk is not valid DEFLATE.
    #[error("chunk body does not inflate: {message}")]
    Inflate {
        /// The decompressor's explanation.
        message: String,
    },
    /// A compressed chunk inflates to more than it declares (a bomb is stopped there).
    #[error("chunk inflates past its declared {declared} bytes")]
    InflatesPast {
        /// Declared inflated length.
        declared: u32,
    },
    /// A compressed chunk inflates to less than it declares.
    #[error("chunk inflates to {inflated} bytes, not its declared {declared}")]
    InflatesShort {
        /// Declared inflated length.
        declared: u32,
        /// What it gave.
        inflated: usize,
    },
    /// A compressed chunk's body has bytes after its DEFLATE data.
    #[error("{bytes} bytes follow the chunk's compressed data")]
    AfterStream {
        /// Bytes not consumed.
        bytes: usize,
    },
    /// A chunk declares no records.
    #[error("chunk declares no records")]
    NoRecords,
    /// A chunk body's checksum does not match.
    #[error("checksum {computed:#010x} does not match {stored:#010x}")]
    BodyChecksum {
        /// Recorded.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// A record inside a chunk does not decode.
    #[error("record {index} at byte {at} of the chunk: {message}")]
    Record {
        /// Index in the chunk.
        index: u32,
        /// Byte offset in the chunk body.
        at: u64,
        /// The decoder's explanation.
        message: String,
    },
    /// A chunk's records do not fill it.
    #[error("{bytes} bytes left over after the chunk's records")]
    Leftover {
        /// Bytes not consumed.
        bytes: usize,
    },
    /// Records follow the End record in its chunk.
    #[error("{records} records follow the end record")]
    RecordsAfterEnd {
        /// How many.
        records: u32,
    },
    /// Bytes follow the chunk holding the End record.
    #[error("bytes follow the end record")]
    AfterEnd,
    /// The End record's frame count is not the number of frames in the file.
    #[error("the end record counts {recorded} frames but the file holds {counted}")]
    EndCount {
        /// What the End record says.
        recorded: u64,
        /// Frames read.
        counted: u64,
    },
    /// A partial chunk at the end of the file is not a prefix of a valid chunk.
    #[error("the file ends in {have} bytes that cannot start chunk {expected}")]
    BadTail {
        /// Bytes present.
        have: usize,
        /// The chunk number expected.
        expected: u32,
    },
}

/// Where a cut file ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Inside a chunk header.
    ChunkHeader {
        /// Header bytes present.
        have: usize,
    },
    /// Inside a chunk body.
    Body {
        /// Body bytes present.
        have: usize,
        /// Body bytes declared.
        declared: u32,
    },
}

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cut::ChunkHeader { have } => write!(f, "{have} bytes of a chunk header"),
            Cut::Body { have, declared } => {
                write!(f, "chunk declares {declared} bytes, {have} present")
            }
        }
    }
}

/// Why a replay file cannot be read (further).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be read or written.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with the replay magic.
    #[error("not a tilegame replay (bad magic at offset 0)")]
    BadMagic,
    /// The file ends inside its header: nothing was recorded.
    #[error("the file ends inside its header ({have} bytes): cut before anything was recorded")]
    HeaderCut {
        /// Bytes present.
        have: usize,
    },
    /// The file was written by a newer format.
    #[error("format version {found} is newer than this program's {FORMAT_VERSION}")]
    FutureVersion {
        /// Version in the file.
        found: u16,
    },
    /// The file records a different protocol than this program speaks.
    #[error("recorded with protocol v{version} (hash {hash:#018x}); this program speaks v{our_version} ({our_hash:#018x})")]
    WrongProtocol {
        /// Recorded protocol version.
        version: u32,
        /// Recorded spec hash.
        hash: u64,
        /// Ours.
        our_version: u32,
        /// Ours.
        our_hash: u64,
    },
    /// The file ends inside its last chunk: a crash cut. Everything before it was read.
    #[error("truncated chunk at offset {offset}: {cut} ({frames} frames kept)")]
    Truncated {
        /// File offset of the partial chunk.
        offset: u64,
        /// Frames read before it.
        frames: u64,
        /// How much of the chunk is there.
        cut: Cut,
    },
    /// Part of the file was changed.
    #[error("corrupt {} at offset {offset} ({len} bytes): {damage}", if *offset == 0 { "file header" } else { "chunk" })]
    Corrupt {
        /// File offset of the damaged part (0: the file header).
        offset: u64,
        /// Its length.
        len: u64,
        /// What is wrong.
        damage: Damage,
    },
    /// A record could not be encoded.
    #[error("cannot encode a record: {0}")]
    Encode(String),
}

impl ReplayError {
    /// The byte range a damage or version error points at, when it points at one.
    pub fn damaged_range(&self) -> Option<std::ops::Range<u64>> {
        match self {
            ReplayError::BadMagic => Some(0..8),
            ReplayError::FutureVersion { .. } => Some(8..10),
            ReplayError::Corrupt { offset, len, .. } => Some(*offset..offset + len),
            _ => None,
        }
    }

    /// Whether this is a crash cut (the file ends inside a chunk or inside its header).
    pub fn is_cut(&self) -> bool {
        matches!(
            self,
            ReplayError::Truncated { .. } | ReplayError::HeaderCut { .. }
        )
    }
}

fn encode_error(e: crate::wire::EncodeError) -> ReplayError {
    ReplayError::Encode(e.to_string())
}

/// The sync-flush marker that ends every DEFLATE chunk body: format 4 leaves it out.
const SYNC_MARKER: [u8; 4] = [0, 0, 0xff, 0xff];

/// First tag of the compact records inside a format 4 chunk body.
const COMPACT_TAG: u8 = 16;

/// What format 4's compact records are increases over: the previous frame and tick hash of the
/// same DEFLATE stream (reset where a stream starts, so a reader may start there).
#[derive(Debug, Default, Clone, Copy)]
struct Deltas {
    next_seq: u64,
    tick: u32,
    millis: u64,
    hash_tick: u32,
}

impl Deltas {
    /// Follows a frame, whichever form it was stored in.
    fn saw_frame(&mut self, f: &Frame) {
        self.next_seq = f.seq.wrapping_add(1);
        self.tick = f.tick;
        self.millis = f.micros / 1000;
    }

    /// The compact form of `record`, when it holds it exactly.
    fn compact(&self, record: &Record) -> Option<CompactRecord> {
        match record {
            Record::Frame(f) => {
                let millis = f.micros / 1000;
                let exact = f.micros % 1000 == 0
                    && f.seq >= self.next_seq
                    && f.tick >= self.tick
                    && millis >= self.millis
                    && f.bytes.first() == Some(&f.packet_id)
                    && f.payload_bytes as usize == f.bytes.len() - 1
                    && f.wire_bytes as usize >= f.bytes.len();
                exact.then(|| {
                    CompactRecord::CompactFrame(CompactFrame {
                        direction: f.direction,
                        state: f.state,
                        seq_skip: f.seq - self.next_seq,
                        tick_delta: f.tick - self.tick,
                        millis_delta: millis - self.millis,
                        framing: f.wire_bytes - f.bytes.len() as u32,
                        bytes: f.bytes.clone(),
                    })
                })
            }
            Record::TickHashLow(h) if h.tick >= self.hash_tick => {
                Some(CompactRecord::CompactTickHash(CompactTickHash {
                    tick_delta: h.tick - self.hash_tick,
                    world: h.world,
                    players: h.players,
                }))
            }
            _ => None,
        }
    }

    /// Follows any record.
    fn saw(&mut self, record: &Record) {
        match record {
            Record::Frame(f) => self.saw_frame(f),
            Record::TickHashLow(h) => self.hash_tick = h.tick,
            _ => {}
        }
    }

    /// The record a compact one stands for; `None` when its increases overflow.
    fn expand(&self, compact: CompactRecord) -> Option<Record> {
        match compact {
            CompactRecord::CompactFrame(c) => {
                let micros = self.millis.checked_add(c.millis_delta)?.checked_mul(1000)?;
                let packet_id = *c.bytes.first()?;
                let len = u32::try_from(c.bytes.len()).ok()?;
                Some(Record::Frame(Frame {
                    seq: self.next_seq.checked_add(c.seq_skip)?,
                    direction: c.direction,
                    state: c.state,
                    tick: self.tick.checked_add(c.tick_delta)?,
                    micros,
                    wire_bytes: len.checked_add(c.framing)?,
                    payload_bytes: len - 1,
                    packet_id,
                    bytes: c.bytes,
                }))
            }
            CompactRecord::CompactTickHash(c) => Some(Record::TickHashLow(TickHashLow {
                tick: self.hash_tick.checked_add(c.tick_delta)?,
                world: c.world,
                players: c.players,
            })),
        }
    }
}

/// Raw DEFLATE with a sync flush after each chunk, each chunk's block coded with fixed or
/// dynamic Huffman codes, whichever is shorter: both compressors see every byte, so their
/// windows agree and either output continues the stream (small chunks gain most from fixed
/// codes, which carry no code tables).
struct Deflater {
    dynamic: Box<CompressorOxide>,
    fixed: Box<CompressorOxide>,
    spare: Vec<u8>,
}

impl Deflater {
    fn new() -> Self {
        let flags = create_comp_flags_from_zip_params(6, -15, 0);
        Deflater {
            dynamic: Box::new(CompressorOxide::new(flags)),
            fixed: Box::new(CompressorOxide::new(flags | TDEFL_FORCE_ALL_STATIC_BLOCKS)),
            spare: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.dynamic.reset();
        self.fixed.reset();
    }

    /// Compresses `input` into `out` (cleared), without the trailing sync marker.
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ReplayError> {
        sync_deflate(&mut self.dynamic, input, out)?;
        sync_deflate(&mut self.fixed, input, &mut self.spare)?;
        if self.spare.len() < out.len() {
            std::mem::swap(out, &mut self.spare);
        }
        if out.ends_with(&SYNC_MARKER) {
            out.truncate(out.len() - SYNC_MARKER.len());
        }
        Ok(())
    }
}

/// Compresses `input` into `out` (cleared) with a sync flush, so the bytes are complete.
fn sync_deflate(
    c: &mut CompressorOxide,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ReplayError> {
    // Fixed codes spend at most 9 bits a byte; blocks and the flush add a few bytes.
    out.clear();
    out.resize(input.len() + input.len() / 4 + 64, 0);
    let (status, used, written) = deflate_core(c, input, out, TDEFLFlush::Sync);
    if status != TDEFLStatus::Okay || used != input.len() {
        return Err(ReplayError::Encode(format!(
            "deflate: {status:?}, {used} of {} bytes taken",
            input.len()
        )));
    }
    out.truncate(written);
    Ok(())
}

/// Writes a replay file (format [`FORMAT_VERSION`], or an older header's own format, 4 at least: see
/// [`written_format`]).
pub struct ReplayWriter<W: Write> {
    out: W,
    /// Records gathered for the next chunk.
    chunk: Vec<u8>,
    records: u32,
    /// The chunk's compressed bytes (reused).
    packed: Vec<u8>,
    deflate: Deflater,
    /// Inflated bytes since the DEFLATE stream (re)started; `None` before the first chunk.
    stream_bytes: Option<u64>,
    /// Whether the chunk being gathered starts a new stream.
    restarts: bool,
    /// What compact records are increases over.
    deltas: Deltas,
    seal: u32,
    chunk_seq: u32,
    bytes_written: u64,
}

impl<W: Write> ReplayWriter<W> {
    /// Writes the header and its seal and returns a writer for records.
    pub fn new(mut out: W, header: &FileHeader) -> Result<Self, ReplayError> {
        let mut header = header.clone();
        header.format_version = written_format(header.format_version);
        let mut bytes = Vec::with_capacity(128);
        encode_body(&header, "FileHeader", &mut bytes).map_err(encode_error)?;
        let seal = crc32fast::hash(&bytes);
        encode_body(
            &FileHeaderSeal { crc32: seal },
            "FileHeaderSeal",
            &mut bytes,
        )
        .map_err(encode_error)?;
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(ReplayWriter {
            out,
            chunk: Vec::with_capacity(4096),
            records: 0,
            packed: Vec::with_capacity(4096),
            deflate: Deflater::new(),
            stream_bytes: None,
            restarts: true,
            deltas: Deltas::default(),
            seal,
            chunk_seq: 0,
            bytes_written: bytes.len() as u64,
        })
    }

    /// Appends a record to the current chunk (written on the next [`flush`](Self::flush), or
    /// once the chunk holds [`CHUNK_TARGET`] bytes).
    pub fn push(&mut self, record: &Record) -> Result<(), ReplayError> {
        if self.records == 0 {
            // A chunk decides at its first record whether it starts a stream: its records'
            // increases start from 0 there.
            self.restarts = self
                .stream_bytes
                .is_none_or(|n| n > RESTART_BYTES - CHUNK_TARGET as u64);
            if self.restarts {
                self.deltas = Deltas::default();
            }
        }
        match self.deltas.compact(record) {
            Some(compact) => encode_body(&compact, "CompactRecord", &mut self.chunk),
            None => encode_body(record, "Record", &mut self.chunk),
        }
        .map_err(encode_error)?;
        self.deltas.saw(record);
        self.records += 1;
        if self.chunk.len() >= CHUNK_TARGET {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the gathered records and starts a new DEFLATE stream with the next chunk, so a
    /// reader can start reading there ([`ReplayReader::resume`]): the simulation log does this
    /// before each keyframe, so that seeking bisects the file for keyframe chunks.
    pub fn restart(&mut self) -> Result<(), ReplayError> {
        self.flush()?;
        self.stream_bytes = None;
        Ok(())
    }

    /// Whether records are gathered and not written yet.
    pub fn pending(&self) -> bool {
        self.records > 0
    }

    /// Writes the current chunk (if any), compressed, and flushes it to the OS.
    pub fn flush(&mut self) -> Result<(), ReplayError> {
        if self.records == 0 {
            return Ok(());
        }
        let restart = self.restarts;
        if restart {
            self.deflate.reset();
            self.stream_bytes = Some(0);
        }
        self.deflate.compress(&self.chunk, &mut self.packed)?;
        self.stream_bytes = self.stream_bytes.map(|n| n + self.chunk.len() as u64);
        let codec = if restart {
            CODEC_DEFLATE_RESTART
        } else {
            CODEC_DEFLATE
        };
        let raw_length = self.chunk.len() as u32;
        let packed = std::mem::take(&mut self.packed);
        let result = self.write_chunk(codec, raw_length, self.records, &packed);
        self.packed = packed;
        self.chunk.clear();
        self.records = 0;
        result
    }

    /// Writes a stored chunk of arbitrary bytes that claims to hold `records` records, with
    /// correct checksums and sequence number (after flushing any pending records). For fuzzing
    /// and damage tests: it lets hostile bytes reach the record decoder past the checksums.
    pub fn push_raw_chunk(&mut self, records: u32, body: &[u8]) -> Result<(), ReplayError> {
        self.push_raw_compressed(CODEC_STORED, body.len() as u32, records, body)
    }

    /// Writes a chunk with any codec, declared inflated length and body, with correct checksums
    /// and sequence number (after flushing any pending records). For fuzzing and damage tests:
    /// hostile compressed bodies (bombs, broken DEFLATE, wrong lengths) reach the inflater.
    pub fn push_raw_compressed(
        &mut self,
        codec: u8,
        raw_length: u32,
        records: u32,
        body: &[u8],
    ) -> Result<(), ReplayError> {
        self.flush()?;
        // The records after it start a stream (and their increases from 0), as a reader expects
        // after a stored chunk.
        self.stream_bytes = None;
        self.write_chunk(codec, raw_length, records, body)
    }

    /// Writes one chunk: its header (sequence, codec, lengths, CRCs) and body.
    fn write_chunk(
        &mut self,
        codec: u8,
        raw_length: u32,
        records: u32,
        body: &[u8],
    ) -> Result<(), ReplayError> {
        let mut header = ChunkHeaderV3 {
            seq: self.chunk_seq,
            codec,
            length: body.len() as u32,
            raw_length,
            records,
            crc32: crc32fast::hash(body),
            header_crc32: 0,
        };
        let mut head = Vec::with_capacity(CHUNK_HEADER_LEN_V3);
        encode_body(&header, "ChunkHeaderV3", &mut head).map_err(encode_error)?;
        header.header_crc32 = chunk_header_crc(self.seal, &head[..CHUNK_HEADER_SIGNED_V3]);
        head.clear();
        encode_body(&header, "ChunkHeaderV3", &mut head).map_err(encode_error)?;
        self.out.write_all(&head)?;
        self.out.write_all(body)?;
        self.out.flush()?;
        self.bytes_written += (head.len() + body.len()) as u64;
        self.chunk_seq = self.chunk_seq.wrapping_add(1);
        Ok(())
    }

    /// Bytes written to the file so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> Result<W, ReplayError> {
        self.flush()?;
        Ok(self.out)
    }
}

/// The bytes a DEFLATE back-reference may reach behind the output (RFC 1951: 32 KiB).
const WINDOW: usize = 32 << 10;

/// Inflated bytes kept before the oldest are dropped: the window is moved to the front of the
/// buffer only once this much has gathered, so the move costs little per chunk.
const KEEP: usize = 512 << 10;

/// Room given to the inflater past a chunk's declared length, so that it decodes to the end of
/// a chunk on its fast path (which wants 259 bytes of room); a chunk that writes into it
/// inflates past its declared length and is refused.
const SLACK: usize = 320;

/// How one call of the inflater ended.
enum Step {
    /// The stream's last block ended.
    Done,
    /// Every input byte was used and more is needed.
    NeedsInput,
    /// The output room is used up (or nothing could be done).
    NeedsRoom,
    /// The data is not DEFLATE; why.
    Failed(&'static str),
}

/// The inflater natively: zlib-rs, about 7% fewer instructions than miniz_oxide on our chunks
/// and about 7% less wall time in the day bench (each chunk is one short dynamic-Huffman block,
/// so building its tables is a large part of the work either way). It keeps its own 32 KiB window, so `out` needs no
/// history; compression is unchanged (miniz_oxide), so every byte written stays the same.
#[cfg(not(target_arch = "wasm32"))]
mod core {
    use super::Step;
    use zlib_rs::{Inflate, InflateFlush, Status};

    /// A raw DEFLATE decompressor.
    pub(super) struct Core(Box<Inflate>);

    impl Core {
        pub(super) fn new() -> Self {
            Core(Box::new(Inflate::new(false, 15)))
        }

        /// Starts a new stream.
        pub(super) fn reset(&mut self) {
            self.0.reset(false);
        }

        /// Inflates from `input` into `out[filled..]`: how it ended, bytes read, bytes written.
        pub(super) fn step(
            &mut self,
            input: &[u8],
            out: &mut [u8],
            filled: usize,
        ) -> (Step, usize, usize) {
            let (in0, out0) = (self.0.total_in(), self.0.total_out());
            let room = out.len() - filled;
            let result = self
                .0
                .decompress(input, &mut out[filled..], InflateFlush::NoFlush);
            let read = usize::try_from(self.0.total_in() - in0).unwrap_or(usize::MAX);
            let wrote = usize::try_from(self.0.total_out() - out0).unwrap_or(usize::MAX);
            let step = match result {
                Ok(Status::StreamEnd) => Step::Done,
                Ok(Status::Ok | Status::BufError) if read == input.len() && wrote < room => {
                    Step::NeedsInput
                }
                Ok(Status::Ok | Status::BufError) => Step::NeedsRoom,
                Err(_) => Step::Failed("invalid DEFLATE data"),
            };
            (step, read, wrote)
        }
    }
}

/// The inflater in the page: miniz_oxide (already there for compression) into the flat buffer
/// that holds the window (non-wrapping output: no copy out of a 32 KiB ring).
#[cfg(target_arch = "wasm32")]
mod core {
    use super::Step;
    use miniz_oxide::inflate::core::{
        decompress as inflate_core,
        inflate_flags::{TINFL_FLAG_HAS_MORE_INPUT, TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF},
        DecompressorOxide,
    };
    use miniz_oxide::inflate::TINFLStatus;

    /// A raw DEFLATE decompressor.
    pub(super) struct Core(Box<DecompressorOxide>);

    impl Core {
        pub(super) fn new() -> Self {
            Core(Box::default())
        }

        /// Starts a new stream.
        pub(super) fn reset(&mut self) {
            self.0.init();
        }

        /// Inflates from `input` into `out[filled..]` (`out[..filled]` being the stream's
        /// output so far): how it ended, bytes read, bytes written.
        pub(super) fn step(
            &mut self,
            input: &[u8],
            out: &mut [u8],
            filled: usize,
        ) -> (Step, usize, usize) {
            let flags = TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF | TINFL_FLAG_HAS_MORE_INPUT;
            let (status, read, wrote) = inflate_core(&mut self.0, input, out, filled, flags);
            let step = match status {
                TINFLStatus::Done => Step::Done,
                TINFLStatus::NeedsMoreInput => Step::NeedsInput,
                TINFLStatus::HasMoreOutput => Step::NeedsRoom,
                TINFLStatus::FailedCannotMakeProgress => {
                    Step::Failed("the compressed data ends early")
                }
                _ => Step::Failed("invalid DEFLATE data"),
            };
            (step, read, wrote)
        }
    }
}

/// Raw DEFLATE inflation of the chunks of one stream into one flat buffer: the stream's recent
/// output (at least the last [`WINDOW`] bytes, which back-references may reach) followed by the
/// chunk just inflated, whose records are then read from it in place; one decompressor serves
/// the whole file.
struct Inflater {
    core: core::Core,
    /// The stream's output: history, then the current chunk from `start`.
    out: Vec<u8>,
    /// Where the current chunk's inflated bytes start in `out`.
    start: usize,
}

impl Inflater {
    fn new() -> Self {
        Inflater {
            core: core::Core::new(),
            out: Vec::new(),
            start: 0,
        }
    }

    /// Starts a new stream: nothing before it may be referred to.
    fn reset(&mut self) {
        self.core.reset();
        self.out.clear();
        self.out.shrink_to(KEEP + MAX_CHUNK as usize / 16);
        self.start = 0;
    }

    /// The current chunk's inflated bytes.
    fn chunk(&self) -> &[u8] {
        &self.out[self.start..]
    }

    /// Inflates one chunk body (its sync marker put back), continuing the stream, never more
    /// than [`SLACK`] bytes past `declared`; returns whether the stream ended in it.
    fn inflate(&mut self, body: &[u8], declared: u32) -> Result<bool, Damage> {
        if self.out.len() > KEEP {
            // Keep the window, at the front.
            let from = self.out.len() - WINDOW;
            self.out.copy_within(from.., 0);
            self.out.truncate(WINDOW);
            self.out.shrink_to(KEEP + MAX_CHUNK as usize / 16);
        }
        let limit = declared as usize;
        let start = self.out.len();
        self.start = start;
        let mut used = 0usize;
        let ended = loop {
            // Room grows with what the body gives (a crafted length costs no more than the
            // output really produced), up to the slack past the declared length.
            let produced = self.out.len() - start;
            let room = (limit + SLACK - produced).min(produced.max(64 << 10));
            let filled = self.out.len();
            self.out.resize(filled + room, 0);
            let (step, read, wrote) = self.core.step(&body[used..], &mut self.out, filled);
            self.out.truncate(filled + wrote);
            used += read;
            if self.out.len() - start > limit {
                return Err(Damage::InflatesPast { declared });
            }
            match step {
                Step::Done => break true,
                Step::NeedsInput => break false,
                Step::NeedsRoom if read > 0 || wrote > 0 => {}
                Step::NeedsRoom => {
                    return Err(Damage::Inflate {
                        message: "the inflater made no progress".into(),
                    })
                }
                Step::Failed(message) => {
                    return Err(Damage::Inflate {
                        message: message.into(),
                    })
                }
            }
        };
        if used < body.len() {
            if ended {
                return Err(Damage::AfterStream {
                    bytes: body.len() - used,
                });
            }
            return Err(Damage::Inflate {
                message: format!("{} bytes of the body were not consumed", body.len() - used),
            });
        }
        let inflated = self.out.len() - start;
        if inflated != limit {
            return Err(Damage::InflatesShort { declared, inflated });
        }
        Ok(ended)
    }
}

/// The CRC of a chunk header's signed bytes, chained from the file header's seal.
fn chunk_header_crc(seal: u32, signed: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(seal);
    h.update(signed);
    h.finalize()
}

/// Whether a decode failed because the input ended.
fn is_eof(e: &binrw::Error) -> bool {
    match e {
        binrw::Error::Io(io) => io.kind() == io::ErrorKind::UnexpectedEof,
        binrw::Error::Backtrace(bt) => is_eof(&bt.error),
        _ => false,
    }
}

/// Fills `buf` from `input`, short only at the end of the input; returns the bytes read.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads up to `n` bytes, fewer only at the end of the input.
fn read_up_to<R: Read>(input: &mut R, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    buf.clear();
    input.take(n as u64).read_to_end(buf)?;
    Ok(())
}

/// Streams the records of a replay file.
pub struct ReplayReader<R: Read> {
    input: io::Chain<io::Cursor<Vec<u8>>, R>,
    header: FileHeader,
    seal: u32,
    pos: u64,
    /// The current chunk's records when stored.
    chunk: Vec<u8>,
    /// The current chunk's stored bytes when compressed.
    body: Vec<u8>,
    /// The compressed stream, whose buffer holds the current chunk's records when compressed.
    inflate: Inflater,
    /// Whether the current chunk's records are in `inflate` (else in `chunk`).
    inflated: bool,
    /// Whether a DEFLATE stream is open (a continuing chunk may follow).
    stream: bool,
    /// What format 4's compact records are increases over.
    deltas: Deltas,
    chunk_pos: usize,
    chunk_left: u32,
    chunk_index: u32,
    chunk_offset: u64,
    chunk_len: u64,
    next_chunk_seq: u32,
    frames: u64,
    ended: bool,
    /// Started at a restart chunk ([`ReplayReader::resume`]): the frames before are not counted.
    resumed: bool,
    finished: bool,
    error: Option<ReplayError>,
}

impl<R: Read> std::fmt::Debug for ReplayReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayReader")
            .field("header", &self.header)
            .field("pos", &self.pos)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// Checks the magic and version at the start of a file.
fn check_header_start(data: &[u8]) -> Result<u16, ReplayError> {
    let magic = b"TGREPLAY";
    let n = data.len().min(8);
    if data[..n] != magic[..n] {
        return Err(ReplayError::BadMagic);
    }
    let Some(v) = data.get(8..10) else {
        return Err(ReplayError::HeaderCut { have: data.len() });
    };
    let found = u16::from_le_bytes([v[0], v[1]]);
    if found == 0 {
        return Err(ReplayError::Corrupt {
            offset: 0,
            len: 10,
            damage: Damage::FormatVersionZero,
        });
    }
    if found > FORMAT_VERSION {
        return Err(ReplayError::FutureVersion { found });
    }
    Ok(found)
}

/// Bytes scanned per read while looking for a restart chunk.
const SCAN_WINDOW: usize = 64 << 10;

impl<R: Read + io::Seek> ReplayReader<R> {
    /// A reader that starts at the first chunk at or after byte `from` that starts a new
    /// compressed stream (format 3; its header's CRC, chained from this file's seal, must
    /// match), or `Ok(None)` when none follows. Seeking uses it to bisect a file: a simulation
    /// recording starts such a chunk with each keyframe. The frames before it are not counted
    /// (its End record's count is not checked). [`Self::position`] is the chunk's offset.
    pub fn resume(mut input: R, from: u64) -> Result<Option<Self>, ReplayError> {
        input.seek(io::SeekFrom::Start(0))?;
        let mut reader = ReplayReader::new(input)?;
        if reader.header.format_version < 3 {
            return Ok(None);
        }
        let mut at = from.max(reader.pos);
        let mut input = reader.input.into_inner().1;
        let mut window = Vec::with_capacity(SCAN_WINDOW);
        loop {
            input.seek(io::SeekFrom::Start(at))?;
            read_up_to(&mut input, &mut window, SCAN_WINDOW)?;
            if window.len() < CHUNK_HEADER_LEN_V3 {
                return Ok(None);
            }
            let found = (0..=window.len() - CHUNK_HEADER_LEN_V3).find(|&i| {
                let h = &window[i..i + CHUNK_HEADER_LEN_V3];
                h[..2] == *b"CK"
                    && h[6] == CODEC_DEFLATE_RESTART
                    && h[CHUNK_HEADER_SIGNED_V3..]
                        == chunk_header_crc(reader.seal, &h[..CHUNK_HEADER_SIGNED_V3]).to_le_bytes()
            });
            match found {
                Some(i) => {
                    let offset = at + i as u64;
                    let h = &window[i..];
                    reader.next_chunk_seq = u32::from_le_bytes([h[2], h[3], h[4], h[5]]);
                    input.seek(io::SeekFrom::Start(offset))?;
                    reader.input = io::Cursor::new(Vec::new()).chain(input);
                    reader.pos = offset;
                    reader.chunk_offset = offset;
                    reader.resumed = true;
                    return Ok(Some(reader));
                }
                None => at += (window.len() - CHUNK_HEADER_LEN_V3 + 1) as u64,
            }
        }
    }
}

impl<'a> ReplayReader<&'a [u8]> {
    /// A reader over bytes in memory.
    pub fn from_slice(data: &'a [u8]) -> Result<Self, ReplayError> {
        ReplayReader::new(data)
    }
}

impl<R: Read> ReplayReader<R> {
    /// Reads and checks the header; records are read by iterating or with [`Self::try_next`].
    pub fn new(mut input: R) -> Result<Self, ReplayError> {
        let mut start = Vec::with_capacity(MAX_FILE_HEADER + SEAL_LEN);
        read_up_to(&mut input, &mut start, MAX_FILE_HEADER + SEAL_LEN)?;
        let version = check_header_start(&start)?;
        let complete = start.len() == MAX_FILE_HEADER + SEAL_LEN;
        let mut cursor = io::Cursor::new(start.as_slice());
        let header = match <FileHeader as binrw::BinRead>::read_options(
            &mut cursor,
            binrw::Endian::Little,
            (),
        ) {
            Ok(h) => h,
            Err(e) => {
                let (_, _, message) = crate::wire::explain(&e, start.len());
                if is_eof(&e) && !complete {
                    return Err(ReplayError::HeaderCut { have: start.len() });
                }
                return Err(ReplayError::Corrupt {
                    offset: 0,
                    len: start.len() as u64,
                    damage: Damage::FileHeader { message },
                });
            }
        };
        let mut end = cursor.position() as usize;
        let mut seal = 0;
        if version >= 2 {
            let Some(bytes) = start.get(end..end + SEAL_LEN) else {
                return Err(ReplayError::HeaderCut { have: start.len() });
            };
            let stored: FileHeaderSeal =
                decode_body("FileHeaderSeal", bytes).map_err(|e| ReplayError::Corrupt {
                    offset: 0,
                    len: (end + SEAL_LEN) as u64,
                    damage: Damage::FileHeader {
                        message: e.to_string(),
                    },
                })?;
            let computed = crc32fast::hash(&start[..end]);
            if computed != stored.crc32 {
                return Err(ReplayError::Corrupt {
                    offset: 0,
                    len: (end + SEAL_LEN) as u64,
                    damage: Damage::FileHeaderChecksum {
                        stored: stored.crc32,
                        computed,
                    },
                });
            }
            seal = computed;
            end += SEAL_LEN;
        }
        let rest = start.split_off(end);
        Ok(ReplayReader {
            input: io::Cursor::new(rest).chain(input),
            header,
            seal,
            pos: end as u64,
            chunk: Vec::new(),
            body: Vec::new(),
            inflate: Inflater::new(),
            inflated: false,
            stream: false,
            deltas: Deltas::default(),
            chunk_pos: 0,
            chunk_left: 0,
            chunk_index: 0,
            chunk_offset: end as u64,
            chunk_len: 0,
            next_chunk_seq: 0,
            frames: 0,
            ended: false,
            resumed: false,
            finished: false,
            error: None,
        })
    }

    /// Checks that the file was recorded with this program's protocol.
    pub fn check_protocol(&self) -> Result<(), ReplayError> {
        let h = &self.header;
        if h.protocol_version != crate::v1::PROTOCOL_VERSION
            || h.protocol_hash != crate::v1::SPEC_HASH
        {
            return Err(ReplayError::WrongProtocol {
                version: h.protocol_version,
                hash: h.protocol_hash,
                our_version: crate::v1::PROTOCOL_VERSION,
                our_hash: crate::v1::SPEC_HASH,
            });
        }
        Ok(())
    }

    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The file's format version.
    pub fn format_version(&self) -> u16 {
        self.header.format_version
    }

    /// Offset of the chunk the last record came from.
    pub fn chunk_offset(&self) -> u64 {
        self.chunk_offset
    }

    /// Bytes consumed so far (for progress).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Frame records read so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    /// Whether the End record has been read.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Why reading stopped before the end, if it did (iterating only; see [`Self::try_next`]).
    pub fn stopped_early(&self) -> Option<&ReplayError> {
        self.error.as_ref()
    }

    fn corrupt(&self, offset: u64, len: u64, damage: Damage) -> ReplayError {
        ReplayError::Corrupt {
            offset,
            len,
            damage,
        }
    }

    /// Damage inside the chunk being read (the whole chunk is named).
    fn chunk_damage(&self, damage: Damage) -> ReplayError {
        self.corrupt(self.chunk_offset, self.chunk_len, damage)
    }

    /// Reads the next chunk's header and body; `false` at a clean end of the input.
    fn next_chunk(&mut self) -> Result<bool, ReplayError> {
        let version = self.header.format_version;
        let v2 = version >= 2;
        let head_len = match version {
            1 => CHUNK_HEADER_LEN_V1,
            2 => CHUNK_HEADER_LEN,
            _ => CHUNK_HEADER_LEN_V3,
        };
        let offset = self.pos;
        let mut head = [0u8; CHUNK_HEADER_LEN_V3];
        let got = read_full(&mut self.input, &mut head[..head_len])?;
        let head = &head[..got];
        self.pos += got as u64;
        if head.is_empty() {
            return Ok(false);
        }
        if self.ended && v2 {
            return Err(self.corrupt(offset, got as u64, Damage::AfterEnd));
        }
        if got < head_len {
            // A torn header is a cut only when what is there can start the expected chunk.
            let magic_ok = head.iter().zip(b"CK").all(|(a, b)| a == b);
            let seq_ok = !v2
                || head
                    .get(2..6)
                    .is_none_or(|s| s == self.next_chunk_seq.to_le_bytes().as_slice());
            if magic_ok && seq_ok {
                return Err(ReplayError::Truncated {
                    offset,
                    frames: self.frames,
                    cut: Cut::ChunkHeader { have: got },
                });
            }
            return Err(self.corrupt(
                offset,
                got as u64,
                Damage::BadTail {
                    have: got,
                    expected: self.next_chunk_seq,
                },
            ));
        }
        // A header that does not decode: its magic is what is shown.
        let bad_magic = || {
            self.corrupt(
                offset,
                head_len as u64,
                Damage::ChunkMagic {
                    found: head[..2].to_vec(),
                },
            )
        };
        let header_damage = |damage| self.corrupt(offset, head_len as u64, damage);
        if v2 {
            let signed = head_len - 4;
            let stored = u32::from_le_bytes([
                head[signed],
                head[signed + 1],
                head[signed + 2],
                head[signed + 3],
            ]);
            let computed = chunk_header_crc(self.seal, &head[..signed]);
            if stored != computed {
                return Err(header_damage(Damage::ChunkHeaderChecksum {
                    stored,
                    computed,
                }));
            }
        }
        // (seq, codec, length, raw_length, records, crc)
        let (seq, codec, length, raw_length, records, crc) = match version {
            1 => {
                let h: ChunkHeaderV1 =
                    decode_body("ChunkHeaderV1", head).map_err(|_| bad_magic())?;
                (None, CODEC_STORED, h.length, h.length, h.records, h.crc32)
            }
            2 => {
                let h: ChunkHeader = decode_body("ChunkHeader", head).map_err(|_| bad_magic())?;
                (
                    Some(h.seq),
                    CODEC_STORED,
                    h.length,
                    h.length,
                    h.records,
                    h.crc32,
                )
            }
            _ => {
                let h: ChunkHeaderV3 =
                    decode_body("ChunkHeaderV3", head).map_err(|_| bad_magic())?;
                (
                    Some(h.seq),
                    h.codec,
                    h.length,
                    h.raw_length,
                    h.records,
                    h.crc32,
                )
            }
        };
        if let Some(seq) = seq {
            if seq != self.next_chunk_seq {
                return Err(header_damage(Damage::ChunkSequence {
                    expected: self.next_chunk_seq,
                    found: seq,
                }));
            }
            if records == 0 {
                return Err(header_damage(Damage::NoRecords));
            }
            if length == 0 || length > MAX_CHUNK {
                return Err(header_damage(Damage::ChunkLength { length }));
            }
        } else if length > MAX_CHUNK {
            return Err(header_damage(Damage::ChunkLength { length }));
        }
        if codec > CODEC_DEFLATE_RESTART {
            return Err(header_damage(Damage::Codec { codec }));
        }
        if version >= 3
            && (raw_length == 0
                || raw_length > MAX_CHUNK
                || (codec == CODEC_STORED && raw_length != length))
        {
            return Err(header_damage(Damage::RawLength { raw_length }));
        }
        // Grows only as bytes arrive: a crafted length costs no more than the bytes present.
        let stored_into = if codec == CODEC_STORED {
            &mut self.chunk
        } else {
            &mut self.body
        };
        stored_into.clear();
        stored_into.shrink_to(1 << 20);
        (&mut self.input)
            .take(u64::from(length))
            .read_to_end(stored_into)?;
        let have = stored_into.len();
        self.pos += have as u64;
        if have < length as usize {
            return Err(ReplayError::Truncated {
                offset,
                frames: self.frames,
                cut: Cut::Body {
                    have,
                    declared: length,
                },
            });
        }
        let chunk_len = (head_len + length as usize) as u64;
        let computed = crc32fast::hash(stored_into);
        if computed != crc {
            return Err(self.corrupt(
                offset,
                chunk_len,
                Damage::BodyChecksum {
                    stored: crc,
                    computed,
                },
            ));
        }
        if version >= 4 && codec != CODEC_DEFLATE {
            self.deltas = Deltas::default();
        }
        if codec != CODEC_STORED {
            if version >= 4 {
                self.body.extend_from_slice(&SYNC_MARKER);
            }
            if codec == CODEC_DEFLATE_RESTART {
                self.inflate.reset();
                self.stream = true;
            } else if !self.stream {
                return Err(self.corrupt(offset, chunk_len, Damage::NoStream));
            }
            let ended = self
                .inflate
                .inflate(&self.body, raw_length)
                .map_err(|damage| self.corrupt(offset, chunk_len, damage))?;
            if ended {
                self.stream = false;
            }
        }
        self.inflated = codec != CODEC_STORED;
        self.chunk_offset = offset;
        self.chunk_len = chunk_len;
        self.chunk_pos = 0;
        self.chunk_left = records;
        self.chunk_index = 0;
        self.next_chunk_seq = self.next_chunk_seq.wrapping_add(1);
        Ok(true)
    }

    /// The current chunk's records (inflated when compressed).
    fn records_bytes(&self) -> &[u8] {
        if self.inflated {
            self.inflate.chunk()
        } else {
            &self.chunk
        }
    }

    /// Decodes the next record of the current chunk.
    fn next_record(&mut self) -> Result<Record, ReplayError> {
        let v2 = self.header.format_version >= 2;
        let chunk = self.records_bytes();
        let chunk_len = chunk.len();
        let body = &chunk[self.chunk_pos..];
        let mut cursor = io::Cursor::new(body);
        let at = self.chunk_pos as u64;
        let damage = |message: String| {
            self.chunk_damage(Damage::Record {
                index: self.chunk_index,
                at,
                message,
            })
        };
        let compact = self.header.format_version >= 4 && body.first() >= Some(&COMPACT_TAG);
        let record = if compact {
            let c = crate::record_read::read_compact(&mut cursor)
                .map_err(|e| damage(crate::wire::explain(&e, body.len()).2))?;
            self.deltas.expand(c).ok_or_else(|| {
                damage("a compact record's increases overflow or its frame is empty".into())
            })?
        } else {
            crate::record_read::read_record(&mut cursor)
                .map_err(|e| damage(crate::wire::explain(&e, body.len()).2))?
        };
        let read = cursor.position() as usize;
        self.deltas.saw(&record);
        self.chunk_pos += read;
        self.chunk_left -= 1;
        self.chunk_index += 1;
        if self.chunk_left == 0 && self.chunk_pos != chunk_len {
            return Err(self.chunk_damage(Damage::Leftover {
                bytes: chunk_len - self.chunk_pos,
            }));
        }
        match &record {
            Record::Frame(Frame { .. }) => self.frames += 1,
            Record::End(_) if self.resumed => self.ended = true,
            Record::End(e) if v2 => {
                if self.chunk_left > 0 {
                    return Err(self.chunk_damage(Damage::RecordsAfterEnd {
                        records: self.chunk_left,
                    }));
                }
                if e.frames != self.frames {
                    return Err(self.chunk_damage(Damage::EndCount {
                        recorded: e.frames,
                        counted: self.frames,
                    }));
                }
                self.ended = true;
            }
            Record::End(_) => self.ended = true,
            _ => {}
        }
        Ok(record)
    }

    /// Reads every remaining record; an error ends the list (see [`Self::stopped_early`]).
    pub fn records(&mut self) -> Vec<Record> {
        self.by_ref().collect()
    }

    /// The next record; `Ok(None)` at a clean end (with or without an End record: see
    /// [`Self::ended`]); a cut or damaged chunk is an error, after which reading stops.
    pub fn try_next(&mut self) -> Result<Option<Record>, ReplayError> {
        let result = match self.ready() {
            Ok(true) => self.next_record().map(Some),
            other => other.map(|_| None),
        };
        if !matches!(result, Ok(Some(_))) {
            self.finished = true;
        }
        result
    }

    /// Whether the next record may be large (a keyframe, or any record but a frame, a tick
    /// hash or the end), told from its tag without decoding it: a reader that hands records to
    /// another thread lets go of one large record before it decodes the next. Reads the next
    /// chunk when the current one is used up; `Ok(false)` at the end, and an error (a cut or
    /// damage) is the one [`Self::try_next`] would give there, after which reading stops.
    pub fn next_may_be_large(&mut self) -> Result<bool, ReplayError> {
        match self.ready() {
            Ok(true) => {}
            other => {
                self.finished = true;
                return other;
            }
        }
        let Some(&tag) = self.records_bytes().get(self.chunk_pos) else {
            return Ok(true);
        };
        let compact = self.header.format_version >= 4 && tag >= COMPACT_TAG;
        Ok(!compact && !crate::record_read::is_small_tag(tag))
    }

    /// Makes the next record's chunk current: `Ok(true)` when a record is there to read,
    /// `Ok(false)` at the end (or once reading has stopped).
    fn ready(&mut self) -> Result<bool, ReplayError> {
        if self.finished {
            return Ok(false);
        }
        while self.chunk_left == 0 {
            if !self.next_chunk()? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl<R: Read> Iterator for ReplayReader<R> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        match self.try_next() {
            Ok(r) => r,
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay_format::{End, FrameDirection, Recorder, TickHash};
    use flate2::{Compress, Compression, FlushCompress};

    fn header() -> FileHeader {
        FileHeader {
            format_version: FORMAT_VERSION,
            protocol_version: crate::v1::PROTOCOL_VERSION,
            protocol_hash: crate::v1::SPEC_HASH,
            recorder: Recorder::Client,
            software: "test".into(),
            player_name: "p".into(),
            start_unix_ms: 0,
            keyframe_interval: 1200,
        }
    }

    fn sample() -> Vec<u8> {
        let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
        for i in 0..5u64 {
            w.push(&Record::Frame(Frame {
                seq: i,
                direction: FrameDirection::ToClient,
                state: crate::State::Play.tag(),
                tick: i as u32,
                micros: i * 50_000,
                wire_bytes: 5,
                payload_bytes: 3,
                packet_id: 3,
                bytes: vec![3, 1, 2, 3],
            }))
            .unwrap();
            w.push(&Record::TickHash(TickHash {
                tick: i as u32,
                world_hash: i,
                players_hash: !i,
            }))
            .unwrap();
            w.flush().unwrap();
        }
        w.push(&Record::End(End {
            frames: 5,
            reason: "done".into(),
        }))
        .unwrap();
        w.finish().unwrap()
    }

    /// (offset, length, frames) of every chunk of a whole file.
    fn chunks(data: &[u8]) -> Vec<(usize, usize, u64)> {
        let mut r = ReplayReader::new(data).unwrap();
        let mut out = Vec::new();
        let mut last = None;
        while r.try_next().unwrap().is_some() {
            if last != Some(r.chunk_offset()) {
                last = Some(r.chunk_offset());
                out.push((r.chunk_offset() as usize, r.chunk_len as usize, 0));
            }
        }
        let mut r = ReplayReader::new(data).unwrap();
        let mut i = 0;
        let mut prev = r.chunk_offset();
        while let Some(rec) = r.try_next().unwrap() {
            if r.chunk_offset() != prev {
                prev = r.chunk_offset();
                i += 1;
            }
            if matches!(rec, Record::Frame(_)) {
                out[i].2 += 1;
            }
        }
        out
    }

    fn read_all(data: &[u8]) -> Result<(usize, bool), ReplayError> {
        let mut r = ReplayReader::new(data)?;
        let mut n = 0;
        while r.try_next()?.is_some() {
            n += 1;
        }
        Ok((n, r.ended()))
    }

    #[test]
    fn round_trip() {
        let data = sample();
        let mut r = ReplayReader::new(data.as_slice()).unwrap();
        r.check_protocol().unwrap();
        assert_eq!(r.header().format_version, FORMAT_VERSION);
        assert_eq!(r.records().len(), 11);
        assert!(r.stopped_early().is_none());
        assert!(r.ended());
    }

    /// Format 4 stores frames and 16-bit tick hashes compactly where it can, and any other
    /// frame (microseconds, a tick or time that goes back, lengths its bytes do not say) as it
    /// is: every record reads back exactly, across chunks and stream restarts.
    #[test]
    fn compact_and_full_records_read_back_exactly() {
        let frame = |seq: u64, tick: u32, micros: u64, bytes: Vec<u8>, wire: u32| {
            Record::Frame(Frame {
                seq,
                direction: FrameDirection::ToClient,
                state: crate::State::Play.tag(),
                tick,
                micros,
                wire_bytes: wire,
                payload_bytes: bytes.len().saturating_sub(1) as u32,
                packet_id: bytes.first().copied().unwrap_or(0),
                bytes,
            })
        };
        let hash = |tick: u32| {
            Record::TickHashLow(TickHashLow {
                tick,
                world: tick as u16 ^ 0xbeef,
                players: 7,
            })
        };
        let records = vec![
            frame(0, 10, 1_000, vec![3, 1, 2], 4),
            hash(10),
            frame(1, 11, 51_000, vec![3, 9], 3),
            frame(2, 11, 51_234, vec![3, 9], 3), // microseconds: stored whole
            frame(5, 9, 40_000, vec![3], 2),     // tick and time go back, seq skips
            frame(6, 12, 90_000, vec![], 1),     // no bytes
            hash(8),                             // tick goes back
            frame(7, 13, 100_000, vec![4, 4], 9), // framing of 7 bytes
            hash(13),
        ];
        let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
        for (i, r) in records.iter().enumerate() {
            w.push(r).unwrap();
            if i % 3 == 2 {
                w.flush().unwrap();
            }
            if i == 5 {
                w.restart().unwrap();
            }
        }
        let data = w.finish().unwrap();
        let read = ReplayReader::new(data.as_slice()).unwrap().records();
        assert_eq!(read, records);
    }

    #[test]
    fn every_truncation_is_a_cut_keeping_the_whole_chunks_frames() {
        let data = sample();
        let chunks = chunks(&data);
        let header_end = chunks[0].0;
        for cut in 0..data.len() {
            let result = read_all(&data[..cut]);
            if cut < header_end {
                assert!(
                    matches!(result, Err(ReplayError::HeaderCut { .. })),
                    "{cut}: {result:?}"
                );
                continue;
            }
            let whole: Vec<_> = chunks.iter().filter(|c| c.0 + c.1 <= cut).collect();
            let frames: u64 = whole.iter().map(|c| c.2).sum();
            let boundary = whole.last().map_or(header_end, |c| c.0 + c.1) == cut;
            match result {
                Ok((_, ended)) => assert!(boundary && !ended, "{cut}"),
                Err(ReplayError::Truncated { frames: kept, .. }) => {
                    assert!(!boundary, "{cut}");
                    assert_eq!(kept, frames, "{cut}");
                }
                Err(e) => panic!("{cut}: {e}"),
            }
        }
    }

    #[test]
    fn every_changed_byte_is_damage_at_its_offset() {
        let data = sample();
        for at in 0..data.len() {
            let mut bad = data.clone();
            bad[at] ^= 0xa5;
            match read_all(&bad) {
                Ok(_) => panic!("byte {at} changed, file read as intact"),
                Err(e) => {
                    let range = e
                        .damaged_range()
                        .unwrap_or_else(|| panic!("byte {at}: {e} is not damage"));
                    assert!(range.contains(&(at as u64)), "byte {at}: {e}");
                }
            }
        }
    }

    #[test]
    fn dropped_repeated_and_moved_chunks_are_caught() {
        let data = sample();
        let c = chunks(&data);
        let piece = |i: usize| &data[c[i].0..c[i].0 + c[i].1];
        let head = &data[..c[0].0];
        let build = |order: &[usize]| {
            let mut v = head.to_vec();
            for &i in order {
                v.extend_from_slice(piece(i));
            }
            v
        };
        for order in [
            vec![0, 1, 3, 4, 5],
            vec![0, 1, 1, 2, 3, 4, 5],
            vec![0, 2, 1, 3, 4, 5],
        ] {
            let e = read_all(&build(&order)).unwrap_err();
            assert!(
                matches!(
                    e,
                    ReplayError::Corrupt {
                        damage: Damage::ChunkSequence { .. },
                        ..
                    }
                ),
                "{order:?}: {e}"
            );
        }
        // Bytes after the end, and an end record whose count is wrong.
        let mut after = data.clone();
        after.extend_from_slice(&data[c[1].0..c[1].0 + 3]);
        assert!(matches!(
            read_all(&after),
            Err(ReplayError::Corrupt {
                damage: Damage::AfterEnd,
                ..
            })
        ));
    }

    #[test]
    fn an_end_count_that_does_not_match_is_damage() {
        let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
        w.push(&Record::End(End {
            frames: 3,
            reason: "lie".into(),
        }))
        .unwrap();
        let data = w.finish().unwrap();
        assert!(matches!(
            read_all(&data),
            Err(ReplayError::Corrupt {
                damage: Damage::EndCount {
                    recorded: 3,
                    counted: 0
                },
                ..
            })
        ));
    }

    #[test]
    fn wrong_magic_and_future_version() {
        let mut data = sample();
        data[0] = b'X';
        assert!(matches!(
            ReplayReader::new(data.as_slice()),
            Err(ReplayError::BadMagic)
        ));
        let mut data = sample();
        data[8] = 9;
        assert!(matches!(
            ReplayReader::new(data.as_slice()),
            Err(ReplayError::FutureVersion { found: 9 })
        ));
    }

    /// A file of `sample`'s header, then one chunk written by `push_raw_compressed`.
    fn with_chunk(codec: u8, raw_length: u32, records: u32, body: &[u8]) -> Vec<u8> {
        let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
        w.push_raw_compressed(codec, raw_length, records, body)
            .unwrap();
        w.finish().unwrap()
    }

    fn deflated(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        Deflater::new().compress(raw, &mut out).unwrap();
        out
    }

    fn damage_of(data: &[u8]) -> Damage {
        match read_all(data) {
            Err(ReplayError::Corrupt { damage, offset, .. }) => {
                assert!(offset > 0, "{damage}");
                damage
            }
            other => panic!("not damage: {other:?}"),
        }
    }

    #[test]
    fn compressed_chunks_are_smaller_and_read_back() {
        let data = sample();
        let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
        for i in 0..2000u64 {
            w.push(&Record::TickHash(TickHash {
                tick: i as u32,
                world_hash: 7,
                players_hash: 9,
            }))
            .unwrap();
        }
        w.push(&Record::End(End {
            frames: 0,
            reason: "done".into(),
        }))
        .unwrap();
        let big = w.finish().unwrap();
        assert!(big.len() < 2000 * 5, "{} bytes", big.len());
        assert_eq!(read_all(&big).unwrap(), (2001, true));
        assert_eq!(read_all(&data).unwrap(), (11, true));
    }

    #[test]
    fn a_bomb_is_stopped_at_its_declared_length() {
        // 16 MiB of zeros in a few KiB, declared as 1 KiB, then as the most a chunk may hold.
        let body = deflated(&vec![0u8; MAX_CHUNK as usize]);
        assert!(body.len() < 100_000);
        assert_eq!(
            damage_of(&with_chunk(CODEC_DEFLATE_RESTART, 1024, 1, &body)),
            Damage::InflatesPast { declared: 1024 }
        );
        let more = deflated(&vec![0u8; MAX_CHUNK as usize + 1]);
        assert_eq!(
            damage_of(&with_chunk(CODEC_DEFLATE_RESTART, MAX_CHUNK, 1, &more)),
            Damage::InflatesPast {
                declared: MAX_CHUNK
            }
        );
        assert_eq!(
            damage_of(&with_chunk(CODEC_DEFLATE_RESTART, MAX_CHUNK + 1, 1, &body)),
            Damage::RawLength {
                raw_length: MAX_CHUNK + 1
            }
        );
    }

    #[test]
    fn hostile_compressed_chunks_are_damage_with_a_reason() {
        let raw = {
            let mut v = Vec::new();
            encode_body(
                &Record::End(End {
                    frames: 0,
                    reason: "x".repeat(100),
                }),
                "Record",
                &mut v,
            )
            .unwrap();
            v
        };
        let body = deflated(&raw);
        let n = raw.len() as u32;
        // The honest chunk reads.
        assert_eq!(
            read_all(&with_chunk(CODEC_DEFLATE_RESTART, n, 1, &body)).unwrap(),
            (1, true)
        );
        // Declared longer than it inflates.
        assert_eq!(
            damage_of(&with_chunk(CODEC_DEFLATE_RESTART, n + 1, 1, &body)),
            Damage::InflatesShort {
                declared: n + 1,
                inflated: raw.len()
            }
        );
        // Not DEFLATE at all.
        assert!(matches!(
            damage_of(&with_chunk(CODEC_DEFLATE_RESTART, n, 1, &[0xff; 40])),
            Damage::Inflate { .. }
        ));
        // Cut DEFLATE data.
        assert!(matches!(
            damage_of(&with_chunk(
                CODEC_DEFLATE_RESTART,
                n,
                1,
                &body[..body.len() / 2]
            )),
            Damage::InflatesShort { .. } | Damage::Inflate { .. }
        ));
        // A continuation with no stream, an unknown codec, a stored chunk whose lengths differ.
        assert_eq!(
            damage_of(&with_chunk(CODEC_DEFLATE, n, 1, &body)),
            Damage::NoStream
        );
        assert_eq!(
            damage_of(&with_chunk(7, n, 1, &body)),
            Damage::Codec { codec: 7 }
        );
        assert_eq!(
            damage_of(&with_chunk(CODEC_STORED, n, 1, &raw[1..])),
            Damage::RawLength { raw_length: n }
        );
        // A finished stream with bytes after it.
        let mut finished = Vec::with_capacity(1024);
        let mut c = Compress::new(Compression::new(6), false);
        c.compress_vec(&raw, &mut finished, FlushCompress::Finish)
            .unwrap();
        let mut c2 = Compress::new(Compression::new(6), false);
        let mut more = Vec::with_capacity(1024);
        c2.compress_vec(&raw, &mut more, FlushCompress::Finish)
            .unwrap();
        assert!(!finished.is_empty() && !more.is_empty());
        finished.extend_from_slice(&more);
        assert!(matches!(
            damage_of(&with_chunk(CODEC_DEFLATE_RESTART, n, 1, &finished)),
            Damage::AfterStream { .. }
        ));
    }

    #[test]
    fn resume_finds_the_next_restart_chunk() {
        let mut w = ReplayWriter::new(Vec::new(), &header()).unwrap();
        let mut restarts = Vec::new();
        for i in 0..300u32 {
            if i % 50 == 0 {
                w.restart().unwrap();
                restarts.push((w.bytes_written(), i));
            }
            w.push(&Record::TickHash(TickHash {
                tick: i,
                world_hash: u64::from(i % 7),
                players_hash: 1,
            }))
            .unwrap();
            if i % 5 == 4 {
                w.flush().unwrap();
            }
        }
        w.push(&Record::End(End {
            frames: 0,
            reason: "done".into(),
        }))
        .unwrap();
        let data = w.finish().unwrap();
        for from in (0..data.len() as u64).step_by(37) {
            let next = restarts.iter().find(|(at, _)| *at >= from);
            let found = ReplayReader::resume(io::Cursor::new(&data), from).unwrap();
            match (next, found) {
                (None, None) => {}
                (Some(&(at, tick)), Some(mut r)) => {
                    assert_eq!(r.position(), at, "from {from}");
                    let first = r.try_next().unwrap();
                    assert!(
                        matches!(first, Some(Record::TickHash(TickHash { tick: t, .. })) if t == tick),
                        "from {from}: {first:?}"
                    );
                    let rest = r.records();
                    assert!(r.stopped_early().is_none(), "{:?}", r.stopped_early());
                    assert_eq!(rest.len() as u32, 300 - tick, "from {from}");
                    assert!(r.ended());
                }
                (a, b) => panic!(
                    "from {from}: expected {a:?}, found {:?}",
                    b.map(|r| r.position())
                ),
            }
        }
    }
}
