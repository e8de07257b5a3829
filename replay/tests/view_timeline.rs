//! The viewer's timeline bar, used like a person uses it: the real `tilegame-replay view` in a
//! window under Xvfb (real wgpu on Mesa), driven with xdotool. A click on the bar puts the
//! play-head on the clicked column, dragging scrubs it along, `.` and `,` step one tick either
//! way, `2` changes the speed shown on the bar; every check reads the window's pixels back.
//!
//! Needs Xvfb and xdotool (`.ci/run` installs them) and fails without them.

#![cfg(feature = "view")]

mod common;

use common::x11::{xdotool, xvfb, Reaper};

use std::process::{Command, Stdio};
use std::time::Duration;

use tilegame_client::render::timeline_bar::{BarLayout, CURSOR_COLOR};
use x11rb::protocol::xproto::{ConnectionExt, ImageFormat};

const LIMIT: Duration = Duration::from_secs(120);

/// The window's pixels as RGB rows, read back from the X server.
struct Shot {
    width: usize,
    rgb: Vec<[u8; 3]>,
}

impl Shot {
    fn take(conn: &x11rb::rust_connection::RustConnection, window: u32, size: [u16; 2]) -> Shot {
        let reply = conn
            .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, size[0], size[1], !0)
            .expect("get_image")
            .reply()
            .expect("the window's pixels");
        let (w, h) = (usize::from(size[0]), usize::from(size[1]));
        assert_eq!(reply.data.len(), w * h * 4, "32-bit pixels (depth 24)");
        // Little-endian ZPixmap at depth 24: B, G, R, unused.
        let rgb = reply.data.chunks(4).map(|p| [p[2], p[1], p[0]]).collect();
        Shot { width: w, rgb }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        self.rgb[y * self.width + x]
    }

    /// The play-head's column: the centre of the row's run of the play-head colour below the
    /// track (where nothing else of the bar reaches), if there is exactly one such run.
    fn cursor(&self, layout: &BarLayout) -> Option<f32> {
        let y = (layout.track[1] + 10.0) as usize;
        let want = [CURSOR_COLOR.r(), CURSOR_COLOR.g(), CURSOR_COLOR.b()];
        let cols: Vec<usize> = (0..self.width)
            .filter(|&x| {
                let p = self.at(x, y);
                p.iter().zip(want).all(|(&a, b)| a.abs_diff(b) <= 12)
            })
            .collect();
        let (first, last) = (*cols.first()?, *cols.last()?);
        (last - first < 4).then_some((first + last) as f32 / 2.0 + 0.5)
    }
}

#[test]
fn clicks_drags_and_steps_on_the_timeline_bar_move_the_play_head() {
    let (_xvfb, display) = xvfb();
    let dir = std::env::temp_dir().join(format!("tilegame-view-bar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let viewer = Command::new(env!("CARGO_BIN_EXE_tilegame-replay"))
        .arg("view")
        .arg(common::fixture_path())
        .args(["--speed", "1"])
        .env("DISPLAY", &display)
        .env("XDG_RUNTIME_DIR", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the viewer starts");
    let viewer = Reaper(viewer);
    let pid = viewer.0.id().to_string();
    let window = xdotool(
        &display,
        &["search", "--sync", "--onlyvisible", "--pid", &pid],
    );
    let window = window.lines().next().expect("a window").trim().to_owned();
    xdotool(&display, &["windowfocus", "--sync", &window]);
    let (conn, _) = x11rb::connect(Some(&display)).expect("connect to Xvfb");
    let id: u32 = window.parse().expect("a window id");
    let geometry = conn
        .get_geometry(id)
        .expect("get_geometry")
        .reply()
        .expect("the window's geometry");
    let size = [geometry.width, geometry.height];
    let layout = BarLayout::new([f32::from(size[0]), f32::from(size[1])], 1.0);
    let shot = || Shot::take(&conn, id, size);
    let cursor_near = |what: &str, x: f32| {
        common::wait_for_or(
            what,
            LIMIT,
            || shot().cursor(&layout).filter(|c| (c - x).abs() <= 1.0),
            || format!("play-head at {:?}, wanted {x}", shot().cursor(&layout)),
        )
    };
    let y = format!("{}", layout.track[1].round());
    let [left, _, right] = layout.track;

    // The bar is drawn, with its play-head. `.` steps one tick and pauses.
    common::wait_for("the play-head on the bar", LIMIT, || shot().cursor(&layout));
    xdotool(&display, &["key", "period"]);

    // A click on the bar: the play-head lands on the clicked column and stays (paused).
    for frac in [0.7f32, 0.25] {
        let x = (left + (right - left) * frac).round();
        xdotool(
            &display,
            &["mousemove", "--window", &window, &format!("{x}"), &y],
        );
        xdotool(&display, &["click", "1"]);
        cursor_near(&format!("the play-head at the click on column {x}"), x);
    }

    // A drag: press at one column, move with the button held, the play-head follows.
    let (from, to) = (
        (left + 100.0).round(),
        (left + (right - left) * 0.6).round(),
    );
    xdotool(
        &display,
        &["mousemove", "--window", &window, &format!("{from}"), &y],
    );
    xdotool(&display, &["mousedown", "1"]);
    cursor_near("the play-head at the press", from);
    for x in [from + 150.0, to] {
        xdotool(
            &display,
            &["mousemove", "--window", &window, &format!("{x}"), &y],
        );
        cursor_near(&format!("the play-head following the drag to {x}"), x);
    }
    xdotool(&display, &["mouseup", "1"]);

    // One tick forward moves it right a little (a tick of a 4-second file), one back left.
    xdotool(&display, &["key", "period"]);
    let after_step = common::wait_for("a step forward", LIMIT, || {
        shot().cursor(&layout).filter(|c| *c > to && *c < to + 60.0)
    });
    xdotool(&display, &["key", "comma"]);
    common::wait_for("a step back", LIMIT, || {
        shot().cursor(&layout).filter(|c| *c < after_step)
    });

    // `2` raises the speed: the note at the bar's right end changes.
    let note = |s: &Shot| -> Vec<[u8; 3]> {
        let (top, r) = (layout.panel[1] as usize, right as usize);
        (top + 2..top + 24)
            .flat_map(|y| (r - 70..r).map(move |x| (x, y)))
            .map(|(x, y)| s.at(x, y))
            .collect()
    };
    let before = note(&shot());
    xdotool(&display, &["key", "2"]);
    common::wait_for("the speed shown on the bar to change", LIMIT, || {
        (note(&shot()) != before).then_some(())
    });
    drop(viewer);
    let _ = std::fs::remove_dir_all(&dir);
}
