//! The generated Wireshark dissector on real captures: recordings exported with `export --pcap`
//! (the committed fixture, and a live session recorded for this test), read by `tshark` with
//! the dissector generated from `protocol/spec/tilegame.ron`.
//!
//! Every frame of the recording must come out of tshark named exactly as the replay crate
//! decodes it (same packets, same order), with no malformed frame and no Lua error. The
//! captures are exported both one frame per segment and as a coalesced stream cut into small
//! segments (several frames per segment, frames across segments), and read both in one pass
//! and in two (`-2`, which re-dissects every frame as filters and the GUI do).
//!
//! tshark is required: `.ci/run` installs it, and this test fails (never skips) without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::scratch;
use tilegame_protocol::replay_format::Record;
use tilegame_replay::cmd::export::{export_pcap, ExportOptions};
use tilegame_replay::ReplayFile;

/// The tshark binary; panics with how to install it when it is missing.
fn tshark() -> &'static str {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "tshark is not installed; this test needs it \
         (DEBIAN_FRONTEND=noninteractive apt-get install -y tshark, as .ci/run does)"
    );
    "tshark"
}

/// The dissector generated from the real spec, written into `dir`.
fn dissector(dir: &Path) -> PathBuf {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../protocol/spec/tilegame.ron");
    let spec = tilegame_codegen::load(&spec_path).unwrap_or_else(|e| panic!("{e}"));
    let lua =
        tilegame_codegen::dissector::generate(&spec, tilegame_codegen::dissector::DEFAULT_PORT);
    let path = dir.join("tilegame.lua");
    std::fs::write(&path, lua).expect("write the dissector");
    path
}

/// The packet name of every frame of a recording, in order, as the replay crate decodes them.
fn recorded_names(file: &ReplayFile) -> Vec<String> {
    let mut reader = file.reader(true).expect("a readable recording");
    let mut names = Vec::new();
    while let Some(record) = reader.try_next().expect("whole chunks") {
        if let Record::Frame(frame) = record {
            let packet = tilegame_replay::packets::decode(&frame)
                .unwrap_or_else(|e| panic!("frame {} does not decode: {e}", frame.seq));
            names.push(packet.name().to_owned());
        }
    }
    names
}

/// What tshark made of a capture.
struct Dissected {
    /// `tilegame.packet` of every PDU, in capture order.
    names: Vec<String>,
    /// Frames with a malformed or error expert item, or a Lua error.
    malformed: Vec<String>,
}

fn run_tshark(lua: &Path, pcap: &Path, two_pass: bool) -> Dissected {
    let mut cmd = Command::new(tshark());
    cmd.arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-e", "frame.number", "-e", "tilegame.packet"])
        .args([
            "-e",
            "_ws.expert.severity",
            "-e",
            "_ws.malformed",
            "-e",
            "_ws.col.Info",
        ])
        .args([
            "-Y",
            "tilegame || _ws.malformed || _ws.expert.severity >= \"error\"",
        ]);
    if two_pass {
        cmd.arg("-2");
    }
    let out = cmd.output().expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    let lua_trouble: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("Lua") || l.contains("lua_script") || l.contains(".lua:"))
        .collect();
    assert!(lua_trouble.is_empty(), "tshark reported: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut names = Vec::new();
    let mut malformed = Vec::new();
    for line in stdout.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [frame, packets, severity, bad, info] = cols[..] else {
            panic!("unexpected tshark line: {line:?}");
        };
        // Severities: 0x00800000 is an error (Wireshark's PI_ERROR).
        let error = severity.split(',').filter(|s| !s.is_empty()).any(|s| {
            u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0) >= 0x0080_0000
        });
        if error || !bad.is_empty() {
            malformed.push(format!("frame {frame}: {info}"));
        }
        names.extend(
            packets
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    Dissected { names, malformed }
}

/// Exports `file` with `options`, runs tshark on it in one and two passes, and checks that
/// every frame is named exactly, in order, with nothing malformed.
fn check_capture(dir: &Path, lua: &Path, file: &ReplayFile, name: &str, options: ExportOptions) {
    let pcap = dir.join(format!("{name}.pcap"));
    let out = std::fs::File::create(&pcap).expect("create the capture");
    let summary = export_pcap(file, &options, out).expect("export");
    let expected = recorded_names(file);
    assert_eq!(summary.frames, expected.len() as u64);
    assert!(expected.len() > 10, "{name}: a real session has frames");
    for two_pass in [false, true] {
        let got = run_tshark(lua, &pcap, two_pass);
        assert!(
            got.malformed.is_empty(),
            "{name} (two-pass: {two_pass}): malformed frames: {:#?}",
            got.malformed
        );
        if got.names != expected {
            let first = got
                .names
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(got.names.len().min(expected.len()));
            panic!(
                "{name} (two-pass: {two_pass}): tshark named {} PDUs, the recording has {} frames; \
                 first difference at PDU {first}: tshark {:?}, recording {:?}",
                got.names.len(),
                expected.len(),
                got.names.get(first),
                expected.get(first)
            );
        }
    }
}

fn coalesced(segment_bytes: usize) -> ExportOptions {
    ExportOptions {
        segment_bytes,
        coalesce: true,
        ..ExportOptions::default()
    }
}

#[test]
fn fixture_exported_to_pcap_is_named_frame_by_frame() {
    let dir = scratch("tshark-fixture");
    let lua = dissector(&dir);
    let file = common::fixture();
    check_capture(&dir, &lua, &file, "fixture", ExportOptions::default());
    check_capture(&dir, &lua, &file, "fixture-coalesced", coalesced(50));
    // Another port: only the heuristic can find the conversation.
    let other_port = ExportOptions {
        port: 40123,
        ..ExportOptions::default()
    };
    check_capture(&dir, &lua, &file, "fixture-heuristic", other_port);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn live_session_exported_to_pcap_is_named_frame_by_frame() {
    let dir = scratch("tshark-live");
    let lua = dissector(&dir);
    let path = dir.join("live.tgr");
    common::record_session(&path, "tshark", 4, 3.0, 20);
    let file = ReplayFile::open(&path).expect("the recording");
    check_capture(&dir, &lua, &file, "live", ExportOptions::default());
    check_capture(&dir, &lua, &file, "live-coalesced", coalesced(97));
    let _ = std::fs::remove_dir_all(dir);
}

/// A malformed frame is reported as such (the check above can fail).
#[test]
fn a_corrupted_frame_is_reported_malformed() {
    let dir = scratch("tshark-corrupt");
    let lua = dissector(&dir);
    let fixture = common::fixture();
    let (header, mut records) = common::records(&fixture.data);
    // Cut the last byte of the first server frame with id 0 (ServerWelcome): it no longer decodes.
    let snapshot = records
        .iter_mut()
        .find_map(|r| match r {
            Record::Frame(f)
                if f.direction == tilegame_protocol::replay_format::FrameDirection::ToClient
                    && f.packet_id == 0
                    && f.bytes.len() > 8 =>
            {
                Some(f)
            }
            _ => None,
        })
        .expect("a to-client frame with id 0 after the handshake");
    let last = snapshot.bytes.len() - 1;
    snapshot.bytes.truncate(last);
    let data = common::rewrite(&header, &records);
    let file = ReplayFile::from_bytes(dir.join("corrupt.tgr"), data);
    let pcap = dir.join("corrupt.pcap");
    export_pcap(
        &file,
        &ExportOptions::default(),
        std::fs::File::create(&pcap).unwrap(),
    )
    .expect("export");
    let got = run_tshark(&lua, &pcap, false);
    assert_eq!(got.malformed.len(), 1, "{:#?}", got.malformed);
    let _ = std::fs::remove_dir_all(dir);
}
