//! The one error type of zkstruct.

use std::sync::Arc;
use std::time::Duration;

use crate::state::Version;

/// The error type of every fallible zkstruct operation.
///
/// Each variant names the ZooKeeper path involved and, where there is one, the payload
/// version. Its message also states what the caller can do next. `Error` is `Clone`, so one error can reach
/// several subscribers.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A dir path that ZooKeeper would reject, found before any request was sent.
    #[error("invalid dir path {path:?}: {reason}; expected an absolute path such as \"/zkstruct/monitor\"")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// The rule the value breaks.
        reason: String,
    },

    /// An instance id that cannot name a listener node.
    #[error("invalid instance id {id:?}: {reason}")]
    InvalidInstanceId {
        /// The id as given.
        id: String,
        /// The rule the value breaks.
        reason: String,
    },

    /// Another session owns the listener node of this instance id, or the node is
    /// persistent (owner 0).
    #[error("instance id in use: {path} {}", in_use_advice(*owner))]
    InstanceIdInUse {
        /// The listener node.
        path: String,
        /// The session that owns the node, or 0 when the node is persistent.
        owner: i64,
    },

    /// An option value outside its valid range.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The builder method that took the value.
        option: &'static str,
        /// The rule the value breaks.
        reason: &'static str,
    },

    /// A connect string that cannot name servers, found before connecting.
    #[error("invalid connect string {servers:?}: {reason}; expected host:port pairs such as \"10.0.0.1:2181,10.0.0.2:2181\"")]
    InvalidServers {
        /// The connect string as given.
        servers: String,
        /// The rule it breaks.
        reason: &'static str,
    },

    /// A TLS setting is invalid, or the servers' certificates did not verify.
    #[error("TLS failed: {reason}")]
    Tls {
        /// The cause, such as an invalid PEM text or an unknown certificate issuer.
        reason: String,
    },

    /// The chroot path of the connect string does not exist on the servers.
    #[error("the chroot {path} of the connect string does not exist; create it, or connect without the chroot suffix")]
    ChrootMissing {
        /// The chroot path.
        path: String,
    },

    /// The connection dropped while a large write was in flight, as ZooKeeper servers do
    /// when a request exceeds their `jute.maxbuffer`.
    #[error(
        "the connection dropped while writing {size} bytes to {path}; servers drop the connection \
         on requests above their jute.maxbuffer (1,048,575 bytes by default), so shrink the value or \
         raise jute.maxbuffer on every server"
    )]
    ConnectionLostOnWrite {
        /// The payload path.
        path: String,
        /// The encoded size of the write in bytes.
        size: usize,
    },

    /// No session could be established with the ensemble.
    #[error("cannot connect to ZooKeeper at {servers}: {source}; check the connect string and that the servers run")]
    Connect {
        /// The connect string.
        servers: String,
        /// The client's error.
        #[source]
        source: zookeeper_client::Error,
    },

    /// The ensemble rejected the session's credentials and closed it.
    #[error(
        "ZooKeeper at {servers} rejected the credentials and closed the session; check the user \
         and password, and that the servers' authProvider and JAAS settings accept them"
    )]
    AuthFailed {
        /// The connect string.
        servers: String,
    },

    /// A ZooKeeper request failed.
    #[error("ZooKeeper {operation} on {path} failed: {source}")]
    ZooKeeper {
        /// The request, such as `get_data` or `multi`.
        operation: &'static str,
        /// The node it addressed.
        path: String,
        /// The client's error.
        #[source]
        source: zookeeper_client::Error,
    },

    /// The write was refused by the server's ACL.
    #[error(
        "not authorized to {operation} {path}; add credentials that the node's ACL grants this right to"
    )]
    NotAuthorized {
        /// The request that was refused.
        operation: &'static str,
        /// The node whose ACL refused it.
        path: String,
    },

    /// The local copy was not verified against ZooKeeper within the freshness limit.
    #[error(
        "local copy of {path} (version {version}) {}, beyond the freshness limit of {limit:?}; call \
         read_consistent() to resync, or read_dirty() to accept a stale copy",
        describe_age(.age)
    )]
    Stale {
        /// The payload path.
        path: String,
        /// The version of the local copy.
        version: Version,
        /// Time since the copy was last verified; `None` after a write whose outcome is
        /// unknown, until the copy is verified again.
        age: Option<Duration>,
        /// The configured freshness limit.
        limit: Duration,
    },

    /// An update was computed on a local copy that is behind ZooKeeper, so it was not written.
    #[error(
        "update of {path} rejected: it was computed on version {local} but ZooKeeper holds version \
         {remote}; the local copy now holds the newer version, so retry the update"
    )]
    StaleWrite {
        /// The payload path.
        path: String,
        /// The version the update was computed on.
        local: Version,
        /// The version ZooKeeper holds.
        remote: Version,
    },

    /// The closure changed a part of the value that a newer version also changed, so the
    /// merge was refused.
    #[error(
        "update of {path} conflicts at {key_path}: it was computed on version {local}, and version \
         {remote} changed the same part; read the new value and decide again"
    )]
    Conflict {
        /// The payload path.
        path: String,
        /// The JSONPath of the conflicting part, such as `$.patterns[2]`.
        key_path: String,
        /// The version the closure saw.
        local: Version,
        /// The newer version that changed the same part.
        remote: Version,
    },

    /// `overwrite_invalid` found a payload that decodes, so it wrote nothing.
    #[error(
        "payload {path} at version {version} decodes, so it was not overwritten; change it with update()"
    )]
    PayloadValid {
        /// The payload path.
        path: String,
        /// The version that decodes.
        version: Version,
    },

    /// A payload that is not valid JSON for the shared type; the last good state stays.
    #[error("payload {path} at version {version} cannot be decoded as {type_name}: {source}")]
    Decode {
        /// The payload path.
        path: String,
        /// The version that failed to decode.
        version: Version,
        /// The Rust type it was decoded into.
        type_name: &'static str,
        /// serde_json's error, with line and column.
        #[source]
        source: Arc<serde_json::Error>,
    },

    /// An update would overwrite a payload that does not decode, written by another client.
    #[error(
        "update of {path} refused: ZooKeeper holds version {version}, which cannot be decoded as \
         {type_name} ({reason}); fix the payload, or replace it on purpose with overwrite_invalid()"
    )]
    InvalidPayload {
        /// The payload path.
        path: String,
        /// The version that does not decode.
        version: Version,
        /// The Rust type it was decoded into.
        type_name: &'static str,
        /// The decode error.
        reason: String,
    },

    /// The value could not be written as JSON.
    #[error("cannot encode {type_name} as JSON for {path}: {source}")]
    Encode {
        /// The payload path.
        path: String,
        /// The Rust type being encoded.
        type_name: &'static str,
        /// serde_json's error.
        #[source]
        source: Arc<serde_json::Error>,
    },

    /// The JSON a value encodes to does not decode as its type again, so no reader could take
    /// it in; nothing was sent.
    #[error(
        "{type_name} encodes to JSON for {path} that does not decode as {type_name} again: {reason}; \
         nothing was written. serde_json writes a NaN or infinite float as null, so keep floats \
         finite or serialize them as strings"
    )]
    NotDecodable {
        /// The payload path.
        path: String,
        /// The Rust type being encoded.
        type_name: &'static str,
        /// The decode error.
        reason: String,
    },

    /// The encoded payload exceeds the size limit; nothing was sent.
    #[error(
        "payload for {path} is {size} bytes, above the limit of {limit} bytes; shrink the struct, or \
         raise max_payload_bytes together with the server's jute.maxbuffer"
    )]
    TooLarge {
        /// The payload path.
        path: String,
        /// The encoded size in bytes.
        size: usize,
        /// The configured limit in bytes.
        limit: usize,
    },

    /// The write lock was not acquired within the lock timeout.
    #[error(
        "timed out after {timeout:?} waiting for the write lock {path}, held by {holder}; retry later, \
         or raise lock_timeout if updates hold the lock longer"
    )]
    LockTimeout {
        /// The lock dir.
        path: String,
        /// The configured lock timeout.
        timeout: Duration,
        /// The lock node ahead of this one when the wait ended.
        holder: String,
    },

    /// The write lock node vanished before the write, so nothing was written.
    #[error(
        "update of {path} not written: the lock node {lock} vanished (session expired, or another \
         client deleted it); retry the update"
    )]
    LockLost {
        /// The payload path.
        path: String,
        /// The lock node that vanished.
        lock: String,
    },

    /// The payload was not created within the wait.
    #[error(
        "timed out after {timeout:?} waiting for {path} to be created; create it with \
         create_or_open() here or in another instance"
    )]
    OpenTimeout {
        /// The payload path.
        path: String,
        /// How long the open waited.
        timeout: Duration,
    },

    /// The payload node does not exist.
    #[error(
        "payload {path} does not exist because another client deleted it; create it again with valid \
         JSON (create_or_open(), or zkCli.sh create), and open handles take it in"
    )]
    PayloadMissing {
        /// The payload path.
        path: String,
    },

    /// The connection was lost while an update's write was in flight, and the session ended
    /// before the outcome could be read back.
    #[error(
        "update of {path} has an unknown outcome: the session ended while the write was in flight; \
         read_consistent() shows whether it was applied"
    )]
    OutcomeUnknown {
        /// The payload path.
        path: String,
    },

    /// The ZooKeeper session ended and no new one could be established in time.
    #[error("no ZooKeeper session for {path}: {reason}")]
    SessionLost {
        /// The node the operation addressed.
        path: String,
        /// The cause, such as an expiry or a timeout.
        reason: String,
    },

    /// A blocking call was made inside an async runtime, where it would stall the runtime.
    #[error("a blocking zkstruct call was made inside an async runtime; use the async Shared there")]
    BlockingInAsyncContext,

    /// The runtime of a blocking handle could not be started.
    #[error("cannot start the runtime of a blocking handle: {reason}")]
    Runtime {
        /// The I/O error that prevented it.
        reason: String,
    },

    /// No event arrived within the timeout of a blocking receive.
    #[error("no event within {timeout:?}")]
    RecvTimeout {
        /// The timeout that passed.
        timeout: Duration,
    },

    /// The handle was closed.
    #[error("the handle for {path} is closed")]
    Closed {
        /// The dir of the closed handle.
        path: String,
    },
}

fn describe_age(age: &Option<Duration>) -> String {
    match age {
        Some(age) => format!("was last verified {age:?} ago"),
        None => "is unverified after a write whose outcome is unknown".to_owned(),
    }
}

impl Error {
    /// Wraps a client error, turning the ones a caller can act on into their own variants.
    pub(crate) fn zookeeper(operation: &'static str, path: &str, source: zookeeper_client::Error) -> Self {
        match source {
            zookeeper_client::Error::NoAuth => Error::NotAuthorized { operation, path: path.to_owned() },
            source => Error::ZooKeeper { operation, path: path.to_owned(), source },
        }
    }
}

/// Convenience alias for results of zkstruct operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns who owns a listener node and what to do about it.
fn in_use_advice(owner: i64) -> String {
    if owner == 0 {
        "is a persistent node that no session owns, so it never goes away by itself; delete it, \
         or choose another instance id"
            .to_owned()
    } else {
        format!(
            "belongs to live session {owner:#x}; choose another id, or wait up to the session timeout \
             for the old session to end"
        )
    }
}
