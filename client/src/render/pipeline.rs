//! The wgpu pipelines: two instanced draws for the map (still tiles; water and lava), one for
//! every sprite.
//!
//! Why it looks like this: the map can hold 192×192 tiles, so tiles are never drawn one by one.
//! Each visible tile is an 8-byte *vertex instance* (tile x, y, atlas cell, flags); the vertex
//! shader places the quad from the camera uniform and the fragment shader fetches the texel from
//! the sheet. Without a GPU (Mesa's lavapipe) the frame time is the fragment stages' work per
//! pixel, so still tiles (most of the screen) take a shader that does one texel fetch and
//! nothing else; only water and lava pay for scrolling and glowing, and sRGB conversion is a
//! pipeline variant chosen for the target, not a per-pixel branch. Sprites (players, bars, name tags, HUD, text, overlays) are 36-byte instances
//! already in screen pixels. Both use vertex buffers and a uniform buffer only (no storage
//! buffers, no samplers: `textureLoad` of exact texels), so the same code runs on Vulkan, Metal,
//! DX12 and GL / WebGL2 limits. The shaders are inline WGSL.
//!
//! This module owns GPU objects but no device: callers (offscreen, window) bring the device,
//! queue and target view. It must not read clocks or input.

use wgpu::util::DeviceExt;

use super::atlas;
use super::layout::{
    build_frame, Frame, Globals, SpriteInstance, TileInstance, TILE_FLAG_GLOW, TILE_FLAG_SCROLL,
};
use super::Scene;

const SHADER: &str = r#"
struct Globals {
    view: vec4<f32>,    // camera x, camera y, zoom, tick
    screen: vec4<f32>,  // width, height, map origin x, map origin y
    flags: vec4<f32>,   // unused (the pipelines' entry points follow the target's format)
};

@group(0) @binding(0) var<uniform> g: Globals;
@group(0) @binding(1) var sheet: texture_2d<f32>;

// Corner of a quad for vertex 0..5 (two triangles).
fn corner(i: u32) -> vec2<f32> {
    let x = select(0.0, 1.0, i == 1u || i == 4u || i == 5u);
    let y = select(0.0, 1.0, i == 2u || i == 3u || i == 5u);
    return vec2<f32>(x, y);
}

fn to_clip(p: vec2<f32>) -> vec4<f32> {
    return vec4<f32>(p.x / g.screen.x * 2.0 - 1.0, 1.0 - p.y / g.screen.y * 2.0, 0.0, 1.0);
}

// Colours are authored in sRGB bytes; on an sRGB target, linearise so the bytes come back.
// Only the `_srgb` entry points call it: the pipelines pick their variant for the target's
// format, so a software rasteriser never evaluates it (nor a branch on it) per pixel.
fn linear(c: vec4<f32>) -> vec4<f32> {
    let lo = c.rgb / 12.92;
    let hi = pow((c.rgb + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    return vec4<f32>(select(hi, lo, c.rgb <= vec3<f32>(0.04045)), c.a);
}

struct TileOut {
    @builtin(position) pos: vec4<f32>,
    // The sheet texel under this point (cell origin + 0..32), and the cell's last texel.
    @location(0) texel: vec2<f32>,
    @location(1) @interpolate(flat) last: vec2<f32>,
    @location(2) local: vec2<f32>,
    @location(3) @interpolate(flat) cell: vec4<u32>,
};

@vertex
fn vs_tile(@builtin(vertex_index) vi: u32,
           @location(0) tile: vec2<u32>,
           @location(1) cell: vec4<u32>) -> TileOut {
    let c = corner(vi);
    let world = g.screen.zw + (vec2<f32>(tile) + c) * 32.0;
    let sp = (world - g.view.xy) * g.view.z + g.screen.xy * 0.5;
    var out: TileOut;
    out.pos = to_clip(sp);
    let origin = vec2<f32>(cell.xy * 32u);
    out.texel = origin + c * 32.0;
    out.last = origin + vec2<f32>(31.0);
    out.local = c;
    out.cell = cell;
    return out;
}

// A still tile (most of the map): one texel fetch per pixel, nothing else. Clamped to the cell
// on both sides: a pixel centre exactly on a tile's edge (a camera at half a pixel) interpolates
// to a hair outside it, which would fetch the neighbouring cell's texel.
fn still_tile(in: TileOut) -> vec4<f32> {
    let t = clamp(in.texel, in.last - vec2<f32>(31.0), in.last);
    return textureLoad(sheet, vec2<i32>(t), 0);
}

@fragment
fn fs_tile(in: TileOut) -> @location(0) vec4<f32> {
    return still_tile(in);
}

@fragment
fn fs_tile_srgb(in: TileOut) -> @location(0) vec4<f32> {
    return linear(still_tile(in));
}

// Water scrolls, lava scrolls slowly and glows (drawn in their own, second tile draw).
fn moving_tile(in: TileOut) -> vec4<f32> {
    let l = clamp(in.local, vec2<f32>(0.0), vec2<f32>(0.99999));
    var t = vec2<u32>(l * 32.0);
    let tick = u32(g.view.w);
    if ((in.cell.z & 1u) != 0u) {
        t.x = (t.x + 32u - (tick / 2u) % 32u) % 32u;
    }
    if ((in.cell.z & 2u) != 0u) {
        t.x = (t.x + (tick / 6u) % 32u) % 32u;
    }
    var c = textureLoad(sheet, vec2<i32>(in.cell.xy * 32u + t), 0);
    if ((in.cell.z & 2u) != 0u) {
        // Lava glows: a slow pulse, brighter and redder in waves that travel across the tiles.
        let phase = (f32(in.cell.w) + in.local.x + in.local.y) * 0.9;
        let wave = sin(g.view.w * 0.25 - phase);
        c = vec4<f32>(c.rgb * (0.86 + 0.14 * wave), 1.0);
    }
    return c;
}

@fragment
fn fs_tile_moving(in: TileOut) -> @location(0) vec4<f32> {
    return moving_tile(in);
}

@fragment
fn fs_tile_moving_srgb(in: TileOut) -> @location(0) vec4<f32> {
    return linear(moving_tile(in));
}

struct SpriteOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) @interpolate(flat) uv: vec4<f32>,
    @location(2) @interpolate(flat) color: vec4<f32>,
};

@vertex
fn vs_sprite(@builtin(vertex_index) vi: u32,
             @location(0) rect: vec4<f32>,
             @location(1) uv: vec4<f32>,
             @location(2) color: vec4<f32>) -> SpriteOut {
    let c = corner(vi);
    var out: SpriteOut;
    out.pos = to_clip(rect.xy + c * rect.zw);
    out.local = c;
    out.uv = uv;
    out.color = color;
    return out;
}

fn sprite(in: SpriteOut) -> vec4<f32> {
    var c = in.color;
    if (in.uv.z > 0.0) {
        let l = clamp(in.local, vec2<f32>(0.0), vec2<f32>(0.99999));
        let t = in.uv.xy + min(floor(l * in.uv.zw), in.uv.zw - vec2<f32>(1.0));
        c = c * textureLoad(sheet, vec2<i32>(t), 0);
    }
    if (c.a <= 0.0) {
        discard;
    }
    return c;
}

@fragment
fn fs_sprite(in: SpriteOut) -> @location(0) vec4<f32> {
    return sprite(in);
}

@fragment
fn fs_sprite_srgb(in: SpriteOut) -> @location(0) vec4<f32> {
    return linear(sprite(in));
}
"#;

/// Whether a texture format stores sRGB-encoded colours.
pub fn is_srgb(format: wgpu::TextureFormat) -> bool {
    format.is_srgb()
}

/// GPU resources for drawing scenes into targets of one colour format.
pub struct Renderer {
    tile_pipeline: wgpu::RenderPipeline,
    moving_tile_pipeline: wgpu::RenderPipeline,
    sprite_pipeline: wgpu::RenderPipeline,
    bind_group: wgpu::BindGroup,
    globals: wgpu::Buffer,
    tiles: GrowBuffer,
    sprites: GrowBuffer,
    /// This frame's tiles, still ones first, then water and lava (reused between frames).
    sorted_tiles: Vec<TileInstance>,
    srgb_target: bool,
    format: wgpu::TextureFormat,
}

/// A vertex buffer that grows (by doubling) when a frame needs more room.
struct GrowBuffer {
    buffer: wgpu::Buffer,
    capacity: u64,
    label: &'static str,
}

impl GrowBuffer {
    fn new(device: &wgpu::Device, label: &'static str, capacity: u64) -> Self {
        Self {
            buffer: Self::create(device, label, capacity),
            capacity,
            label,
        }
    }

    fn create(device: &wgpu::Device, label: &str, size: u64) -> wgpu::Buffer {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    fn write(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, bytes: &[u8]) {
        let needed = bytes.len() as u64;
        if needed > self.capacity {
            let mut cap = self.capacity.max(256);
            while cap < needed {
                cap *= 2;
            }
            self.buffer = Self::create(device, self.label, cap);
            self.capacity = cap;
        }
        if !bytes.is_empty() {
            queue.write_buffer(&self.buffer, 0, bytes);
        }
    }
}

impl Renderer {
    /// Creates pipelines for targets of `format` and uploads the texture sheet.
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, format: wgpu::TextureFormat) -> Self {
        let sheet = atlas::sheet();
        let texture = device.create_texture_with_data(
            queue,
            &wgpu::TextureDescriptor {
                label: Some("tilegame sheet"),
                size: wgpu::Extent3d {
                    width: sheet.width,
                    height: sheet.height,
                    depth_or_array_layers: 1,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: wgpu::TextureFormat::Rgba8Unorm,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            },
            wgpu::util::TextureDataOrder::LayerMajor,
            &sheet.data,
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());

        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tilegame globals"),
            size: std::mem::size_of::<Globals>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });

        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("tilegame bind group layout"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::VERTEX | wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: wgpu::BufferSize::new(
                            std::mem::size_of::<Globals>() as u64
                        ),
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float { filterable: false },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                },
            ],
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tilegame bind group"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: globals.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(&view),
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("tilegame pipeline layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("tilegame shader"),
            source: wgpu::ShaderSource::Wgsl(SHADER.into()),
        });

        let tile_attrs = wgpu::vertex_attr_array![0 => Uint16x2, 1 => Uint8x4];
        let sprite_attrs = wgpu::vertex_attr_array![0 => Float32x4, 1 => Float32x4, 2 => Unorm8x4];
        let make = |label: &str,
                    vs: &str,
                    fs: &str,
                    stride: usize,
                    attrs: &[wgpu::VertexAttribute],
                    blend: Option<wgpu::BlendState>| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&pipeline_layout),
                vertex: wgpu::VertexState {
                    module: &shader,
                    entry_point: Some(vs),
                    compilation_options: Default::default(),
                    buffers: &[Some(wgpu::VertexBufferLayout {
                        array_stride: stride as u64,
                        step_mode: wgpu::VertexStepMode::Instance,
                        attributes: attrs,
                    })],
                },
                primitive: wgpu::PrimitiveState::default(),
                depth_stencil: None,
                multisample: wgpu::MultisampleState::default(),
                fragment: Some(wgpu::FragmentState {
                    module: &shader,
                    entry_point: Some(fs),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format,
                        blend,
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                multiview_mask: None,
                cache: None,
            })
        };
        // Each fragment stage in the variant for the target: sRGB targets linearise.
        let srgb = is_srgb(format);
        let fs = |name: &'static str| -> String {
            if srgb {
                format!("{name}_srgb")
            } else {
                name.to_owned()
            }
        };
        let tile_pipeline = make(
            "tilegame tiles",
            "vs_tile",
            &fs("fs_tile"),
            std::mem::size_of::<TileInstance>(),
            &tile_attrs,
            None,
        );
        let moving_tile_pipeline = make(
            "tilegame water and lava",
            "vs_tile",
            &fs("fs_tile_moving"),
            std::mem::size_of::<TileInstance>(),
            &tile_attrs,
            None,
        );
        // Straight alpha for colour; alpha accumulates towards opaque so PNGs stay opaque.
        let blend = wgpu::BlendState {
            color: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::SrcAlpha,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
            alpha: wgpu::BlendComponent {
                src_factor: wgpu::BlendFactor::One,
                dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                operation: wgpu::BlendOperation::Add,
            },
        };
        let sprite_pipeline = make(
            "tilegame sprites",
            "vs_sprite",
            &fs("fs_sprite"),
            std::mem::size_of::<SpriteInstance>(),
            &sprite_attrs,
            Some(blend),
        );

        Self {
            tile_pipeline,
            moving_tile_pipeline,
            sprite_pipeline,
            bind_group,
            globals,
            tiles: GrowBuffer::new(device, "tilegame tile instances", 64 * 1024),
            sprites: GrowBuffer::new(device, "tilegame sprite instances", 64 * 1024),
            sorted_tiles: Vec::new(),
            srgb_target: srgb,
            format,
        }
    }

    /// The target format these pipelines draw into.
    pub fn format(&self) -> wgpu::TextureFormat {
        self.format
    }

    /// Lays out `scene` for a `width` × `height` target and draws it into `target`
    /// (cleared first). Submits its own command buffer.
    pub fn render(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        target: &wgpu::TextureView,
        scene: &Scene,
        width: u32,
        height: u32,
    ) -> FrameStats {
        let frame = build_frame(scene, width, height);
        self.render_frame(device, queue, target, &frame)
    }

    /// Draws an already laid-out frame into `target`. Up to three draw calls: still tiles,
    /// water and lava, then sprites.
    pub fn render_frame(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        target: &wgpu::TextureView,
        frame: &Frame,
    ) -> FrameStats {
        let mut globals = frame.globals;
        globals.flags[0] = if self.srgb_target { 1.0 } else { 0.0 };
        queue.write_buffer(&self.globals, 0, bytemuck::bytes_of(&globals));
        // Still tiles take the cheap pipeline; water and lava (few) the animated one. Tiles
        // never overlap, so drawing them in two groups changes no pixel.
        let moving = |t: &TileInstance| t.cell[2] & (TILE_FLAG_SCROLL | TILE_FLAG_GLOW) != 0;
        self.sorted_tiles.clear();
        self.sorted_tiles
            .extend(frame.tiles.iter().filter(|t| !moving(t)));
        let still = self.sorted_tiles.len() as u32;
        self.sorted_tiles
            .extend(frame.tiles.iter().filter(|t| moving(t)));
        let all = self.sorted_tiles.len() as u32;
        self.tiles
            .write(device, queue, bytemuck::cast_slice(&self.sorted_tiles));
        self.sprites
            .write(device, queue, bytemuck::cast_slice(&frame.sprites));

        let [r, g, b] = super::layout::BACKGROUND.map(|c| f64::from(c) / 255.0);
        let clear = if self.srgb_target {
            // The clear colour is not passed through the shader: linearise it here.
            let lin = |c: f64| {
                if c <= 0.04045 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            };
            wgpu::Color {
                r: lin(r),
                g: lin(g),
                b: lin(b),
                a: 1.0,
            }
        } else {
            wgpu::Color { r, g, b, a: 1.0 }
        };

        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("tilegame frame"),
        });
        let mut draws = 0;
        {
            let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("tilegame pass"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(clear),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            pass.set_bind_group(0, &self.bind_group, &[]);
            if still > 0 {
                pass.set_pipeline(&self.tile_pipeline);
                pass.set_vertex_buffer(0, self.tiles.buffer.slice(..));
                pass.draw(0..6, 0..still);
                draws += 1;
            }
            if all > still {
                pass.set_pipeline(&self.moving_tile_pipeline);
                pass.set_vertex_buffer(0, self.tiles.buffer.slice(..));
                pass.draw(0..6, still..all);
                draws += 1;
            }
            if !frame.sprites.is_empty() {
                pass.set_pipeline(&self.sprite_pipeline);
                pass.set_vertex_buffer(0, self.sprites.buffer.slice(..));
                pass.draw(0..6, 0..frame.sprites.len() as u32);
                draws += 1;
            }
        }
        queue.submit(Some(encoder.finish()));
        FrameStats {
            tiles: frame.tiles.len(),
            sprites: frame.sprites.len(),
            draw_calls: draws,
        }
    }
}

/// What one frame drew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameStats {
    /// Tile instances (one draw call for still tiles, one for water and lava).
    pub tiles: usize,
    /// Sprite instances (one draw call).
    pub sprites: usize,
    /// Draw calls issued (at most 3: still tiles, water and lava, sprites).
    pub draw_calls: u32,
}
