//! Local reads: `read()` and a field getter against an uncontended `std::sync::RwLock`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use zkstruct::Shared;

use crate::library;
use crate::report::{Bound, Figure, Report, Row, Target};
use crate::state::{BenchState, BenchStateFields};
use crate::stats::{batched, Batches};

/// Measures the local reads of `shared`, which no other task writes to at the start.
pub async fn measure(shared: &Shared<BenchState>, batches: Batches, report: &mut Report) {
    let lock = RwLock::new(BenchState::clone(&shared.read_dirty()));
    let read_target = Target::median(Bound::AtMost(2.0));

    let (floor, read) = batched(
        batches,
        || {
            black_box(&*lock.read().expect("the lock is not poisoned"));
        },
        || {
            black_box(shared.read().expect("the local copy is fresh"));
        },
    );
    report.floors.push(("RwLock read".into(), Figure::latency(&floor)));
    report.rows.push(Row::new("`read()`", &read, "RwLock read", &floor, Some(read_target)));

    let (floor, getter) = batched(
        batches,
        || {
            black_box(lock.read().expect("the lock is not poisoned").patterns.clone());
        },
        || {
            black_box(shared.patterns().expect("the local copy is fresh"));
        },
    );
    report.rows.push(Row::new(
        "`patterns()` field getter",
        &getter,
        "RwLock read + field clone",
        &floor,
        None,
    ));

    // Another task updates the same handle without pause while the reads run.
    let stop = Arc::new(AtomicBool::new(false));
    let updates = Arc::new(AtomicU64::new(0));
    let updater = tokio::spawn({
        let (shared, stop, updates) = (shared.clone(), stop.clone(), updates.clone());
        async move {
            while !stop.load(Ordering::Relaxed) {
                library::increment(&shared).await;
                updates.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    // Reads start once the first update completed, so the next one is in flight. They
    // block this thread, which is not one of the runtime's workers.
    while updates.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let (floor, read) = batched(
        batches,
        || {
            black_box(&*lock.read().expect("the lock is not poisoned"));
        },
        || {
            black_box(shared.read().expect("the local copy is fresh"));
        },
    );
    stop.store(true, Ordering::Relaxed);
    updater.await.expect("the updater task does not panic");
    report.rows.push(Row::new(
        "`read()` while another task updates",
        &read,
        "RwLock read, same window",
        &floor,
        Some(read_target),
    ));
    report.notes.push(format!(
        "While the reads of `read()` during updates ran, the other task completed {} updates.",
        updates.load(Ordering::Relaxed)
    ));
}
