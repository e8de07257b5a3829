//! The player-facing shell around the game: screens, translations, settings and the font.
//!
//! - [`screens`]: the pure state machine of menus, forms, connecting, failures and pause;
//! - [`chat`]: the chat line (open, send, cancel) and how long received lines show;
//! - [`address`]: `host[:port]` parsing with the default port;
//! - [`i18n`]: Fluent translations for seven languages;
//! - [`messages`]: failure texts naming the address, natural name order;
//! - [`settings`]: the RON settings file in the user's config folder;
//! - [`credits`]: the fonts' and crates' licences for the Credits screen;
//! - [`font`]: the shipped Unicode font (a subset of Noto Sans CJK);
//! - `view` (feature `render`): draws the screens with egui and turns clicks into events.

pub mod address;
pub mod chat;
pub mod credits;
pub mod font;
pub mod i18n;
pub mod line_break;
pub mod messages;
pub mod screens;
pub mod settings;
#[cfg(feature = "render")]
pub mod view;
