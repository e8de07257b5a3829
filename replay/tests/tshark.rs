//! The generated Wireshark dissector on real captures: recordings exported with `export --pcap`
//! (the committed fixture, and a live session recorded for this test), read by `tshark` with
//! the dissector generated from `protocol/spec/tilegame.ron`.
//!
//! Every frame of the recording must come out of tshark named exactly as the replay crate
//! decodes it (same packets, same order), with no malformed frame and no Lua error. The
//! captures are exported both one frame per segment and as a coalesced stream cut into small
//! segments (several frames per segment, frames across segments), and read both in one pass
//! and in two (`-2`, which re-dissects every frame as filters and the GUI do).
//! A session with chat shows each Say and Chat by name, and the line and its sender as fields.
//!
//! tshark is required: `.ci/run` installs it, and this test fails (never skips) without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::scratch;
use tilegame_protocol::replay_format::Record;
use tilegame_replay::cmd::export::{export_pcap, ExportOptions, MSS};
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

#[test]
fn chat_lines_are_named_and_their_text_and_sender_shown() {
    let dir = scratch("tshark-chat");
    let lua = dissector(&dir);
    let path = dir.join("chat.tgr");
    let server = common::server("tsharkchat", None);
    common::record_bots_saying(
        server.addr().to_string(),
        &path,
        2,
        3.0,
        20,
        &["hello, Zoë".to_owned()],
    );
    let file = ReplayFile::open(&path).expect("the recording");
    let names = recorded_names(&file);
    assert_eq!(names.iter().filter(|n| *n == "Say").count(), 1, "{names:?}");
    assert_eq!(
        names.iter().filter(|n| *n == "Chat").count(),
        2,
        "{names:?}"
    );
    check_capture(&dir, &lua, &file, "chat", ExportOptions::default());
    // The line and its sender, as tshark's fields.
    let pcap = dir.join("chat.pcap");
    let out = Command::new(tshark())
        .arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .arg("-r")
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "tilegame.play.chat.from",
            "-e",
            "tilegame.play.chat.text",
        ])
        .args(["-Y", "tilegame.play.chat.text"])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines.iter().all(|l| l.ends_with("\thello, Zoë")), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Merges classic pcap captures into one, records ordered by time (ties keep file order, so
/// each capture's own order is kept).
fn merge_pcaps(inputs: &[PathBuf], out: &Path) {
    let mut header = None;
    let mut records: Vec<((u32, u32), usize, Vec<u8>)> = Vec::new();
    for (file, path) in inputs.iter().enumerate() {
        let bytes = std::fs::read(path).expect("read a capture");
        header.get_or_insert_with(|| bytes[..24].to_vec());
        let mut at = 24;
        while at + 16 <= bytes.len() {
            let word = |i: usize| u32::from_le_bytes(bytes[at + i..at + i + 4].try_into().unwrap());
            let (sec, usec, len) = (word(0), word(4), word(8) as usize);
            records.push(((sec, usec), file, bytes[at..at + 16 + len].to_vec()));
            at += 16 + len;
        }
        assert_eq!(at, bytes.len(), "{}: whole records", path.display());
    }
    records.sort_by_key(|(time, file, _)| (*time, *file));
    let mut merged = header.expect("at least one capture");
    for (_, _, record) in records {
        merged.extend_from_slice(&record);
    }
    std::fs::write(out, merged).expect("write the merged capture");
}

/// What tshark made of a capture of several conversations: the PDU names per client port.
fn run_tshark_by_client(
    lua: &Path,
    pcap: &Path,
    two_pass: bool,
    client_ports: &[u16],
) -> (std::collections::BTreeMap<u16, Vec<String>>, Vec<String>) {
    let mut cmd = Command::new(tshark());
    cmd.arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"])
        .args([
            "-e",
            "frame.number",
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
        ])
        .args(["-e", "tilegame.packet", "-e", "_ws.expert.severity"])
        .args(["-e", "_ws.malformed", "-e", "_ws.col.Info"])
        .args(["-Y", "tcp.len > 0"]);
    if two_pass {
        cmd.arg("-2");
    }
    let out = cmd.output().expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    assert!(
        !stderr.contains("Lua") && !stderr.contains(".lua:"),
        "tshark reported: {stderr}"
    );
    let mut names: std::collections::BTreeMap<u16, Vec<String>> = Default::default();
    let mut malformed = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [frame, src, dst, packets, severity, bad, info] = cols[..] else {
            panic!("unexpected tshark line: {line:?}");
        };
        if severity_is_error(severity) || !bad.is_empty() {
            malformed.push(format!("frame {frame}: {info}"));
        }
        let port = [src, dst]
            .iter()
            .filter_map(|p| p.parse::<u16>().ok())
            .find(|p| client_ports.contains(p))
            .unwrap_or_else(|| panic!("frame {frame} is in no exported conversation: {line}"));
        names.entry(port).or_default().extend(
            packets
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    (names, malformed)
}

/// Several conversations at once, interleaved segment by segment, on the registered port and
/// on others (found by the heuristic), whole or re-split into random-sized segments: read in
/// one pass and in two (`-2`, whose first pass builds no tree, so the dissector cannot rely on
/// tree fields such as `tcp.stream` to tell conversations apart), every conversation's frames
/// are named exactly as its recording, and nothing is malformed.
#[test]
fn interleaved_conversations_are_named_each_with_its_own_state_in_one_and_two_passes() {
    let dir = scratch("tshark-conversations");
    let lua = dissector(&dir);
    let file = common::fixture();
    let expected = recorded_names(&file);
    let conversations = [
        // (server port, client port, re-split seed, largest segment, coalesced)
        (35000, 50001, None, MSS, false),
        (35000, 50002, Some(7), 40, true),
        (40123, 50003, None, MSS, false),
        (40123, 50004, Some(11), 7, true),
        (40999, 50005, Some(3), 300, true),
    ];
    let mut pcaps = Vec::new();
    for (port, client_port, split_seed, segment_bytes, coalesce) in conversations {
        let pcap = dir.join(format!("conv-{client_port}.pcap"));
        let options = ExportOptions {
            port,
            client_port,
            split_seed,
            segment_bytes,
            coalesce,
        };
        export_pcap(
            &file,
            &options,
            std::fs::File::create(&pcap).expect("create"),
        )
        .expect("export");
        pcaps.push(pcap);
    }
    let merged = dir.join("merged.pcap");
    merge_pcaps(&pcaps, &merged);
    let ports: Vec<u16> = conversations.iter().map(|c| c.1).collect();
    // Plain `tshark -2`, as a maintainer runs it: asking for fields (`-T fields -e ...`) makes
    // tshark build a tree in its first pass too, which hid a dissector keyed by tree fields.
    let summary = plain_tshark(&lua, &merged);
    assert_eq!(
        summary.len(),
        expected.len() * ports.len(),
        "plain tshark -2 names {} PDUs, the conversations have {}",
        summary.len(),
        expected.len() * ports.len()
    );
    for two_pass in [false, true] {
        let (names, malformed) = run_tshark_by_client(&lua, &merged, two_pass, &ports);
        assert!(
            malformed.is_empty(),
            "two-pass {two_pass}: malformed frames: {malformed:#?}"
        );
        for port in &ports {
            let got = names.get(port).cloned().unwrap_or_default();
            assert_eq!(
                got.len(),
                expected.len(),
                "two-pass {two_pass}: client port {port}: {} of {} frames named",
                got.len(),
                expected.len()
            );
            assert_eq!(got, expected, "two-pass {two_pass}: client port {port}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `tshark -2 -r PCAP` with the dissector and nothing else: the PDU names of every summary
/// line, in order; panics on a malformed, unknown or unframed PDU.
fn plain_tshark(lua: &Path, pcap: &Path) -> Vec<String> {
    let out = Command::new(tshark())
        .arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .arg("-r")
        .arg(pcap)
        .arg("-2")
        .output()
        .expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    assert!(!stderr.contains(".lua:"), "tshark reported: {stderr}");
    let mut names = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        for bad in ["(malformed)", "(unknown)", "bad frame length", "Malformed"] {
            assert!(!line.contains(bad), "tshark -2: {line}");
        }
        let Some(at) = line.find(" C->S ").or_else(|| line.find(" S->C ")) else {
            continue;
        };
        names.extend(line[at + 6..].split(", ").map(|n| n.trim().to_owned()));
    }
    names
}

/// A connection on another port whose first segments are shorter than the opening frame's
/// head (length, id, magic) is still found by the heuristic: it asks TCP for the rest of the
/// frame and decides on the whole frame. Every segment here carries 1 to 5 bytes.
#[test]
fn a_connection_cut_in_tiny_segments_on_another_port_is_claimed() {
    let dir = scratch("tshark-tiny");
    let lua = dissector(&dir);
    let file = common::fixture();
    let options = ExportOptions {
        port: 41000,
        segment_bytes: 5,
        coalesce: true,
        split_seed: Some(1),
        ..ExportOptions::default()
    };
    check_capture(&dir, &lua, &file, "tiny", options);
    let pcap = dir.join("tiny.pcap");
    assert_eq!(plain_tshark(&lua, &pcap), recorded_names(&file));
    let _ = std::fs::remove_dir_all(dir);
}

/// A malformed frame is reported as such (the check above can fail).
#[test]
fn a_corrupted_frame_is_reported_malformed() {
    let dir = scratch("tshark-corrupt");
    let lua = dissector(&dir);
    let fixture = common::fixture();
    let (header, mut records) = common::records(&fixture.bytes().unwrap());
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

/// The names of a recording's frames in one direction, in order.
fn recorded_names_in(file: &ReplayFile, to_server: bool) -> Vec<String> {
    let mut reader = file.reader(true).expect("a readable recording");
    let mut names = Vec::new();
    while let Some(record) = reader.try_next().expect("whole chunks") {
        if let Record::Frame(frame) = record {
            let dir = frame.direction == tilegame_protocol::replay_format::FrameDirection::ToServer;
            if dir == to_server {
                let packet = tilegame_replay::packets::decode(&frame).expect("decodes");
                names.push(packet.name().to_owned());
            }
        }
    }
    names
}

/// A real capture on the loopback interface (`dumpcap`) of four bots joining and playing: every
/// TCP payload belongs to a named PDU, nothing is malformed, and the recorded bot's conversation
/// is named exactly as its own recording, direction by direction (the two directions interleave
/// differently on the wire and in the recorder). The capture is stopped after the session, so
/// its last few milliseconds may be missing: what it has must match the recording from the
/// start, and cover nearly all of it.
#[test]
fn live_loopback_capture_is_named_frame_by_frame() {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let tshark = tshark();
    let dir = scratch("tshark-loopback");
    let lua = dissector(&dir);
    let server = common::server("loopback", None);
    let port = server.addr().port();
    let pcap = dir.join("loopback.pcapng");
    let mut dumpcap = Command::new("dumpcap")
        .args(["-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dumpcap (installed with tshark) starts");
    // Wait until it captures: dumpcap names its file once the interface is open.
    let mut stderr = BufReader::new(dumpcap.stderr.take().expect("piped"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).expect("read dumpcap's stderr");
        seen.push_str(&line);
        assert!(n > 0, "dumpcap exited before capturing: {seen}");
        if line.starts_with("File:") {
            break;
        }
    }
    let recording = dir.join("bot1.tgr");
    common::record_bots(server.addr().to_string(), &recording, 4, 3.0, 20);
    server.shutdown();
    // SIGINT makes dumpcap write out what it has and exit (`kill` is a shell builtin, so this
    // needs no procps).
    let killed = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", dumpcap.id())])
        .status()
        .expect("sh");
    assert!(killed.success());
    let status = dumpcap.wait().expect("dumpcap exits");
    assert!(status.success() || status.code().is_none(), "{status:?}");

    let out = Command::new(tshark)
        .arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .arg("-r")
        .arg(&pcap)
        .args([
            "-2",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=,",
        ])
        .args([
            "-e",
            "frame.number",
            "-e",
            "tcp.stream",
            "-e",
            "tcp.dstport",
        ])
        .args(["-e", "tilegame.packet", "-e", "tcp.reassembled_in"])
        .args(["-e", "tcp.analysis.retransmission", "-e", "_ws.malformed"])
        .args([
            "-e",
            "_ws.expert.severity",
            "-e",
            "tilegame.login.join_request.name",
        ])
        .args(["-Y", "tcp.len > 0"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Per (stream, to_server): the PDU names, and frames whose bytes no PDU claimed.
    let mut names: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    let mut unclaimed: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    let mut bot1_stream = None;
    let mut payload_frames = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [frame, stream, dst, packets, reassembled_in, retransmission, bad, severity, join_name] =
            cols[..]
        else {
            panic!("unexpected tshark line: {line:?}");
        };
        payload_frames += 1;
        assert!(bad.is_empty(), "frame {frame} is malformed");
        assert!(
            !severity_is_error(severity),
            "frame {frame} has an error: {line}"
        );
        if join_name == "bot1" {
            bot1_stream = Some(stream.to_owned());
        }
        let key = (stream.to_owned(), dst == port.to_string());
        if !retransmission.is_empty() {
            continue; // TCP does not hand a retransmitted segment to the dissector again
        }
        if packets.is_empty() && reassembled_in.is_empty() {
            unclaimed
                .entry(key.clone())
                .or_default()
                .push(frame.to_owned());
        } else if let Some(frames) = unclaimed.get(&key) {
            panic!("frames {frames:?} carry bytes no PDU claims (before frame {frame})");
        }
        let list = names.entry(key).or_default();
        list.extend(
            packets
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    assert!(
        payload_frames > 100,
        "a real session: {payload_frames} frames"
    );
    let bot1 = bot1_stream.expect("bot1's JoinRequest is in the capture");
    let file = ReplayFile::open(&recording).expect("the recording");
    for to_server in [true, false] {
        let expected = recorded_names_in(&file, to_server);
        let got = names
            .get(&(bot1.clone(), to_server))
            .cloned()
            .unwrap_or_default();
        assert!(
            expected.starts_with(&got),
            "to_server={to_server}: the capture's names are not the recording's: {got:?} vs {expected:?}"
        );
        assert!(
            got.len() * 10 >= expected.len() * 9,
            "to_server={to_server}: the capture has {} of {} frames",
            got.len(),
            expected.len()
        );
    }
    for ((stream, to_server), list) in &names {
        if *to_server {
            assert_eq!(
                list.first().map(String::as_str),
                Some("ClientHello"),
                "{stream}"
            );
        } else {
            assert!(list.iter().any(|n| n == "MapEnd"), "{stream}: {list:?}");
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Whether a comma-separated list of tshark expert severities holds an error (PI_ERROR is
/// 0x00800000; tshark prints severities in decimal).
fn severity_is_error(severities: &str) -> bool {
    severities
        .split(',')
        .filter_map(|s| s.trim().parse::<u64>().ok())
        .any(|s| s >= 0x0080_0000)
}
