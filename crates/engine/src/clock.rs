//! Time, as the engine is given it. The engine never reads a clock itself: the driver passes
//! `now` into every `handle_*`. The one `Clock` a running server has is shared by the call
//! sessions, the ACD and the journal, so that every recorded time comes from the same source.

/// Milliseconds since the Unix epoch (UTC), or on a test's virtual clock.
pub type Millis = u64;

/// A source of `now`.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

/// A clock a test moves by hand.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicU64);

impl ManualClock {
    pub fn new(start: Millis) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicU64::new(start))
    }

    pub fn set(&self, now: Millis) {
        self.0.store(now, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
