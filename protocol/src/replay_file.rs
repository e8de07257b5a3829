//! The replay-file container: a header, then checksummed chunks of records.
//!
//! Every record type is generated from `spec/replay.ron`; this module only frames them. A chunk
//! is a `ChunkHeader` (magic `CK`, length, record count, CRC-32) followed by its records. The
//! writer flushes a chunk to the OS whenever asked (the recorder does so after every frame), so a
//! process killed mid-recording loses at most what it had not flushed, and the reader stops
//! cleanly at the first torn or corrupt chunk, saying where and why. Nothing here panics on a
//! hostile file, and every length is bounded before anything is allocated.

use std::io::{self, Read, Write};

use crate::replay_format::{ChunkHeader, FileHeader, Record};
use crate::wire::{decode_body, encode_body};

/// The format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// Largest chunk body accepted (16 MiB).
pub const MAX_CHUNK: u32 = 16 << 20;

/// Size of an encoded chunk header.
pub const CHUNK_HEADER_LEN: usize = 14;

/// Why a replay file cannot be read (further).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be read or written.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with the replay magic.
    #[error("not a tilegame replay (bad magic at offset 0)")]
    BadMagic,
    /// The header is malformed.
    #[error("malformed file header: {0}")]
    Header(String),
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
    /// A chunk ends before its declared length (a torn write).
    #[error("truncated chunk at offset {offset}: {message}")]
    Truncated {
        /// File offset of the chunk.
        offset: u64,
        /// Detail.
        message: String,
    },
    /// A chunk's checksum or structure is wrong.
    #[error("corrupt chunk at offset {offset}: {message}")]
    Corrupt {
        /// File offset of the chunk.
        offset: u64,
        /// Detail.
        message: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode a record: {0}")]
    Encode(String),
}

/// Writes a replay file.
pub struct ReplayWriter<W: Write> {
    out: W,
    chunk: Vec<u8>,
    records: u32,
    bytes_written: u64,
}

impl<W: Write> ReplayWriter<W> {
    /// Writes the header and returns a writer for records.
    pub fn new(mut out: W, header: &FileHeader) -> Result<Self, ReplayError> {
        let mut bytes = Vec::with_capacity(128);
        encode_body(header, "FileHeader", &mut bytes)
            .map_err(|e| ReplayError::Encode(e.to_string()))?;
        out.write_all(&bytes)?;
        out.flush()?;
        Ok(ReplayWriter {
            out,
            chunk: Vec::with_capacity(4096),
            records: 0,
            bytes_written: bytes.len() as u64,
        })
    }

    /// Appends a record to the current chunk (written on the next [`flush`](Self::flush)).
    pub fn push(&mut self, record: &Record) -> Result<(), ReplayError> {
        encode_body(record, "Record", &mut self.chunk)
            .map_err(|e| ReplayError::Encode(e.to_string()))?;
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
        let header = ChunkHeader {
            length: self.chunk.len() as u32,
            records: self.records,
            crc32: crc32fast::hash(&self.chunk),
        };
        let mut head = Vec::with_capacity(CHUNK_HEADER_LEN);
        encode_body(&header, "ChunkHeader", &mut head)
            .map_err(|e| ReplayError::Encode(e.to_string()))?;
        self.out.write_all(&head)?;
        self.out.write_all(&self.chunk)?;
        self.out.flush()?;
        self.bytes_written += (head.len() + self.chunk.len()) as u64;
        self.chunk.clear();
        self.records = 0;
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

/// Reads a replay file from bytes in memory.
#[derive(Debug)]
pub struct ReplayReader<'a> {
    data: &'a [u8],
    header: FileHeader,
    pos: usize,
    pending: std::vec::IntoIter<Record>,
    chunk_offset: u64,
    error: Option<String>,
}

/// The header's fixed part, read to give precise errors before the full decode.
fn check_header_start(data: &[u8]) -> Result<(), ReplayError> {
    if data.len() < 8 || &data[..8] != b"TGREPLAY" {
        return Err(ReplayError::BadMagic);
    }
    if let Some(v) = data.get(8..10) {
        let found = u16::from_le_bytes([v[0], v[1]]);
        if found > FORMAT_VERSION {
            return Err(ReplayError::FutureVersion { found });
        }
    }
    Ok(())
}

impl<'a> ReplayReader<'a> {
    /// Parses the header; records are read by iterating.
    pub fn new(data: &'a [u8]) -> Result<Self, ReplayError> {
        check_header_start(data)?;
        let mut cursor = io::Cursor::new(data);
        let header =
            <FileHeader as binrw::BinRead>::read_options(&mut cursor, binrw::Endian::Little, ())
                .map_err(|e| ReplayError::Header(crate::wire::explain(&e, data.len()).2))?;
        if header.format_version == 0 {
            return Err(ReplayError::Header("format version 0 is invalid".into()));
        }
        let pos = cursor.position() as usize;
        Ok(ReplayReader {
            data,
            header,
            pos,
            pending: Vec::new().into_iter(),
            chunk_offset: pos as u64,
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

    /// Offset of the chunk the last record came from.
    pub fn chunk_offset(&self) -> u64 {
        self.chunk_offset
    }

    /// Bytes consumed so far (for progress).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Total size of the file.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the file holds only a header.
    pub fn is_empty(&self) -> bool {
        self.data.len() <= self.pos && self.pending.len() == 0
    }

    /// Why reading stopped before the end, if it did (a torn or corrupt chunk).
    pub fn stopped_early(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The next chunk's records, or the reason the file cannot be read further.
    fn next_chunk(&mut self) -> Result<Option<Vec<Record>>, ReplayError> {
        let offset = self.pos as u64;
        let rest = &self.data[self.pos..];
        if rest.is_empty() {
            return Ok(None);
        }
        if rest.len() < CHUNK_HEADER_LEN {
            return Err(ReplayError::Truncated {
                offset,
                message: format!("{} bytes of a 14-byte chunk header", rest.len()),
            });
        }
        let header: ChunkHeader =
            decode_body("ChunkHeader", &rest[..CHUNK_HEADER_LEN]).map_err(|e| {
                ReplayError::Corrupt {
                    offset,
                    message: e.to_string(),
                }
            })?;
        if header.length > MAX_CHUNK {
            return Err(ReplayError::Corrupt {
                offset,
                message: format!("chunk length {} exceeds {MAX_CHUNK}", header.length),
            });
        }
        let body_end = CHUNK_HEADER_LEN + header.length as usize;
        let Some(body) = rest.get(CHUNK_HEADER_LEN..body_end) else {
            return Err(ReplayError::Truncated {
                offset,
                message: format!(
                    "chunk declares {} bytes, {} present",
                    header.length,
                    rest.len() - CHUNK_HEADER_LEN
                ),
            });
        };
        let crc = crc32fast::hash(body);
        if crc != header.crc32 {
            return Err(ReplayError::Corrupt {
                offset,
                message: format!("checksum {crc:#010x} does not match {:#010x}", header.crc32),
            });
        }
        let mut cursor = io::Cursor::new(body);
        let mut records = Vec::with_capacity((header.records as usize).min(body.len()));
        for i in 0..header.records {
            let at = cursor.position();
            let record =
                <Record as binrw::BinRead>::read_options(&mut cursor, binrw::Endian::Little, ())
                    .map_err(|e| ReplayError::Corrupt {
                        offset,
                        message: format!(
                            "record {i} at byte {at} of the chunk: {}",
                            crate::wire::explain(&e, body.len()).2
                        ),
                    })?;
            records.push(record);
        }
        if cursor.position() as usize != body.len() {
            return Err(ReplayError::Corrupt {
                offset,
                message: "bytes left over after the chunk's records".into(),
            });
        }
        self.chunk_offset = offset;
        self.pos += body_end;
        Ok(Some(records))
    }

    /// Reads every remaining record; an error ends the list (see [`Self::stopped_early`]).
    pub fn records(&mut self) -> Vec<Record> {
        self.by_ref().collect()
    }

    /// Like iterating, but a torn or corrupt chunk is returned as an error.
    pub fn try_next(&mut self) -> Result<Option<Record>, ReplayError> {
        loop {
            if let Some(r) = self.pending.next() {
                return Ok(Some(r));
            }
            match self.next_chunk()? {
                Some(records) => self.pending = records.into_iter(),
                None => return Ok(None),
            }
        }
    }
}

impl Iterator for ReplayReader<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        if self.error.is_some() {
            return None;
        }
        match self.try_next() {
            Ok(r) => r,
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }
}

/// Reads a whole file into memory, bounded by `max_bytes`.
pub fn read_file(path: &std::path::Path, max_bytes: u64) -> Result<Vec<u8>, ReplayError> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > max_bytes {
        return Err(ReplayError::Header(format!(
            "file is {len} bytes, more than the limit of {max_bytes}"
        )));
    }
    let mut data = Vec::with_capacity(len as usize);
    file.take(max_bytes).read_to_end(&mut data)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay_format::{ConnState, End, Frame, FrameDirection, Recorder, TickHash};

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
                state: ConnState::Play,
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

    #[test]
    fn round_trip() {
        let data = sample();
        let mut r = ReplayReader::new(&data).unwrap();
        r.check_protocol().unwrap();
        assert_eq!(r.records().len(), 11);
        assert!(r.stopped_early().is_none());
    }

    #[test]
    fn truncation_keeps_every_whole_chunk() {
        let data = sample();
        let full = ReplayReader::new(&data).unwrap().records().len();
        for cut in (60..data.len()).step_by(7) {
            let mut r = ReplayReader::new(&data[..cut]).unwrap();
            let n = r.records().len();
            assert!(n < full || cut == data.len());
            assert!(n.is_multiple_of(2), "whole chunks only");
        }
    }

    #[test]
    fn flipped_bytes_are_detected_with_an_offset() {
        let mut data = sample();
        let last = data.len() - 3;
        data[last] ^= 0x40;
        let mut r = ReplayReader::new(&data).unwrap();
        let n = r.records().len();
        assert_eq!(n, 10);
        assert!(
            r.stopped_early().unwrap().contains("checksum"),
            "{:?}",
            r.stopped_early()
        );
    }

    #[test]
    fn wrong_magic_and_future_version() {
        let mut data = sample();
        data[0] = b'X';
        assert!(matches!(
            ReplayReader::new(&data),
            Err(ReplayError::BadMagic)
        ));
        let mut data = sample();
        data[8] = 9;
        assert!(matches!(
            ReplayReader::new(&data),
            Err(ReplayError::FutureVersion { found: 9 })
        ));
    }
}
