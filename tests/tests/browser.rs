//! The browser client end to end, in Debian's headless Chromium driven over WebDriver: the page
//! is loaded from the server's web listener (`--web`), a name is typed and the player joins; a
//! native client in the same game sees that player join by name and move after key presses
//! sent to the page; a screenshot of the canvas (kept under `target/browser/`) shows the map;
//! the page player leaves and the native side decodes why.
//!
//! Needs the bundle in `web/dist` (`web/build.sh`; `.ci/run` builds it first) and the
//! `chromium` and `chromedriver` programs (Debian: chromium, chromium-driver). Without them the
//! test fails and says what is missing: nothing is skipped. Every wait is bounded.

#[path = "support/browser.rs"]
mod browser;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use browser::{
    bounded, page_server, png_pixels, target_dir, wait_running, Chromedriver, ENTER, STEP, TAB,
};
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::{Client, Locator};
use tilegame_client::net::{ByteCounters, ConnectOptions, Connection};
use tilegame_client::play::PlayState;
use tilegame_protocol::v1::{play, DisconnectReason};

/// The page player's name, typed into the Join form (a non-ASCII letter on purpose).
const NAME: &str = "Zoë_web";
/// The name of the player the second page joins as straight from its address.
const LINKED_NAME: &str = "Zoë_link";

/// Where the Join form's Name field is, from the middle of the canvas (logical pixels, the
/// form is centred in the window).
const NAME_FIELD: (f64, f64) = (-40.0, 80.0);

const END: char = '\u{e010}';
const BACKSPACE: char = '\u{e003}';

/// A position in world pixels.
type Pixel = (i32, i32);

/// What the native client saw of the others.
#[derive(Debug, Default)]
struct Observed {
    names: BTreeMap<u32, String>,
    /// Each player's first and latest position seen.
    positions: HashMap<u32, (Pixel, Pixel)>,
    left: Vec<(u32, DisconnectReason)>,
    error: Option<String>,
}

impl Observed {
    fn id_of(&self, name: &str) -> Option<u32> {
        self.names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| *id)
    }
}

/// The native client: joins as "watcher" and records joins, positions and leaves until stopped.
async fn watch(
    addr: SocketAddr,
    seen: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let options = ConnectOptions::new(addr.to_string(), "watcher");
    let (mut conn, joined) = Connection::connect(&options, ByteCounters::new(), None, &mut |_| {})
        .await
        .map_err(|e| e.to_string())?;
    let mut state = PlayState::new();
    state.join(&joined, "watcher");
    for p in &joined.players {
        seen.lock().unwrap().names.insert(p.id, p.name.clone());
    }
    let mut nonce = 0u32;
    let mut ping = tokio::time::interval(Duration::from_secs(2));
    while !stop.load(Ordering::SeqCst) {
        tokio::select! {
            packet = conn.recv() => {
                let packet = packet.map_err(|e| e.to_string())?;
                state.apply(&packet);
                let mut seen = seen.lock().unwrap();
                match &packet {
                    play::ToClient::PlayerJoined(j) => {
                        seen.names.insert(j.player.id, j.player.name.clone());
                    }
                    play::ToClient::PlayerLeft(l) => seen.left.push((l.id, l.reason)),
                    _ => {}
                }
                for p in state.players.iter() {
                    seen.positions
                        .entry(p.id)
                        .and_modify(|(_, last)| *last = p.pos)
                        .or_insert((p.pos, p.pos));
                }
            }
            _ = ping.tick() => {
                nonce = nonce.wrapping_add(1);
                conn.send(&play::Ping { nonce }).await.map_err(|e| e.to_string())?;
            }
        }
    }
    conn.disconnect().await;
    Ok(())
}

/// Waits (bounded) until `done` holds for what the native client saw.
fn wait_for(seen: &Mutex<Observed>, what: &str, mut done: impl FnMut(&Observed) -> bool) {
    let deadline = Instant::now() + STEP;
    loop {
        // The lock is released before any assertion fails (the native client keeps going).
        let (ok, error, state) = {
            let s = seen.lock().unwrap();
            (done(&s), s.error.clone(), format!("{s:?}"))
        };
        assert!(error.is_none(), "the native client failed: {error:?}");
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "waited {STEP:?} for {what}; saw {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Presses and releases each key in turn, each in its own frames.
async fn press(client: &Client, keys: &str) {
    for key in keys.chars() {
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Pause {
                duration: Duration::from_millis(60),
            })
            .then(KeyAction::Up { value: key })
            .then(KeyAction::Pause {
                duration: Duration::from_millis(250),
            });
        bounded("key press", client.perform_actions(actions)).await;
    }
}

/// What the page says about its connection and errors: the client's last connection state
/// and its cause (`data-net-state`, `data-net-detail` on `<html>`) and the error box's text.
/// A version mismatch is what a bundle older than the server's protocol gets: it says so.
async fn page_status(client: &Client) -> String {
    let v = bounded(
        "read the page's status",
        client.execute(
            "const d = document.documentElement.dataset; \
             return [d.netState || '', d.netDetail || '', \
             (document.getElementById('tilegame-error') || {}).textContent || ''];",
            vec![],
        ),
    )
    .await;
    let field = |i: usize| v[i].as_str().unwrap_or("").to_owned();
    let (state, detail, error) = (field(0), field(1), field(2));
    let hint = if state == "version mismatch" {
        " -- the bundle in web/dist is older than the server's protocol: rebuild it with \
         web/build.sh"
    } else {
        ""
    };
    format!("page connection state {state:?} ({detail}); page error {error:?}{hint}")
}

/// Waits (bounded) until the native client has seen a player called `name`; fails with the
/// page's own account of its connection when the page gave up or the time ran out.
async fn wait_for_join(client: &Client, seen: &Mutex<Observed>, name: &str) -> u32 {
    let deadline = Instant::now() + STEP;
    loop {
        let (id, error) = {
            let s = seen.lock().unwrap();
            (s.id_of(name), s.error.clone())
        };
        assert!(error.is_none(), "the native client failed: {error:?}");
        if let Some(id) = id {
            return id;
        }
        let failed = bounded(
            "read the page's connection state",
            client.execute(
                "const s = document.documentElement.dataset.netState || ''; \
                 return !['', 'idle', 'pending', 'getting data', 'success'].includes(s);",
                vec![],
            ),
        )
        .await;
        if failed.as_bool() == Some(true) || Instant::now() >= deadline {
            let status = page_status(client).await;
            let saw = format!("{:?}", seen.lock().unwrap());
            panic!("the page player {name:?} did not join: {status}; the native client saw {saw}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Types `text` as key presses (each character down and up, as a player's keyboard does).
async fn type_text(client: &Client, text: &str) {
    let mut actions = KeyActions::new("keyboard".into());
    for c in text.chars() {
        actions = actions
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Pause {
                duration: Duration::from_millis(40),
            })
            .then(KeyAction::Up { value: c })
            .then(KeyAction::Pause {
                duration: Duration::from_millis(60),
            });
    }
    bounded("type", client.perform_actions(actions)).await;
}

/// The Snapshots the page has received (its `data-snapshots`) and the page's clock (ms).
async fn snapshots(client: &Client) -> (f64, f64) {
    let v = bounded(
        "read the snapshot count",
        client.execute(
            "return [document.documentElement.dataset.snapshots || '0', performance.now()];",
            vec![],
        ),
    )
    .await;
    let count = v[0].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    (count, v[1].as_f64().unwrap_or(0.0))
}

/// Presses (`down`) or releases a key, leaving it so until the next call.
async fn key(client: &Client, key: char, down: bool) {
    let action = if down {
        KeyAction::Down { value: key }
    } else {
        KeyAction::Up { value: key }
    };
    let actions = KeyActions::new("keyboard".into()).then(action);
    bounded("key", client.perform_actions(actions)).await;
}

/// Colours (quantised to 5 bits a channel) that each cover at least 0.2 % of a PNG.
fn main_colours(png_bytes: &[u8]) -> usize {
    let (pixels, channels) = png_pixels(png_bytes);
    assert!(
        channels >= 3,
        "an RGB screenshot, got {channels} samples a pixel"
    );
    let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
    let mut total = 0usize;
    for px in pixels.chunks_exact(channels) {
        *counts
            .entry([px[0] >> 3, px[1] >> 3, px[2] >> 3])
            .or_default() += 1;
        total += 1;
    }
    counts.values().filter(|&&n| n * 500 >= total).count()
}

#[test]
fn a_page_player_joins_moves_is_seen_by_a_native_client_and_leaves() {
    let (server, web) = page_server(None);

    let seen = Arc::new(Mutex::new(Observed::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = std::thread::spawn({
        let (seen, stop, addr) = (Arc::clone(&seen), Arc::clone(&stop), server.addr());
        move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            if let Err(e) = rt.block_on(watch(addr, Arc::clone(&seen), stop)) {
                seen.lock().unwrap().error = Some(e);
            }
        }
    });

    let driver = Chromedriver::start();
    let shots = target_dir().join("browser");
    std::fs::create_dir_all(&shots).expect("target/browser");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let client = driver.session(None).await;
        // First, in the fresh browser (nothing cached), a link straight into the game
        // (`?join&name=`): the load-time figure is from navigation to the first frame that
        // draws the map. Loading the menu next closes that page's connection.
        let link = format!("http://{web}/?join&name=Zo%C3%AB_link");
        bounded("load the linked page", client.goto(&link)).await;
        wait_for_join(&client, &seen, LINKED_NAME).await;
        let deadline = Instant::now() + STEP;
        let map_ms = loop {
            let v = bounded(
                "read the first map frame time",
                client.execute(
                    "return document.documentElement.dataset.firstMapFrameMs || '';",
                    vec![],
                ),
            )
            .await;
            if let Some(ms) = v.as_str().filter(|ms| !ms.is_empty()) {
                break ms.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the linked page drew no map within {STEP:?}: {}",
                page_status(&client).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        println!("browser figure: first map frame drawn {map_ms} ms after navigation started");

        bounded("load the page", client.goto(&format!("http://{web}/"))).await;
        // The page marks <html data-tilegame="running"> once its first frame is drawn.
        wait_running(&client).await;
        let first_frame = bounded(
            "read the first frame time",
            client.execute(
                "return document.documentElement.dataset.firstFrameMs;",
                vec![],
            ),
        )
        .await;
        println!("browser figure: first frame (the menu, bundle cached) drawn {first_frame} ms after navigation started");
        let canvas = bounded("the canvas", client.find(Locator::Id("tilegame"))).await;
        // Focus without a click (a click would press the menu button under the pointer).
        bounded(
            "focus the canvas",
            client.execute("document.getElementById('tilegame').focus();", vec![]),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let menu = bounded("menu screenshot", canvas.screenshot()).await;
        std::fs::write(shots.join("menu.png"), &menu).expect("save the menu screenshot");

        // Main menu: Tab to the first button (Join: hosting is not offered in the page), Enter.
        press(&client, &format!("{TAB}{ENTER}")).await;
        // The Join form is laid out on its first pass and shown on the next: wait for it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // Join form: the address is the page's own server. Click into the Name field (egui's
        // Tab does not move into text fields), clear the default name, type ours, Enter joins.
        // The form is centred: the field is NAME_FIELD below the canvas's middle.
        let click = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: canvas.clone(),
                duration: None,
                x: NAME_FIELD.0,
                y: NAME_FIELD.1,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Pause {
                duration: Duration::from_millis(100),
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        bounded("click the name field", client.perform_actions(click)).await;
        // The focus is the page's from its next frame on (a software canvas draws a few a
        // second): keys before it would go nowhere.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        press(&client, &END.to_string()).await;
        type_text(&client, &BACKSPACE.to_string().repeat(40)).await;
        type_text(&client, NAME).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let form = bounded("form screenshot", canvas.screenshot()).await;
        std::fs::write(shots.join("join-form.png"), &form).expect("save the form screenshot");
        press(&client, &ENTER.to_string()).await;

        let id = wait_for_join(&client, &seen, NAME).await;
        wait_for(&seen, "the page player's position", |s| {
            s.positions.contains_key(&id)
        });
        let start = seen.lock().unwrap().positions[&id].1;
        // Figure (printed, not asserted): Snapshots the page received per second of its own
        // clock while moving (one per tick expected), counted between two readings taken
        // while 'd' is held.
        key(&client, 'd', true).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let before = snapshots(&client).await;
        tokio::time::sleep(Duration::from_millis(3000)).await;
        let after = snapshots(&client).await;
        key(&client, 'd', false).await;
        let rate = (after.0 - before.0) / ((after.1 - before.1) / 1000.0).max(0.001);
        println!("browser figure: {rate:.1} snapshots/s received in the page while moving");
        wait_for(&seen, "the page player to move right", |s| {
            s.positions
                .get(&id)
                .is_some_and(|(_, now)| now.0 >= start.0 + 64)
        });

        let shot = bounded("game screenshot", canvas.screenshot()).await;
        std::fs::write(shots.join("game.png"), &shot).expect("save the game screenshot");
        let colours = main_colours(&shot);
        assert!(
            colours >= 6,
            "the canvas shows {colours} main colours, not a map (see {})",
            shots.join("game.png").display()
        );

        // Leaving the page closes its WebSocket: the others hear why.
        bounded("leave the page", client.goto("about:blank")).await;
        wait_for(&seen, "the page player to leave", |s| {
            s.left.iter().any(|(who, _)| *who == id)
        });
        let reason = seen
            .lock()
            .unwrap()
            .left
            .iter()
            .find(|(who, _)| *who == id)
            .map(|l| l.1);
        // The page closes its WebSocket when it goes away (pagehide): the server hears a close,
        // not silence, and announces the leave as Quit.
        println!("the page player left: {reason:?}");
        assert_eq!(
            reason,
            Some(DisconnectReason::Quit),
            "a page that goes away quits"
        );

        bounded("close Chromium", client.close()).await;
    });
    stop.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    assert!(
        seen.lock().unwrap().error.is_none(),
        "{:?}",
        seen.lock().unwrap().error
    );
    drop(server);
}
