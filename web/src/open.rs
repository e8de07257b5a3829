//! Opening a recording in the page: the "Open replay" file picker, a file dropped on the page,
//! and `?replay=URL` fetched at start.
//!
//! Why it exists: the browser hands files over in callbacks and promises, while the viewer runs
//! in the page's frame loop; each way in reads the bytes (bounded by [`MAX_REPLAY_BYTES`]) and
//! leaves them in a one-slot mailbox that the frame source takes from ([`take`]). A failure to
//! get the bytes (a refused fetch, a file too large) goes through the same slot as an error, so
//! the page shows it where a recording would be. The page's "Back to the game" button leaves a
//! request in a second slot ([`take_close`]).

use std::cell::{Cell, RefCell};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The largest recording the page opens (it holds the whole file in memory).
pub const MAX_REPLAY_BYTES: u64 = 256 << 20;

/// The file input of the "Open replay" button (`web/index.html`).
const PICKER_ID: &str = "tilegame-open-replay";

/// A recording's bytes and the name it is shown by.
pub struct Opened {
    /// The file's name, or the URL it was fetched from.
    pub name: String,
    /// The whole file.
    pub bytes: Vec<u8>,
}

/// What one way in produced: the bytes, or why there are none (naming the file or URL).
pub type Arrival = Result<Opened, String>;

thread_local! {
    static MAILBOX: RefCell<Option<Arrival>> = const { RefCell::new(None) };
    static CLOSE: Cell<bool> = const { Cell::new(false) };
}

/// Whether "Back to the game" was pressed since the last call.
pub fn take_close() -> bool {
    CLOSE.with(|c| c.replace(false))
}

/// The recording that arrived since the last call, if any.
pub fn take() -> Option<Arrival> {
    MAILBOX.with(|m| m.borrow_mut().take())
}

fn deliver(arrival: Arrival) {
    MAILBOX.with(|m| *m.borrow_mut() = Some(arrival));
}

/// Sets up the file picker, drag and drop, the `?replay=URL` fetch and "Back to the game".
pub fn install() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(document) = window.document() else {
        return;
    };
    // Dropping a file anywhere on the page opens it (instead of the browser navigating to it).
    let over = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|e: web_sys::DragEvent| {
        e.prevent_default();
    });
    let drop = Closure::<dyn FnMut(web_sys::DragEvent)>::new(|e: web_sys::DragEvent| {
        e.prevent_default();
        let file = e
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0));
        if let Some(file) = file {
            wasm_bindgen_futures::spawn_local(read_file(file));
        }
    });
    let _ = window.add_event_listener_with_callback("dragover", over.as_ref().unchecked_ref());
    let _ = window.add_event_listener_with_callback("drop", drop.as_ref().unchecked_ref());
    // The listeners live as long as the page.
    over.forget();
    drop.forget();

    if let Some(input) = document
        .get_element_by_id(PICKER_ID)
        .and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        let picker = input.clone();
        let change = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            if let Some(file) = picker.files().and_then(|f| f.get(0)) {
                wasm_bindgen_futures::spawn_local(read_file(file));
            }
            // The same file picked again must fire `change` again.
            picker.set_value("");
        });
        let _ = input.add_event_listener_with_callback("change", change.as_ref().unchecked_ref());
        change.forget();
    }

    if let Some(button) = document
        .get_element_by_id(crate::replay::CLOSE_ID)
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            CLOSE.with(|c| c.set(true));
            // The game's keys go to the canvas again.
            let canvas = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id("tilegame"))
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(canvas) = canvas {
                let _ = canvas.focus();
            }
        });
        let _ = button.add_event_listener_with_callback("click", close.as_ref().unchecked_ref());
        close.forget();
    }

    let search = window.location().search().unwrap_or_default();
    let url = web_sys::UrlSearchParams::new_with_str(&search)
        .ok()
        .and_then(|p| p.get("replay"))
        .filter(|u| !u.is_empty());
    if let Some(url) = url {
        crate::replay::publish_state("loading", &url);
        wasm_bindgen_futures::spawn_local(async move {
            let arrival = fetch(&url).await;
            deliver(arrival);
        });
    }
}

/// Reads a picked or dropped file.
async fn read_file(file: web_sys::File) {
    let name = file.name();
    crate::replay::publish_state("loading", &name);
    let size = file.size();
    let arrival = if !(0.0..=MAX_REPLAY_BYTES as f64).contains(&size) {
        Err(too_large(&name, size as u64))
    } else {
        match JsFuture::from(file.array_buffer()).await {
            Ok(buffer) => Ok(Opened {
                name,
                bytes: js_sys::Uint8Array::new(&buffer).to_vec(),
            }),
            Err(e) => Err(format!("{name}: cannot read the file: {}", describe(&e))),
        }
    };
    deliver(arrival);
}

/// Fetches a recording by URL (the page's own server serves `--replays DIR` under
/// `/replays/`).
async fn fetch(url: &str) -> Arrival {
    let fail = |why: String| format!("{url}: {why}");
    let window = web_sys::window().ok_or_else(|| fail("no window".into()))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(|e| fail(format!("cannot fetch: {}", describe(&e))))?
        .dyn_into()
        .map_err(|_| fail("the fetch gave no response".into()))?;
    if !response.ok() {
        return Err(fail(format!(
            "the server answered {} {}",
            response.status(),
            response.status_text()
        )));
    }
    // Refuse a declared length over the bound before reading the body.
    let declared = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_REPLAY_BYTES) {
        return Err(too_large(url, n));
    }
    let promise = response
        .array_buffer()
        .map_err(|e| fail(format!("cannot read the body: {}", describe(&e))))?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|e| fail(format!("cannot read the body: {}", describe(&e))))?;
    let bytes = js_sys::Uint8Array::new(&buffer);
    if u64::from(bytes.length()) > MAX_REPLAY_BYTES {
        return Err(too_large(url, u64::from(bytes.length())));
    }
    Ok(Opened {
        name: url.to_owned(),
        bytes: bytes.to_vec(),
    })
}

fn too_large(name: &str, size: u64) -> String {
    format!("{name}: {size} bytes is more than the page opens ({MAX_REPLAY_BYTES} bytes at most)")
}

/// A JavaScript error as text.
fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}
