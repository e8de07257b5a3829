//! The window loop: winit 0.30 events in, frames out.
//!
//! Why it is shaped this way: the game loop (live play, replay viewer) owns its state and
//! implements [`FrameSource`]; this module owns the window, the surface and the GPU, collects
//! input into an [`InputState`] per frame, calls [`FrameSource::update`] with the frame's `dt`,
//! then draws [`FrameSource::scene`]. The scene may borrow from the source (the map), so no
//! copies or `Arc`s are needed. `dt` is the only clock read in the renderer.
//!
//! Robustness: no display gives [`RenderError::NoDisplay`] (not a panic); the surface uses Fifo
//! (vsync) and is reconfigured on resize or when outdated, recreated when lost; GL gets the
//! display handle. For tests and CI, [`WindowOptions::exit_after_frames`] closes the window by
//! itself and [`WindowOptions::screenshot`] saves one frame as a PNG (re-rendered offscreen on
//! the window's own device, so it shows exactly what the frame drew).
//!
//! Menus, forms and text are egui: each frame the source's [`FrameSource::ui`] runs on an egui
//! context fed by `egui-winit`, and its output is painted over the world by
//! [`super::egui_layer`] (in the screenshot too). While an egui text field has the keyboard,
//! or an egui widget the pointer, the game does not see those presses. [`FrameSource::window_settings`] controls
//! fullscreen, vsync and an FPS limit; Alt+Enter arrives as [`Key::ToggleFullscreen`].
//!
//! winit allows one event loop per process: call [`run_window`] once and drive menus and
//! screens through the [`FrameSource`].
//!
//! In the page (wasm32), [`spawn_window`] draws on the `<canvas id="tilegame">` instead: the
//! browser's event loop drives the frames (one per animation frame), and the GPU (WebGPU where
//! the browser offers it, else WebGL2) arrives asynchronously, as the page cannot block.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use web_time::Instant;

use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::ModifiersState;
use winit::keyboard::{KeyCode, PhysicalKey};
use winit::window::{Fullscreen, Window, WindowId};

use super::egui_layer::{EguiFrame, EguiLayer};
use super::layout::screen_to_world;
use super::offscreen::{self, OFFSCREEN_FORMAT};
use super::pipeline::Renderer;
use super::{gpu, RenderError, Scene};

/// The game side of the window loop.
pub trait FrameSource {
    /// Advances by one frame with the input collected since the previous one.
    /// `dt_seconds` is the wall time since the previous frame (0 on the first, at most 0.25).
    fn update(&mut self, input: &InputState, dt_seconds: f32);
    /// What to draw now (called right after [`Self::update`]); may borrow from `self`.
    fn scene(&self) -> Scene<'_>;
    /// Returning true closes the window; [`run_window`] then returns `Ok(())`.
    fn should_exit(&self) -> bool {
        false
    }
    /// Draws menus, forms and text with egui (called after [`Self::update`], before
    /// [`Self::scene`]). The default draws nothing.
    fn ui(&mut self, _ctx: &egui::Context) {}
    /// Whether the source shows what it was started for (a game still joining is not ready).
    /// `exit_after_frames` and the screenshot count only ready frames.
    fn ready(&self) -> bool {
        true
    }
    /// Fullscreen, vsync and FPS limit wanted now (applied when they change).
    fn window_settings(&self) -> WindowSettings {
        WindowSettings::default()
    }
}

/// Window behaviour a source may change while running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSettings {
    /// Borderless fullscreen on the current monitor.
    pub fullscreen: bool,
    /// Wait for vertical blank (Fifo); otherwise present at once (Mailbox or Immediate).
    pub vsync: bool,
    /// Frames per second at most (0 = no limit besides vsync).
    pub fps_limit: u32,
}

impl Default for WindowSettings {
    fn default() -> Self {
        WindowSettings {
            fullscreen: false,
            vsync: true,
            fps_limit: 0,
        }
    }
}

/// Keys reported as presses (once per press; held keys repeat nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// Escape: pause menu / back.
    Escape,
    /// Tab: player list.
    Tab,
    /// M: map screen.
    M,
    /// 1: first hotbar slot (shovel).
    Digit1,
    /// 2: second hotbar slot (gun).
    Digit2,
    /// 3: third hotbar slot.
    Digit3,
    /// 4: fourth hotbar slot.
    Digit4,
    /// 5: fifth hotbar slot.
    Digit5,
    /// 6: sixth hotbar slot.
    Digit6,
    /// Space: map screen.
    Space,
    /// Alt+Enter: toggle fullscreen.
    ToggleFullscreen,
    /// R: respawn.
    R,
    /// T: open the chat line.
    T,
    /// Enter: confirm in menus.
    Enter,
    /// Backspace: delete in text fields.
    Backspace,
    /// F2: screenshot (left to the game to act on).
    F2,
}

/// Input for one frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InputState {
    /// W or ↑ held.
    pub up: bool,
    /// S or ↓ held.
    pub down: bool,
    /// A or ← held.
    pub left: bool,
    /// D or → held.
    pub right: bool,
    /// Cursor position in window pixels, while inside the window.
    pub mouse_screen: Option<[f32; 2]>,
    /// Cursor position in world pixels (through the previous frame's camera and zoom).
    pub mouse_world: Option<[f32; 2]>,
    /// Left button held.
    pub mouse_left: bool,
    /// Right button held.
    pub mouse_right: bool,
    /// Left button went down during this frame.
    pub mouse_left_pressed: bool,
    /// Keys pressed during this frame, in order.
    pub keys_pressed: Vec<Key>,
    /// Text typed during this frame (for name, host and seed fields).
    pub text: String,
    /// Wheel movement this frame in lines (positive = away from the user, e.g. zoom in).
    pub scroll: f32,
    /// Drawable size in pixels.
    pub window_size: [u32; 2],
    /// Whether the window has keyboard focus.
    pub focused: bool,
    /// The user asked to close the window: this is the last update; the loop ends after it.
    pub close_requested: bool,
    /// Frame number, from 1.
    pub frame: u64,
}

/// How the window runs.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowOptions {
    /// Window title.
    pub title: String,
    /// Initial inner size in physical pixels.
    pub size: [u32; 2],
    /// Close by itself after this many frames (tests, CI, benchmarks), counted from the first
    /// frame where [`FrameSource::ready`] holds.
    pub exit_after_frames: Option<u32>,
    /// Save one frame as a PNG here.
    pub screenshot: Option<PathBuf>,
    /// Which frame (from 1) to save; default: the last one if `exit_after_frames` is set,
    /// otherwise the first.
    pub screenshot_frame: Option<u32>,
}

impl Default for WindowOptions {
    fn default() -> Self {
        Self {
            title: "tilegame".to_string(),
            size: [1280, 720],
            exit_after_frames: None,
            screenshot: None,
            screenshot_frame: None,
        }
    }
}

/// Opens a window and runs the frame loop until the source asks to exit, the user closes the
/// window, or `exit_after_frames` is reached. Blocks the calling (main) thread.
pub fn run_window<S: FrameSource>(
    source: &mut S,
    options: WindowOptions,
) -> Result<(), RenderError> {
    check_display()?;
    let event_loop = EventLoop::new().map_err(|e| match e {
        winit::error::EventLoopError::RecreationAttempt => {
            RenderError::Window("the window event loop can only be created once per process".into())
        }
        other => RenderError::NoDisplay(other.to_string()),
    })?;
    event_loop.set_control_flow(ControlFlow::Poll);
    let mut app = App::new(source, options);
    let run = event_loop.run_app(&mut app);
    if let Some(e) = app.error.take() {
        return Err(e);
    }
    run.map_err(|e| RenderError::Window(e.to_string()))
}

/// Starts drawing on the page's `<canvas id="tilegame">` and returns at once: the browser's
/// event loop runs the frames from then on (the source lives as long as the page).
#[cfg(target_arch = "wasm32")]
pub fn spawn_window<S: FrameSource + 'static>(
    source: &'static mut S,
    options: WindowOptions,
) -> Result<(), RenderError> {
    use winit::platform::web::EventLoopExtWebSys;
    let event_loop = EventLoop::new().map_err(|e| RenderError::Window(e.to_string()))?;
    event_loop.set_control_flow(ControlFlow::Wait);
    event_loop.spawn_app(App::new(source, options));
    Ok(())
}

/// The longest step one update is given, in seconds. In the page a slow frame blocks the
/// timers, and the game catches up on the time it took (the source runs a few ticks per
/// update and carries the rest over), so inputs keep the tick rate on average: up to 8 ticks,
/// the Inputs the server buffers (INPUT_QUEUE).
#[cfg(target_arch = "wasm32")]
const MAX_DT: f32 = 0.4;
/// The longest step one update is given, in seconds.
#[cfg(not(target_arch = "wasm32"))]
const MAX_DT: f32 = 0.25;

/// The canvas the page draws on.
#[cfg(target_arch = "wasm32")]
pub const CANVAS_ID: &str = "tilegame";

/// Fails early, with a clear message, when no display server is configured.
fn check_display() -> Result<(), RenderError> {
    if cfg!(all(
        unix,
        not(target_os = "macos"),
        not(target_os = "android")
    )) {
        let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") && !set("WAYLAND_SOCKET") {
            return Err(RenderError::NoDisplay(
                "neither DISPLAY nor WAYLAND_DISPLAY is set".into(),
            ));
        }
    }
    Ok(())
}

#[derive(Default)]
struct Held {
    w: bool,
    a: bool,
    s: bool,
    d: bool,
    up: bool,
    down: bool,
    left: bool,
    right: bool,
}

struct Gfx {
    window: Arc<Window>,
    instance: wgpu::Instance,
    surface: wgpu::Surface<'static>,
    device: wgpu::Device,
    queue: wgpu::Queue,
    config: wgpu::SurfaceConfiguration,
    renderer: Renderer,
    /// Pipelines for the offscreen format, created on the first screenshot.
    shot_renderer: Option<Renderer>,
    egui_ctx: egui::Context,
    egui_state: egui_winit::State,
    egui_layer: EguiLayer,
    /// egui for the offscreen format, kept up to date from the start when a screenshot is due.
    shot_egui: Option<EguiLayer>,
    present_modes: Vec<wgpu::PresentMode>,
    applied: WindowSettings,
}

/// What the GPU search yields: everything a [`Gfx`] needs besides the window.
struct GpuParts {
    instance: wgpu::Instance,
    surface: wgpu::Surface<'static>,
    adapter: wgpu::Adapter,
    device: wgpu::Device,
    queue: wgpu::Queue,
}

/// Where the page's GPU search leaves its result for the event loop.
#[cfg(target_arch = "wasm32")]
type PendingGpu = std::rc::Rc<std::cell::RefCell<Option<Result<GpuParts, RenderError>>>>;

/// Finds a GPU for `window`: natively over every backend (see [`gpu`]); in the page WebGPU
/// when the browser offers an adapter, else WebGL2 (chosen before the canvas gets a context,
/// as a canvas cannot change its context type).
async fn connect_gpu(
    window: Arc<Window>,
    display: winit::event_loop::OwnedDisplayHandle,
) -> Result<GpuParts, RenderError> {
    #[cfg(not(target_arch = "wasm32"))]
    let (instance, surface, adapter) = {
        let mut desc =
            wgpu::InstanceDescriptor::new_with_display_handle_from_env(Box::new(display));
        desc.backends = gpu::backends();
        let instance = wgpu::Instance::new(desc);
        let surface = instance
            .create_surface(window)
            .map_err(|e| RenderError::Surface(e.to_string()))?;
        let adapter = gpu::adapter(&instance, Some(&surface)).await?;
        (instance, surface, adapter)
    };
    #[cfg(target_arch = "wasm32")]
    let (instance, surface, adapter) = {
        let _ = display;
        let instance_for = |backends| {
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
            desc.backends = backends;
            wgpu::Instance::new(desc)
        };
        let mut found = None;
        if wgpu::util::is_browser_webgpu_supported().await {
            let instance = instance_for(wgpu::Backends::BROWSER_WEBGPU);
            if let Ok(adapter) = gpu::adapter(&instance, None).await {
                found = Some((instance, adapter));
            }
        }
        match found {
            Some((instance, adapter)) => {
                let surface = instance
                    .create_surface(window)
                    .map_err(|e| RenderError::Surface(e.to_string()))?;
                (instance, surface, adapter)
            }
            None => {
                let instance = instance_for(wgpu::Backends::GL);
                let surface = instance
                    .create_surface(window)
                    .map_err(|e| RenderError::Surface(e.to_string()))?;
                let adapter = gpu::adapter(&instance, Some(&surface)).await?;
                (instance, surface, adapter)
            }
        }
    };
    let (device, queue) = gpu::device(&adapter).await?;
    Ok(GpuParts {
        instance,
        surface,
        adapter,
        device,
        queue,
    })
}

struct App<'s, S: FrameSource> {
    source: &'s mut S,
    options: WindowOptions,
    gfx: Option<Gfx>,
    input: InputState,
    held: Held,
    last_frame: Option<Instant>,
    /// When the source was last updated (each frame; in the page also between frames).
    last_update: Option<Instant>,
    frames: u32,
    /// Frames drawn while the source was ready.
    ready_frames: u32,
    /// When the ready frame [`TIMING_FROM`] was drawn (the frame rate printed at exit counts
    /// from there, past start-up).
    timing_from: Option<Instant>,
    last_view: ([f32; 2], f32),
    error: Option<RenderError>,
    modifiers: ModifiersState,
    /// The page's GPU search, while it runs.
    #[cfg(target_arch = "wasm32")]
    pending: Option<(Arc<Window>, PendingGpu)>,
}

impl<'s, S: FrameSource> App<'s, S> {
    fn new(source: &'s mut S, options: WindowOptions) -> Self {
        App {
            source,
            options,
            gfx: None,
            input: InputState::default(),
            held: Held::default(),
            last_frame: None,
            last_update: None,
            frames: 0,
            ready_frames: 0,
            timing_from: None,
            last_view: ([0.0; 2], 1.0),
            error: None,
            modifiers: ModifiersState::empty(),
            #[cfg(target_arch = "wasm32")]
            pending: None,
        }
    }

    fn fail(&mut self, event_loop: &ActiveEventLoop, e: RenderError) {
        #[cfg(all(target_arch = "wasm32", feature = "web"))]
        crate::web::show_error(&e.to_string());
        if self.error.is_none() {
            self.error = Some(e);
        }
        event_loop.exit();
    }

    fn create_window(&self, event_loop: &ActiveEventLoop) -> Result<Arc<Window>, RenderError> {
        let [w, h] = self.options.size.map(|v| v.max(1));
        let attrs = Window::default_attributes().with_title(self.options.title.clone());
        #[cfg(not(target_arch = "wasm32"))]
        let attrs = attrs.with_inner_size(PhysicalSize::new(w, h));
        #[cfg(target_arch = "wasm32")]
        let attrs = {
            use wasm_bindgen::JsCast;
            use winit::platform::web::WindowAttributesExtWebSys;
            let _ = (w, h);
            let canvas = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.get_element_by_id(CANVAS_ID))
                .and_then(|e| e.dyn_into::<web_sys::HtmlCanvasElement>().ok())
                .ok_or_else(|| {
                    RenderError::Window(format!("the page has no <canvas id=\"{CANVAS_ID}\">"))
                })?;
            attrs
                .with_canvas(Some(canvas))
                .with_prevent_default(true)
                .with_focusable(true)
        };
        Ok(Arc::new(
            event_loop
                .create_window(attrs)
                .map_err(|e| RenderError::Window(e.to_string()))?,
        ))
    }

    /// Natively: the window and its GPU at once (blocking).
    #[cfg(not(target_arch = "wasm32"))]
    fn create_gfx(&self, event_loop: &ActiveEventLoop) -> Result<Gfx, RenderError> {
        let window = self.create_window(event_loop)?;
        let parts = pollster::block_on(connect_gpu(
            window.clone(),
            event_loop.owned_display_handle(),
        ))?;
        self.finish_gfx(window, parts)
    }

    /// In the page: the window now, the GPU search as a browser task (see [`Self::poll_gpu`]).
    #[cfg(target_arch = "wasm32")]
    fn start_gfx(&mut self, event_loop: &ActiveEventLoop) -> Result<(), RenderError> {
        let window = self.create_window(event_loop)?;
        let slot = PendingGpu::default();
        let (w, s, display) = (
            window.clone(),
            slot.clone(),
            event_loop.owned_display_handle(),
        );
        wasm_bindgen_futures::spawn_local(async move {
            let result = connect_gpu(w.clone(), display).await;
            *s.borrow_mut() = Some(result);
            w.request_redraw();
        });
        self.pending = Some((window, slot));
        Ok(())
    }

    /// In the page: finishes the window's graphics once the GPU search is done.
    #[cfg(target_arch = "wasm32")]
    fn poll_gpu(&mut self, event_loop: &ActiveEventLoop) {
        let Some((window, slot)) = &self.pending else {
            return;
        };
        let Some(result) = slot.borrow_mut().take() else {
            return;
        };
        let window = window.clone();
        self.pending = None;
        match result.and_then(|parts| self.finish_gfx(window, parts)) {
            Ok(g) => {
                self.input.focused = true;
                g.window.request_redraw();
                self.gfx = Some(g);
            }
            Err(e) => self.fail(event_loop, e),
        }
    }

    fn finish_gfx(&self, window: Arc<Window>, parts: GpuParts) -> Result<Gfx, RenderError> {
        let GpuParts {
            instance,
            surface,
            adapter,
            device,
            queue,
        } = parts;
        let described = gpu::describe(&adapter);
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("tilegame: rendering on {described}");
        #[cfg(all(target_arch = "wasm32", feature = "web"))]
        crate::web::log(&format!("tilegame: rendering on {described}"));
        let caps = surface.get_capabilities(&adapter);
        // Prefer a non-sRGB format (colours are authored as sRGB bytes); the shader handles
        // sRGB targets too.
        let format = caps
            .formats
            .iter()
            .copied()
            .find(|f| !f.is_srgb())
            .or_else(|| caps.formats.first().copied())
            .ok_or_else(|| RenderError::Surface("the surface supports no format".into()))?;
        let size = window.inner_size();
        let max = device.limits().max_texture_dimension_2d;
        let mut config = surface
            .get_default_config(
                &adapter,
                size.width.clamp(1, max),
                size.height.clamp(1, max),
            )
            .ok_or_else(|| RenderError::Surface("surface not supported by the adapter".into()))?;
        config.format = format;
        config.present_mode = wgpu::PresentMode::Fifo;
        surface.configure(&device, &config);
        let renderer = Renderer::new(&device, &queue, format);
        let egui_ctx = egui::Context::default();
        crate::ui::font::install(&egui_ctx);
        let egui_state = egui_winit::State::new(
            egui_ctx.clone(),
            egui::ViewportId::ROOT,
            &window,
            Some(window.scale_factor() as f32),
            None,
            Some(max as usize),
        );
        let egui_layer = EguiLayer::new(&device, format);
        let shot_egui = self
            .options
            .screenshot
            .is_some()
            .then(|| EguiLayer::new(&device, OFFSCREEN_FORMAT));
        Ok(Gfx {
            window,
            instance,
            surface,
            device,
            queue,
            config,
            renderer,
            shot_renderer: None,
            egui_ctx,
            egui_state,
            egui_layer,
            shot_egui,
            present_modes: caps.present_modes.clone(),
            applied: WindowSettings::default(),
        })
    }

    fn resize(&mut self, size: PhysicalSize<u32>) {
        if let Some(g) = &mut self.gfx {
            if size.width > 0 && size.height > 0 {
                let max = g.device.limits().max_texture_dimension_2d;
                g.config.width = size.width.min(max);
                g.config.height = size.height.min(max);
                g.surface.configure(&g.device, &g.config);
            }
        }
    }

    fn on_key(&mut self, code: KeyCode, pressed: bool, repeat: bool) {
        let h = &mut self.held;
        match code {
            KeyCode::KeyW => h.w = pressed,
            KeyCode::KeyA => h.a = pressed,
            KeyCode::KeyS => h.s = pressed,
            KeyCode::KeyD => h.d = pressed,
            KeyCode::ArrowUp => h.up = pressed,
            KeyCode::ArrowDown => h.down = pressed,
            KeyCode::ArrowLeft => h.left = pressed,
            KeyCode::ArrowRight => h.right = pressed,
            _ => {}
        }
        if !pressed || repeat && code != KeyCode::Backspace {
            return;
        }
        let key = match code {
            KeyCode::Escape => Key::Escape,
            KeyCode::Tab => Key::Tab,
            KeyCode::KeyM => Key::M,
            KeyCode::Digit1 | KeyCode::Numpad1 => Key::Digit1,
            KeyCode::Digit2 | KeyCode::Numpad2 => Key::Digit2,
            KeyCode::Digit3 | KeyCode::Numpad3 => Key::Digit3,
            KeyCode::Digit4 | KeyCode::Numpad4 => Key::Digit4,
            KeyCode::Digit5 | KeyCode::Numpad5 => Key::Digit5,
            KeyCode::Digit6 | KeyCode::Numpad6 => Key::Digit6,
            KeyCode::Space => Key::Space,
            KeyCode::KeyR => Key::R,
            KeyCode::KeyT => Key::T,
            KeyCode::Enter | KeyCode::NumpadEnter if self.modifiers.alt_key() => {
                Key::ToggleFullscreen
            }
            KeyCode::Enter | KeyCode::NumpadEnter => Key::Enter,
            KeyCode::Backspace => Key::Backspace,
            KeyCode::F2 => Key::F2,
            _ => return,
        };
        self.input.keys_pressed.push(key);
    }

    /// Updates the source with the held keys and the pointer, then forgets the one-shot input
    /// (keys pressed, text, scroll, clicks) it has seen.
    fn update_source(&mut self, size: [u32; 2], dt: f32) {
        let fsize = size.map(|v| v as f32);
        let h = &self.held;
        self.input.up = h.w || h.up;
        self.input.down = h.s || h.down;
        self.input.left = h.a || h.left;
        self.input.right = h.d || h.right;
        self.input.window_size = size;
        self.input.mouse_world = self
            .input
            .mouse_screen
            .map(|p| screen_to_world(p, self.last_view.0, self.last_view.1, fsize));
        self.source.update(&self.input, dt);
        self.input.keys_pressed.clear();
        self.input.text.clear();
        self.input.scroll = 0.0;
        self.input.mouse_left_pressed = false;
    }

    /// In the page, updates the source between frames once a game tick is due, so that inputs
    /// go out and snapshots are applied at the server's rate even when the browser draws
    /// fewer frames than that (a software-rendered canvas draws a few a second). Returns when
    /// the next update is due. Natively every frame updates (the loop polls).
    #[cfg(target_arch = "wasm32")]
    fn update_between_frames(&mut self) -> Option<Instant> {
        let every = Duration::from_secs_f64(1.0 / f64::from(tilegame_game::TICK_RATE));
        let g = self.gfx.as_ref()?;
        let size = [g.config.width, g.config.height];
        let last = self.last_update?;
        let now = Instant::now();
        if now < last + every {
            return Some(last + every);
        }
        self.last_update = Some(now);
        self.update_source(size, now.duration_since(last).as_secs_f32().min(MAX_DT));
        Some(now + every)
    }

    /// One frame: update the source, draw its scene, present, maybe screenshot.
    fn frame(&mut self, event_loop: &ActiveEventLoop) {
        let Some(g) = &mut self.gfx else { return };
        let now = Instant::now();
        let dt = self
            .last_update
            .map_or(0.0, |t| now.duration_since(t).as_secs_f32().min(MAX_DT));
        self.last_frame = Some(now);
        self.last_update = Some(now);
        self.frames += 1;

        let size = [g.config.width, g.config.height];
        self.input.frame = u64::from(self.frames);
        self.update_source(size, dt);
        let Some(g) = &mut self.gfx else { return };
        let fsize = size.map(|v| v as f32);
        let raw = g.egui_state.take_egui_input(&g.window);
        // Name tags the bitmap font cannot draw go to the UI layer, under its menus.
        let labels = super::layout::tag_labels(&self.source.scene(), size[0], size[1]);
        let source = &mut *self.source;
        let output = g.egui_ctx.run_pass(raw, |ctx| {
            super::tag_text::paint(ctx, &labels);
            source.ui(ctx)
        });
        g.egui_state
            .handle_platform_output(&g.window, output.platform_output);
        let mut egui_frame = EguiFrame {
            primitives: g
                .egui_ctx
                .tessellate(output.shapes, output.pixels_per_point),
            textures: output.textures_delta,
            pixels_per_point: output.pixels_per_point,
        };
        g.egui_layer
            .update_textures(&g.device, &g.queue, &egui_frame);
        if let Some(l) = &mut g.shot_egui {
            l.update_textures(&g.device, &g.queue, &egui_frame);
        }
        let to_free = egui_frame.textures_applied();
        if self.source.should_exit() {
            event_loop.exit();
            return;
        }
        apply_settings(g, self.source.window_settings());
        if self.ready_frames > 0 || self.source.ready() {
            self.ready_frames += 1;
        }

        let scene = self.source.scene();
        self.last_view = super::layout::world_view(&scene, fsize);
        let mut reconfigure = false;
        let acquired = match g.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t) => Ok(t),
            wgpu::CurrentSurfaceTexture::Suboptimal(t) => {
                reconfigure = true;
                Ok(t)
            }
            other => Err(other),
        };
        match acquired {
            Ok(t) => {
                let view = t
                    .texture
                    .create_view(&wgpu::TextureViewDescriptor::default());
                g.renderer
                    .render(&g.device, &g.queue, &view, &scene, size[0], size[1]);
                g.egui_layer
                    .paint(&g.device, &g.queue, &view, size, &egui_frame);
                g.window.pre_present_notify();
                g.queue.present(t);
                #[cfg(all(target_arch = "wasm32", feature = "web"))]
                if self.frames == 1 {
                    crate::web::first_frame();
                }
            }
            Err(wgpu::CurrentSurfaceTexture::Outdated) => reconfigure = true,
            Err(wgpu::CurrentSurfaceTexture::Lost) => {
                match g.instance.create_surface(g.window.clone()) {
                    Ok(s) => {
                        g.surface = s;
                        reconfigure = true;
                    }
                    Err(e) => {
                        let e = RenderError::Surface(format!("surface lost: {e}"));
                        drop(scene);
                        self.fail(event_loop, e);
                        return;
                    }
                }
            }
            Err(wgpu::CurrentSurfaceTexture::Validation) => {
                drop(scene);
                self.fail(
                    event_loop,
                    RenderError::Surface("validation error acquiring the frame".into()),
                );
                return;
            }
            // Timeout, occluded: skip this frame and try again on the next one.
            Err(_) => {}
        }
        if reconfigure {
            g.surface.configure(&g.device, &g.config);
        }

        let shot_frame = self
            .options
            .screenshot_frame
            .or(self.options.exit_after_frames)
            .unwrap_or(1)
            .max(1);
        let mut result = Ok(());
        if let Some(path) = self
            .options
            .screenshot
            .as_ref()
            .filter(|_| self.ready_frames == shot_frame)
        {
            let r = g
                .shot_renderer
                .get_or_insert_with(|| Renderer::new(&g.device, &g.queue, OFFSCREEN_FORMAT));
            let shot_egui = &mut g.shot_egui;
            result = offscreen::render_with_overlay(
                &g.device,
                &g.queue,
                r,
                &scene,
                size[0],
                size[1],
                &mut |device, queue, view| {
                    if let Some(l) = shot_egui.as_mut() {
                        l.paint(device, queue, view, size, &egui_frame);
                    }
                },
            )
            .and_then(|(rgba, _)| offscreen::write_png(path, size[0], size[1], &rgba));
        }
        drop(scene);
        g.egui_layer.free_textures(&to_free);
        if let Some(l) = &mut g.shot_egui {
            l.free_textures(&to_free);
        }
        if let Err(e) = result {
            self.fail(event_loop, e);
            return;
        }
        if self.ready_frames == TIMING_FROM {
            self.timing_from = Some(Instant::now());
        }
        if self
            .options
            .exit_after_frames
            .is_some_and(|n| self.ready_frames >= n)
        {
            // The window's own frame rate, for runs with a frame count (benchmarks under Xvfb).
            if let Some(t) = self.timing_from {
                let n = self.ready_frames - TIMING_FROM;
                let secs = t.elapsed().as_secs_f64();
                if n > 0 && secs > 0.0 {
                    eprintln!(
                        "tilegame: {n} frames in {secs:.2} s: {:.1} FPS, {:.1} ms a frame",
                        f64::from(n) / secs,
                        secs * 1000.0 / f64::from(n)
                    );
                }
            }
            event_loop.exit();
        }
    }
}

/// The ready frame from which the frame rate printed at exit is counted.
const TIMING_FROM: u32 = 10;

impl<S: FrameSource> ApplicationHandler for App<'_, S> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        #[cfg(target_arch = "wasm32")]
        if self.gfx.is_none() && self.pending.is_none() {
            if let Err(e) = self.start_gfx(event_loop) {
                self.fail(event_loop, e);
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        self.resumed_native(event_loop);
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        self.on_window_event(event_loop, event);
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        self.on_about_to_wait(event_loop);
    }
}

impl<S: FrameSource> App<'_, S> {
    #[cfg(not(target_arch = "wasm32"))]
    fn resumed_native(&mut self, event_loop: &ActiveEventLoop) {
        if self.gfx.is_some() {
            return;
        }
        match self.create_gfx(event_loop) {
            Ok(g) => {
                self.input.focused = true;
                g.window.request_redraw();
                self.gfx = Some(g);
            }
            Err(e) => self.fail(event_loop, e),
        }
    }

    fn on_window_event(&mut self, event_loop: &ActiveEventLoop, event: WindowEvent) {
        #[cfg(target_arch = "wasm32")]
        self.poll_gpu(event_loop);
        let (egui_wants, egui_wants_keys) = match &mut self.gfx {
            Some(g) => {
                let response = g.egui_state.on_window_event(&g.window, &event);
                if response.repaint {
                    g.window.request_redraw();
                }
                (response.consumed, g.egui_ctx.text_edit_focused())
            }
            None => (false, false),
        };
        match event {
            WindowEvent::CloseRequested => {
                self.input.close_requested = true;
                self.source.update(&self.input, 0.0);
                event_loop.exit();
            }
            WindowEvent::Resized(size) => self.resize(size),
            WindowEvent::Focused(f) => {
                self.input.focused = f;
                if !f {
                    self.held = Held::default();
                    self.input.mouse_left = false;
                    self.input.mouse_right = false;
                }
            }
            WindowEvent::ModifiersChanged(m) => self.modifiers = m.state(),
            WindowEvent::KeyboardInput { event, .. } => {
                let pressed = event.state == ElementState::Pressed;
                // A focused text field takes the keys (releases still reach the game). Not
                // egui-winit's `consumed`: it marks every Tab as used (focus cycling), and Tab
                // is the game's player list.
                if egui_wants_keys && pressed {
                    return;
                }
                if let PhysicalKey::Code(code) = event.physical_key {
                    self.on_key(code, pressed, event.repeat);
                }
                if pressed {
                    if let Some(t) = &event.text {
                        self.input
                            .text
                            .extend(t.chars().filter(|c| !c.is_control()));
                    }
                }
            }
            WindowEvent::CursorMoved { position, .. } => {
                self.input.mouse_screen = Some([position.x as f32, position.y as f32]);
            }
            WindowEvent::CursorLeft { .. } => self.input.mouse_screen = None,
            WindowEvent::MouseInput { state, button, .. } => {
                let down = state == ElementState::Pressed;
                if egui_wants && down {
                    return;
                }
                match button {
                    MouseButton::Left => {
                        self.input.mouse_left = down;
                        self.input.mouse_left_pressed |= down;
                    }
                    MouseButton::Right => self.input.mouse_right = down,
                    _ => {}
                }
            }
            WindowEvent::MouseWheel { .. } if egui_wants => {}
            WindowEvent::MouseWheel { delta, .. } => {
                self.input.scroll += match delta {
                    MouseScrollDelta::LineDelta(_, y) => y,
                    MouseScrollDelta::PixelDelta(p) => p.y as f32 / 40.0,
                };
            }
            WindowEvent::RedrawRequested => self.frame(event_loop),
            _ => {}
        }
    }

    fn on_about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        #[cfg(target_arch = "wasm32")]
        self.poll_gpu(event_loop);
        #[cfg(target_arch = "wasm32")]
        let next_update = self.update_between_frames();
        let Some(g) = &self.gfx else { return };
        let limit = g.applied.fps_limit;
        if let (true, Some(last)) = (limit > 0, self.last_frame) {
            let next = last + Duration::from_secs_f64(1.0 / f64::from(limit));
            if Instant::now() < next {
                #[cfg(target_arch = "wasm32")]
                let next = next_update.map_or(next, |u| u.min(next));
                event_loop.set_control_flow(ControlFlow::WaitUntil(next));
                return;
            }
        }
        // The page's frames come from the browser (requestAnimationFrame): between them the
        // loop waits for the next game update; natively the loop polls.
        #[cfg(target_arch = "wasm32")]
        event_loop.set_control_flow(next_update.map_or(ControlFlow::Wait, ControlFlow::WaitUntil));
        #[cfg(not(target_arch = "wasm32"))]
        event_loop.set_control_flow(ControlFlow::Poll);
        g.window.request_redraw();
    }
}

/// Applies changed window settings: fullscreen and the present mode.
fn apply_settings(g: &mut Gfx, wanted: WindowSettings) {
    if wanted == g.applied {
        return;
    }
    if wanted.fullscreen != g.applied.fullscreen {
        g.window
            .set_fullscreen(wanted.fullscreen.then_some(Fullscreen::Borderless(None)));
    }
    if wanted.vsync != g.applied.vsync {
        g.config.present_mode = present_mode(&g.present_modes, wanted.vsync);
        g.surface.configure(&g.device, &g.config);
    }
    g.applied = wanted;
}

/// Fifo with vsync; otherwise the first of Mailbox or Immediate the surface supports.
fn present_mode(supported: &[wgpu::PresentMode], vsync: bool) -> wgpu::PresentMode {
    if vsync {
        return wgpu::PresentMode::Fifo;
    }
    [wgpu::PresentMode::Mailbox, wgpu::PresentMode::Immediate]
        .into_iter()
        .find(|m| supported.contains(m))
        .unwrap_or(wgpu::PresentMode::Fifo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_options() {
        let o = WindowOptions::default();
        assert_eq!(o.size, [1280, 720]);
        assert!(o.exit_after_frames.is_none() && o.screenshot.is_none());
    }

    #[test]
    fn present_mode_follows_vsync_and_support() {
        use wgpu::PresentMode::*;
        assert_eq!(present_mode(&[Fifo, Immediate], true), Fifo);
        assert_eq!(present_mode(&[Fifo, Immediate], false), Immediate);
        assert_eq!(present_mode(&[Fifo, Mailbox, Immediate], false), Mailbox);
        assert_eq!(present_mode(&[Fifo], false), Fifo);
    }
}
