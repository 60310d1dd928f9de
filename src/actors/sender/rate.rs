//! A token bucket: `rate` tokens per second, at most `burst` stored. Pure, so it is tested
//! without an actor or a clock.

use std::time::{Duration, Instant};

/// Token bucket state.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket that starts with one token (a send may go at once, then the rate holds).
    /// `rate` 0 means unlimited.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        TokenBucket {
            rate,
            burst: burst.max(1.0),
            tokens: 1.0,
            last: now,
        }
    }

    pub fn unlimited(&self) -> bool {
        self.rate <= 0.0
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn set_rate(&mut self, rate: f64, now: Instant) {
        self.refill(now);
        self.rate = rate;
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        if self.rate > 0.0 {
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        }
    }

    /// Takes up to `max` whole tokens and returns how many were taken.
    pub fn take(&mut self, max: usize, now: Instant) -> usize {
        if self.unlimited() {
            return max;
        }
        self.refill(now);
        let n = (self.tokens.floor() as usize).min(max);
        self.tokens -= n as f64;
        n
    }

    /// Gives back tokens that were taken but not used (nothing to send).
    pub fn give_back(&mut self, n: usize) {
        if !self.unlimited() {
            self.tokens = (self.tokens + n as f64).min(self.burst);
        }
    }

    /// How long until the next whole token.
    pub fn next_token_in(&self, now: Instant) -> Duration {
        if self.unlimited() {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        let have = self.tokens + elapsed * self.rate;
        if have >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - have) / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_rate_over_a_minute() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5.0, 1.0, t0);
        let mut sent = 0;
        // a tick every 10 ms for 60 s
        for i in 0..=6000 {
            sent += b.take(100, t0 + Duration::from_millis(i * 10));
        }
        assert!((300..=301).contains(&sent), "{sent}");
    }

    #[test]
    fn never_bursts_above_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5.0, 1.0, t0);
        assert_eq!(b.take(10, t0 + Duration::from_secs(10)), 1);
        assert_eq!(b.take(10, t0 + Duration::from_secs(10)), 0);
        assert!(b.next_token_in(t0 + Duration::from_secs(10)) > Duration::from_millis(150));
    }

    #[test]
    fn unlimited_when_rate_is_zero() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.0, 1.0, t0);
        assert_eq!(b.take(500, t0), 500);
        assert_eq!(b.next_token_in(t0), Duration::ZERO);
    }

    #[test]
    fn given_back_tokens_are_reusable() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1.0, 1.0, t0);
        assert_eq!(b.take(1, t0), 1);
        b.give_back(1);
        assert_eq!(b.take(1, t0), 1);
    }
}
