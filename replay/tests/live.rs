//! Live sessions recorded end to end and verified: ten bots for a minute, a client killed with
//! SIGKILL mid-recording (losing at most 0.5 s of what the server sent it, counted in ticks),
//! and the server's own recordings of the same connections.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tilegame_protocol::replay_format::Record;
use tilegame_protocol::v1::Packet;

use common::{output, scratch};
use tilegame_replay::cmd::{self, verify::VerifyOptions, Tail};
use tilegame_replay::ReplayFile;

/// Upper bound for any one event (never the expected time).
const LIMIT: Duration = Duration::from_secs(120);

fn quiet() -> VerifyOptions {
    VerifyOptions {
        out_dir: None,
        no_timing: true,
    }
}

#[test]
fn ten_bots_for_sixty_seconds_verify_end_to_end() {
    let dir = scratch("ten-bots");
    let path = dir.join("ten.tgr");
    let server = common::server("tenbots", None);
    common::record_bots(server.addr().to_string(), &path, 10, 60.0, 1200);
    server.shutdown();
    let file = ReplayFile::open(&path).unwrap();
    let a = cmd::verify::verify(&file, &quiet(), false).unwrap();
    let b = cmd::verify::verify(&file, &quiet(), false).unwrap();
    assert_eq!(a.exit_code(), 0, "{}", a.render());
    assert_eq!(a.render(), b.render());
    assert_eq!(a.digest, b.digest);
    assert!(a.tail.is_clean(), "{:?}", a.tail);
    // About 20 snapshots a second for a minute, every one hashed by the recorder.
    assert!(a.verified >= 1000, "{}", a.render());
    assert_eq!(a.verified, a.snapshots);
    assert!(a.keyframes >= 1);
    let info = cmd::info::gather(&file).unwrap();
    assert_eq!(info.players.len(), 10, "{:?}", info.players);
    eprintln!("{}{}", a.render(), a.throughput());
    let _ = std::fs::remove_dir_all(dir);
}

/// Tick hashes in a recording that is still being written.
fn tick_hashes_so_far(path: &Path) -> usize {
    let Ok(file) = ReplayFile::open(path) else {
        return 0;
    };
    let Ok(mut reader) = file.open_reader() else {
        return 0;
    };
    let mut n = 0;
    while let Ok(Some(record)) = reader.try_next() {
        n += usize::from(matches!(
            record,
            Record::TickHash(_) | Record::TickHashLow(_)
        ));
    }
    n
}

/// Whether a recording has its End record (its writer closed it).
fn ended(path: &Path) -> bool {
    let Ok(file) = ReplayFile::open(path) else {
        return false;
    };
    let Ok(mut reader) = file.open_reader() else {
        return false;
    };
    while let Ok(Some(_)) = reader.try_next() {}
    reader.ended()
}

fn server_recordings(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tgr"))
        .collect();
    files.sort();
    files
}

fn verify_server_recordings(dir: &Path) {
    let files = server_recordings(dir);
    assert_eq!(files.len(), 2, "one file per connection: {files:?}");
    for path in files {
        let file = ReplayFile::open(&path).unwrap();
        let (r, text) = output(|out| cmd::verify::run(&file, &quiet(), out));
        assert_eq!(r.unwrap(), 0, "{}: {text}", path.display());
        assert!(
            text.starts_with("no recorded hashes to compare: "),
            "{}: {text}",
            path.display()
        );
        let (r, text) = output(|out| cmd::info::run(&file, out));
        assert_eq!(r.unwrap(), 0);
        assert!(text.contains("recorder:   server"), "{text}");
        // Times count from the connection's start and never go back; from the join on, frames
        // carry the server's tick (the join's, then each snapshot's).
        let (_, records) = common::records(&file.bytes().unwrap());
        let frames: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::Frame(f) => Some(f),
                _ => None,
            })
            .collect();
        assert!(frames.windows(2).all(|w| w[0].micros <= w[1].micros));
        let accepted = frames
            .iter()
            .position(|f| {
                f.packet_id == tilegame_protocol::v1::login::JoinAccepted::ID
                    && f.state == tilegame_protocol::State::Login.tag()
                    && f.direction == tilegame_protocol::replay_format::FrameDirection::ToClient
            })
            .expect("the join was accepted");
        assert!(frames[accepted].tick > 0, "{:?}", frames[accepted]);
        assert!(frames[accepted..]
            .iter()
            .all(|f| f.tick >= frames[accepted].tick));
    }
}

#[test]
fn a_client_killed_mid_recording_leaves_a_verifiable_file() {
    let bin = common::client_binary();
    let dir = scratch("kill9");
    let server_dir = dir.join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = common::server("kill9", Some(server_dir.clone()));
    let path = dir.join("killed.tgr");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--bots",
            "2",
            "--keyframe-interval",
            "20",
            "--connect",
        ])
        .arg(server.addr().to_string())
        .arg("--record")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the client starts");
    // Killed mid-session: once the recording holds 25 tick hashes.
    common::wait_for("25 tick hashes in the recording", LIMIT, || {
        (tick_hashes_so_far(&path) >= 25).then_some(())
    });
    // Not right after a flush the poll above saw: somewhere inside the recorder's flush period.
    std::thread::sleep(Duration::from_millis(137));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let file = ReplayFile::open(&path).unwrap();
    let report = cmd::verify::verify(&file, &quiet(), false).unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    assert!(report.verified >= 20, "{}", report.render());
    assert!(!report.tail.is_clean(), "{:?}", report.tail);
    let (r, text) = output(|out| cmd::info::run(&file, out));
    assert_eq!(r.unwrap(), 0);
    assert!(text.contains("ended:      cut: "), "{text}");
    assert!(matches!(
        report.tail,
        Tail::Cut { .. } | Tail::Unfinished { .. }
    ));
    // The server notices the dead connections and closes its own recordings of them.
    common::wait_for("the server to close its recordings", LIMIT, || {
        let files = server_recordings(&server_dir);
        (files.len() == 2 && files.iter().all(|f| ended(f))).then_some(())
    });
    server.shutdown();
    verify_server_recordings(&server_dir);
    // What the killed client's file lost: the snapshots the server sent it (its own recording
    // of that connection) after the last one the client's file holds. At most 0.5 s of ticks,
    // the server's noticing of the dead socket included.
    let (client_header, client_records) = common::records_kept(&std::fs::read(&path).unwrap());
    let received = last_snapshot_tick(&client_records).expect("the client recorded snapshots");
    let server_file = server_recordings(&server_dir)
        .into_iter()
        .find(|f| {
            common::records_kept(&std::fs::read(f).unwrap())
                .0
                .player_name
                == client_header.player_name
        })
        .expect("the server recorded the same player");
    let sent = last_snapshot_tick(&common::records_kept(&std::fs::read(&server_file).unwrap()).1)
        .expect("the server recorded snapshots");
    let rate = tilegame_protocol::v1::TICK_RATE;
    eprintln!("kill -9: the server sent snapshots up to tick {sent}, the client's file holds up to {received}");
    assert!(
        sent.saturating_sub(received) <= rate / 2,
        "the killed client's file ends at tick {received}, the server sent up to {sent}: more than 0.5 s ({} ticks) lost",
        rate / 2
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The tick of the last snapshot among a recording's frames.
fn last_snapshot_tick(records: &[Record]) -> Option<u32> {
    use tilegame_protocol::replay_format::FrameDirection;
    use tilegame_protocol::{Direction, State};
    records
        .iter()
        .filter_map(|r| match r {
            Record::Frame(f)
                if f.direction == FrameDirection::ToClient && f.state == State::Play.tag() =>
            {
                tilegame_protocol::snapshot::snapshot_tick(
                    Direction::ToClient,
                    State::Play,
                    &f.bytes,
                )
            }
            _ => None,
        })
        .max()
}
