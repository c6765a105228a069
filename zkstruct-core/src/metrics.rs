//! Metrics through the `metrics` facade crate, behind the `metrics` feature. Every metric
//! carries the label `dir`. Without the feature, these functions do nothing.
//!
//! | metric | kind | meaning |
//! | --- | --- | --- |
//! | `zkstruct_local_copy_age_seconds` | gauge | time since the local copy was last verified, sampled at each freshness check |
//! | `zkstruct_lock_wait_seconds` | histogram | time an update waited for the ZooKeeper lock |
//! | `zkstruct_lock_hold_seconds` | histogram | time an update held the lock |
//! | `zkstruct_stale_writes_total` | counter | updates refused because the local copy was behind |
//! | `zkstruct_conflicts_total` | counter | merges refused because both sides changed the same part |
//! | `zkstruct_events_delivered_total` | counter | change sets sent to subscribers |
//! | `zkstruct_subscriber_lag_events_total` | counter | events that subscribers missed by falling behind |
//! | `zkstruct_payload_bytes` | gauge | size of the last payload read or written |

#[cfg(feature = "metrics")]
mod enabled {
    use std::time::Duration;

    pub(crate) fn copy_age(dir: &str, age: Duration) {
        metrics::gauge!("zkstruct_local_copy_age_seconds", "dir" => dir.to_owned()).set(age.as_secs_f64());
    }

    pub(crate) fn lock_waited(dir: &str, wait: Duration) {
        metrics::histogram!("zkstruct_lock_wait_seconds", "dir" => dir.to_owned()).record(wait.as_secs_f64());
    }

    pub(crate) fn lock_held(dir: &str, hold: Duration) {
        metrics::histogram!("zkstruct_lock_hold_seconds", "dir" => dir.to_owned()).record(hold.as_secs_f64());
    }

    pub(crate) fn stale_write(dir: &str) {
        metrics::counter!("zkstruct_stale_writes_total", "dir" => dir.to_owned()).increment(1);
    }

    pub(crate) fn conflict(dir: &str) {
        metrics::counter!("zkstruct_conflicts_total", "dir" => dir.to_owned()).increment(1);
    }

    pub(crate) fn event_delivered(dir: &str) {
        metrics::counter!("zkstruct_events_delivered_total", "dir" => dir.to_owned()).increment(1);
    }

    pub(crate) fn subscriber_lagged(dir: &str, missed: u64) {
        metrics::counter!("zkstruct_subscriber_lag_events_total", "dir" => dir.to_owned()).increment(missed);
    }

    pub(crate) fn payload_size(dir: &str, bytes: usize) {
        metrics::gauge!("zkstruct_payload_bytes", "dir" => dir.to_owned()).set(bytes as f64);
    }
}

#[cfg(feature = "metrics")]
pub(crate) use enabled::*;

#[cfg(not(feature = "metrics"))]
mod disabled {
    use std::time::Duration;

    pub(crate) fn copy_age(_dir: &str, _age: Duration) {}
    pub(crate) fn lock_waited(_dir: &str, _wait: Duration) {}
    pub(crate) fn lock_held(_dir: &str, _hold: Duration) {}
    pub(crate) fn stale_write(_dir: &str) {}
    pub(crate) fn conflict(_dir: &str) {}
    pub(crate) fn event_delivered(_dir: &str) {}
    pub(crate) fn subscriber_lagged(_dir: &str, _missed: u64) {}
    pub(crate) fn payload_size(_dir: &str, _bytes: usize) {}
}

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::*;

/// Records how long a lock was held, from creation to release, when dropped.
pub(crate) struct HoldTimer<'a> {
    dir: &'a str,
    since: std::time::Instant,
}

impl<'a> HoldTimer<'a> {
    pub(crate) fn start(dir: &'a str) -> Self {
        HoldTimer { dir, since: std::time::Instant::now() }
    }
}

impl Drop for HoldTimer<'_> {
    fn drop(&mut self) {
        lock_held(self.dir, self.since.elapsed());
    }
}
