//! A page player's own recording, end to end in Debian's headless Chromium: the page joins a
//! `tilegame-server --web`, plays a few seconds (moving), and "Download recording" saves a
//! `.tgr` through the browser's own download (a Blob through `<a download>`, into a folder set
//! by the session's preferences); the native `tilegame-replay verify` then replays the file and
//! checks its tick hashes.
//!
//! Needs the bundle in `web/dist` (`web/build.sh`; `.ci/run` builds it first) and the
//! `chromium` and `chromedriver` programs (Debian: chromium, chromium-driver). Without them the
//! test fails and says what is missing: nothing is skipped. Every wait is bounded.

#[path = "support/browser.rs"]
mod browser;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use browser::{
    bounded, hold, open_page, page_server, press, snapshots, target_dir, wait_snapshots,
    Chromedriver, ENTER, ESCAPE, STEP, TAB,
};
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use tilegame_tests::server_process;

/// The one finished `.tgr` in `dir` once the browser has written `len` bytes of it (bounded).
fn downloaded(dir: &Path, len: u64) -> PathBuf {
    let deadline = Instant::now() + STEP;
    loop {
        let files: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "tgr"))
                    .filter_map(|p| Some((p.clone(), std::fs::metadata(&p).ok()?.len())))
                    .collect()
            })
            .unwrap_or_default();
        if let Some((path, _)) = files.iter().find(|(_, n)| *n == len) {
            return path.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no downloaded .tgr of {len} bytes in {} within {STEP:?} (found {files:?})",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A finished `.tgr` in `dir` other than `first` (bounded; Chromium names a partial download
/// `.crdownload` until it is complete).
fn another(dir: &Path, first: &Path) -> PathBuf {
    let deadline = Instant::now() + STEP;
    loop {
        let found = std::fs::read_dir(dir).ok().and_then(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "tgr") && p != first)
        });
        if let Some(p) = found {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "the button saved no second .tgr in {} within {STEP:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_page_players_downloaded_recording_verifies_natively() {
    let (server, web) = page_server(None);
    let out = target_dir().join("browser-replay");
    let downloads = out.join(format!("downloads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&downloads);
    std::fs::create_dir_all(&downloads).expect("the download folder");

    let driver = Chromedriver::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let saved = rt.block_on(async {
        let client = driver.session(Some(&downloads)).await;
        open_page(&client, web, "").await;
        // Main menu: Tab to Join, Enter; the Join form's defaults (this server, "player").
        // Each key waits for the screen before it to settle (the page may draw a few frames a
        // second under software WebGL on a loaded machine).
        for key in [TAB, ENTER, ENTER] {
            press(&client, &key.to_string()).await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        wait_snapshots(&client, 20.0, "the page player to join").await;
        // A few seconds of play: moving right, then left.
        hold(&client, 'd', Duration::from_millis(1500)).await;
        hold(&client, 'a', Duration::from_millis(1000)).await;
        let played = snapshots(&client).await;
        wait_snapshots(&client, played + 10.0, "more snapshots").await;
        // The pause menu shows the button; the page's hook runs the button's own action.
        press(&client, &ESCAPE.to_string()).await;
        let canvas = bounded(
            "the canvas",
            client.find(fantoccini::Locator::Id("tilegame")),
        )
        .await;
        let shot = bounded("pause screenshot", canvas.screenshot()).await;
        std::fs::write(out.join("pause-download.png"), &shot).expect("save the screenshot");
        let saved = bounded(
            "download the recording",
            client.execute("return window.tilegameDownloadRecording();", vec![]),
        )
        .await;
        let saved = saved.as_f64().unwrap_or(0.0) as u64;
        assert!(saved > 0, "the page saved no recording ({saved} bytes)");
        // The browser writes the file in its own time; the session stays open until then.
        let path = downloaded(&downloads, saved);
        // The button itself (top centre of the canvas) saves a second file.
        let click = MouseActions::new("mouse".into())
            .then(PointerAction::MoveTo {
                duration: None,
                x: 640.0,
                y: 32.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        bounded("click Download recording", client.perform_actions(click)).await;
        let clicked = another(&downloads, &path);
        bounded("leave the page", client.goto("about:blank")).await;
        bounded("close Chromium", client.close()).await;
        (path, clicked)
    });
    let (saved, clicked) = saved;
    let (code, report) = server_process::replay(&[OsStr::new("verify"), clicked.as_os_str()]);
    assert_eq!(
        code,
        Some(0),
        "verify of the button's file failed:\n{report}"
    );
    assert!(report.starts_with("OK: "), "{report}");
    drop(server);

    let kept = out.join("page-recording.tgr");
    std::fs::copy(&saved, &kept).expect("keep the recording under target/");
    let (code, report) = server_process::replay(&[OsStr::new("verify"), kept.as_os_str()]);
    println!("tilegame-replay verify {}:\n{report}", kept.display());
    assert_eq!(code, Some(0), "verify failed:\n{report}");
    let verified: u64 = report
        .lines()
        .find_map(|l| l.strip_prefix("OK: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("verify said no OK line:\n{report}"));
    assert!(
        verified >= 20,
        "only {verified} tick hashes verified:\n{report}"
    );
    let _ = std::fs::remove_dir_all(&downloads);
}
