//! The replay-file reader, through its public API only.
//!
//! Raw mode reads the input as a whole file. Framed mode wraps the input into a valid file (the
//! header from [`ReplayWriter`], then chunks whose CRC-32 is right) so that the fuzzer's bytes
//! reach the record decoder instead of stopping at the checksum; compressed framed mode does
//! the same with chunks that declare their codec and inflated length, so the bytes reach the
//! inflater (bombs, broken DEFLATE, lengths that lie). Either way, every record that is read
//! must survive being written again with the writer and read back.

use tilegame_protocol::replay_file::{
    written_format, ReplayReader, ReplayWriter, FORMAT_VERSION, MAX_CHUNK,
};
use tilegame_protocol::replay_format::{End, FileHeader, Record, Recorder};
use tilegame_protocol::{v1, PROTOCOL_VERSION};

/// Most records read from one input.
pub const MAX_RECORDS: usize = 4096;

/// The header of every framed-mode file: this program's format and protocol.
pub fn header() -> FileHeader {
    FileHeader {
        format_version: FORMAT_VERSION,
        protocol_version: PROTOCOL_VERSION,
        protocol_hash: v1::SPEC_HASH,
        recorder: Recorder::Client,
        software: "tilegame-fuzz".into(),
        player_name: "fuzz".into(),
        start_unix_ms: 0,
        keyframe_interval: 1200,
    }
}

/// Framed mode's file: the writer's header, then the input cut into chunks, each
/// `[records: u8][length: u16 LE][length bytes]` (the last one takes what is left), written with
/// correct checksums and sequence numbers by [`ReplayWriter::push_raw_chunk`].
pub fn frame(mut input: &[u8]) -> Vec<u8> {
    let mut writer =
        ReplayWriter::new(Vec::new(), &header()).expect("writing a header to memory cannot fail");
    while let [records, lo, hi, rest @ ..] = input {
        let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (body, tail) = rest.split_at(n);
        writer
            .push_raw_chunk(u32::from(*records), body)
            .expect("writing to memory cannot fail");
        input = tail;
    }
    writer.finish().expect("writing to memory cannot fail")
}

/// Compressed framed mode's file: the writer's header, then the input cut into chunks, each
/// `[records: u8][codec: u8][raw_length: u24 LE][length: u16 LE][length bytes]`, written with
/// correct checksums and sequence numbers by [`ReplayWriter::push_raw_compressed`] (a declared
/// inflated length up to 16 MiB: bombs are in reach).
pub fn frame_compressed(mut input: &[u8]) -> Vec<u8> {
    let mut writer =
        ReplayWriter::new(Vec::new(), &header()).expect("writing a header to memory cannot fail");
    while let [records, codec, r0, r1, r2, lo, hi, rest @ ..] = input {
        let raw_length = u32::from_le_bytes([*r0, *r1, *r2, 0]).min(MAX_CHUNK);
        let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (body, tail) = rest.split_at(n);
        writer
            .push_raw_compressed(*codec, raw_length, u32::from(*records), body)
            .expect("writing to memory cannot fail");
        input = tail;
    }
    writer.finish().expect("writing to memory cannot fail")
}

/// What a rewrite in the current format writes for a record read from a file of format
/// `version`, after `frames` Frame records: the record itself, except that format 1 never checked
/// its End record, so an upgrade writes the count the file really holds (the current format's
/// reader refuses an End that miscounts).
fn rewritten(record: Record, version: u16, frames: u64) -> Record {
    match record {
        Record::End(end) if version < 2 => Record::End(End { frames, ..end }),
        record => record,
    }
}

/// Reads every record of `file`, writing each again; then checks that the copy reads back the
/// same records (a format-1 file's End record with its true count, and nothing after it: format 1
/// checked neither).
pub fn read_and_rewrite(file: &[u8]) {
    let Ok(mut reader) = ReplayReader::new(file) else {
        return;
    };
    let _ = reader.check_protocol();
    let version = reader.header().format_version;
    let mut writer =
        ReplayWriter::new(Vec::new(), reader.header()).expect("a read header re-encodes");
    let mut count = 0;
    let mut frames = 0u64;
    let mut ended = false;
    while let Ok(Some(record)) = reader.try_next() {
        let record = rewritten(record, version, frames);
        frames += u64::from(matches!(record, Record::Frame(_)));
        ended = matches!(record, Record::End(_));
        writer
            .push(&record)
            .unwrap_or_else(|e| panic!("read record {record:?} does not re-encode: {e}"));
        count += 1;
        if count == MAX_RECORDS || ended {
            break;
        }
    }
    let copy = writer.finish().expect("writing to memory cannot fail");

    // Second pass, in lockstep, so that at most one chunk of each file is in memory.
    let mut original = ReplayReader::new(file).expect("read once");
    let mut again = ReplayReader::new(copy.as_slice()).expect("the copy's header reads");
    // The writer writes the current container: a format-1 to 3 file comes back as format 4 (its
    // tick hashes keep their definition, see `written_format`) with everything else equal.
    let mut expected = original.header().clone();
    expected.format_version = written_format(expected.format_version);
    assert_eq!(again.header(), &expected);
    let mut frames = 0u64;
    for i in 0..count {
        let a = original.try_next().ok().flatten().expect("read once");
        let a = rewritten(a, version, frames);
        frames += u64::from(matches!(a, Record::Frame(_)));
        let b = again
            .try_next()
            .unwrap_or_else(|e| panic!("record {i} of the copy: {e}"));
        assert_eq!(b.as_ref(), Some(&a), "record {i} differs after a rewrite");
    }
    if count < MAX_RECORDS || ended {
        assert!(
            matches!(again.try_next(), Ok(None)),
            "the copy has more records"
        );
    }
}

/// First byte: bit 0 picks framed (1) or raw (0) mode, and in framed mode bit 1 picks
/// compressed chunks (1) or stored ones (0); the rest is the input.
pub fn fuzz_replay_reader(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        3 => read_and_rewrite(&frame_compressed(rest)),
        1 => read_and_rewrite(&frame(rest)),
        _ => read_and_rewrite(rest),
    }
}
