//! Samples, their percentiles, and the loops that take them.
//!
//! Every measured operation is sampled in alternation with its floor, so that load from
//! other processes on the machine lands on both alike.

use std::time::{Duration, Instant};

/// Durations of one operation, in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    nanos: Vec<f64>,
}

impl Samples {
    pub fn push(&mut self, duration: Duration) {
        self.nanos.push(duration.as_nanos() as f64);
    }

    pub fn push_nanos(&mut self, nanos: f64) {
        self.nanos.push(nanos);
    }

    pub fn from_nanos(nanos: Vec<f64>) -> Self {
        Samples { nanos }
    }

    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// Returns the `fraction` quantile (0 to 1) by the nearest-rank method, in
    /// nanoseconds, or NaN without samples.
    pub fn quantile(&self, fraction: f64) -> f64 {
        if self.nanos.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.nanos.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = (fraction * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    pub fn p99(&self) -> f64 {
        self.quantile(0.99)
    }
}

/// Runs `floor` and `measured` `warmup` times each, then samples each `count` times in
/// alternation, swapping which goes first on every round.
///
/// Each closure times its own operation, because some of them time only part of what they
/// do (a propagation stops the clock when the reader has the data).
pub async fn paired(
    warmup: usize,
    count: usize,
    mut floor: impl AsyncFnMut() -> Duration,
    mut measured: impl AsyncFnMut() -> Duration,
) -> (Samples, Samples) {
    for _ in 0..warmup {
        floor().await;
        measured().await;
    }
    let mut floor_samples = Samples::default();
    let mut measured_samples = Samples::default();
    for round in 0..count {
        if round % 2 == 0 {
            floor_samples.push(floor().await);
            measured_samples.push(measured().await);
        } else {
            measured_samples.push(measured().await);
            floor_samples.push(floor().await);
        }
    }
    (floor_samples, measured_samples)
}

/// Size of the batches that in-process operations are timed in.
#[derive(Clone, Copy, Debug)]
pub struct Batches {
    pub count: usize,
    pub calls: usize,
}

/// Times `floor` and `measured` in alternating batches of `batches.calls` calls, after one
/// batch of each as a warm-up. Each sample is the mean time of one call in its batch, so
/// the p99 is that of batch means.
pub fn batched(batches: Batches, mut floor: impl FnMut(), mut measured: impl FnMut()) -> (Samples, Samples) {
    let calls = batches.calls;
    time_batch(calls, &mut floor);
    time_batch(calls, &mut measured);
    let mut floor_samples = Samples::default();
    let mut measured_samples = Samples::default();
    for batch in 0..batches.count {
        if batch % 2 == 0 {
            floor_samples.push_nanos(time_batch(calls, &mut floor));
            measured_samples.push_nanos(time_batch(calls, &mut measured));
        } else {
            measured_samples.push_nanos(time_batch(calls, &mut measured));
            floor_samples.push_nanos(time_batch(calls, &mut floor));
        }
    }
    (floor_samples, measured_samples)
}

/// Returns the mean time of one call over `calls` calls, in nanoseconds.
fn time_batch(calls: usize, operation: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        operation();
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}
