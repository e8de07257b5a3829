//! A screenshot of every screen, in every language, from the real binary in a real window
//! under Xvfb and Mesa's software renderer: none may be blank, and the same screen must look
//! different in each language (the text changed and was drawn). The pictures are kept under
//! the target folder (`screens/`) for a person to look at.
//!
//! Needs `xvfb-run` (packages xvfb and xauth, which `.ci/run` installs): without it the test
//! fails, it does not skip.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const LANGUAGES: [&str; 7] = ["en", "es", "fr", "ja", "pl", "ru", "zh"];

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screens");
    std::fs::create_dir_all(&d).expect("screens folder");
    d
}

/// Runs the game under Xvfb with `args`, saving the frame to `name`.png; returns its pixels.
fn shot(name: &str, args: &[&str]) -> (u32, u32, Vec<u8>) {
    assert!(
        Command::new("xvfb-run").arg("--help").output().is_ok(),
        "xvfb-run is missing: apt-get install xvfb xauth (see .ci/run)"
    );
    let dir = out_dir();
    let config = dir.join(format!("config-{name}"));
    let _ = std::fs::remove_dir_all(&config);
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    let output = Command::new("timeout")
        .args(["180", "xvfb-run", "-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_tilegame"))
        .arg("--config-dir")
        .arg(&config)
        .args(["--frames", "3", "--screenshot"])
        .arg(&png)
        .args(args)
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .expect("run the game under xvfb-run");
    assert!(
        output.status.success(),
        "{name}: the game failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).unwrap_or_else(|e| panic!("{name}: no screenshot: {e}")),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("pixels");
    buf.truncate(info.buffer_size());
    let distinct: BTreeSet<&[u8]> = buf.chunks(4).collect();
    assert!(
        distinct.len() > 50,
        "{name}: a blank picture ({} colours)",
        distinct.len()
    );
    (info.width, info.height, buf)
}

/// Pixels that differ between two pictures of the same size.
fn differing(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len());
    a.chunks(4).zip(b.chunks(4)).filter(|(x, y)| x != y).count()
}

/// Screens of one language: (screen, pixels).
type Shots = Vec<(String, Vec<u8>)>;

/// The window sizes every menu screen is pictured at: the smallest the game supports and a
/// common laptop size. (That each screen's title and its way back are whole at both sizes in
/// every language is checked on egui's output in `ui::view`'s tests; these are the pictures.)
const SIZES: [&str; 2] = ["640x360", "1280x800"];

#[test]
fn every_menu_screen_in_every_language() {
    for size in SIZES {
        menu_screens_at(size);
    }
}

fn menu_screens_at(size: &str) {
    let screens = ["menu", "host", "join", "options"];
    // One thread per language; each runs its screens in turn.
    let results: Vec<(String, Shots)> = std::thread::scope(|s| {
        let handles: Vec<_> = LANGUAGES
            .iter()
            .map(|lang| {
                s.spawn(move || {
                    let shots = screens
                        .iter()
                        .map(|screen| {
                            let name = format!("{screen}-{lang}-{size}");
                            let (w, h, px) = shot(
                                &name,
                                &["--lang", lang, "--screen", screen, "--window-size", size],
                            );
                            assert_eq!(format!("{w}x{h}"), size, "{name}: the picture's size");
                            (screen.to_string(), px)
                        })
                        .collect();
                    (lang.to_string(), shots)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a screenshot thread"))
            .collect()
    });
    for (i, screen) in screens.iter().enumerate() {
        for a in 0..results.len() {
            for b in a + 1..results.len() {
                let (la, pa) = (&results[a].0, &results[a].1[i].1);
                let (lb, pb) = (&results[b].0, &results[b].1[i].1);
                let n = differing(pa, pb);
                assert!(
                    n > 300,
                    "{screen}: {la} and {lb} look the same ({n} pixels differ)"
                );
            }
        }
    }
    // Different screens differ too.
    let en = &results[0].1;
    for a in 0..en.len() {
        for b in a + 1..en.len() {
            assert!(
                differing(&en[a].1, &en[b].1) > 300,
                "{} = {}",
                en[a].0,
                en[b].0
            );
        }
    }
}

/// The Credits screen (item: a distributed binary shows its licences), from the real binary at
/// the smallest and a common size, in a Latin and a CJK language: drawn, not the menu, and
/// translated. (That its title, the font licence and Back are whole on screen, and that the
/// last crate's licence scrolls into view, is checked on egui's output in `ui::view`'s tests.)
#[test]
fn credits_screen_at_both_sizes() {
    for size in SIZES {
        let (w, h, menu) = shot(
            &format!("credits-menu-en-{size}"),
            &["--lang", "en", "--screen", "menu", "--window-size", size],
        );
        assert_eq!(format!("{w}x{h}"), size, "the picture's size");
        let (_, _, en) = shot(
            &format!("credits-en-{size}"),
            &["--lang", "en", "--screen", "credits", "--window-size", size],
        );
        let (_, _, ja) = shot(
            &format!("credits-ja-{size}"),
            &["--lang", "ja", "--screen", "credits", "--window-size", size],
        );
        let n = differing(&menu, &en);
        assert!(
            n > 300,
            "{size}: the Credits screen looks like the menu ({n})"
        );
        let n = differing(&en, &ja);
        assert!(
            n > 300,
            "{size}: the Credits screen is not translated ({n})"
        );
    }
}

#[test]
fn failure_and_in_game_screens() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let (_, _, menu) = shot("failure-menu", &["--lang", "fr"]);
    let (_, _, fr) = shot("failed-fr", &["--lang", "fr", "--connect", &address]);
    let (_, _, ja) = shot("failed-ja", &["--lang", "ja", "--connect", &address]);
    assert!(
        differing(&menu, &fr) > 300,
        "the failure screen is not the menu"
    );
    assert!(
        differing(&fr, &ja) > 300,
        "the failure screen is not translated"
    );
    let game = [
        "--host", "--size", "small", "--seed", "screens", "--name", "tester",
    ];
    let mut pictures = Vec::new();
    for (name, extra) in [
        ("game-en", &["--lang", "en"][..]),
        ("pause-ru", &["--lang", "ru", "--screen", "pause"][..]),
        ("map-zh", &["--lang", "zh", "--screen", "map"][..]),
        ("players-pl", &["--lang", "pl", "--screen", "players"][..]),
    ] {
        let args: Vec<&str> = game.iter().chain(extra).copied().collect();
        pictures.push((name, shot(name, &args).2));
    }
    for a in 0..pictures.len() {
        for b in a + 1..pictures.len() {
            let n = differing(&pictures[a].1, &pictures[b].1);
            assert!(
                n > 300,
                "{} and {} look the same",
                pictures[a].0,
                pictures[b].0
            );
        }
    }
}
