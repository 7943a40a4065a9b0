//! Capped exponential backoff with jitter for reconnects.

use rand::Rng;
use std::time::Duration;

/// Delays `initial`, `2·initial`, ... up to `max`, each with ±20 % jitter.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The delay before the next attempt; doubles the one after it.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter = rand::rng().random_range(0.8..=1.2);
        base.mul_f64(jitter).min(self.max)
    }

    /// Back to `initial` after a connection that worked.
    pub(crate) fn reset(&mut self) {
        self.next = self.initial;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let d: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(80) && d[0] <= Duration::from_millis(120));
        assert!(d[1] >= Duration::from_millis(160) && d[1] <= Duration::from_millis(240));
        assert!(d.iter().all(|d| *d <= Duration::from_millis(1000)));
        assert!(d[7] >= Duration::from_millis(800));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(120));
    }
}
