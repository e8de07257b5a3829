//! Finding a GPU: instance, adapter and device, the same way for windows and offscreen.
//!
//! Why it exists: machines without a GPU (CI, servers, these dev boxes) still render through
//! Mesa's lavapipe (Vulkan) or llvmpipe (GL). We ask for a hardware adapter first, then for a
//! fallback (software) one, over every backend unless `WGPU_BACKEND` narrows them, and request
//! WebGL2-level limits raised to the adapter's resolution so the same code runs on GL.
//! Failures come back as [`RenderError`]s with a hint, never as panics.

use super::RenderError;

/// The backends to try: `WGPU_BACKEND` if set (e.g. `vulkan`, `gl`), otherwise all.
pub fn backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all())
}

/// An instance without a display connection (offscreen rendering).
pub fn headless_instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends();
    wgpu::Instance::new(desc)
}

/// Requests an adapter: hardware first, then a software fallback. Blocks, so not for the
/// page (its one thread cannot wait): there use [`adapter`].
pub fn request_adapter(
    instance: &wgpu::Instance,
    surface: Option<&wgpu::Surface<'_>>,
) -> Result<wgpu::Adapter, RenderError> {
    pollster::block_on(adapter(instance, surface))
}

/// Requests an adapter: hardware first, then a software fallback.
pub async fn adapter(
    instance: &wgpu::Instance,
    surface: Option<&wgpu::Surface<'_>>,
) -> Result<wgpu::Adapter, RenderError> {
    let mut last = String::from("no adapter");
    for force_fallback_adapter in [false, true] {
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter,
            compatible_surface: surface,
            ..Default::default()
        };
        match instance.request_adapter(&options).await {
            Ok(adapter) => return Ok(adapter),
            Err(e) => last = e.to_string(),
        }
    }
    Err(RenderError::NoAdapter {
        backends: format!("{:?}", backends()),
        detail: last,
    })
}

/// A one-line description of an adapter: name, backend, type.
pub fn describe(adapter: &wgpu::Adapter) -> String {
    let info = adapter.get_info();
    format!(
        "{} ({:?}, {:?}, driver {} {})",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    )
}

/// Requests a device with WebGL2-level limits raised to what the adapter supports. Blocks,
/// so not for the page: there use [`device`].
pub fn request_device(adapter: &wgpu::Adapter) -> Result<(wgpu::Device, wgpu::Queue), RenderError> {
    pollster::block_on(device(adapter))
}

/// Requests a device with WebGL2-level limits raised to what the adapter supports.
pub async fn device(adapter: &wgpu::Adapter) -> Result<(wgpu::Device, wgpu::Queue), RenderError> {
    let desc = wgpu::DeviceDescriptor {
        label: Some("tilegame device"),
        required_limits: wgpu::Limits::downlevel_webgl2_defaults()
            .using_resolution(adapter.limits()),
        ..Default::default()
    };
    adapter
        .request_device(&desc)
        .await
        .map_err(|e| RenderError::Device {
            adapter: describe(adapter),
            detail: e.to_string(),
        })
}
