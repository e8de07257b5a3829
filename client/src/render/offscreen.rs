//! Rendering without a window: a scene to RGBA bytes or to a PNG file.
//!
//! Why: tests, CI, screenshots and replay export need pixels without a display. The same
//! [`Renderer`] as the window draws into an `Rgba8Unorm` texture, which is copied into a
//! mappable buffer (rows padded to wgpu's 256-byte alignment, then unpadded) and read back.
//! No clock, no randomness: the same scene gives the same bytes on the same driver.

use std::path::Path;
use std::sync::mpsc;

use super::egui_layer::{EguiFrame, EguiLayer};
use super::gpu;
use super::pipeline::{FrameStats, Renderer};
use super::{RenderError, Scene};

/// The colour format of offscreen targets (bytes come back as straight RGBA).
pub const OFFSCREEN_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;

/// A headless device with the renderer's pipelines, reusable across frames
/// (create once when rendering many images, e.g. exporting a replay).
pub struct OffscreenRenderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    renderer: Renderer,
    adapter: String,
    last_stats: FrameStats,
    /// The target [`Self::draw`] keeps between frames (recreated when the size changes).
    target: Option<Target>,
    /// egui's renderer for [`Self::draw_with_ui_frame`], created on first use.
    ui_layer: Option<EguiLayer>,
}

/// A kept render target and the buffer it is read back through.
struct Target {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
    buffer: wgpu::Buffer,
    width: u32,
    height: u32,
}

impl OffscreenRenderer {
    /// Finds an adapter (hardware, then software) and builds the pipelines.
    pub fn new() -> Result<Self, RenderError> {
        let instance = gpu::headless_instance();
        let adapter = gpu::request_adapter(&instance, None)?;
        let (device, queue) = gpu::request_device(&adapter)?;
        let renderer = Renderer::new(&device, &queue, OFFSCREEN_FORMAT);
        Ok(Self {
            device,
            queue,
            renderer,
            adapter: gpu::describe(&adapter),
            last_stats: FrameStats::default(),
            target: None,
            ui_layer: None,
        })
    }

    /// The adapter in use, for logs ("llvmpipe (LLVM 15.0.6, 256 bits) (Vulkan, Cpu, ...)").
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// What the last [`Self::render`] drew (instances and draw calls).
    pub fn last_stats(&self) -> FrameStats {
        self.last_stats
    }

    /// Renders `scene` at `width` × `height`; returns `width * height * 4` RGBA bytes, row-major.
    pub fn render(
        &mut self,
        scene: &Scene,
        width: u32,
        height: u32,
    ) -> Result<Vec<u8>, RenderError> {
        // Name tags the bitmap font cannot draw need the UI layer's fonts.
        if !super::layout::tag_labels(scene, width, height).is_empty() {
            return self.render_with_ui(scene, width, height, &mut |_| {});
        }
        self.draw(scene, width, height)?;
        self.read_back()
    }
}

impl OffscreenRenderer {
    /// Draws `scene` into a target kept between calls and waits until the device has finished
    /// it, without reading it back: what a window's frame costs the device before `present`
    /// (the benchmark's figure). [`Self::read_back`] then returns the pixels.
    pub fn draw(&mut self, scene: &Scene, width: u32, height: u32) -> Result<(), RenderError> {
        self.ensure_target(width, height)?;
        let view = &self.target.as_ref().expect("target ensured").view;
        self.last_stats =
            self.renderer
                .render(&self.device, &self.queue, view, scene, width, height);
        self.finish()
    }

    /// Like [`Self::draw`], then paints an egui frame over the world (as the window paints its
    /// UI layer each frame, with one egui context kept by the caller) and waits for both.
    pub fn draw_with_ui_frame(
        &mut self,
        scene: &Scene,
        width: u32,
        height: u32,
        ui: &mut EguiFrame,
    ) -> Result<(), RenderError> {
        self.ensure_target(width, height)?;
        let view = &self.target.as_ref().expect("target ensured").view;
        self.last_stats =
            self.renderer
                .render(&self.device, &self.queue, view, scene, width, height);
        let layer = self
            .ui_layer
            .get_or_insert_with(|| EguiLayer::new(&self.device, OFFSCREEN_FORMAT));
        layer.update_textures(&self.device, &self.queue, ui);
        let free = ui.textures_applied();
        layer.paint(&self.device, &self.queue, view, [width, height], ui);
        layer.free_textures(&free);
        self.finish()
    }

    /// The pixels of the last [`Self::draw`] (`width * height * 4` RGBA bytes, row-major);
    /// an error when nothing was drawn yet.
    pub fn read_back(&mut self) -> Result<Vec<u8>, RenderError> {
        let t = self
            .target
            .as_ref()
            .ok_or_else(|| RenderError::Readback("nothing drawn yet".into()))?;
        read_texture(
            &self.device,
            &self.queue,
            &t.texture,
            &t.buffer,
            t.width,
            t.height,
        )
    }

    fn ensure_target(&mut self, width: u32, height: u32) -> Result<(), RenderError> {
        let max = self.device.limits().max_texture_dimension_2d;
        if width == 0 || height == 0 || width > max || height > max {
            return Err(RenderError::InvalidSize { width, height, max });
        }
        if self
            .target
            .as_ref()
            .is_none_or(|t| (t.width, t.height) != (width, height))
        {
            let texture = target_texture(&self.device, width, height);
            self.target = Some(Target {
                view: texture.create_view(&wgpu::TextureViewDescriptor::default()),
                texture,
                buffer: readback_buffer(&self.device, width, height),
                width,
                height,
            });
        }
        Ok(())
    }

    /// Waits until the device has executed everything submitted.
    fn finish(&self) -> Result<(), RenderError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| RenderError::Readback(e.to_string()))
    }
}

impl OffscreenRenderer {
    /// Renders `scene`, then paints what `ui` draws with egui over it (as the window paints its
    /// UI layer), at one physical pixel per point; returns RGBA bytes like [`Self::render`].
    /// Creates an egui context and its textures for this one frame (tests, exports).
    pub fn render_with_ui(
        &mut self,
        scene: &Scene,
        width: u32,
        height: u32,
        ui: &mut dyn FnMut(&egui::Context),
    ) -> Result<Vec<u8>, RenderError> {
        let ctx = egui::Context::default();
        crate::ui::font::install(&ctx);
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(width as f32, height as f32),
            )),
            ..egui::RawInput::default()
        };
        let labels = super::layout::tag_labels(scene, width, height);
        let output = ctx.run_pass(input, |c| {
            super::tag_text::paint(c, &labels);
            ui(c)
        });
        let mut frame = EguiFrame {
            primitives: ctx.tessellate(output.shapes, output.pixels_per_point),
            textures: output.textures_delta,
            pixels_per_point: output.pixels_per_point,
        };
        let mut layer = EguiLayer::new(&self.device, OFFSCREEN_FORMAT);
        layer.update_textures(&self.device, &self.queue, &frame);
        let _ = frame.textures_applied();
        let (rgba, stats) = render_with_overlay(
            &self.device,
            &self.queue,
            &mut self.renderer,
            scene,
            width,
            height,
            &mut |device, queue, view| layer.paint(device, queue, view, [width, height], &frame),
        )?;
        self.last_stats = stats;
        Ok(rgba)
    }
}

/// Renders `scene` into a fresh texture on an existing device, then `overlay` draws over the
/// world (the UI layer) before read-back. `renderer` must have been created for
/// [`OFFSCREEN_FORMAT`].
pub(crate) fn render_with_overlay(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    renderer: &mut Renderer,
    scene: &Scene,
    width: u32,
    height: u32,
    overlay: &mut dyn FnMut(&wgpu::Device, &wgpu::Queue, &wgpu::TextureView),
) -> Result<(Vec<u8>, FrameStats), RenderError> {
    let max = device.limits().max_texture_dimension_2d;
    if width == 0 || height == 0 || width > max || height > max {
        return Err(RenderError::InvalidSize { width, height, max });
    }
    let texture = target_texture(device, width, height);
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let stats = renderer.render(device, queue, &view, scene, width, height);
    overlay(device, queue, &view);
    let buffer = readback_buffer(device, width, height);
    let rgba = read_texture(device, queue, &texture, &buffer, width, height)?;
    Ok((rgba, stats))
}

/// A `width` × `height` texture to draw into and copy from.
fn target_texture(device: &wgpu::Device, width: u32, height: u32) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("tilegame offscreen target"),
        size: wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: OFFSCREEN_FORMAT,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    })
}

/// Bytes per row of a read-back buffer (wgpu pads rows to 256 bytes).
fn padded_row(width: u32) -> u32 {
    let align = wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    (width * 4).div_ceil(align) * align
}

/// A mappable buffer for reading back a `width` × `height` target.
fn readback_buffer(device: &wgpu::Device, width: u32, height: u32) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("tilegame readback"),
        size: u64::from(padded_row(width)) * u64::from(height),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    })
}

/// Copies `texture` into `buffer`, maps it and returns the unpadded RGBA rows.
fn read_texture(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    texture: &wgpu::Texture,
    buffer: &wgpu::Buffer,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, RenderError> {
    let unpadded = width * 4;
    let padded = padded_row(width);
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("tilegame readback copy"),
    });
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(padded),
                rows_per_image: Some(height),
            },
        },
        wgpu::Extent3d {
            width,
            height,
            depth_or_array_layers: 1,
        },
    );
    queue.submit(Some(encoder.finish()));

    let slice = buffer.slice(..);
    let (tx, rx) = mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    rx.recv()
        .map_err(|e| RenderError::Readback(e.to_string()))?
        .map_err(|e| RenderError::Readback(e.to_string()))?;
    let mut out = Vec::with_capacity((unpadded * height) as usize);
    {
        let data = slice
            .get_mapped_range()
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        for row in data.chunks(padded as usize).take(height as usize) {
            out.extend_from_slice(&row[..unpadded as usize]);
        }
    }
    buffer.unmap();
    Ok(out)
}

/// Renders `scene` offscreen at `width` × `height` and returns RGBA bytes (row-major).
///
/// Creates a device each call; use [`OffscreenRenderer`] to render many frames.
pub fn render_to_rgba(scene: &Scene, width: u32, height: u32) -> Result<Vec<u8>, RenderError> {
    OffscreenRenderer::new()?.render(scene, width, height)
}

/// Renders `scene` offscreen and writes it to `path` as a PNG.
pub fn render_to_png(
    scene: &Scene,
    width: u32,
    height: u32,
    path: impl AsRef<Path>,
) -> Result<(), RenderError> {
    let rgba = render_to_rgba(scene, width, height)?;
    write_png(path, width, height, &rgba)
}

/// Encodes RGBA bytes as a PNG in memory.
pub fn encode_png(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<u8>, RenderError> {
    if rgba.len() != (width as usize) * (height as usize) * 4 {
        return Err(RenderError::Png(format!(
            "{} bytes given for {width}x{height} RGBA",
            rgba.len()
        )));
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| RenderError::Png(e.to_string()))?;
        w.write_image_data(rgba)
            .map_err(|e| RenderError::Png(e.to_string()))?;
        w.finish().map_err(|e| RenderError::Png(e.to_string()))?;
    }
    Ok(out)
}

/// Writes RGBA bytes to `path` as a PNG (creating parent folders).
pub fn write_png(
    path: impl AsRef<Path>,
    width: u32,
    height: u32,
    rgba: &[u8],
) -> Result<(), RenderError> {
    let path = path.as_ref();
    let bytes = encode_png(width, height, rgba)?;
    let io = |source| RenderError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera at half a pixel puts tile edges exactly on pixel centres: every pixel of a map
    /// of one tile must still be one of that tile's own texels (a seam of the neighbouring
    /// atlas cell showed as lines down the screen).
    #[test]
    fn tile_edges_on_pixel_centres_show_no_seams() {
        use tilegame_game::{Map, Tile};
        let mut r = match OffscreenRenderer::new() {
            Ok(r) => r,
            Err(e) => panic!("no adapter (install Mesa's lavapipe, see RENDERING.md): {e}"),
        };
        let map = Map::new(64, 64, Tile::Grass).expect("a map");
        let (cx, cy) = super::super::atlas::tile_cell(Tile::Grass);
        let sheet = super::super::atlas::sheet();
        let mut texels = std::collections::BTreeSet::new();
        for y in 0..32 {
            for x in 0..32 {
                let (px, py) = (u32::from(cx) * 32 + x, u32::from(cy) * 32 + y);
                let i = ((py * sheet.width + px) * 4) as usize;
                texels.insert([sheet.data[i], sheet.data[i + 1], sheet.data[i + 2]]);
            }
        }
        for camera in [[0.5, 0.5], [0.25, 0.75], [16.5, 3.5]] {
            let mut scene = super::super::demo::demo_scene(&map, 0, None);
            scene.players.clear();
            scene.breaking = None;
            scene.overlay = Some(super::super::Overlay::UiLayer);
            scene.camera = camera;
            let (w, h) = (320, 200);
            let rgba = r.render(&scene, w, h).expect("render");
            let strays = rgba
                .chunks(4)
                .filter(|p| !texels.contains(&[p[0], p[1], p[2]]))
                .count();
            assert_eq!(
                strays, 0,
                "camera {camera:?}: {strays} pixels not of the tile"
            );
        }
    }

    /// The pipelines' sRGB variants (chosen for sRGB targets, e.g. some window surfaces) give
    /// the bytes the plain ones give: still tiles, water and lava alike (opaque, so blending in
    /// linear space cannot differ); and the sprite variant draws.
    #[test]
    fn srgb_targets_give_the_same_bytes() {
        use tilegame_game::{Map, Tile};
        let mut r = match OffscreenRenderer::new() {
            Ok(r) => r,
            Err(e) => panic!("no adapter (install Mesa's lavapipe, see RENDERING.md): {e}"),
        };
        let mut map = Map::new(24, 16, Tile::Grass).expect("a map");
        for x in 0..24 {
            map.set(x, 5, Tile::Water).expect("water");
            map.set(x, 9, Tile::Lava).expect("lava");
        }
        let mut scene = super::super::demo::demo_scene(&map, 37, None);
        scene.players.clear();
        scene.breaking = None;
        scene.overlay = Some(super::super::Overlay::UiLayer);
        let (w, h) = (200, 120);
        let plain = r.render(&scene, w, h).expect("plain render");
        assert!(r.last_stats().draw_calls >= 2, "{:?}", r.last_stats());

        let format = wgpu::TextureFormat::Rgba8UnormSrgb;
        let mut srgb = Renderer::new(&r.device, &r.queue, format);
        let texture = r.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("srgb test target"),
            size: wgpu::Extent3d {
                width: w,
                height: h,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let read = |srgb: &mut Renderer, scene: &Scene| {
            srgb.render(&r.device, &r.queue, &view, scene, w, h);
            let buffer = readback_buffer(&r.device, w, h);
            read_texture(&r.device, &r.queue, &texture, &buffer, w, h).expect("read back")
        };
        let encoded = read(&mut srgb, &scene);
        let worst = plain
            .iter()
            .zip(&encoded)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(worst <= 1, "sRGB target differs by up to {worst}");
        // With players (the sprite variant): drawn, and not the map alone.
        let with_players = super::super::demo::demo_scene(&map, 37, None);
        let drawn = read(&mut srgb, &with_players);
        assert_ne!(drawn, encoded);
    }

    #[test]
    fn png_round_trip_header() {
        let rgba = vec![255u8; 3 * 2 * 4];
        let bytes = encode_png(3, 2, &rgba).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        assert_eq!((reader.info().width, reader.info().height), (3, 2));
        assert!(encode_png(3, 3, &rgba).is_err());
    }
}
