//! Damaged files: any change to a recording is reported as damage with its offset (exit status
//! 2), never as OK; only a clean tail truncation is read as a crash cut, with exactly the frames
//! before it kept; every command reads a cut file; nothing panics.

mod common;

use common::{fixture, output, records, rewrite};
use tilegame_protocol::replay_file::{Damage, ReplayError};
use tilegame_protocol::replay_format::{End, Record};
use tilegame_replay::cmd::{self, dump::DumpOptions, verify::VerifyOptions, Tail};
use tilegame_replay::{ReplayFile, ToolError};

/// (offset, length, frames) of every chunk of a whole file.
fn chunks(data: &[u8]) -> Vec<(u64, u64, u64)> {
    let mut reader = tilegame_protocol::replay_file::ReplayReader::new(data).unwrap();
    let mut out: Vec<(u64, u64, u64)> = Vec::new();
    let mut frames_before = 0;
    while let Some(record) = reader.try_next().unwrap() {
        if out.last().is_none_or(|c| c.0 != reader.chunk_offset()) {
            if let Some(last) = out.last_mut() {
                last.1 = reader.chunk_offset() - last.0;
            }
            out.push((reader.chunk_offset(), 0, 0));
        }
        if matches!(record, Record::Frame(_)) {
            frames_before += 1;
            out.last_mut().unwrap().2 += 1;
        }
    }
    let last = out.last_mut().unwrap();
    last.1 = data.len() as u64 - last.0;
    assert_eq!(out.iter().map(|c| c.2).sum::<u64>(), frames_before);
    out
}

fn file(name: &str, data: Vec<u8>) -> ReplayFile {
    ReplayFile::from_bytes(name, data)
}

fn quiet() -> VerifyOptions {
    VerifyOptions {
        no_timing: true,
        out_dir: Some(std::env::temp_dir().join("tgr-corruption-unused")),
    }
}

fn verify(f: &ReplayFile) -> (Result<u8, ToolError>, String) {
    output(|out| cmd::verify::run(f, &quiet(), out))
}

/// Runs every command; returns their results (none may panic).
fn every_command(f: &ReplayFile) -> Vec<Result<u8, ToolError>> {
    let mut err = Vec::new();
    vec![
        output(|out| cmd::info::run(f, out)).0,
        output(|out| cmd::dump::run(f, &DumpOptions::default(), out, &mut err)).0,
        output(|out| cmd::stats::run(f, None, out, &mut err)).0,
        verify(f).0,
        output(|out| cmd::play::run(f, 30, true, out)).0,
        output(|out| cmd::diff::run(f, f, out)).0,
    ]
}

/// The container error inside a tool error.
fn container(e: &ToolError) -> Option<&ReplayError> {
    match e {
        ToolError::File { source, .. } | ToolError::Open { source, .. } => Some(source),
        ToolError::Seek {
            source: tilegame_replay::engine::SeekError::File(source),
            ..
        } => Some(source),
        _ => None,
    }
}

/// A small whole recording: the fixture's first `frames` frames (join included) and their
/// hashes and keyframes, ended cleanly.
fn small() -> Vec<u8> {
    let (header, recs) = records(&fixture().bytes().unwrap());
    let mut kept = Vec::new();
    let mut frames = 0u64;
    for r in recs {
        if let Record::Frame(_) = &r {
            if frames == 40 {
                break;
            }
            frames += 1;
        }
        if !matches!(r, Record::End(_)) {
            kept.push(r);
        }
    }
    kept.push(Record::End(End {
        frames,
        reason: "test".into(),
    }));
    rewrite(&header, &kept)
}

#[test]
fn every_changed_byte_is_damage_with_its_offset_never_ok() {
    let good = small();
    let (r, text) = verify(&file("small.tgr", good.clone()));
    assert_eq!(r.unwrap(), 0, "{text}");
    assert!(text.starts_with("OK: "), "{text}");
    for at in 0..good.len() {
        let mut data = good.clone();
        data[at] ^= 0xa5;
        let f = file("flipped.tgr", data);
        let (r, text) = verify(&f);
        let e = match r {
            Ok(code) => panic!("byte {at} changed, verify exit {code}: {text}"),
            Err(e) => e,
        };
        assert_eq!(e.exit_code(), 2, "byte {at}: {e}");
        let range = container(&e)
            .and_then(ReplayError::damaged_range)
            .unwrap_or_else(|| panic!("byte {at}: {e} names no damaged range"));
        assert!(range.contains(&(at as u64)), "byte {at}: {e}");
        assert!(
            e.to_string().contains(&format!("offset {}", range.start))
                || range.start == 0
                || range == (8..10),
            "byte {at}: {e}"
        );
    }
}

#[test]
fn every_truncation_is_a_cut_with_exactly_the_frames_before_it() {
    let good = small();
    let chunks = chunks(&good);
    let header_end = chunks[0].0;
    for cut in 0..good.len() as u64 {
        let f = file("cut.tgr", good[..cut as usize].to_vec());
        let result = cmd::verify::verify(&f, &quiet(), false);
        if cut < header_end {
            let e = result.unwrap_err();
            assert!(
                matches!(container(&e), Some(ReplayError::HeaderCut { .. })),
                "{cut}: {e}"
            );
            continue;
        }
        let report = result.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(report.exit_code(), 0, "{cut}: {}", report.render());
        let whole: Vec<_> = chunks.iter().filter(|c| c.0 + c.1 <= cut).collect();
        let frames: u64 = whole.iter().map(|c| c.2).sum();
        assert_eq!(report.frames.0 + report.frames.1, frames, "{cut}");
        let boundary = whole.last().map_or(header_end, |c| c.0 + c.1) == cut;
        match &report.tail {
            Tail::Unfinished { offset } => assert!(boundary && *offset == cut, "{cut}"),
            Tail::Cut {
                offset,
                frames: kept,
                ..
            } => {
                assert!(!boundary, "{cut}");
                assert_eq!(*kept, frames, "{cut}");
                assert_eq!(*offset, whole.last().map_or(header_end, |c| c.0 + c.1));
            }
            t => panic!("{cut}: {t:?}"),
        }
        assert!(
            report.render().contains("note: the recording was cut"),
            "{cut}"
        );
    }
}

#[test]
fn dropped_repeated_and_moved_chunks_and_bytes_after_the_end_are_damage() {
    let good = fixture().bytes().unwrap();
    let c = chunks(&good);
    let piece = |i: usize| &good[c[i].0 as usize..(c[i].0 + c[i].1) as usize];
    let build = |order: &[usize]| {
        let mut v = good[..c[0].0 as usize].to_vec();
        for &i in order {
            v.extend_from_slice(piece(i));
        }
        v
    };
    let n = c.len();
    let all: Vec<usize> = (0..n).collect();
    let mut dropped = all.clone();
    dropped.remove(n / 2);
    let mut dropped_tail = all.clone();
    dropped_tail.truncate(n - 21);
    dropped_tail.push(n - 1);
    let mut repeated = all.clone();
    repeated.insert(n / 2, n / 2);
    let mut moved = all.clone();
    moved.swap(n / 3, n / 3 + 1);
    for (name, order) in [
        ("dropped", dropped),
        ("dropped 20 before the end", dropped_tail),
        ("repeated", repeated),
        ("moved", moved),
    ] {
        let f = file("edited.tgr", build(&order));
        let (r, text) = verify(&f);
        let e = r.expect_err(&text);
        assert!(
            matches!(
                container(&e),
                Some(ReplayError::Corrupt {
                    damage: Damage::ChunkSequence { .. },
                    ..
                })
            ),
            "{name}: {e}"
        );
        // Every command that reads the whole file (play reads only up to its tick).
        for (i, r) in every_command(&f).into_iter().enumerate() {
            if i != 4 {
                assert_eq!(r.unwrap_err().exit_code(), 2, "{name}: command {i}");
            }
        }
    }
    let mut after = good.clone();
    after.extend_from_slice(b"garbage after the end");
    let f = file("after.tgr", after);
    let (r, text) = verify(&f);
    let e = r.expect_err(&text);
    assert!(
        matches!(
            container(&e),
            Some(ReplayError::Corrupt {
                damage: Damage::AfterEnd,
                ..
            })
        ),
        "{e}"
    );
    // An End record that counts other frames than the file holds.
    let (header, mut recs) = records(&good);
    if let Some(Record::End(end)) = recs.last_mut() {
        end.frames -= 20;
    }
    let f = file("count.tgr", rewrite(&header, &recs));
    let e = verify(&f).0.unwrap_err();
    assert!(
        matches!(
            container(&e),
            Some(ReplayError::Corrupt {
                damage: Damage::EndCount { .. },
                ..
            })
        ),
        "{e}"
    );
}

#[test]
fn every_command_reads_a_cut_file() {
    let good = fixture().bytes().unwrap();
    let c = chunks(&good);
    let target = c[c.len() * 2 / 3];
    let f = file("cut.tgr", good[..(target.0 + 30) as usize].to_vec());
    for r in every_command(&f) {
        assert_eq!(r.unwrap(), 0);
    }
    let (r, text) = output(|out| cmd::info::run(&f, out));
    assert_eq!(r.unwrap(), 0);
    assert!(
        text.contains(&format!(
            "ended:      cut: truncated chunk at offset {}",
            target.0
        )),
        "{text}"
    );
}

#[test]
fn wrong_magic_future_version_and_wrong_protocol_are_clear_errors() {
    let good = fixture().bytes().unwrap();
    let mut magic = good.clone();
    magic[0] = b'X';
    let mut future = good.clone();
    future[8] = 9;
    // A header from another protocol, properly sealed.
    let (mut header, recs) = records(&good);
    header.protocol_hash ^= 0xff;
    let protocol = rewrite(&header, &recs);
    for (name, data, expect) in [
        (
            "magic.tgr",
            magic,
            "not a tilegame replay (bad magic at offset 0)",
        ),
        (
            "future.tgr",
            future,
            "format version 9 is newer than this program's 6",
        ),
        ("protocol.tgr", protocol, "recorded with protocol v1 (hash"),
    ] {
        let f = file(name, data);
        for r in every_command(&f) {
            let e = r.unwrap_err();
            assert_eq!(e.exit_code(), 2, "{name}: {e}");
            assert!(e.to_string().starts_with(&format!("{name}: ")), "{e}");
            assert!(e.to_string().contains(expect), "{name}: {e}");
        }
    }
}

#[test]
fn no_flipped_bit_anywhere_makes_a_command_panic_or_pass() {
    let good = fixture().bytes().unwrap();
    for at in (0..good.len()).step_by(89) {
        for bit in [0x01u8, 0x80] {
            let mut data = good.clone();
            data[at] ^= bit;
            let f = file("fuzz.tgr", data);
            let (r, text) = verify(&f);
            assert!(r.is_err(), "byte {at} bit {bit:#x}: {text}");
            for r in every_command(&f) {
                if let Err(e) = r {
                    assert!(e.exit_code() >= 1, "{e}");
                }
            }
        }
    }
    for len in (0..good.len()).step_by(97) {
        let f = file("short.tgr", good[..len].to_vec());
        let _ = every_command(&f);
    }
}

#[test]
fn version_1_files_still_open() {
    old_format_opens("v1.tgr", 1);
}

/// Formats 2 and 3 (uncompressed and compressed chunks, full records) still open and verify.
#[test]
fn version_2_and_3_files_still_open() {
    old_format_opens("v2.tgr", 2);
    old_format_opens("v3.tgr", 3);
}

/// A fixture in an older format reads to its End, and verifies while its protocol is current.
fn old_format_opens(name: &str, version: u16) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let f = ReplayFile::open(&path).unwrap();
    let mut reader = f.open_reader().unwrap();
    assert_eq!(reader.format_version(), version);
    let recs = reader.records();
    assert!(
        reader.stopped_early().is_none(),
        "{:?}",
        reader.stopped_early()
    );
    assert!(reader.ended());
    let frames = recs
        .iter()
        .filter(|r| matches!(r, Record::Frame(_)))
        .count() as u64;
    assert!(matches!(recs.last(), Some(Record::End(e)) if e.frames == frames));
    // While the protocol it recorded is still this program's, it also verifies.
    if reader.check_protocol().is_ok() {
        let (r, text) = verify(&f);
        assert_eq!(r.unwrap(), 0, "{text}");
        let (r, text) = output(|out| cmd::info::run(&f, out));
        assert_eq!(r.unwrap(), 0, "{text}");
        assert!(text.contains(&format!("format:     v{version}")), "{text}");
    }
}

/// Chunks whose checksums are right but whose compressed bodies are hostile: a bomb, bytes that
/// are not DEFLATE, declared lengths that lie, a continuation with no stream. Every command
/// reports damage at the chunk's offset (exit 2); none panics.
#[test]
fn hostile_compressed_chunks_are_damage_at_their_offset() {
    use flate2::{Compress, Compression, FlushCompress};
    use tilegame_protocol::replay_file::{ReplayWriter, CODEC_DEFLATE, CODEC_DEFLATE_RESTART};
    let (header, recs) = records(&small());
    let mut raw = Vec::new();
    for r in &recs[..4] {
        tilegame_protocol::wire::encode_body(r, "Record", &mut raw).unwrap();
    }
    let deflate = |input: &[u8]| {
        let mut out = Vec::with_capacity(input.len() + 1024);
        Compress::new(Compression::new(6), false)
            .compress_vec(input, &mut out, FlushCompress::Sync)
            .unwrap();
        out
    };
    let good = deflate(&raw);
    let bomb = deflate(&vec![0u8; 8 << 20]);
    let n = raw.len() as u32;
    let cases: [(&str, u8, u32, Vec<u8>, &str); 5] = [
        (
            "bomb",
            CODEC_DEFLATE_RESTART,
            n,
            bomb,
            "inflates past its declared",
        ),
        (
            "not-deflate",
            CODEC_DEFLATE_RESTART,
            n,
            vec![0xff; 64],
            "does not inflate",
        ),
        (
            "declared-long",
            CODEC_DEFLATE_RESTART,
            n + 10,
            good.clone(),
            "inflates to",
        ),
        (
            "declared-short",
            CODEC_DEFLATE_RESTART,
            n - 10,
            good.clone(),
            "inflates past",
        ),
        (
            "no-stream",
            CODEC_DEFLATE,
            n,
            good.clone(),
            "no earlier chunk started",
        ),
    ];
    for (name, codec, raw_length, body, expect) in cases {
        let mut w = ReplayWriter::new(Vec::new(), &header).unwrap();
        // Two honest chunks, then the hostile one (first, when it continues a stream: after
        // honest chunks a stream is open, and fresh DEFLATE data continues it correctly).
        let honest = if codec == CODEC_DEFLATE { 0 } else { 2 };
        for r in &recs[..honest] {
            w.push(r).unwrap();
            w.flush().unwrap();
        }
        let offset = w.bytes_written();
        w.push_raw_compressed(codec, raw_length, 4, &body).unwrap();
        let f = file(name, w.finish().unwrap());
        for (i, r) in every_command(&f).into_iter().enumerate() {
            let e = match r {
                Ok(code) => panic!("{name}: command {i} exited {code}"),
                Err(e) => e,
            };
            assert_eq!(e.exit_code(), 2, "{name}: {e}");
            let range = container(&e)
                .and_then(ReplayError::damaged_range)
                .unwrap_or_else(|| panic!("{name}: {e} names no damaged range"));
            assert_eq!(range.start, offset, "{name}: {e}");
            assert!(e.to_string().contains(expect), "{name}: {e}");
            assert!(
                e.to_string().contains(&format!("offset {offset}")),
                "{name}: {e}"
            );
        }
    }
}
