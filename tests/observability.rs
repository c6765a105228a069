//! Metrics through the `metrics` facade and `tracing` spans on the session, lock and update
//! paths.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde::{Deserialize, Serialize};
use zkstruct::testing::ZkServer;
use zkstruct::{Error, Event, Shared, ZkShared};

use common::*;

#[derive(ZkShared, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Settings {
    pub level: u32,
}

/// A `tracing` writer that keeps everything written to it.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn metrics_and_spans_describe_the_work() {
    let logs = CapturedLogs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    // The runtime has one thread, so every task of the handle logs through this subscriber.
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("no other recorder in this test binary");

    let server = ZkServer::start().await.unwrap();
    let servers = server.connect_string();
    let dir = unique_dir("observed");
    let state = Shared::builder(&servers, &dir)
        .freshness_limit(Duration::from_millis(400))
        .event_capacity(1)
        .create_or_open(Settings { level: 0 })
        .await
        .unwrap();
    let mut slow = state.subscribe();

    for level in 1..=3 {
        state.set_level(level).await.unwrap();
    }
    assert!(matches!(slow.recv().await, Some(Event::Lagged(2))));
    let payload = state.payload_path().to_owned();
    let stale = state.update(|settings| {
        kazoo_set(&servers, &payload, r#"{"level": 9}"#);
        settings.level = 4;
    });
    assert!(matches!(stale.await, Err(Error::StaleWrite { .. })));
    // A snapshot drains the recorder, so gather them until a freshness check shows up.
    let metrics = Arc::new(Mutex::new(BTreeMap::<String, DebugValue>::new()));
    wait_until(Duration::from_secs(10), "a freshness check", || async {
        let mut metrics = metrics.lock().unwrap();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let labels: Vec<String> =
                key.key().labels().map(|label| format!("{}={}", label.key(), label.value())).collect();
            assert_eq!(labels, [format!("dir={dir}")], "{}", key.key().name());
            let merged = match (metrics.remove(key.key().name()), value) {
                (Some(DebugValue::Counter(before)), DebugValue::Counter(now)) => {
                    DebugValue::Counter(before + now)
                }
                (Some(DebugValue::Histogram(mut before)), DebugValue::Histogram(now)) => {
                    before.extend(now);
                    DebugValue::Histogram(before)
                }
                (_, value) => value,
            };
            metrics.insert(key.key().name().to_owned(), merged);
        }
        metrics.contains_key("zkstruct_local_copy_age_seconds")
    })
    .await;
    let metrics = std::mem::take(&mut *metrics.lock().unwrap());

    let counter = |name: &str| match metrics.get(name) {
        Some(DebugValue::Counter(count)) => *count,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(counter("zkstruct_stale_writes_total"), 1);
    assert_eq!(counter("zkstruct_subscriber_lag_events_total"), 2);
    assert!(counter("zkstruct_events_delivered_total") >= 4, "three local updates and the foreign write");
    let histogram_len = |name: &str| match metrics.get(name) {
        Some(DebugValue::Histogram(values)) => values.len(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(histogram_len("zkstruct_lock_wait_seconds"), 4);
    assert_eq!(histogram_len("zkstruct_lock_hold_seconds"), 4);
    assert!(matches!(metrics.get("zkstruct_payload_bytes"), Some(DebugValue::Gauge(_))));

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let instance = state.instance_id();
    assert!(text.contains(&format!("update{{dir={dir} instance={instance} version=3}}")), "{text}");
    assert!(
        text.contains(&format!("lock{{dir={dir}/lock session=")) && text.contains("lock acquired"),
        "{text}"
    );
    assert!(text.contains(&format!("session{{servers={servers}}}")), "{text}");
}
