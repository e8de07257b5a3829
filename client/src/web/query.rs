//! What the page's address asks for at start.
//!
//! Why it exists: a link can take a player straight into a game (`?join&name=NAME` joins the
//! page's own server as NAME), and the load-time figure (`web/figures.sh`) measures from
//! navigation to the first frame that draws the map, with no typing in between. `?join`
//! without a name opens the Join form. Without `join` the page opens the main menu.

use crate::app::{InGameView, Start};
use crate::ui::screens::{Attempt, Screen};

/// The longest name taken from the address, in characters (the server checks the rest).
const NAME_CHARS: usize = 64;

/// The start the page's query asks for.
pub fn start() -> Start {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else {
        return Start::Menu;
    };
    if !params.has("join") {
        return Start::Menu;
    }
    let name = params
        .get("name")
        .map(|n| n.chars().take(NAME_CHARS).collect::<String>())
        .filter(|n| !n.is_empty());
    match (super::page_host(), name) {
        (Some(address), Some(name)) => Start::Play(
            Attempt {
                address,
                name,
                host: None,
            },
            InGameView::World,
        ),
        _ => Start::Screen(Screen::Join(Default::default())),
    }
}
