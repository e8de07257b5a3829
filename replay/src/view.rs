//! `view`: plays a recording in a native window through the client's renderer, with pause,
//! speed and seek.
//!
//! The viewer itself (playback on a virtual play-head, keys, the timeline bar, the HUD) is
//! [`crate::viewer`], shared with the page (web/); this module only opens a window on it.

use std::path::PathBuf;

use tilegame_client::render::{run_window, RenderError, WindowOptions};

use crate::tool::{ReplayFile, ToolError};
use crate::viewer::Viewer;

/// How to view.
#[derive(Debug, Clone)]
pub struct ViewOptions {
    /// Playback speed (1.0 = real time).
    pub speed: f64,
    /// Start at this tick (seeking through keyframes).
    pub from: Option<u32>,
    /// Close after this many frames (tests, CI).
    pub frames: Option<u32>,
    /// Save a frame as PNG.
    pub screenshot: Option<PathBuf>,
}

/// Opens the viewer window on `file`.
pub fn run(file: &ReplayFile, options: ViewOptions) -> Result<u8, ToolError> {
    let mut viewer = Viewer::open(file, options.speed, options.from)?;
    let window = WindowOptions {
        title: format!("tilegame replay — {}", file.path.display()),
        size: [1280, 720],
        exit_after_frames: options.frames,
        screenshot: options.screenshot,
        screenshot_frame: None,
    };
    match run_window(&mut viewer, window) {
        Ok(()) => Ok(0),
        Err(RenderError::NoDisplay(detail)) => Err(ToolError::Usage(format!(
            "no display to open the viewer on ({detail})"
        ))),
        Err(e) => Err(ToolError::Usage(format!("the viewer failed: {e}"))),
    }
}
