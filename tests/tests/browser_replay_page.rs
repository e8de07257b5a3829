//! Replay in the page, end to end in Debian's headless Chromium: `tilegame-server --web` with
//! `--replays DIR` serves the committed fixture (and a damaged copy), the page opens each with
//! `?replay=/replays/NAME`, runs `verify` on it and shows the viewer; what it publishes on
//! `<html>` (`data-replay`, `data-replay-verified`, `data-replay-ticks`, `data-replay-report`)
//! must say exactly what the native `tilegame-replay verify --no-timing` says of the same file.
//! A garbage file and a cut one must show what is wrong on the page (not panic it). The fixture
//! opened with the "Open replay…" file picker and dropped on the page gives the same verdict;
//! "Back to the game" then closes it and the game's menu is drawn again, without a reload. A
//! screenshot of the canvas with the viewer is kept under `target/browser-replay-page/`.
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
    bounded, open_page, page_server, png_pixels, repo_root, target_dir, Chromedriver, STEP,
};
use fantoccini::Client;
use tilegame_tests::server_process;

/// What the page published about the recording it opened.
#[derive(Debug)]
struct PageVerdict {
    state: String,
    verified: String,
    ticks: String,
    report: String,
    error_box: String,
}

/// Waits (bounded) until the page has a verdict on its recording.
async fn verdict(client: &Client) -> PageVerdict {
    let deadline = Instant::now() + STEP;
    loop {
        let v = bounded(
            "read the replay state",
            client.execute(
                "const d = document.documentElement.dataset; \
                 const e = document.getElementById('tilegame-error'); \
                 return [d.replay || '', d.replayVerified || '', d.replayTicks || '', \
                         d.replayReport || '', (e && !e.hidden) ? e.textContent : ''];",
                vec![],
            ),
        )
        .await;
        let field = |i: usize| v[i].as_str().unwrap_or_default().to_owned();
        let state = field(0);
        // `loading` while the bytes come, `verifying` while the page draws "Verifying…".
        if !state.is_empty() && state != "loading" && state != "verifying" {
            return PageVerdict {
                state,
                verified: field(1),
                ticks: field(2),
                report: field(3),
                error_box: field(4),
            };
        }
        assert!(
            Instant::now() < deadline,
            "the page gave no verdict within {STEP:?} (data-replay {state:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Native `tilegame-replay verify --no-timing FILE`: exit code and output.
fn native_verify(file: &Path) -> (Option<i32>, String) {
    server_process::replay(&[
        OsStr::new("verify"),
        OsStr::new("--no-timing"),
        file.as_os_str(),
    ])
}

/// A recordings folder with the fixture and a garbage file; removed when dropped.
struct Replays {
    dir: PathBuf,
}

impl Drop for Replays {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn the_page_opens_a_served_recording_and_verifies_it_like_the_native_tool() {
    let replays = Replays {
        dir: std::env::temp_dir().join(format!("tilegame-page-replays-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&replays.dir);
    std::fs::create_dir_all(&replays.dir).expect("the replays folder");
    let fixture = replays.dir.join("small.tgr");
    std::fs::copy(
        repo_root().join("replay/tests/fixtures/small.tgr"),
        &fixture,
    )
    .expect("copy the fixture");
    let garbage = replays.dir.join("garbage.tgr");
    std::fs::write(&garbage, b"this is not a tilegame recording\n".repeat(40))
        .expect("write the garbage file");
    // The fixture cut in the middle of a chunk, as a killed recorder leaves it.
    let whole = std::fs::read(&fixture).expect("read the fixture");
    let cut = replays.dir.join("cut.tgr");
    std::fs::write(&cut, &whole[..whole.len() * 3 / 5]).expect("write the cut file");
    let (cut_code, cut_native) = native_verify(&cut);

    let (code, native) = native_verify(&fixture);
    assert_eq!(code, Some(0), "native verify of the fixture:\n{native}");
    let verified: u64 = native
        .lines()
        .find_map(|l| l.strip_prefix("OK: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("native verify said no OK line:\n{native}"));
    let ticks = native
        .split("(ticks ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("native verify named no ticks:\n{native}"))
        .to_owned();
    let (bad_code, bad_native) = native_verify(&garbage);
    assert_eq!(bad_code, Some(2), "native verify of garbage:\n{bad_native}");

    let (server, web) = page_server(Some(replays.dir.clone()));
    let out = target_dir().join("browser-replay-page");
    std::fs::create_dir_all(&out).expect("the screenshot folder");

    let driver = Chromedriver::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let client = driver.session(None).await;

        // The fixture: the same verdict, ticks and report as the native tool.
        open_page(&client, web, "?replay=/replays/small.tgr").await;
        let page = verdict(&client).await;
        assert_eq!(page.state, "ok", "{page:?}");
        assert_eq!(page.verified, verified.to_string(), "{page:?}");
        assert_eq!(page.ticks, ticks, "{page:?}");
        assert_eq!(
            page.report, native,
            "the page's report differs from native verify"
        );
        assert_eq!(page.error_box, "", "a good file shows no error: {page:?}");
        // Let the viewer play a moment, then keep a picture of it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let canvas = bounded(
            "the canvas",
            client.find(fantoccini::Locator::Id("tilegame")),
        )
        .await;
        let shot = bounded("viewer screenshot", canvas.screenshot()).await;
        std::fs::write(out.join("viewer.png"), &shot).expect("save the screenshot");
        assert!(
            colours(&shot) >= 8,
            "the viewer's screenshot is nearly blank ({} colours)",
            colours(&shot)
        );

        // Garbage: `damaged`, the native tool's reason, shown in the page's error box.
        open_page(&client, web, "?replay=/replays/garbage.tgr").await;
        let page = verdict(&client).await;
        assert_eq!(page.state, "damaged", "{page:?}");
        // Native: "error: <path>: <reason>"; the page names the URL instead of the path.
        let reason = bad_native
            .trim_end()
            .strip_prefix(&format!("error: {}: ", garbage.display()))
            .unwrap_or_else(|| panic!("native verify's error names no path:\n{bad_native}"));
        assert_eq!(page.report, format!("/replays/garbage.tgr: {reason}"));
        assert!(
            page.error_box.contains(reason),
            "the page's error box does not say why: {page:?}"
        );
        let shot = bounded("error screenshot", canvas_shot(&client)).await;
        std::fs::write(out.join("damaged.png"), &shot).expect("save the screenshot");

        // Cut short: what native verify says of it (the part before the cut verified, the cut
        // and its offset noted), or its error when the cut leaves nothing to replay.
        open_page(&client, web, "?replay=/replays/cut.tgr").await;
        let page = verdict(&client).await;
        match cut_code {
            Some(0) => {
                assert_eq!(page.state, "cut", "{page:?}\nnative:\n{cut_native}");
                assert!(cut_native.contains("was cut"), "{cut_native}");
                assert_eq!(page.report, cut_native, "the cut file's report differs");
            }
            _ => {
                assert_eq!(page.state, "damaged", "{page:?}\nnative:\n{cut_native}");
                let reason = cut_native
                    .trim_end()
                    .strip_prefix(&format!("error: {}: ", cut.display()))
                    .unwrap_or_else(|| {
                        panic!("native verify's error names no path:\n{cut_native}")
                    });
                assert_eq!(page.report, format!("/replays/cut.tgr: {reason}"));
            }
        }

        // A file the server does not have: an error naming the answer, still no panic.
        open_page(&client, web, "?replay=/replays/missing.tgr").await;
        let page = verdict(&client).await;
        assert_eq!(page.state, "error", "{page:?}");
        assert!(page.report.contains("404"), "{page:?}");

        // The "Open replay…" file picker: the fixture chosen as a player would choose it.
        open_page(&client, web, "").await;
        let picker = bounded(
            "the file picker",
            client.find(fantoccini::Locator::Id("tilegame-open-replay")),
        )
        .await;
        let path = fixture.to_str().expect("a UTF-8 temp path");
        bounded("choose the fixture", picker.send_keys(path)).await;
        let page = verdict(&client).await;
        assert_eq!(page.state, "ok", "picked: {page:?}");
        assert_eq!(page.report, native, "the picked file's report differs");

        // A file dropped on the page (a real `drop` event carrying the fixture's bytes).
        open_page(&client, web, "").await;
        bounded(
            "drop the fixture on the page",
            client.execute(
                "return fetch('/replays/small.tgr').then((r) => r.arrayBuffer()).then((b) => { \
                   const dt = new DataTransfer(); \
                   dt.items.add(new File([b], 'dropped.tgr')); \
                   document.body.dispatchEvent(new DragEvent('drop', \
                     { bubbles: true, cancelable: true, dataTransfer: dt })); \
                   return true; });",
                vec![],
            ),
        )
        .await;
        let page = verdict(&client).await;
        assert_eq!(page.state, "ok", "dropped: {page:?}");
        assert_eq!(page.report, native, "the dropped file's report differs");

        // "Back to the game": the recording closes, its state leaves `<html>`, the button hides
        // again, and the game's menu is drawn, in the same page (a mark set before survives).
        bounded(
            "mark the page",
            client.execute("window.tilegameMark = 'still here'; return true;", vec![]),
        )
        .await;
        let viewer_shot = bounded("viewer screenshot", canvas_shot(&client)).await;
        let back = bounded(
            "the back button",
            client.find(fantoccini::Locator::Id("tilegame-close-replay")),
        )
        .await;
        bounded("click Back to the game", back.click()).await;
        let deadline = Instant::now() + STEP;
        loop {
            let v = bounded(
                "read the page after going back",
                client.execute(
                    "return [document.documentElement.dataset.replay || '', \
                             document.getElementById('tilegame-close-replay').hidden, \
                             window.tilegameMark || ''];",
                    vec![],
                ),
            )
            .await;
            if v[0].as_str() == Some("") && v[1].as_bool() == Some(true) {
                assert_eq!(v[2].as_str(), Some("still here"), "the page reloaded");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the replay did not close within {STEP:?}: {v:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The game's frames again: the canvas changes from the viewer's picture.
        let deadline = Instant::now() + STEP;
        loop {
            let shot = bounded("menu screenshot", canvas_shot(&client)).await;
            if shot != viewer_shot && colours(&shot) >= 8 {
                std::fs::write(out.join("back-to-game.png"), &shot).expect("save the screenshot");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the canvas did not go back to the game within {STEP:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        bounded("leave the page", client.goto("about:blank")).await;
        bounded("close Chromium", client.close()).await;
    });
    drop(server);
}

/// A screenshot of the canvas.
async fn canvas_shot(client: &Client) -> Result<Vec<u8>, fantoccini::error::CmdError> {
    client
        .find(fantoccini::Locator::Id("tilegame"))
        .await?
        .screenshot()
        .await
}

/// Distinct colours in a PNG (a blank or single-colour canvas has one or two).
fn colours(png_bytes: &[u8]) -> usize {
    let (pixels, channels) = png_pixels(png_bytes);
    let mut seen = std::collections::HashSet::new();
    for px in pixels.chunks(channels) {
        seen.insert(px.to_vec());
        if seen.len() > 64 {
            break;
        }
    }
    seen.len()
}
