//! The client's renderer: turns a [`Scene`] (what the player should see) into pixels, in a
//! window or offscreen.
//!
//! Why it exists as its own module: the game loop, the replay viewer and the tests all need to
//! draw the same picture, and none of them should know about GPUs. They describe a frame with the
//! plain data types below ([`Scene`], [`DrawPlayer`], [`Hud`], [`Overlay`]); this module owns
//! everything else:
//!
//! - [`atlas`] and [`font`] generate all art procedurally at start-up (no third-party assets);
//! - [`layout`] turns a scene into instance lists on the CPU (pure, unit-tested);
//! - [`pipeline`] holds the wgpu pipelines and draws those lists: **one instanced draw call for
//!   every visible map tile**, and one for every sprite (players, name tags, bars, HUD, text);
//! - [`gpu`] finds an adapter and a device (Vulkan, GL, or Mesa's software rasterisers);
//! - [`offscreen`] renders to RGBA bytes or a PNG without a window (tests, CI, replay export);
//! - [`window`] runs a winit window loop and feeds input to a [`window::FrameSource`];
//! - [`timeline_bar`] paints the replay viewer's timeline bar (egui shapes) and maps clicks on it
//!   to recorded times;
//! - [`demo`] builds a ready-made scene for examples and smoke tests.
//!
//! Rendering is deterministic: it reads the scene and nothing else (no clock, no randomness;
//! animations follow [`Hud::tick`]). It must never own game state, talk to the network, or panic
//! when no GPU or display exists: those are [`RenderError`]s.

pub mod atlas;
pub mod demo;
pub mod egui_layer;
pub mod font;
pub mod gpu;
pub mod layout;
pub mod offscreen;
pub mod pipeline;
pub mod tag_text;
pub mod timeline_bar;
pub mod window;

use tilegame_game::Map;

/// egui, as the renderer uses it (so a [`FrameSource::ui`] outside this crate names the same
/// version without depending on it).
pub use egui;

pub use offscreen::{render_to_png, render_to_rgba, write_png, OffscreenRenderer};
pub use pipeline::FrameStats;
pub use window::{run_window, FrameSource, InputState, Key, WindowOptions, WindowSettings};

/// Everything one frame shows. Borrows the map; everything else is owned and small.
#[derive(Debug, Clone)]
pub struct Scene<'a> {
    /// The world map.
    pub map: &'a Map,
    /// World pixel shown at the centre of the screen.
    pub camera: [f32; 2],
    /// Screen pixels per world pixel (1.0 = a tile is 32 screen pixels). Non-positive or
    /// non-finite values are treated as 1.0.
    pub zoom: f32,
    /// Players to draw (the local one included, flagged with [`DrawPlayer::local`]).
    pub players: Vec<DrawPlayer>,
    /// A tile being broken: (x, y, crack stage 0..=7).
    pub breaking: Option<(u16, u16, u8)>,
    /// The heads-up display.
    pub hud: Hud,
    /// A full-screen overlay (menus, death screen, connection progress), if any.
    pub overlay: Option<Overlay>,
}

/// One player as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct DrawPlayer {
    /// Centre, in world pixels.
    pub pos: [f32; 2],
    /// Name shown in the name tag.
    pub name: String,
    /// Body colour, 0xRRGGBB.
    pub color: u32,
    /// Health 0..=100.
    pub health: u8,
    /// Whether this is the player at this keyboard.
    pub local: bool,
}

/// The heads-up display's figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hud {
    /// The local player's health 0..=100.
    pub health: u8,
    /// Last round-trip time, if measured.
    pub ping_ms: Option<u32>,
    /// Average kB (1000 bytes) received per minute.
    pub kb_in_per_min: f64,
    /// Average kB sent per minute.
    pub kb_out_per_min: f64,
    /// Total MB (10^6 bytes) received.
    pub mb_in: f64,
    /// Total MB sent.
    pub mb_out: f64,
    /// Players on the server.
    pub players: usize,
    /// Connection status line.
    pub status: String,
    /// Selected hotbar slot: 0 shovel, 1 gun.
    pub selected_item: u8,
    /// Game tick; drives tile animations (water, lava) so that rendering stays deterministic.
    pub tick: u32,
    /// Pixels at the bottom of the screen kept free (the replay viewer's timeline bar): the
    /// hotbar sits above them.
    pub bottom_inset: f32,
}

/// A full-screen overlay drawn above the world and the HUD.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    /// Connecting or downloading the map.
    Connecting {
        /// What is happening.
        message: String,
        /// Progress 0.0..=1.0, when known.
        progress: Option<f32>,
    },
    /// The local player died.
    Dead,
    /// The game is paused.
    Paused,
    /// The list of players.
    PlayerList(Vec<String>),
    /// An error the player must see.
    Error(String),
    /// Menus and the HUD are drawn by the UI layer (egui) above: draw the world only.
    UiLayer,
}

/// Why rendering could not happen. Never a panic: every GPU or display failure lands here.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No graphics adapter was found (no GPU and no software rasteriser).
    #[error(
        "no graphics adapter found (backends tried: {backends}); install Mesa's software \
         drivers (apt-get install mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 \
         libgl1-mesa-dri) or pick a backend with WGPU_BACKEND=vulkan|gl: {detail}"
    )]
    NoAdapter {
        /// The backends that were asked.
        backends: String,
        /// The last error from wgpu.
        detail: String,
    },
    /// The adapter refused to create a device.
    #[error("could not create a graphics device on {adapter}: {detail}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// wgpu's message.
        detail: String,
    },
    /// No display server to open a window on.
    #[error(
        "no display available to open a window ({0}); run under a desktop session, \
         or headless with `xvfb-run -a`, or use the offscreen renderer"
    )]
    NoDisplay(String),
    /// The windowing system failed.
    #[error("window system error: {0}")]
    Window(String),
    /// The window surface could not be created or configured.
    #[error("surface error: {0}")]
    Surface(String),
    /// Requested image size is zero or beyond the device's limits.
    #[error("invalid render size {width}x{height} (maximum {max} per side)")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
        /// Device maximum.
        max: u32,
    },
    /// Reading the rendered image back from the GPU failed.
    #[error("could not read the rendered image back: {0}")]
    Readback(String),
    /// PNG encoding failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
    /// File I/O failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Converts 0xRRGGBB plus alpha to RGBA bytes.
pub const fn rgb_u32(color: u32, alpha: u8) -> [u8; 4] {
    [(color >> 16) as u8, (color >> 8) as u8, color as u8, alpha]
}
