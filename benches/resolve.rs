//! `cargo bench --bench resolve`: how many routing keys per second
//! `resolve`'s sticky bucketing assigns in-process (target: >= 1,000,000/s).
//!
//! A plain timing loop (no harness): it prints keys/s for one thread, the
//! canary share it observed, and a checksum so the work is not optimised away.

use std::hint::black_box;
use std::time::Instant;

use promptctl::rollout::deploy::bucket::{Percent, bucket, in_canary};

fn main() {
    let keys: Vec<String> = (0..1_000_000).map(|i| format!("user-{i}")).collect();
    let five = Percent::parse("5").expect("5 is a percent");
    for round in 0..3 {
        let start = Instant::now();
        let mut canary = 0usize;
        for k in &keys {
            if in_canary(
                bucket(black_box("support_bot"), black_box("production"), k),
                five,
            ) {
                canary += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "round {round}: {:.0} keys/s ({} keys in {:.3} s), canary share {:.3}% at 5%",
            keys.len() as f64 / secs,
            keys.len(),
            secs,
            canary as f64 * 100.0 / keys.len() as f64
        );
    }
}
