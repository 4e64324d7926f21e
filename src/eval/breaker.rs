//! The circuit breaker: a provider that keeps giving no answer is down.
//!
//! Without it, a server that accepts connections and never answers costs
//! every case all its attempts, each a full timeout: 20 cases at `-j 8`
//! took 905 s. The breaker counts calls in a row, across all the cases
//! sharing a provider, that got no answer at all (a timeout, a refused or
//! dropped connection); any answer, an error status included, resets the
//! count. At `circuit_breaker` of them the provider is down for the rest of
//! the run: the runner stops it, and every unfinished case is an error
//! naming the breaker. There is no half-open state: a run is short, and the
//! next run tries again.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// One provider's count of calls in a row without an answer.
#[derive(Debug)]
pub(crate) struct Breaker {
    provider: String,
    threshold: u32,
    in_a_row: AtomicU32,
    /// Why the provider is down, once it is.
    open: OnceLock<String>,
}

impl Breaker {
    /// A breaker that opens after `threshold` (at least 1) calls in a row
    /// without an answer.
    pub(crate) fn new(provider: &str, threshold: u32) -> Breaker {
        Breaker {
            provider: provider.to_string(),
            threshold: threshold.max(1),
            in_a_row: AtomicU32::new(0),
            open: OnceLock::new(),
        }
    }

    /// Why the provider is down, if it is.
    pub(crate) fn down(&self) -> Option<&str> {
        self.open.get().map(String::as_str)
    }

    /// A call got an answer (any status): the provider is alive.
    pub(crate) fn answered(&self) {
        self.in_a_row.store(0, Ordering::Relaxed);
    }

    /// A call got no answer (`last` says how). Returns why the provider is
    /// down when this call (or an earlier one) opened the breaker.
    pub(crate) fn no_answer(&self, last: &str) -> Option<&str> {
        let n = self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1;
        if n >= self.threshold {
            self.open.get_or_init(|| {
                format!(
                    "provider `{}` is down: {} call{} in a row got no answer (the last: {last}); \
                     the circuit breaker (`circuit_breaker: {}`) stopped the run",
                    self.provider,
                    self.threshold,
                    if self.threshold == 1 { "" } else { "s" },
                    self.threshold,
                )
            });
        }
        self.down()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_in_a_row() {
        let b = Breaker::new("fake", 3);
        assert_eq!(b.no_answer("timed out"), None);
        assert_eq!(b.no_answer("timed out"), None);
        let why = b.no_answer("could not connect").expect("open");
        assert!(why.contains("provider `fake` is down"), "{why}");
        assert!(why.contains("3 calls in a row"), "{why}");
        assert!(why.contains("(the last: could not connect)"), "{why}");
        assert!(why.contains("`circuit_breaker: 3`"), "{why}");
        // Open stays open, and keeps the first reason.
        b.answered();
        assert_eq!(b.down(), Some(why.to_string()).as_deref());
    }

    #[test]
    fn an_answer_resets_the_count() {
        let b = Breaker::new("fake", 2);
        assert_eq!(b.no_answer("timed out"), None);
        b.answered();
        assert_eq!(b.no_answer("timed out"), None);
        assert!(b.no_answer("timed out").is_some());
    }
}
