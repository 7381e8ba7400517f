//! The broker's source of wall-clock time.
//!
//! Record timestamps, `LogAppendTime` and `segment.ms` rolls need wall-clock milliseconds;
//! timers (long-poll, flush intervals) use `tokio::time`, which tests pause. Keeping wall time
//! behind this type lets tests move it by hand instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch: the system clock, or a manual one in tests.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual_ms: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { manual_ms: None }
    }

    /// A clock that only moves when [`Clock::advance_ms`] or [`Clock::set_ms`] is called.
    pub fn manual(start_ms: i64) -> Self {
        Self { manual_ms: Some(Arc::new(AtomicI64::new(start_ms))) }
    }

    pub fn now_ms(&self) -> i64 {
        match &self.manual_ms {
            Some(ms) => ms.load(Ordering::SeqCst),
            None => system_now_ms(),
        }
    }

    /// Moves a manual clock forward. Panics on the system clock: a test bug.
    pub fn advance_ms(&self, delta_ms: i64) {
        let ms = self.manual_ms.as_ref().expect("advance_ms on the system clock");
        ms.fetch_add(delta_ms, Ordering::SeqCst);
    }

    /// Sets a manual clock. Panics on the system clock: a test bug.
    pub fn set_ms(&self, now_ms: i64) {
        let ms = self.manual_ms.as_ref().expect("set_ms on the system clock");
        ms.store(now_ms, Ordering::SeqCst);
    }
}

fn system_now_ms() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance_ms(500);
        assert_eq!(clock.now_ms(), 1_500);
        clock.set_ms(42);
        assert_eq!(clock.now_ms(), 42);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(Clock::system().now_ms() > 1_577_836_800_000);
    }
}
