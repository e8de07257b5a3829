//! The player's own path: the window client (`tilegame`, real wgpu on Mesa, under Xvfb) records
//! a session in which the player breaks a tile and walks, driven with xdotool like a person,
//! and closed like a window manager closes it. `verify` must then check every tick hash.
//!
//! The socket thread records frames while the game loop hashes ticks later; this is the test
//! that the recorder sequences them. It needs Xvfb and xdotool (`.ci/run` installs them) and
//! fails without them.

mod common;

use common::x11::{xdotool, xvfb, Reaper};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tilegame_game::{MapSize, Theme};
use tilegame_replay::cmd::{self, verify::VerifyOptions};
use tilegame_replay::engine::Engine;
use tilegame_replay::ReplayFile;
use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt, EventMask};

const LIMIT: Duration = Duration::from_secs(120);

/// Replays what the recording holds so far (the file is still being written).
fn replay_so_far(path: &Path) -> Option<Engine> {
    let file = ReplayFile::open(path).ok()?;
    let mut reader = file.open_reader().ok()?;
    let mut engine = Engine::new(reader.header());
    while let Ok(Some(record)) = reader.try_next() {
        engine.feed(&record).expect("the recording so far replays");
    }
    Some(engine)
}

/// The local player's position in pixels, once placed.
fn local_pos(engine: &Engine) -> Option<(i32, i32)> {
    let play = engine.play()?;
    let p = play.players.get(play.players.local_id()?)?;
    p.placed.then_some(p.pos)
}

/// A seed whose small map has a breakable tile close to the spawn (the map centre).
fn seed_with_stone_near_spawn() -> String {
    (0..1000)
        .map(|i| format!("windowrecord{i}"))
        .find(|seed| {
            let map = tilegame_game::generate(seed, Theme::Default, MapSize::Small)
                .expect("small maps generate");
            let (cx, cy) = (f64::from(map.width()) / 2.0, f64::from(map.height()) / 2.0);
            (0..map.height()).any(|y| {
                (0..map.width()).any(|x| {
                    let (dx, dy) = (f64::from(x) + 0.5 - cx, f64::from(y) + 0.5 - cy);
                    (dx * dx + dy * dy).sqrt() <= 1.9
                        && map.get(x, y).is_some_and(|t| t.is_breakable())
                })
            })
        })
        .expect("a seed with stone near the spawn")
}

/// Sends WM_DELETE_WINDOW, as a window manager does when the player closes the window.
fn close_window(display: &str, window: u32) {
    let (conn, _) = x11rb::connect(Some(display)).expect("connect to Xvfb");
    let atom = |name: &[u8]| {
        conn.intern_atom(false, name)
            .expect("intern_atom")
            .reply()
            .expect("atom")
            .atom
    };
    let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
    let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, window, EventMask::NO_EVENT, event)
        .expect("send_event")
        .check()
        .expect("the server accepts the event");
}

#[test]
fn a_window_client_recording_with_movement_and_a_tile_break_verifies() {
    let bin = common::client_binary();
    let seed = seed_with_stone_near_spawn();
    let dir = common::scratch("window-record");
    let path = dir.join("window.tgr");
    let server = common::server(&seed, None);
    let (_xvfb, display) = xvfb();
    let client = Command::new(&bin)
        .args(["--connect", &server.addr().to_string(), "--name", "walker"])
        .arg("--record")
        .arg(&path)
        .env("DISPLAY", &display)
        .env("XDG_RUNTIME_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("client.log")).expect("a log file"))
        .spawn()
        .expect("the window client starts");
    let mut client = Reaper(client);
    let pid = client.0.id().to_string();
    let window = xdotool(
        &display,
        &["search", "--sync", "--onlyvisible", "--pid", &pid],
    );
    let window = window.lines().next().expect("a window").trim().to_owned();
    xdotool(&display, &["windowfocus", "--sync", &window]);
    let geometry = xdotool(&display, &["getwindowgeometry", &window]);
    let size: Vec<f64> = geometry
        .lines()
        .find_map(|l| l.trim().strip_prefix("Geometry: "))
        .expect("a geometry line")
        .split('x')
        .map(|v| v.parse().expect("a number"))
        .collect();

    // Joined, with the player on the map: pick the nearest breakable tile within reach.
    let (pos, map) = common::wait_for("the join in the recording", LIMIT, || {
        let engine = replay_so_far(&path)?;
        let pos = local_pos(&engine)?;
        Some((pos, engine.play()?.world.map()?.clone()))
    });
    let reach = f64::from(tilegame_game::REACH_TILES * tilegame_game::TILE_SIZE) - 4.0;
    let (tile, centre) = (0..map.height())
        .flat_map(|y| (0..map.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| map.get(x, y).is_some_and(|t| t.is_breakable()))
        .map(|(x, y)| {
            let c = tilegame_game::tile_center_px(map.width(), map.height(), x, y);
            ((x, y), c)
        })
        .min_by_key(|(_, c)| {
            let (dx, dy) = (i64::from(c.0 - pos.0), i64::from(c.1 - pos.1));
            dx * dx + dy * dy
        })
        .expect("a breakable tile");
    let (dx, dy) = (f64::from(centre.0 - pos.0), f64::from(centre.1 - pos.1));
    assert!(
        (dx * dx + dy * dy).sqrt() <= reach,
        "tile {tile:?} is within reach of {pos:?}"
    );
    let before = map.get(tile.0, tile.1);
    // The camera centres the player: the tile is that far from the window's centre.
    let (sx, sy) = (size[0] / 2.0 + dx, size[1] / 2.0 + dy);
    let (sx, sy) = (format!("{}", sx.round()), format!("{}", sy.round()));
    xdotool(&display, &["mousemove", "--window", &window, &sx, &sy]);
    xdotool(&display, &["mousedown", "1"]);
    common::wait_for("the tile to break in the recording", LIMIT, || {
        let engine = replay_so_far(&path)?;
        let now = engine.play()?.world.map()?.get(tile.0, tile.1);
        (now != before).then_some(())
    });
    xdotool(&display, &["mouseup", "1"]);

    // Walk right until the recording shows the player two tiles further.
    let start = common::wait_for("the position", LIMIT, || local_pos(&replay_so_far(&path)?));
    xdotool(&display, &["keydown", "d"]);
    common::wait_for("the player to walk", LIMIT, || {
        let pos = local_pos(&replay_so_far(&path)?)?;
        (pos.0 >= start.0 + 2 * tilegame_game::TILE_SIZE).then_some(())
    });
    xdotool(&display, &["keyup", "d"]);

    // Close the window as a person would; the client ends its recording and exits.
    close_window(&display, window.parse().expect("a window id"));
    let log = dir.join("client.log");
    let status = common::wait_for_or(
        "the client to exit",
        LIMIT,
        || client.0.try_wait().expect("try_wait"),
        || {
            let info = ReplayFile::open(&path)
                .map(|f| common::output(|out| cmd::info::run(&f, out)).1)
                .unwrap_or_default();
            format!(
                "{}\n{info}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        },
    );
    assert!(
        status.success(),
        "the client exited with {status}: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    server.shutdown();

    let file = ReplayFile::open(&path).unwrap();
    let options = VerifyOptions {
        out_dir: Some(dir.join("verify")),
        no_timing: true,
    };
    let report = cmd::verify::verify(&file, &options, true).unwrap();
    assert_eq!(report.exit_code(), 0, "{}", report.render());
    assert!(report.tail.is_clean(), "{:?}", report.tail);
    // At least the ticks the walk took at top speed (more on any real machine: the break, the
    // waits, heartbeats); the exact count depends on how fast this machine ran the window.
    let walk_ticks = u64::from(
        (2 * tilegame_game::TILE_SIZE.unsigned_abs() * tilegame_protocol::v1::TICK_RATE)
            .div_ceil(tilegame_protocol::v1::TOP_SPEED_PX_PER_S.unsigned_abs()),
    );
    assert!(report.verified >= walk_ticks, "{}", report.render());
    // Every snapshot has its hash checked: closing the window applies what the socket received
    // before the recording ends.
    assert_eq!(
        report.verified,
        report.snapshots,
        "every snapshot's tick hash checked: {}",
        report.render()
    );
    let (r, text) = common::output(|out| cmd::info::run(&file, out));
    assert_eq!(r.unwrap(), 0);
    assert!(text.contains("ended:      cleanly"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}
