//! zkstruct's operations, each timed the way its floor in `raw` is timed.

use std::time::{Duration, Instant};

use zkstruct::{Error, Event, Shared, Subscription};
use zookeeper_client::Client;

use crate::state::BenchState;

/// Largest payload a handle may write in the bench; the server's `jute.maxbuffer` is
/// raised above it.
pub const MAX_PAYLOAD_BYTES: usize = 4 << 20;
/// Maximum wait for an event before the bench fails.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a handle on `dir`, creating the payload from `initial` when it is missing.
pub async fn open(servers: &str, dir: &str, initial: BenchState) -> Shared<BenchState> {
    Shared::builder(servers, dir)
        .max_payload_bytes(MAX_PAYLOAD_BYTES)
        .create_or_open(initial)
        .await
        .unwrap_or_else(|error| panic!("opening {dir} failed: {error}"))
}

/// Opens a handle on `dir`, whose payload another handle or client created.
pub async fn join(servers: &str, dir: &str) -> Shared<BenchState> {
    Shared::builder(servers, dir)
        .max_payload_bytes(MAX_PAYLOAD_BYTES)
        .open(Duration::from_secs(10))
        .await
        .unwrap_or_else(|error| panic!("opening {dir} failed: {error}"))
}

/// Increments the counter, retrying while the local copy is behind ZooKeeper. Returns the
/// number of retries.
pub async fn increment(shared: &Shared<BenchState>) -> u64 {
    let mut retries = 0;
    loop {
        match shared.update(|state| state.counter += 1).await {
            Ok(_) => return retries,
            Err(Error::StaleWrite { .. }) => retries += 1,
            Err(error) => panic!("update of {} failed: {error}", shared.dir()),
        }
    }
}

/// Times one `update()` that increments the counter.
pub async fn timed_update(shared: &Shared<BenchState>) -> Duration {
    let start = Instant::now();
    let retries = increment(shared).await;
    let elapsed = start.elapsed();
    assert_eq!(retries, 0, "a lone writer on {} found its copy stale", shared.dir());
    elapsed
}

/// Times one `read_consistent()`.
pub async fn timed_consistent_read(shared: &Shared<BenchState>) -> Duration {
    let start = Instant::now();
    let snapshot = shared.read_consistent().await;
    let elapsed = start.elapsed();
    snapshot.unwrap_or_else(|error| panic!("read_consistent of {} failed: {error}", shared.dir()));
    elapsed
}

/// Waits until `subscription` delivers a typed change whose counter is at least `counter`,
/// and returns when it arrived.
pub async fn changed_to(subscription: &mut Subscription<BenchState>, counter: u64) -> Instant {
    let wait = async {
        loop {
            match subscription.recv().await {
                Some(Event::Changed(changes)) if changes.snapshot().counter >= counter => {
                    return Instant::now();
                }
                Some(Event::Failed(error)) => panic!("subscription failed: {error}"),
                None => panic!("subscription ended"),
                Some(_) => {}
            }
        }
    };
    tokio::time::timeout(EVENT_TIMEOUT, wait)
        .await
        .unwrap_or_else(|_| panic!("no change to counter {counter} within {EVENT_TIMEOUT:?}"))
}

/// A handle that receives changes which a raw session writes to its payload.
pub struct Receiver {
    pub shared: Shared<BenchState>,
    subscription: Subscription<BenchState>,
    /// The value the writer writes next, less one increment.
    written: BenchState,
}

impl Receiver {
    pub async fn open(servers: &str, dir: &str, initial: BenchState) -> Self {
        let shared = open(servers, dir, initial).await;
        let subscription = shared.subscribe();
        let written = BenchState::clone(&shared.read_dirty());
        Receiver { shared, subscription, written }
    }

    /// Times a payload write issued on `writer` until the typed change arrives here. The
    /// new payload is encoded before the clock starts.
    pub async fn commit_to_event(&mut self, writer: &Client) -> Duration {
        self.written.counter += 1;
        let data = self.written.encode();
        let path = self.shared.payload_path();
        let start = Instant::now();
        let written = writer.set_data(path, &data, None);
        let arrived = changed_to(&mut self.subscription, self.written.counter);
        let (written, arrived) = tokio::join!(written, arrived);
        written.unwrap_or_else(|error| panic!("set_data {path} failed: {error}"));
        arrived - start
    }
}

/// Two handles on one dir: `update` is called on the writer, and the typed change is
/// awaited on the reader.
pub struct Pair {
    pub writer: Shared<BenchState>,
    reader: Shared<BenchState>,
    subscription: Subscription<BenchState>,
}

impl Pair {
    pub async fn open(servers: &str, dir: &str, initial: BenchState) -> Self {
        let writer = open(servers, dir, initial).await;
        let reader = join(servers, dir).await;
        let subscription = reader.subscribe();
        Pair { writer, reader, subscription }
    }

    /// Times `update()` called on the writer until the typed change arrives on the reader.
    pub async fn update_to_event(&mut self) -> Duration {
        let counter = self.writer.read_dirty().counter + 1;
        let start = Instant::now();
        let updated = timed_update(&self.writer);
        let arrived = changed_to(&mut self.subscription, counter);
        let (_, arrived) = tokio::join!(updated, arrived);
        arrived - start
    }

    pub async fn close(self) {
        for shared in [self.writer, self.reader] {
            shared.close().await.unwrap_or_else(|error| panic!("close failed: {error}"));
        }
    }
}
