//! The one task per handle that follows the payload: watch, fetch, decode, apply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use zookeeper_client::{AddWatchMode, Client, Error as ZkError, EventType, PersistentWatcher, SessionState};

use crate::codec;
use crate::error::Error;
use crate::events::Origin;
use crate::metrics;
use crate::presence;
use crate::session::{is_connected, Generation};
use crate::shared::Context;
use crate::state::{coarse_now, Loaded, Version};
use crate::ZkShared;

/// The reason the watcher stopped following one session.
enum Ended {
    /// The handle was closed or dropped.
    Stopped,
    /// The session expired or closed; a new generation is needed.
    SessionEnded,
}

/// Follows the payload until `stop` is cancelled, across connection losses and sessions.
///
/// `watches` are the persistent watches on the payload and the listener node that opening
/// the handle armed on `generation`.
pub(crate) async fn run<T: ZkShared>(
    context: Arc<Context<T>>,
    mut generation: Generation,
    watches: (PersistentWatcher, PersistentWatcher),
    stop: CancellationToken,
) {
    let mut generations = context.session.generations();
    generations.borrow_and_update();
    let mut watches = Some(Watches { payload: watches.0, listener: watches.1 });
    loop {
        let armed = match watches.take() {
            Some(armed) => Some(armed),
            None => arm(&context, &generation.client, &stop).await,
        };
        if let Some(armed) = armed {
            if let Ended::Stopped = follow(&context, &generation.client, armed, &stop).await {
                return;
            }
        }

        tokio::select! {
            _ = stop.cancelled() => return,
            changed = generations.changed() => if changed.is_err() { return },
        }
        generation = generations.borrow_and_update().clone();
        tracing::info!(
            path = %context.paths.payload,
            generation = generation.number,
            "re-registering on the new ZooKeeper session"
        );
        if let Err(error) = presence::register(&generation.client, &context.paths, &context.options).await {
            tracing::error!(path = %context.paths.listener, %error, "cannot recreate the listener node");
        }
    }
}

/// The persistent watches of one session: on the payload, and on this instance's listener
/// node, so a listener node that another client deletes is created again.
struct Watches {
    payload: PersistentWatcher,
    listener: PersistentWatcher,
}

/// Arms the persistent watches on a session and reads the payload once.
///
/// Returns `None` when the session ended first.
async fn arm<T: ZkShared>(
    context: &Context<T>,
    client: &Client,
    stop: &CancellationToken,
) -> Option<Watches> {
    loop {
        let payload = client.watch(&context.paths.payload, AddWatchMode::Persistent);
        let listener = client.watch(&context.paths.listener, AddWatchMode::Persistent);
        let result = tokio::select! {
            _ = stop.cancelled() => return None,
            (payload, listener) = async { tokio::join!(payload, listener) } => payload.and_then(|payload| Ok((payload, listener?))),
        };
        match result {
            Ok((payload, listener)) => {
                refresh(context, client).await;
                return Some(Watches { payload, listener });
            }
            Err(ZkError::SessionExpired | ZkError::ClientClosed | ZkError::AuthFailed) => return None,
            Err(error) => {
                tracing::debug!(path = %context.paths.payload, %error, "arming the watches failed; retrying");
                let mut states = client.state_watcher();
                while !is_connected(states.state()) {
                    if states.peek_state().is_terminated() {
                        return None;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return None,
                        _ = states.changed() => {}
                    }
                }
            }
        }
    }
}

/// How often a connection loss is logged at warning level; more are logged at debug level.
const CONNECTION_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Handles watch and session events until the session ends or `stop` is cancelled.
async fn follow<T: ZkShared>(
    context: &Context<T>,
    client: &Client,
    mut watches: Watches,
    stop: &CancellationToken,
) -> Ended {
    let mut last_warning: Option<Instant> = None;
    let mut losses_since_warning = 0_u64;
    let mut heartbeat = tokio::time::interval(heartbeat_interval(context.options.freshness_limit));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return Ended::Stopped,
            _ = heartbeat.tick() => {
                check(context, client).await;
                continue;
            }
            event = watches.payload.changed() => event,
            event = watches.listener.changed() => {
                match event.event_type {
                    // Session events reach both watchers; the payload watcher handles them,
                    // except that neither may be polled after a terminal state.
                    EventType::Session if event.session_state.is_terminated() => return Ended::SessionEnded,
                    EventType::NodeDeleted => {
                        tracing::warn!(path = %context.paths.listener, "listener node deleted by another client; creating it again");
                        if let Err(error) = presence::register(client, &context.paths, &context.options).await {
                            tracing::error!(path = %context.paths.listener, %error, "cannot create the listener node again");
                        }
                    }
                    _ => {}
                }
                continue;
            }
        };
        match event.event_type {
            EventType::Session => match event.session_state {
                SessionState::Disconnected => {
                    losses_since_warning += 1;
                    if last_warning.is_none_or(|warned| warned.elapsed() >= CONNECTION_WARNING_INTERVAL) {
                        tracing::warn!(
                            path = %context.paths.payload,
                            losses = losses_since_warning,
                            "ZooKeeper connection lost; the local copy is aging"
                        );
                        last_warning = Some(Instant::now());
                        losses_since_warning = 0;
                    } else {
                        tracing::debug!(path = %context.paths.payload, "ZooKeeper connection lost again");
                    }
                }
                SessionState::SyncConnected | SessionState::ConnectedReadOnly => {
                    // zookeeper-client 0.11.2 does not register persistent watches again on
                    // a new connection (its `resend_watches` never sends them), so add them
                    // anew. The new watchers are added before the old ones are dropped, so
                    // the drop sends no removal to the server. `arm` also reads the
                    // payload, which covers the events missed while disconnected.
                    match arm(context, client, stop).await {
                        Some(rearmed) => watches = rearmed,
                        None => return Ended::SessionEnded,
                    }
                    tracing::debug!(path = %context.paths.payload, "ZooKeeper connection restored");
                }
                SessionState::Expired | SessionState::Closed | SessionState::AuthFailed => {
                    // The watcher must not be polled after a terminal state.
                    return Ended::SessionEnded;
                }
            },
            EventType::NodeCreated => {
                // The dir may have been deleted and created again with the payload, taking
                // the listener node with it.
                if let Err(error) = presence::register(client, &context.paths, &context.options).await {
                    tracing::error!(path = %context.paths.listener, %error, "cannot create the listener node again");
                }
                refresh(context, client).await;
            }
            EventType::NodeDataChanged => {
                if context.gate.wait_idle().await {
                    // Most likely this handle's own write, which it has applied already:
                    // check the version before fetching the whole payload.
                    check(context, client).await;
                } else {
                    refresh(context, client).await;
                }
            }
            EventType::NodeDeleted => {
                context
                    .state
                    .report_failure(None, Error::PayloadMissing { path: context.paths.payload.clone() });
            }
            EventType::NodeChildrenChanged => {}
        }
    }
}

/// Returns how often the watcher confirms the local copy: a quarter of the freshness limit,
/// so that `read` stays fresh across a few slow responses, and at least every 50 ms.
fn heartbeat_interval(freshness_limit: Duration) -> Duration {
    (freshness_limit / 4).max(Duration::from_millis(50))
}

/// Confirms the local copy with a cheap `exists`, and reads the payload if it is behind.
async fn check<T: ZkShared>(context: &Context<T>, client: &Client) {
    if let Some(age) = context.state.freshness.age() {
        metrics::copy_age(&context.paths.dir, age);
    }
    let sent = coarse_now();
    let stat = match client.check_stat(&context.paths.payload).await {
        Ok(stat) => stat,
        Err(error) => {
            tracing::debug!(path = %context.paths.payload, %error, "checking the payload failed");
            return;
        }
    };
    let version = stat.as_ref().map(Version::from_stat);
    if context.state.has_seen(version) {
        context.state.freshness.mark_verified(sent);
    } else {
        // A change whose watch event is on its way, or one lost in a reconnection.
        context.gate.wait_idle().await;
        refresh(context, client).await;
    }
}

/// Reads the payload and applies it if it is newer than the local copy.
pub(crate) async fn refresh<T: ZkShared>(context: &Context<T>, client: &Client) {
    let sent = coarse_now();
    match client.get_data(&context.paths.payload).await {
        Ok((data, stat)) => {
            apply_remote(context, &data, Version::from_stat(&stat));
            context.state.freshness.mark_verified(sent);
        }
        Err(ZkError::NoNode) => {
            context.state.report_failure(None, Error::PayloadMissing { path: context.paths.payload.clone() });
            context.state.freshness.mark_verified(sent);
        }
        Err(error @ (ZkError::ConnectionLoss | ZkError::SessionExpired | ZkError::ClientClosed)) => {
            // The session event that follows triggers the next read.
            tracing::debug!(path = %context.paths.payload, %error, "reading the payload failed");
        }
        Err(error) => {
            let error = Error::zookeeper("get_data", &context.paths.payload, error);
            tracing::error!(%error, "reading the payload failed");
        }
    }
}

/// Decodes a payload read from ZooKeeper and applies it, unless the local copy already
/// contains this version or a newer one.
///
/// Returns the decode error, which was also reported to subscribers.
pub(crate) fn apply_remote<T: ZkShared>(
    context: &Context<T>,
    data: &[u8],
    version: Version,
) -> Option<Error> {
    if !version.is_newer_than(&context.state.snapshot().version()) {
        return None;
    }
    metrics::payload_size(&context.paths.dir, data.len());
    match codec::decode::<T>(data) {
        Ok((value, unknown)) => {
            if let Some(changes) =
                context.state.apply(Loaded { value, version, unknown }, Origin::Remote, None)
            {
                tracing::debug!(path = %context.paths.payload, %version, changes = changes.len(), "applied remote version");
            }
            None
        }
        Err(source) => {
            let error = Error::Decode {
                path: context.paths.payload.clone(),
                version,
                type_name: std::any::type_name::<T>(),
                source: Arc::new(source),
            };
            context.state.report_failure(Some(version), error.clone());
            Some(error)
        }
    }
}
