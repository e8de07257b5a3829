//! The few runtime services the network side needs (sleep, timeout), for tokio natively and
//! the browser's timers in the page.
//!
//! Why it exists: the connection code is shared between platforms and must not name tokio,
//! which the web build does not link.

use std::future::Future;
use std::time::Duration;

/// A deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

/// Runs `future` for at most `limit`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn timeout<F: Future>(limit: Duration, future: F) -> Result<F::Output, Elapsed> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| Elapsed)
}

/// Runs `future` for at most `limit`.
#[cfg(target_arch = "wasm32")]
pub async fn timeout<F: Future>(limit: Duration, future: F) -> Result<F::Output, Elapsed> {
    use futures_util::future::{select, Either};
    let future = std::pin::pin!(future);
    let deadline = std::pin::pin!(sleep(limit));
    match select(future, deadline).await {
        Either::Left((out, _)) => Ok(out),
        Either::Right(((), _)) => Err(Elapsed),
    }
}

/// Waits `duration` (the browser's `setTimeout`).
#[cfg(target_arch = "wasm32")]
pub async fn sleep(duration: Duration) {
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let scheduled = web_sys::window().map(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
                .is_ok()
        });
        if scheduled != Some(true) {
            // No window (a worker): resolve at once rather than hang forever.
            let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Waits `duration`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}
