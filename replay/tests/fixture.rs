//! The committed fixture through every command: snapshots of what users see, determinism of
//! verify, seeking equal to replaying, and tampered copies caught with the right details.

mod common;

use std::process::Command;

use common::{fixture, fixture_path, output, records, rewrite, scratch};
use tilegame_protocol::replay_format::{FrameDirection, Record};
use tilegame_protocol::v1::{play, Packet, TileChange, TilePos};
use tilegame_replay::cmd::{self, dump::DumpOptions, verify::VerifyOptions};
use tilegame_replay::engine::Engine;
use tilegame_replay::state::StateView;
use tilegame_replay::ReplayFile;

/// Regenerates `tests/fixtures/small.tgr` (see tests/fixtures/README.md).
#[test]
#[ignore = "rewrites the committed fixture; run with TILEGAME_REGEN_FIXTURE=1"]
fn regenerate_fixture() {
    if std::env::var_os("TILEGAME_REGEN_FIXTURE").is_none() {
        eprintln!("set TILEGAME_REGEN_FIXTURE=1 to rewrite the fixture");
        return;
    }
    common::record_session(&fixture_path(), "abc", 3, 4.0, 40);
    let file = fixture();
    assert!(file.len() < 100_000, "keep the fixture small");
}

#[test]
fn info_snapshot() {
    let file = fixture();
    let (r, text) = output(|out| cmd::info::run(&file, out));
    assert_eq!(r.unwrap(), 0);
    // The path is machine-specific: keep the file name only.
    let text = text.replace(&fixture_path().display().to_string(), "small.tgr");
    insta::assert_snapshot!("info", text);
}

#[test]
fn dump_snapshot() {
    let file = fixture();
    let options = DumpOptions {
        limit: Some(40),
        ..DumpOptions::default()
    };
    let mut err = Vec::new();
    let (r, text) = output(|out| cmd::dump::run(&file, &options, out, &mut err));
    assert_eq!(r.unwrap(), 0);
    assert_eq!(text.lines().count(), 40);
    insta::assert_snapshot!("dump_text_40", text);
}

#[test]
fn dump_filters_and_json() {
    let file = fixture();
    let options = DumpOptions {
        kind: Some("snapshot".into()),
        from: Some(10),
        to: Some(12),
        format: cmd::dump::Format::Json,
        ..DumpOptions::default()
    };
    let mut err = Vec::new();
    let (r, text) = output(|out| cmd::dump::run(&file, &options, out, &mut err));
    assert_eq!(r.unwrap(), 0);
    assert!(!text.is_empty());
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["packet"], "Snapshot");
        assert_eq!(v["dir"], "in");
        let tick = v["tick"].as_u64().unwrap();
        assert!((10..=12).contains(&tick), "{line}");
        assert!(v["decoded"]["tick"].is_u64(), "{line}");
    }
    let options = DumpOptions {
        dir: Some(FrameDirection::ToServer),
        ..DumpOptions::default()
    };
    let (_, text) = output(|out| cmd::dump::run(&file, &options, out, &mut err));
    assert!(text.lines().all(|l| l.contains(" out ")));
}

#[test]
fn stats_snapshot() {
    let file = fixture();
    let mut err = Vec::new();
    let (r, text) = output(|out| cmd::stats::run(&file, None, out, &mut err));
    assert_eq!(r.unwrap(), 0);
    assert!(err.is_empty());
    insta::assert_snapshot!("stats", text);
}

#[test]
fn verify_passes_twice_with_identical_output() {
    let file = fixture();
    let options = VerifyOptions {
        no_timing: true,
        ..VerifyOptions::default()
    };
    let (r1, t1) = output(|out| cmd::verify::run(&file, &options, out));
    let (r2, t2) = output(|out| cmd::verify::run(&file, &options, out));
    assert_eq!(r1.unwrap(), 0, "{t1}");
    assert_eq!(r2.unwrap(), 0);
    assert_eq!(t1, t2);
    assert!(t1.starts_with("OK: "), "{t1}");
    let report = cmd::verify::verify(&file, &options, false).unwrap();
    assert!(report.verified > 50, "{}", report.render());
    assert_eq!(report.verified, report.snapshots);
    assert!(report.keyframes >= 2);
    // A copy in memory gives the same digest: nothing depends on where the bytes came from.
    let copy = ReplayFile::from_bytes("copy.tgr", file.bytes().unwrap());
    assert_eq!(
        cmd::verify::verify(&copy, &options, false).unwrap().digest,
        report.digest
    );
}

/// What the page runs (`check_keeping`: read once, verified from memory, the records kept for
/// the viewer) says what `verify` says, of a whole file, a cut one and a damaged one.
#[test]
fn checking_in_memory_gives_verify_s_verdict_and_the_records() {
    let file = fixture();
    let options = VerifyOptions {
        no_timing: true,
        ..VerifyOptions::default()
    };
    let bytes = file.bytes().unwrap();
    let cut = ReplayFile::from_bytes("cut.tgr", bytes[..bytes.len() * 3 / 5].to_vec());
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x55;
    let damaged = ReplayFile::from_bytes("damaged.tgr", damaged);
    for file in [&file, &cut, &damaged] {
        let streamed = cmd::verify::check(file, &options, false);
        let (kept, playable) = cmd::verify::check_keeping(file, &options);
        match (streamed, kept) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.render(), b.render());
                assert_eq!(a.exit_code(), b.exit_code());
                let records = playable.expect("a readable file's records are kept");
                assert!(!records.is_empty());
                let viewer =
                    tilegame_replay::viewer::Viewer::from_records(file, records, 1.0, None);
                assert!(viewer.is_ok());
            }
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string());
                assert!(playable.is_err());
            }
            (a, b) => panic!("{}: streamed {a:?}, in memory {b:?}", file.path.display()),
        }
    }
}

#[test]
fn seeking_from_a_keyframe_equals_replaying_from_the_start() {
    let file = fixture();
    let (header, recs) = records(&file.bytes().unwrap());
    let mut engine = Engine::new(&header);
    let mut states = std::collections::BTreeMap::new();
    for r in &recs {
        if let Some(tilegame_replay::TickOutcome::Snapshot { tick, .. }) = engine.feed(r).unwrap() {
            states.insert(tick, StateView::of(engine.play().unwrap()));
        }
    }
    let keyframes: Vec<u32> = recs
        .iter()
        .filter_map(|r| match r {
            Record::Keyframe(k) => Some(k.tick),
            _ => None,
        })
        .collect();
    assert!(keyframes.len() >= 2, "{keyframes:?}");
    for (&tick, expected) in states.iter().step_by(7) {
        let (seeked, from) = Engine::seek(|| file.open_reader(), tick).unwrap();
        assert_eq!(
            &StateView::of(seeked.play().unwrap()),
            expected,
            "tick {tick}"
        );
        let best = keyframes.iter().copied().filter(|k| *k <= tick).max();
        assert_eq!(from, best, "tick {tick}");
    }
    let (r, text) = output(|out| cmd::play::run(&file, 45, true, out));
    assert_eq!(r.unwrap(), 0);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["tick"], 45);
    assert_eq!(v["map_size"], serde_json::json!([64, 64]));
    assert!(v["players"].as_array().unwrap().len() >= 2);
}

/// A copy of the fixture whose snapshot of `tick` has another health for its first player
/// and one more broken tile.
fn tampered(tick: u32) -> Vec<u8> {
    let file = fixture();
    let (header, mut recs) = records(&file.bytes().unwrap());
    let mut done = false;
    for r in &mut recs {
        let Record::Frame(f) = r else { continue };
        if f.direction != FrameDirection::ToClient {
            continue;
        }
        let Ok(tilegame_protocol::AnyPacket::PlayToClient(play::ToClient::Snapshot(mut s))) =
            f.decode()
        else {
            continue;
        };
        if s.tick != tick {
            continue;
        }
        let d = s.players.first_mut().expect("a player in the snapshot");
        d.health = Some(7);
        s.tiles.push(TileChange {
            pos: TilePos { x: 5, y: 6 },
            tile: tilegame_protocol::v1::Tile::Lava,
        });
        let mut bytes = vec![play::Snapshot::ID];
        play::ToClient::Snapshot(s).encode_body(&mut bytes).unwrap();
        f.payload_bytes = bytes.len() as u32 - 1;
        f.bytes = bytes;
        done = true;
    }
    assert!(done, "a snapshot of tick {tick}");
    rewrite(&header, &recs)
}

fn keyframe_ticks(data: &[u8]) -> Vec<u32> {
    records(data)
        .1
        .iter()
        .filter_map(|r| match r {
            Record::Keyframe(k) => Some(k.tick),
            _ => None,
        })
        .collect()
}

#[test]
fn a_tampered_snapshot_is_named_with_tiles_and_fields() {
    let file = fixture();
    let tick = keyframe_ticks(&file.bytes().unwrap())[1];
    let dir = scratch("tampered");
    let path = dir.join("tampered.tgr");
    std::fs::write(&path, tampered(tick)).unwrap();
    let bad = ReplayFile::open(&path).unwrap();
    let options = VerifyOptions {
        out_dir: Some(dir.join("out")),
        no_timing: true,
    };
    let (r, text) = output(|out| cmd::verify::run(&bad, &options, out));
    assert_eq!(r.unwrap(), 1, "{text}");
    assert!(
        text.starts_with(&format!(
            "DIVERGED at tick {tick}: world and players diverged"
        )),
        "{text}"
    );
    assert!(text.contains("tile (5, 6): recorded "), "{text}");
    assert!(text.contains(", replayed Lava (changed)"), "{text}");
    assert!(text.contains("health: recorded 100, replayed 7"), "{text}");
    // verify stopped at the divergence: it must not claim that the intact file was cut.
    assert!(!text.contains("cut"), "{text}");
    let diff: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/diff.json")).unwrap()).unwrap();
    assert_eq!(diff["tick"], tick);
    assert_eq!(diff["state_diff"]["tiles_differing"], 1);
    assert_eq!(diff["state_diff"]["players"][0]["field"], "health");
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/expected.json")).unwrap()).unwrap();
    assert_eq!(expected["source"], "recorded keyframe");
    let replayed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/replayed.json")).unwrap()).unwrap();
    assert_eq!(replayed["state"]["tick"], tick);

    // Without a keyframe of the divergent tick, the hashes and the replayed state are reported.
    let other = tick + 3;
    let path2 = dir.join("tampered2.tgr");
    std::fs::write(&path2, tampered(other)).unwrap();
    let bad2 = ReplayFile::open(&path2).unwrap();
    let options = VerifyOptions {
        out_dir: Some(dir.join("out2")),
        no_timing: true,
    };
    let (r, text) = output(|out| cmd::verify::run(&bad2, &options, out));
    assert_eq!(r.unwrap(), 1, "{text}");
    assert!(
        text.contains(&format!("DIVERGED at tick {other}")),
        "{text}"
    );
    assert!(text.contains("no keyframe of that tick"), "{text}");
    assert!(dir.join("out2/replayed.json").exists());

    // Unasked, the binary writes nothing beside the (possibly untrusted) input.
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    let out = Command::new(env!("CARGO_BIN_EXE_tilegame-replay"))
        .args(["verify".as_ref(), path2.as_os_str(), "--no-timing".as_ref()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("(--out DIR writes the recorded and replayed states and their diff as JSON)"),
        "{text}"
    );
    assert_eq!(listing(), before);

    // diff names the same tick and fields.
    let (r, text) = output(|out| cmd::diff::run(&file, &bad, out));
    assert_eq!(r.unwrap(), 1, "{text}");
    assert!(
        text.starts_with(&format!("first divergence at tick {tick}")),
        "{text}"
    );
    assert!(text.contains("tile (5, 6)"), "{text}");
    assert!(text.contains("health: A 100, B 7"), "{text}");
    let (r, text) = output(|out| cmd::diff::run(&file, &file, out));
    assert_eq!(r.unwrap(), 0);
    assert!(text.starts_with("identical: "), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_binary_prints_and_exits_as_documented() {
    let bin = env!("CARGO_BIN_EXE_tilegame-replay");
    let path = fixture_path();
    let out = Command::new(bin).arg("info").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ended:      cleanly"));
    let out = Command::new(bin)
        .args(["verify", "--no-timing"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = Command::new(bin)
        .arg("verify")
        .arg("/nonexistent/file.tgr")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: /nonexistent/file.tgr: "));
    let out = Command::new(bin)
        .args(["diff", "--match", "name"])
        .arg(&path)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("identical: "));
    // play names the first state it can give, in words.
    let out = Command::new(bin)
        .args(["play", "--until", "0"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(the first is tick "), "{err}");
    assert!(!err.contains("Some("), "{err}");
    let out = Command::new(bin)
        .args(["dump", "--kind", "ping", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout)
        .lines()
        .all(|l| l.contains("\"packet\":\"Ping\"")));
}

#[test]
fn stats_plots_png_and_svg() {
    let file = fixture();
    let dir = scratch("plot");
    for name in ["traffic.png", "traffic.svg"] {
        let path = dir.join(name);
        let mut err = Vec::new();
        let (r, text) = output(|out| cmd::stats::run(&file, Some(&path), out, &mut err));
        assert_eq!(r.unwrap(), 0);
        assert!(
            text.contains(&format!("plot: {}", path.display())),
            "{text}"
        );
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
            let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!(
                (info.width, info.height),
                cmd::plot::SIZE,
                "the picture's size"
            );
            let colours: std::collections::BTreeSet<&[u8]> =
                buf[..info.buffer_size()].chunks(3).collect();
            assert!(colours.len() > 20, "lines, text and markers drawn");
        } else {
            let svg = String::from_utf8(bytes).unwrap();
            assert!(svg.starts_with("<svg"), "an SVG");
            for label in ["in Snapshot", "out Input", "keyframe (", "join ("] {
                assert!(svg.contains(label), "{label} in the legend");
            }
        }
    }
    let (r, _) =
        output(|out| cmd::stats::run(&file, Some(&dir.join("x.jpg")), out, &mut Vec::new()));
    assert!(matches!(r, Err(tilegame_replay::ToolError::Usage(_))));
    let _ = std::fs::remove_dir_all(dir);
}

/// A client refused with `Kick(Busy)` tries again on a new connection and records both in one
/// file (20 bots from one address are past the server's 16 pending connections per address):
/// the second connection's join starts over, and the file verifies as the fixture does.
#[test]
fn a_retry_after_a_refusal_verifies_in_the_same_recording() {
    let file = fixture();
    let options = VerifyOptions {
        no_timing: true,
        ..VerifyOptions::default()
    };
    let (header, mut original) = records(&file.bytes().unwrap());
    let Some(Record::Frame(hello)) = original.first().cloned() else {
        panic!("the fixture starts with its ClientHello");
    };
    let mut kick = vec![tilegame_protocol::v1::Kick::ID];
    tilegame_protocol::v1::handshake::ToClient::Kick(tilegame_protocol::v1::Kick {
        reason: tilegame_protocol::v1::DisconnectReason::Busy,
        message: "too many pending connections from this address".into(),
    })
    .encode_body(&mut kick)
    .unwrap();
    let refused = tilegame_protocol::replay_format::Frame {
        seq: 1,
        direction: FrameDirection::ToClient,
        wire_bytes: kick.len() as u32 + 2,
        payload_bytes: kick.len() as u32 - 1,
        packet_id: kick[0],
        bytes: kick,
        ..hello.clone()
    };
    for record in &mut original {
        match record {
            Record::Frame(f) => f.seq += 2,
            Record::End(e) => e.frames += 2,
            _ => {}
        }
    }
    let mut retried = vec![Record::Frame(hello), Record::Frame(refused)];
    retried.extend(original);
    let copy = ReplayFile::from_bytes("retried.tgr", rewrite(&header, &retried));
    let expected = cmd::verify::verify(&file, &options, false).unwrap();
    let report = cmd::verify::verify(&copy, &options, false).unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    assert_eq!(report.verified, expected.verified);
    assert_eq!(report.keyframes, expected.keyframes);
    assert_eq!(report.ticks, expected.ticks);
    assert_eq!(report.digest, expected.digest);
}
