//! The raw `zookeeper-client` calls that each measured operation needs at minimum: the
//! floors.
//!
//! `zookeeper-client` sends a request when its future is created, so creating several
//! futures before awaiting any of them pipelines the requests in one round trip.

use std::time::{Duration, Instant};

use zookeeper_client::{
    Acls, AddWatchMode, Client, CreateMode, Error as ZkError, EventType, PersistentWatcher,
};

/// Session timeout of every raw client, the same as zkstruct's default.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn connect(servers: &str) -> Client {
    Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(servers)
        .await
        .unwrap_or_else(|error| panic!("connecting a raw client to {servers} failed: {error}"))
}

/// Creates `path` with `data`, and its parents, or overwrites the data of an existing
/// node. Returns the node's data version.
pub async fn put_node(client: &Client, path: &str, data: &[u8]) -> i32 {
    let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let parent = &path[..path.rfind('/').expect("node paths are absolute")];
    if !parent.is_empty() {
        client.mkdir(parent, &options).await.unwrap_or_else(|error| panic!("mkdir {parent} failed: {error}"));
    }
    match client.create(path, data, &options).await {
        Ok((stat, _)) => stat.version,
        Err(ZkError::NodeExists) => {
            let stat = client.set_data(path, data, None).await;
            stat.unwrap_or_else(|error| panic!("set_data {path} failed: {error}")).version
        }
        Err(error) => panic!("create {path} failed: {error}"),
    }
}

pub async fn get(client: &Client, path: &str) -> Duration {
    let start = Instant::now();
    client.get_data(path).await.unwrap_or_else(|error| panic!("get_data {path} failed: {error}"));
    start.elapsed()
}

pub async fn exists(client: &Client, path: &str) -> Duration {
    let start = Instant::now();
    let stat = client.check_stat(path).await.unwrap_or_else(|error| panic!("exists {path} failed: {error}"));
    assert!(stat.is_some(), "{path} is missing");
    start.elapsed()
}

/// Times a `sync` and a `get_data` sent together, as a consistent read needs them.
pub async fn sync_get(client: &Client, path: &str) -> Duration {
    let start = Instant::now();
    let synced = client.sync(path);
    let read = client.get_data(path);
    let (synced, read) = tokio::join!(synced, read);
    synced.unwrap_or_else(|error| panic!("sync {path} failed: {error}"));
    read.unwrap_or_else(|error| panic!("get_data {path} failed: {error}"));
    start.elapsed()
}

/// Times a `sync` and an `exists` sent together: the requests `read_consistent()` sends.
pub async fn sync_exists(client: &Client, path: &str) -> Duration {
    let start = Instant::now();
    let synced = client.sync(path);
    let checked = client.check_stat(path);
    let (synced, checked) = tokio::join!(synced, checked);
    synced.unwrap_or_else(|error| panic!("sync {path} failed: {error}"));
    let stat = checked.unwrap_or_else(|error| panic!("exists {path} failed: {error}"));
    assert!(stat.is_some(), "{path} is missing");
    start.elapsed()
}

/// A node written with a compare-and-set on its data version.
pub struct VersionedNode {
    pub path: String,
    pub version: i32,
}

impl VersionedNode {
    pub async fn create(client: &Client, path: String, data: &[u8]) -> Self {
        let version = put_node(client, &path, data).await;
        VersionedNode { path, version }
    }

    /// Times one `set_data` at the version this node last wrote.
    pub async fn set(&mut self, client: &Client, data: &[u8]) -> Duration {
        let start = Instant::now();
        let stat = client
            .set_data(&self.path, data, Some(self.version))
            .await
            .unwrap_or_else(|error| panic!("set_data {} failed: {error}", self.path));
        let elapsed = start.elapsed();
        self.version = stat.version;
        elapsed
    }
}

/// A payload guarded by a lock recipe: the calls that zkstruct's write path makes, with
/// nothing around them.
pub struct LockedNode {
    pub lock_dir: String,
    pub payload: String,
}

impl LockedNode {
    pub async fn create(client: &Client, dir: &str, data: &[u8]) -> Self {
        let node = LockedNode { lock_dir: format!("{dir}/lock"), payload: format!("{dir}/payload") };
        put_node(client, &node.payload, data).await;
        put_node(client, &node.lock_dir, &[]).await;
        node
    }

    /// Takes the lock, computes the new payload from the current one with `change`, and
    /// writes it with a multi-op that deletes the lock node and sets the payload at the
    /// version read. Returns how many times it waited for a contender ahead.
    ///
    /// The lock node's create, the listing of the contenders and the payload read go out
    /// together in one round trip, as in zkstruct's lock.
    pub async fn locked_set(&self, client: &Client, change: impl FnOnce(&[u8]) -> Vec<u8>) -> u32 {
        let prefix = format!("{}/lock-", self.lock_dir);
        let options = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
        let created = client.create(&prefix, &[], &options);
        let listed = client.list_children(&self.lock_dir);
        let read = client.get_data(&self.payload);
        let (created, listed, read) = tokio::join!(created, listed, read);
        let (_, sequence) = created.unwrap_or_else(|error| panic!("create {prefix} failed: {error}"));
        let own_path = format!("{prefix}{sequence}");
        let own_sequence = sequence.into_i64();
        let mut children = listed.unwrap_or_else(|error| panic!("list {} failed: {error}", self.lock_dir));
        let mut read = Some(read);

        let mut waits = 0;
        loop {
            let ahead = children
                .iter()
                .filter_map(|child| Some((lock_sequence(child)?, child)))
                .filter(|(sequence, _)| *sequence < own_sequence)
                .max_by_key(|(sequence, _)| *sequence);
            let Some((_, ahead)) = ahead else { break };
            waits += 1;
            read = None;
            let ahead = format!("{}/{ahead}", self.lock_dir);
            let (stat, watcher) = client
                .check_and_watch_stat(&ahead)
                .await
                .unwrap_or_else(|error| panic!("exists {ahead} failed: {error}"));
            if stat.is_some() {
                watcher.changed().await;
            }
            children = client
                .list_children(&self.lock_dir)
                .await
                .unwrap_or_else(|error| panic!("list {} failed: {error}", self.lock_dir));
        }

        let read = match read {
            Some(read) => read,
            None => client.get_data(&self.payload).await,
        };
        let (data, stat) = read.unwrap_or_else(|error| panic!("get_data {} failed: {error}", self.payload));
        let data = change(&data);
        let mut multi = client.new_multi_writer();
        multi.add_delete(&own_path, None).expect("a valid lock node path");
        multi.add_set_data(&self.payload, &data, Some(stat.version)).expect("a valid payload path");
        multi.commit().await.unwrap_or_else(|error| panic!("multi on {} failed: {error:?}", self.payload));
        waits
    }
}

/// Returns the sequence number of a lock contender `lock-<sequence>`.
fn lock_sequence(child: &str) -> Option<i64> {
    child.strip_prefix("lock-")?.parse().ok()
}

/// A node that one session writes and another session follows with a persistent watch.
pub struct WatchedNode {
    pub path: String,
    reader: Client,
    watcher: PersistentWatcher,
}

impl WatchedNode {
    pub async fn create(writer: &Client, reader: Client, path: String, data: &[u8]) -> Self {
        put_node(writer, &path, data).await;
        let watcher = reader
            .watch(&path, AddWatchMode::Persistent)
            .await
            .unwrap_or_else(|error| panic!("add_watch {path} failed: {error}"));
        WatchedNode { path, reader, watcher }
    }

    /// Times a write issued by `writer` until the reader's watch fired and its `get_data`
    /// returned the data.
    pub async fn watch_to_data(&mut self, writer: &Client, data: &[u8]) -> Duration {
        let WatchedNode { path, reader, watcher } = self;
        let start = Instant::now();
        let written = writer.set_data(path, data, None);
        let delivered = async {
            let event = watcher.changed().await;
            assert_eq!(
                event.event_type,
                EventType::NodeDataChanged,
                "unexpected watch event on {path}: {event:?}"
            );
            reader.get_data(path).await.unwrap_or_else(|error| panic!("get_data {path} failed: {error}"));
            start.elapsed()
        };
        let (written, elapsed) = tokio::join!(written, delivered);
        written.unwrap_or_else(|error| panic!("set_data {path} failed: {error}"));
        elapsed
    }
}
