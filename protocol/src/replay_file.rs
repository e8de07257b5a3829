//! The replay-file container: a sealed header, then checksummed, numbered chunks of records.
//!
//! Every record type is generated from `spec/replay.ron`; this module only frames them. Format
//! 2 (written) makes any change to a file visible: the header carries a CRC-32 seal, every chunk
//! header carries its sequence number and a CRC-32 of itself (length included), every chunk body
//! a CRC-32, and the End record's frame count is checked against the frames read, with nothing
//! allowed after it. The only damage read as "the recorder was killed" is a clean tail
//! truncation: the file ends inside its last chunk (or exactly between two chunks). Format 1
//! files (no seal, no sequence numbers) are still read.
//!
//! The reader streams: it holds one chunk body (at most [`MAX_CHUNK`], and never more than the
//! bytes actually present) and decodes one record at a time, so reading any file costs at most
//! [`READ_BUDGET`] bytes whatever it claims. Nothing here panics on a hostile file.

use std::io::{self, Read, Write};

use crate::replay_format::{ChunkHeader, ChunkHeaderV1, FileHeader, FileHeaderSeal, Frame, Record};
use crate::wire::{decode_body, encode_body};

/// The format version this code writes.
pub const FORMAT_VERSION: u16 = 2;

/// The oldest format version this code reads.
pub const OLDEST_FORMAT_VERSION: u16 = 1;

/// Largest chunk body accepted (16 MiB).
pub const MAX_CHUNK: u32 = 16 << 20;

/// Size of an encoded chunk header (format 2).
pub const CHUNK_HEADER_LEN: usize = 22;

/// Size of an encoded chunk header in format 1.
pub const CHUNK_HEADER_LEN_V1: usize = 14;

/// Size of the header seal (format 2).
pub const SEAL_LEN: usize = 4;

/// Largest possible encoded [`FileHeader`] (its strings at their maximum lengths).
pub const MAX_FILE_HEADER: usize = 8 + 2 + 4 + 8 + 1 + (1 + 64) + (1 + 16) + 8 + 5;

/// The most memory reading any file may take: one chunk body, plus one record decoded from it
/// (a frame of at most 256 KiB, or a keyframe's compressed bytes and their bounded inflation).
pub const READ_BUDGET: usize = 64 << 20;

/// Bytes of a chunk header covered by its own CRC (everything before `header_crc32`).
const CHUNK_HEADER_SIGNED: usize = CHUNK_HEADER_LEN - 4;

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

/// Writes a replay file (format [`FORMAT_VERSION`]).
pub struct ReplayWriter<W: Write> {
    out: W,
    chunk: Vec<u8>,
    records: u32,
    seal: u32,
    chunk_seq: u32,
    bytes_written: u64,
}

impl<W: Write> ReplayWriter<W> {
    /// Writes the header and its seal and returns a writer for records.
    pub fn new(mut out: W, header: &FileHeader) -> Result<Self, ReplayError> {
        let mut header = header.clone();
        header.format_version = FORMAT_VERSION;
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
            seal,
            chunk_seq: 0,
            bytes_written: bytes.len() as u64,
        })
    }

    /// Appends a record to the current chunk (written on the next [`flush`](Self::flush)).
    pub fn push(&mut self, record: &Record) -> Result<(), ReplayError> {
        encode_body(record, "Record", &mut self.chunk).map_err(encode_error)?;
        self.records += 1;
        if self.chunk.len() as u32 >= MAX_CHUNK / 2 {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the current chunk (if any) and flushes it to the OS.
    pub fn flush(&mut self) -> Result<(), ReplayError> {
        if self.records == 0 {
            return Ok(());
        }
        self.flush_with(self.records)
    }

    /// Writes a chunk of arbitrary bytes that claims to hold `records` records, with correct
    /// checksums and sequence number (after flushing any pending records). For fuzzing and
    /// damage tests: it lets hostile bytes reach the record decoder past the checksums.
    pub fn push_raw_chunk(&mut self, records: u32, body: &[u8]) -> Result<(), ReplayError> {
        self.flush()?;
        self.chunk.extend_from_slice(body);
        self.flush_with(records)
    }

    /// Writes the current chunk bytes as a chunk claiming `records` records.
    fn flush_with(&mut self, records: u32) -> Result<(), ReplayError> {
        let mut header = ChunkHeader {
            seq: self.chunk_seq,
            length: self.chunk.len() as u32,
            records,
            crc32: crc32fast::hash(&self.chunk),
            header_crc32: 0,
        };
        let mut head = Vec::with_capacity(CHUNK_HEADER_LEN);
        encode_body(&header, "ChunkHeader", &mut head).map_err(encode_error)?;
        header.header_crc32 = chunk_header_crc(self.seal, &head[..CHUNK_HEADER_SIGNED]);
        head.clear();
        encode_body(&header, "ChunkHeader", &mut head).map_err(encode_error)?;
        self.out.write_all(&head)?;
        self.out.write_all(&self.chunk)?;
        self.out.flush()?;
        self.bytes_written += (head.len() + self.chunk.len()) as u64;
        self.chunk.clear();
        self.records = 0;
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

/// The CRC of a chunk header's first 18 bytes, chained from the file header's seal.
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
    chunk: Vec<u8>,
    chunk_pos: usize,
    chunk_left: u32,
    chunk_index: u32,
    chunk_offset: u64,
    chunk_len: u64,
    next_chunk_seq: u32,
    frames: u64,
    ended: bool,
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
            chunk_pos: 0,
            chunk_left: 0,
            chunk_index: 0,
            chunk_offset: end as u64,
            chunk_len: 0,
            next_chunk_seq: 0,
            frames: 0,
            ended: false,
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

    /// Reads the next chunk's header and body; `false` at a clean end of the input.
    fn next_chunk(&mut self) -> Result<bool, ReplayError> {
        let v2 = self.header.format_version >= 2;
        let head_len = if v2 {
            CHUNK_HEADER_LEN
        } else {
            CHUNK_HEADER_LEN_V1
        };
        let offset = self.pos;
        let mut head = Vec::with_capacity(head_len);
        read_up_to(&mut self.input, &mut head, head_len)?;
        self.pos += head.len() as u64;
        if head.is_empty() {
            return Ok(false);
        }
        if self.ended && v2 {
            return Err(self.corrupt(offset, head.len() as u64, Damage::AfterEnd));
        }
        if head.len() < head_len {
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
                    cut: Cut::ChunkHeader { have: head.len() },
                });
            }
            return Err(self.corrupt(
                offset,
                head.len() as u64,
                Damage::BadTail {
                    have: head.len(),
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
        let (length, records, crc) = if v2 {
            let stored = u32::from_le_bytes([head[18], head[19], head[20], head[21]]);
            let computed = chunk_header_crc(self.seal, &head[..CHUNK_HEADER_SIGNED]);
            if stored != computed {
                return Err(self.corrupt(
                    offset,
                    head_len as u64,
                    Damage::ChunkHeaderChecksum { stored, computed },
                ));
            }
            let h: ChunkHeader = decode_body("ChunkHeader", &head).map_err(|_| bad_magic())?;
            if h.seq != self.next_chunk_seq {
                return Err(self.corrupt(
                    offset,
                    head_len as u64,
                    Damage::ChunkSequence {
                        expected: self.next_chunk_seq,
                        found: h.seq,
                    },
                ));
            }
            if h.records == 0 {
                return Err(self.corrupt(offset, head_len as u64, Damage::NoRecords));
            }
            if h.length == 0 || h.length > MAX_CHUNK {
                return Err(self.corrupt(
                    offset,
                    head_len as u64,
                    Damage::ChunkLength { length: h.length },
                ));
            }
            (h.length, h.records, h.crc32)
        } else {
            let h: ChunkHeaderV1 = decode_body("ChunkHeaderV1", &head).map_err(|_| bad_magic())?;
            if h.length > MAX_CHUNK {
                return Err(self.corrupt(
                    offset,
                    head_len as u64,
                    Damage::ChunkLength { length: h.length },
                ));
            }
            (h.length, h.records, h.crc32)
        };
        // Grows only as bytes arrive: a crafted length costs no more than the bytes present.
        self.chunk.clear();
        self.chunk.shrink_to(1 << 20);
        (&mut self.input)
            .take(u64::from(length))
            .read_to_end(&mut self.chunk)?;
        self.pos += self.chunk.len() as u64;
        if self.chunk.len() < length as usize {
            return Err(ReplayError::Truncated {
                offset,
                frames: self.frames,
                cut: Cut::Body {
                    have: self.chunk.len(),
                    declared: length,
                },
            });
        }
        let computed = crc32fast::hash(&self.chunk);
        if computed != crc {
            return Err(self.corrupt(
                offset,
                (head_len + length as usize) as u64,
                Damage::BodyChecksum {
                    stored: crc,
                    computed,
                },
            ));
        }
        self.chunk_offset = offset;
        self.chunk_len = (head_len + length as usize) as u64;
        self.chunk_pos = 0;
        self.chunk_left = records;
        self.chunk_index = 0;
        self.next_chunk_seq = self.next_chunk_seq.wrapping_add(1);
        Ok(true)
    }

    /// Decodes the next record of the current chunk.
    fn next_record(&mut self) -> Result<Record, ReplayError> {
        let v2 = self.header.format_version >= 2;
        let body = &self.chunk[self.chunk_pos..];
        let mut cursor = io::Cursor::new(body);
        let at = self.chunk_pos as u64;
        let record =
            <Record as binrw::BinRead>::read_options(&mut cursor, binrw::Endian::Little, ())
                .map_err(|e| {
                    self.corrupt(
                        self.chunk_offset,
                        self.chunk_len,
                        Damage::Record {
                            index: self.chunk_index,
                            at,
                            message: crate::wire::explain(&e, body.len()).2,
                        },
                    )
                })?;
        self.chunk_pos += cursor.position() as usize;
        self.chunk_left -= 1;
        self.chunk_index += 1;
        if self.chunk_left == 0 && self.chunk_pos != self.chunk.len() {
            return Err(self.corrupt(
                self.chunk_offset,
                self.chunk_len,
                Damage::Leftover {
                    bytes: self.chunk.len() - self.chunk_pos,
                },
            ));
        }
        match &record {
            Record::Frame(Frame { .. }) => self.frames += 1,
            Record::End(e) if v2 => {
                if self.chunk_left > 0 {
                    return Err(self.corrupt(
                        self.chunk_offset,
                        self.chunk_len,
                        Damage::RecordsAfterEnd {
                            records: self.chunk_left,
                        },
                    ));
                }
                if e.frames != self.frames {
                    return Err(self.corrupt(
                        self.chunk_offset,
                        self.chunk_len,
                        Damage::EndCount {
                            recorded: e.frames,
                            counted: self.frames,
                        },
                    ));
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
        if self.finished {
            return Ok(None);
        }
        let result = loop {
            if self.chunk_left > 0 {
                break self.next_record().map(Some);
            }
            match self.next_chunk() {
                Ok(true) => {}
                Ok(false) => break Ok(None),
                Err(e) => break Err(e),
            }
        };
        if !matches!(result, Ok(Some(_))) {
            self.finished = true;
        }
        result
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
}
