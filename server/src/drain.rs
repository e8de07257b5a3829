//! The connections still open, counted so that a stopping server can wait for them.
//!
//! Every session holds an [`OpenConnection`] from accept until its last byte (the final Kick)
//! has been handed to the socket and its recording is sealed. On shutdown the server waits for
//! the count to reach zero ([`Connections::all_closed`]), bounded by its drain time: a client
//! that never reads cannot hold the process up for longer than that.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Inner {
    open: AtomicUsize,
    emptied: Notify,
}

/// The set of open connections (cheap to clone; all clones count the same set).
#[derive(Debug, Clone, Default)]
pub struct Connections {
    inner: Arc<Inner>,
}

/// One open connection; dropping it closes it in the count.
#[derive(Debug)]
pub struct OpenConnection {
    inner: Arc<Inner>,
}

impl Connections {
    /// Counts a new connection until the returned guard is dropped.
    pub fn open(&self) -> OpenConnection {
        self.inner.open.fetch_add(1, Ordering::AcqRel);
        OpenConnection {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Connections open now.
    pub fn count(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// Resolves once no connection is open.
    pub async fn all_closed(&self) {
        loop {
            let emptied = self.inner.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            emptied.await;
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        if self.inner.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.emptied.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_closed_waits_for_the_last_guard() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let c = Connections::default();
            c.all_closed().await; // none open: at once
            let (a, b) = (c.open(), c.open());
            assert_eq!(c.count(), 2);
            let waiter = tokio::spawn({
                let c = c.clone();
                async move { c.all_closed().await }
            });
            drop(a);
            tokio::task::yield_now().await;
            assert!(!waiter.is_finished(), "one is still open");
            drop(b);
            tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
                .await
                .expect("woken when the last closes")
                .unwrap();
            assert_eq!(c.count(), 0);
        });
    }
}
