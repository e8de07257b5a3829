//! Draws egui's output (menus, forms, HUD text) on top of a frame the world renderer drew.
//!
//! Why it exists: the world stays on our instanced pipelines; everything with text and widgets
//! is egui. This module owns an `egui_wgpu::Renderer` for one target format and paints one
//! [`EguiFrame`] (tessellated shapes plus texture changes) into a view without clearing it,
//! so the same frame can go to the window's surface and to a screenshot texture.

/// One frame of egui output, ready to paint.
pub struct EguiFrame {
    /// Tessellated shapes.
    pub primitives: Vec<egui::ClippedPrimitive>,
    /// Textures to create or update before painting (applied with
    /// [`EguiLayer::update_textures`], then marked handled with [`EguiFrame::textures_applied`]).
    pub textures: egui::TexturesDelta,
    /// Physical pixels per egui point.
    pub pixels_per_point: f32,
}

impl EguiFrame {
    /// Marks the texture changes as applied and returns the textures to free after painting.
    pub fn textures_applied(&mut self) -> Vec<egui::TextureId> {
        let free = std::mem::take(&mut self.textures.free)
            .into_iter()
            .collect();
        self.textures.clear();
        free
    }
}

/// egui's wgpu renderer for one target format.
pub struct EguiLayer {
    renderer: egui_wgpu::Renderer,
}

impl EguiLayer {
    /// Pipelines for `format`.
    pub fn new(device: &wgpu::Device, format: wgpu::TextureFormat) -> EguiLayer {
        EguiLayer {
            renderer: egui_wgpu::Renderer::new(
                device,
                format,
                egui_wgpu::RendererOptions::default(),
            ),
        }
    }

    /// Uploads the frame's new textures (call for every frame, painted or not, so that
    /// textures set once, like the font atlas, are never missed).
    pub fn update_textures(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, f: &EguiFrame) {
        for (id, deltas) in &f.textures.set {
            for delta in deltas {
                self.renderer.update_texture(device, queue, *id, delta);
            }
        }
    }

    /// Frees the textures egui no longer needs (after painting).
    pub fn free_textures(&mut self, free: &[egui::TextureId]) {
        for id in free {
            self.renderer.free_texture(id);
        }
    }

    /// Paints `f` over `target` (`size` in pixels), keeping what is there.
    pub fn paint(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        target: &wgpu::TextureView,
        size: [u32; 2],
        f: &EguiFrame,
    ) {
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: size,
            pixels_per_point: f.pixels_per_point,
        };
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("tilegame egui"),
        });
        let mut buffers =
            self.renderer
                .update_buffers(device, queue, &mut encoder, &f.primitives, &screen);
        {
            let pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("tilegame egui pass"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: target,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Load,
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            let mut pass = pass.forget_lifetime();
            self.renderer.render(&mut pass, &f.primitives, &screen);
        }
        buffers.push(encoder.finish());
        queue.submit(buffers);
    }
}
