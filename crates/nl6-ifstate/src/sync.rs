//! The synchronisation primitives of the on-change fan-out, switched to `loom`'s
//! model-checked versions under `--cfg loom` (see `tests/loom.rs` and the README).
//!
//! Normal builds use `parking_lot`, std atomics and tokio's `Notify`; a loom build uses
//! `loom`'s mutex and atomics and a single-waiter `Notify` built from them, with the
//! same semantics as tokio's for one waiter (a notification without a waiter leaves a
//! permit that the next wait consumes), which is all a listener queue uses.

#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use tokio::sync::Notify;

#[cfg(loom)]
pub(crate) use loom_shim::{AtomicU64, Mutex, MutexGuard, Notify, Ordering};

#[cfg(loom)]
mod loom_shim {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    pub(crate) use loom::sync::MutexGuard;
    pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};

    /// `loom::sync::Mutex` with `parking_lot`'s infallible `lock`.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T: Default> Default for Mutex<T> {
        fn default() -> Self {
            Mutex::new(T::default())
        }
    }

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0
                .lock()
                .expect("no thread panics while holding the lock")
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0
                .get_mut()
                .expect("no thread panics while holding the lock")
        }
    }

    #[derive(Debug, Default)]
    struct NotifyState {
        permit: bool,
        waiter: Option<Waker>,
    }

    /// A single-waiter `Notify`: `notify_one` wakes the waiter or leaves a permit.
    #[derive(Debug, Default)]
    pub(crate) struct Notify(Mutex<NotifyState>);

    impl Notify {
        pub(crate) fn new() -> Self {
            Notify::default()
        }

        pub(crate) fn notify_one(&self) {
            let waiter = {
                let mut st = self.0.lock();
                st.permit = true;
                st.waiter.take()
            };
            if let Some(w) = waiter {
                w.wake();
            }
        }

        pub(crate) fn notified(&self) -> Notified<'_> {
            Notified(self)
        }
    }

    /// Completes once a permit is available, consuming it.
    pub(crate) struct Notified<'a>(&'a Notify);

    impl Future for Notified<'_> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut st = self.0.0.lock();
            if std::mem::take(&mut st.permit) {
                return Poll::Ready(());
            }
            st.waiter = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}
