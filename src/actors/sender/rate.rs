//! A token bucket: `rate` tokens per second, at most `burst` stored. Pure, so it is tested
//! without an actor or a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Extra spacing of the sliding window, so that network jitter between two sends cannot put
/// more than `rate` of them into one second as the upstream sees them.
const WINDOW_MARGIN: Duration = Duration::from_millis(10);

/// Token bucket state.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Times of the last `ceil(rate)` sends: a second send window never holds more than `rate`.
    window: VecDeque<Instant>,
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
            window: VecDeque::new(),
        }
    }

    fn window_size(&self) -> usize {
        (self.rate.floor() as usize).max(1)
    }

    /// When the sliding one-second window allows the next send.
    fn window_opens_at(&self) -> Option<Instant> {
        if self.window.len() < self.window_size() {
            return None;
        }
        self.window
            .front()
            .map(|t| *t + Duration::from_secs(1) + WINDOW_MARGIN)
    }

    pub fn unlimited(&self) -> bool {
        self.rate <= 0.0
    }

    pub fn rate(&self) -> f64 {
        self.rate
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
        let span = Duration::from_secs(1) + WINDOW_MARGIN;
        while self.window.front().is_some_and(|t| *t + span <= now) {
            self.window.pop_front();
        }
        let room = self.window_size().saturating_sub(self.window.len());
        let n = (self.tokens.floor() as usize).min(max).min(room);
        self.tokens -= n as f64;
        for _ in 0..n {
            self.window.push_back(now);
        }
        while self.window.len() > self.window_size() {
            self.window.pop_front();
        }
        n
    }

    /// Gives back tokens that were taken but not used (nothing to send).
    pub fn give_back(&mut self, n: usize) {
        if !self.unlimited() {
            self.tokens = (self.tokens + n as f64).min(self.burst);
            for _ in 0..n {
                self.window.pop_back();
            }
        }
    }

    /// How long until the next whole token.
    pub fn next_token_in(&self, now: Instant) -> Duration {
        if self.unlimited() {
            return Duration::ZERO;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        let have = self.tokens + elapsed * self.rate;
        let token_in = if have >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - have) / self.rate)
        };
        let window_in = self
            .window_opens_at()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or_default();
        token_in.max(window_in)
    }
}

/// The departure gate of a rate-limited session: decides the instant each HTTP send may leave,
/// from the instants the previous ones actually left (not when they were planned, so database or
/// scheduling delays cannot squeeze sends together):
/// - consecutive sends at least 1 / rate apart (a late send is never caught up with a shorter
///   gap: under CPU starvation the upstream may see a send late, and a shorter gap behind it
///   could then put more than `rate` into its second), and
/// - the send `floor(rate)` places back at least one second plus [`WINDOW_MARGIN`] earlier, so
///   no one-second window holds more than `rate` sends, as the upstream sees them.
#[derive(Debug, Clone)]
pub struct Departures {
    min_gap: Duration,
    window_size: usize,
    recent: VecDeque<Instant>,
}

impl Departures {
    /// `rate` in messages per second (must be above 0).
    pub fn new(rate: f64) -> Self {
        let rate = rate.max(f64::MIN_POSITIVE);
        Departures {
            min_gap: Duration::from_secs_f64(1.0 / rate),
            window_size: (rate.floor() as usize).max(1),
            recent: VecDeque::new(),
        }
    }

    /// The earliest instant at or after `now` the next send may leave.
    pub fn next_at(&self, now: Instant) -> Instant {
        let mut t = now;
        if let Some(last) = self.recent.back() {
            t = t.max(*last + self.min_gap);
        }
        if self.recent.len() >= self.window_size {
            if let Some(oldest) = self.recent.front() {
                t = t.max(*oldest + Duration::from_secs(1) + WINDOW_MARGIN);
            }
        }
        t
    }

    /// Takes the slot if a send may leave at `now`; otherwise says when to ask again.
    pub fn try_depart(&mut self, now: Instant) -> Result<(), Instant> {
        let at = self.next_at(now);
        if at > now {
            return Err(at);
        }
        self.recent.push_back(now);
        while self.recent.len() > self.window_size {
            self.recent.pop_front();
        }
        Ok(())
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
        assert!((296..=301).contains(&sent), "{sent}");
    }

    #[test]
    fn no_one_second_window_holds_more_than_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(5.0, 1.0, t0);
        let mut sends = Vec::new();
        let mut t = t0;
        while t < t0 + Duration::from_secs(60) {
            if b.take(1, t) == 1 {
                sends.push(t);
            }
            t += Duration::from_millis(3);
        }
        for (i, s) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|u| **u - *s < Duration::from_millis(1010))
                .count();
            assert!(in_window <= 5, "{in_window} sends within 1.01 s");
        }
        // and the rate is still within 2 %
        assert!(sends.len() as f64 >= 0.98 * 300.0, "{}", sends.len());
    }

    #[test]
    fn high_rates_take_batches_within_the_window() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(250.0, 25.0, t0);
        let mut sends = Vec::new();
        for i in 0..1000u64 {
            let t = t0 + Duration::from_millis(i * 10);
            let n = b.take(64, t);
            assert!(n <= 25);
            sends.extend(std::iter::repeat_n(t, n));
        }
        assert!(sends.len() >= 2450, "{}", sends.len());
        for (i, s) in sends.iter().enumerate() {
            let in_window = sends[i..]
                .iter()
                .take_while(|u| **u - *s < Duration::from_secs(1))
                .count();
            assert!(in_window <= 250, "{in_window}");
        }
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

    /// Departures asked for at jittered, sometimes late instants still never put more than
    /// `rate` sends into a one-second window, and the late ones are caught up.
    #[test]
    fn departures_hold_the_window_whatever_the_delays() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(5.0, 1.0, t0);
        let mut gate = Departures::new(5.0);
        let mut left = Vec::new();
        let mut t = t0;
        let mut k = 0u64;
        let mut waiting: Option<Instant> = None;
        while t < t0 + Duration::from_secs(60) {
            if waiting.is_none() && bucket.take(1, t) == 1 {
                // a send is planned now but reaches the gate after 0–30 ms of "database time"
                waiting = Some(t + Duration::from_millis((k * 7919) % 31));
                k += 1;
            }
            if let Some(ready) = waiting {
                if ready <= t && gate.try_depart(t).is_ok() {
                    left.push(t);
                    waiting = None;
                }
            }
            t += Duration::from_millis(1);
        }
        for (i, s) in left.iter().enumerate() {
            let in_window = left[i..]
                .iter()
                .take_while(|u| **u - *s < Duration::from_millis(1005))
                .count();
            assert!(in_window <= 5, "{in_window} sends within 1.005 s");
        }
        assert!(left.len() as f64 >= 0.98 * 300.0, "{}", left.len());
    }

    #[test]
    fn departures_are_spaced_and_windowed() {
        let t0 = Instant::now();
        let mut g = Departures::new(2.0);
        assert!(g.try_depart(t0).is_ok());
        // 1 / 2 = 500 ms apart at least
        assert_eq!(g.try_depart(t0), Err(t0 + Duration::from_millis(500)));
        assert!(g.try_depart(t0 + Duration::from_millis(500)).is_ok());
        // the third send waits for the window: 1 s + margin after the first
        assert_eq!(
            g.next_at(t0 + Duration::from_millis(1000)),
            t0 + Duration::from_secs(1) + WINDOW_MARGIN
        );
    }
}
