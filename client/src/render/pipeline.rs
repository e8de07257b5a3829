//! The wgpu pipelines: two instanced draws for the map (still tiles; water and lava), one quad
//! per player body and per name tag, and instanced sprites for the rest.
//!
//! Why it looks like this: the map can hold 192×192 tiles, so tiles are never drawn one by one.
//! Each visible tile is an 8-byte *vertex instance* (tile x, y, atlas cell, flags); the vertex
//! shader places the quad from the camera uniform and the fragment shader fetches the texel from
//! the sheet. Without a GPU (Mesa's lavapipe) a frame costs the fragment stages' work per pixel
//! and the rasteriser's set-up per triangle, so still tiles (most of the screen) take a shader
//! that does one texel fetch and nothing else; only water and lava pay for scrolling and
//! glowing. (One screen-sized quad reading a tile-index texture instead measured slower here:
//! two dependent fetches per pixel cost more than the tiles' triangles.) A player's body
//! (shadow, outline, shading, eyes) and a name tag (box, bitmap-font name, health bar) are one
//! quad each whose fragment stage paints, with selects and no branches, the layers that some
//! sixteen sprite quads per player drew before, to the same pixels. Everything else (the
//! breaking tile's cracks, the sprite HUD, text, overlays) is 36-byte sprite instances already
//! in screen pixels. sRGB conversion is a pipeline variant chosen for the target, not a
//! per-pixel branch. Only vertex buffers, a uniform buffer and `textureLoad` of exact texels
//! (no storage buffers, no samplers), so the same code runs on Vulkan, Metal, DX12 and GL /
//! WebGL2 limits. The shaders are inline WGSL.
//!
//! This module owns GPU objects but no device: callers (offscreen, window) bring the device,
//! queue and target view. It must not read clocks or input.

use wgpu::util::DeviceExt;

use super::atlas;
use super::layout::{
    build_frame, BodyInstance, Frame, Globals, SpriteInstance, TagInstance, TileInstance,
    TEXT_SCALE, TILE_FLAG_GLOW, TILE_FLAG_SCROLL,
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

// Whether a pixel centre lies in a rectangle (left and top edges in, as the rasteriser's rule).
fn inside(p: vec2<f32>, lo: vec2<f32>, size: vec2<f32>) -> bool {
    return all(p >= lo) && all(p < lo + size);
}

// Rust's f32::round for the positive sizes below (WGSL's round() rounds halves to even).
fn round_up_half(v: f32) -> f32 {
    return floor(v + 0.5);
}

// A colour authored in sRGB bytes, as the target stores it. `srgb` is a constant at every call
// site, so the branch folds away.
fn enc(c: vec4<f32>, srgb: bool) -> vec4<f32> {
    if (srgb) {
        return linear(c);
    }
    return c;
}

// A player's body: one quad from the outline's top-left corner to the shadow's bottom-right.
struct BodyOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) @interpolate(flat) rect: vec4<f32>,
    @location(1) @interpolate(flat) body: vec4<f32>,
    @location(2) @interpolate(flat) top: vec4<f32>,
    @location(3) @interpolate(flat) bottom: vec4<f32>,
    @location(4) @interpolate(flat) outline: vec4<f32>,
};

@vertex
fn vs_body(@builtin(vertex_index) vi: u32,
           @location(0) rect: vec4<f32>,
           @location(1) body: vec4<f32>,
           @location(2) top: vec4<f32>,
           @location(3) bottom: vec4<f32>,
           @location(4) outline: vec4<f32>) -> BodyOut {
    let t = rect.w;
    let lo = rect.xy - vec2<f32>(t);
    let hi = rect.xy + vec2<f32>(rect.z + t, rect.z + 2.0 * t);
    var out: BodyOut;
    out.pos = to_clip(lo + corner(vi) * (hi - lo));
    out.rect = rect;
    out.body = body;
    out.top = top;
    out.bottom = bottom;
    out.outline = outline;
    return out;
}

// The layers, bottom first: soft shadow, outline, body, lighter top, darker bottom, eyes.
fn body_color(in: BodyOut, srgb: bool) -> vec4<f32> {
    let p = in.pos.xy;
    let o = in.rect.xy;
    let side = in.rect.z;
    let t = in.rect.w;
    var c = vec4<f32>(0.0);
    c = select(c, vec4<f32>(0.0, 0.0, 0.0, 90.0 / 255.0), inside(p, o + vec2<f32>(t, 2.0 * t), vec2<f32>(side)));
    c = select(c, enc(in.outline, srgb), inside(p, o - vec2<f32>(t), vec2<f32>(side + 2.0 * t)));
    c = select(c, enc(in.body, srgb), inside(p, o, vec2<f32>(side)));
    c = select(c, enc(in.top, srgb), inside(p, o, vec2<f32>(side, round_up_half(side / 4.0))));
    let band = round_up_half(side / 6.0);
    c = select(c, enc(in.bottom, srgb), inside(p, o + vec2<f32>(0.0, side - band), vec2<f32>(side, band)));
    let eye = max(band, 1.0);
    let ey = o.y + side * 0.35;
    let eyes = inside(p, vec2<f32>(o.x + side * 0.25, ey), vec2<f32>(eye))
        || inside(p, vec2<f32>(o.x + side * 0.75 - eye, ey), vec2<f32>(eye));
    c = select(c, enc(vec4<f32>(20.0, 20.0, 24.0, 255.0) / 255.0, srgb), eyes);
    if (c.a <= 0.0) {
        discard;
    }
    return c;
}

@fragment
fn fs_body(in: BodyOut) -> @location(0) vec4<f32> {
    return body_color(in, false);
}

@fragment
fn fs_body_srgb(in: BodyOut) -> @location(0) vec4<f32> {
    return body_color(in, true);
}

// A name tag: one quad over the name's box and the health bar under it.
struct TagOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) @interpolate(flat) tag_box: vec4<f32>,
    @location(1) @interpolate(flat) bar: vec4<f32>,
    @location(2) @interpolate(flat) text: vec4<f32>,
    @location(3) @interpolate(flat) g0: vec4<u32>,
    @location(4) @interpolate(flat) g1: vec2<u32>,
    @location(5) @interpolate(flat) color: vec4<f32>,
    @location(6) @interpolate(flat) fill: vec4<f32>,
    @location(7) @interpolate(flat) highlight: vec4<f32>,
};

@vertex
fn vs_tag(@builtin(vertex_index) vi: u32,
          @location(0) tag_box: vec4<f32>,
          @location(1) bar: vec4<f32>,
          @location(2) text: vec4<f32>,
          @location(3) g0: vec4<u32>,
          @location(4) g1: vec2<u32>,
          @location(5) color: vec4<f32>,
          @location(6) fill: vec4<f32>,
          @location(7) highlight: vec4<f32>) -> TagOut {
    // The box and the bar with its one-pixel outline.
    let lo = min(tag_box.xy, bar.xy - vec2<f32>(1.0));
    let hi = max(tag_box.xy + tag_box.zw, bar.xy + bar.zw + vec2<f32>(1.0));
    var out: TagOut;
    out.pos = to_clip(lo + corner(vi) * (hi - lo));
    out.tag_box = tag_box;
    out.bar = bar;
    out.text = text;
    out.g0 = g0;
    out.g1 = g1;
    out.color = color;
    out.fill = fill;
    out.highlight = highlight;
    return out;
}

fn tag_color(in: TagOut, srgb: bool) -> vec4<f32> {
    let p = in.pos.xy;
    var c = vec4<f32>(0.0);
    // The bar: a black outline (alpha 200) under a grey inside (alpha 230), composited into
    // one colour; then the fill and its lighter top line.
    let a1 = 200.0 / 255.0;
    let a2 = 230.0 / 255.0;
    let a = 1.0 - (1.0 - a1) * (1.0 - a2);
    let grey = enc(vec4<f32>(50.0, 50.0, 56.0, 255.0) / 255.0, srgb).rgb * (a2 / a);
    c = select(c, vec4<f32>(0.0, 0.0, 0.0, a1), inside(p, in.bar.xy - vec2<f32>(1.0), in.bar.zw + vec2<f32>(2.0)));
    c = select(c, vec4<f32>(grey, a), inside(p, in.bar.xy, in.bar.zw));
    c = select(c, enc(in.fill, srgb), inside(p, in.bar.xy, vec2<f32>(in.text.z, in.bar.w)));
    let line = max(floor(in.bar.w / 4.0), 1.0);
    c = select(c, enc(in.highlight, srgb), inside(p, in.bar.xy, vec2<f32>(in.text.z, line)));
    // The box (black, alpha 140) and the name's glyphs over it.
    c = select(c, vec4<f32>(0.0, 0.0, 0.0, 140.0 / 255.0), inside(p, in.tag_box.xy, in.tag_box.zw));
    let d = floor((p - in.text.xy) / TEXT_SCALE);
    let col = floor(d.x / ADVANCE);
    let gx = d.x - col * ADVANCE;
    let on_glyph = all(d >= vec2<f32>(0.0)) && col < in.text.w && gx < GLYPH_W && d.y < GLYPH_H;
    let i = u32(clamp(col, 0.0, 23.0));
    let w = i / 4u;
    let word = select(in.g0[min(w, 3u)], in.g1[min(w, 5u) - min(w, 4u)], w >= 4u);
    let code = (word >> ((i % 4u) * 8u)) & 0xffu;
    let index = select(code, 0u, code >= GLYPHS);
    let cell = FONT_ORIGIN + vec2<u32>(index % GRID_COLUMNS, index / GRID_COLUMNS) * GRID_CELL;
    let texel = vec2<u32>(u32(clamp(gx, 0.0, GLYPH_W - 1.0)), u32(clamp(d.y, 0.0, GLYPH_H - 1.0)));
    let ink = textureLoad(sheet, vec2<i32>(cell + texel), 0).a;
    c = select(c, enc(in.color, srgb), on_glyph && code < GLYPHS && ink > 0.0);
    if (c.a <= 0.0) {
        discard;
    }
    return c;
}

@fragment
fn fs_tag(in: TagOut) -> @location(0) vec4<f32> {
    return tag_color(in, false);
}

@fragment
fn fs_tag_srgb(in: TagOut) -> @location(0) vec4<f32> {
    return tag_color(in, true);
}
"#;

/// The font's layout as WGSL constants, put before [`SHADER`].
fn shader_source() -> String {
    use super::font::{ADVANCE, GLYPH_H, GLYPH_W, GRID_CELL, GRID_COLUMNS};
    let (ox, oy) = atlas::FONT_ORIGIN;
    format!(
        "const FONT_ORIGIN: vec2<u32> = vec2<u32>({ox}u, {oy}u);\n\
         const GRID_COLUMNS: u32 = {GRID_COLUMNS}u;\n\
         const GRID_CELL: u32 = {GRID_CELL}u;\n\
         const GLYPHS: u32 = {glyphs}u;\n\
         const GLYPH_W: f32 = {GLYPH_W}.0;\n\
         const GLYPH_H: f32 = {GLYPH_H}.0;\n\
         const ADVANCE: f32 = {ADVANCE}.0;\n\
         const TEXT_SCALE: f32 = {scale:?};\n{SHADER}",
        glyphs = super::font::GLYPH_COUNT,
        scale = TEXT_SCALE,
    )
}

/// Whether a texture format stores sRGB-encoded colours.
pub fn is_srgb(format: wgpu::TextureFormat) -> bool {
    format.is_srgb()
}

/// GPU resources for drawing scenes into targets of one colour format.
pub struct Renderer {
    tile_pipeline: wgpu::RenderPipeline,
    moving_tile_pipeline: wgpu::RenderPipeline,
    sprite_pipeline: wgpu::RenderPipeline,
    body_pipeline: wgpu::RenderPipeline,
    tag_pipeline: wgpu::RenderPipeline,
    bind_group: wgpu::BindGroup,
    globals: wgpu::Buffer,
    tiles: GrowBuffer,
    sprites: GrowBuffer,
    bodies: GrowBuffer,
    tags: GrowBuffer,
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
            source: wgpu::ShaderSource::Wgsl(shader_source().into()),
        });

        let tile_attrs = wgpu::vertex_attr_array![0 => Uint16x2, 1 => Uint8x4];
        let sprite_attrs = wgpu::vertex_attr_array![0 => Float32x4, 1 => Float32x4, 2 => Unorm8x4];
        let body_attrs = wgpu::vertex_attr_array![
            0 => Float32x4, 1 => Unorm8x4, 2 => Unorm8x4, 3 => Unorm8x4, 4 => Unorm8x4
        ];
        let tag_attrs = wgpu::vertex_attr_array![
            0 => Float32x4, 1 => Float32x4, 2 => Float32x4, 3 => Uint32x4, 4 => Uint32x2,
            5 => Unorm8x4, 6 => Unorm8x4, 7 => Unorm8x4
        ];
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

        let body_pipeline = make(
            "tilegame bodies",
            "vs_body",
            &fs("fs_body"),
            std::mem::size_of::<BodyInstance>(),
            &body_attrs,
            Some(blend),
        );
        let tag_pipeline = make(
            "tilegame name tags",
            "vs_tag",
            &fs("fs_tag"),
            std::mem::size_of::<TagInstance>(),
            &tag_attrs,
            Some(blend),
        );

        Self {
            tile_pipeline,
            moving_tile_pipeline,
            sprite_pipeline,
            body_pipeline,
            tag_pipeline,
            bind_group,
            globals,
            tiles: GrowBuffer::new(device, "tilegame tile instances", 64 * 1024),
            sprites: GrowBuffer::new(device, "tilegame sprite instances", 64 * 1024),
            bodies: GrowBuffer::new(device, "tilegame body instances", 8 * 1024),
            tags: GrowBuffer::new(device, "tilegame name tag instances", 16 * 1024),
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

    /// Draws an already laid-out frame into `target`. Up to six draw calls: still tiles,
    /// water and lava, sprites under the players, bodies, name tags, sprites over them.
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
        self.bodies
            .write(device, queue, bytemuck::cast_slice(&frame.bodies));
        self.tags
            .write(device, queue, bytemuck::cast_slice(&frame.tags));

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
            draws += draw_instances(&mut pass, &self.tile_pipeline, &self.tiles, 0..still);
            draws += draw_instances(
                &mut pass,
                &self.moving_tile_pipeline,
                &self.tiles,
                still..all,
            );
            // Sprites under the players (the breaking tile's cracks), the bodies, the name
            // tags, then the sprites over them (the sprite HUD and overlays).
            let sprites = frame.sprites.len() as u32;
            let under = (frame.under as u32).min(sprites);
            draws += draw_instances(&mut pass, &self.sprite_pipeline, &self.sprites, 0..under);
            let bodies = frame.bodies.len() as u32;
            draws += draw_instances(&mut pass, &self.body_pipeline, &self.bodies, 0..bodies);
            let tags = frame.tags.len() as u32;
            draws += draw_instances(&mut pass, &self.tag_pipeline, &self.tags, 0..tags);
            draws += draw_instances(
                &mut pass,
                &self.sprite_pipeline,
                &self.sprites,
                under..sprites,
            );
        }
        queue.submit(Some(encoder.finish()));
        FrameStats {
            tiles: frame.tiles.len(),
            sprites: frame.sprites.len(),
            bodies: frame.bodies.len(),
            tags: frame.tags.len(),
            draw_calls: draws,
        }
    }
}

/// Draws instances `range` of `buffer` with `pipeline`; the number of draw calls (0 or 1).
fn draw_instances(
    pass: &mut wgpu::RenderPass,
    pipeline: &wgpu::RenderPipeline,
    buffer: &GrowBuffer,
    range: std::ops::Range<u32>,
) -> u32 {
    if range.is_empty() {
        return 0;
    }
    pass.set_pipeline(pipeline);
    pass.set_vertex_buffer(0, buffer.buffer.slice(..));
    pass.draw(0..6, range);
    1
}

/// What one frame drew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameStats {
    /// Tile instances (one draw call for still tiles, one for water and lava).
    pub tiles: usize,
    /// Sprite instances (a draw call under the players and one over them).
    pub sprites: usize,
    /// Player bodies (one draw call).
    pub bodies: usize,
    /// Name tags (one draw call).
    pub tags: usize,
    /// Draw calls issued (at most 6: still tiles, water and lava, sprites under the players,
    /// bodies, name tags, sprites over them).
    pub draw_calls: u32,
}
