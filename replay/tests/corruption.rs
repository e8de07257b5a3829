//! Damaged files: every command answers with a clear error naming the offset and reason (exit
//! status 2), a torn end is read up to the last whole chunk, and nothing panics.

mod common;

use common::{fixture, output};
use tilegame_protocol::replay_file::{ReplayReader, CHUNK_HEADER_LEN};
use tilegame_replay::cmd::{self, dump::DumpOptions, verify::VerifyOptions, Tail};
use tilegame_replay::{ReplayFile, ToolError};

/// Offsets of every chunk in a whole file.
fn chunks(data: &[u8]) -> Vec<usize> {
    let mut at = ReplayReader::new(data).unwrap().position();
    let mut offsets = Vec::new();
    while at + CHUNK_HEADER_LEN <= data.len() {
        offsets.push(at);
        let len = u32::from_le_bytes(data[at + 2..at + 6].try_into().unwrap()) as usize;
        at += CHUNK_HEADER_LEN + len;
    }
    assert_eq!(at, data.len());
    offsets
}

fn file(name: &str, data: Vec<u8>) -> ReplayFile {
    ReplayFile::from_bytes(name, data)
}

fn verify(f: &ReplayFile) -> (Result<u8, ToolError>, String) {
    let options = VerifyOptions {
        no_timing: true,
        out_dir: Some(std::env::temp_dir().join("tgr-corruption-unused")),
    };
    output(|out| cmd::verify::run(f, &options, out))
}

/// Runs every command; returns their errors (none may panic).
fn every_command(f: &ReplayFile) -> Vec<Result<u8, ToolError>> {
    let mut err = Vec::new();
    vec![
        output(|out| cmd::info::run(f, out)).0,
        output(|out| cmd::dump::run(f, &DumpOptions::default(), out, &mut err)).0,
        output(|out| cmd::stats::run(f, out, &mut err)).0,
        verify(f).0,
        output(|out| cmd::play::run(f, 30, true, out)).0,
        output(|out| cmd::diff::run(f, f, out)).0,
    ]
}

#[test]
fn a_flipped_byte_in_a_chunk_stops_verify_naming_the_offset() {
    let good = fixture().data;
    let offsets = chunks(&good);
    let target = offsets[offsets.len() / 2];
    let mut data = good.clone();
    data[target + CHUNK_HEADER_LEN + 1] ^= 0x20;
    let f = file("flipped.tgr", data);
    let (r, _) = verify(&f);
    let e = r.unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("corrupt chunk at offset {target}: checksum")),
        "{msg}"
    );
    for r in every_command(&f) {
        if let Err(e) = r {
            assert_eq!(e.exit_code(), 2, "{e}");
        }
    }
}

#[test]
fn a_truncated_file_is_read_to_its_last_whole_chunk() {
    let good = fixture().data;
    let offsets = chunks(&good);
    let target = offsets[offsets.len() * 2 / 3];
    let data = good[..target + CHUNK_HEADER_LEN + 2].to_vec();
    let f = file("cut.tgr", data);
    // Hashes recorded before the cut.
    let before = common::records(&good[..target])
        .1
        .iter()
        .filter(|r| matches!(r, tilegame_protocol::replay_format::Record::TickHash(_)))
        .count() as u64;
    let report = cmd::verify::verify(&f, &VerifyOptions::default(), false).unwrap();
    assert_eq!(report.verified, before);
    assert!(report.divergence.is_none());
    assert!(
        matches!(&report.tail, Tail::Cut { message } if message.contains(&format!("truncated chunk at offset {target}"))),
        "{:?}",
        report.tail
    );
    let (r, text) = verify(&f);
    assert_eq!(r.unwrap(), 0);
    assert!(
        text.contains("note: the recording was cut: truncated chunk at offset"),
        "{text}"
    );
    let (r, text) = output(|out| cmd::info::run(&f, out));
    assert_eq!(r.unwrap(), 0);
    assert!(
        text.contains(&format!(
            "ended:      cut: truncated chunk at offset {target}"
        )),
        "{text}"
    );
    // Cut exactly between chunks: whole, but without an end record.
    let f = file("between.tgr", good[..target].to_vec());
    let (r, text) = output(|out| cmd::info::run(&f, out));
    assert_eq!(r.unwrap(), 0);
    assert!(
        text.contains(&format!(
            "cut: no end record; the last whole chunk ends at offset {target}"
        )),
        "{text}"
    );
}

#[test]
fn wrong_magic_future_version_and_wrong_protocol_are_clear_errors() {
    let good = fixture().data;
    let mut magic = good.clone();
    magic[0] = b'X';
    let mut future = good.clone();
    future[8] = 9;
    let mut protocol = good.clone();
    protocol[14] ^= 0xff; // protocol_hash: after magic (8), format (2) and version (4)
    for (name, data, expect) in [
        (
            "magic.tgr",
            magic,
            "not a tilegame replay (bad magic at offset 0)",
        ),
        (
            "future.tgr",
            future,
            "format version 9 is newer than this program's 1",
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
fn no_flipped_byte_anywhere_makes_a_command_panic() {
    let good = fixture().data;
    for at in (0..good.len()).step_by(89) {
        for bit in [0x01u8, 0x80] {
            let mut data = good.clone();
            data[at] ^= bit;
            let f = file("fuzz.tgr", data);
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
