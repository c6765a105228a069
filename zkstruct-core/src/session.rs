//! The ZooKeeper session: connect, follow its state, and open a new one after expiry.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use zookeeper_client::{Client, SessionState};

use crate::error::{Error, Result};
use crate::security::Security;

/// The state of a handle's connection to ZooKeeper.
///
/// The states follow those of Apache Curator's connection listener: a dropped connection
/// suspends the session, which either comes back or expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The first session is established. This is the state when a handle opens.
    Connected,
    /// The connection dropped. The session, its listener node and its watches survive if
    /// the client reconnects within the session timeout.
    Suspended,
    /// The client reconnected within the same session. The payload is read again, so the
    /// changes made while suspended are delivered.
    Reconnected,
    /// The session expired: the server deleted its ephemeral nodes. A new session is being
    /// opened.
    Expired,
    /// A new session replaced the expired one. The handle creates its listener node again,
    /// arms its watches and reads the payload, delivering what changed meanwhile.
    NewSession,
    /// The server rejected the credentials. The session is closed and is not renewed.
    AuthFailed,
    /// The handle was closed.
    Closed,
}

/// One ZooKeeper session of a [`Session`], numbered from 0 in the order they were opened.
#[derive(Clone)]
pub(crate) struct Generation {
    pub(crate) client: Client,
    pub(crate) number: u64,
}

/// Settings of a session.
#[derive(Clone)]
pub(crate) struct SessionConfig {
    pub(crate) servers: String,
    pub(crate) session_timeout: Duration,
    pub(crate) security: Security,
}

/// A ZooKeeper session that renews itself.
///
/// `zookeeper-client` treats an expired session as final. `Session` opens a new one when
/// that happens and publishes it as the next [`Generation`], so the tasks that follow the
/// generations can restore their ephemeral nodes and watches.
#[derive(Clone)]
pub(crate) struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    config: SessionConfig,
    current: watch::Sender<Generation>,
    states: StateSender,
    closed: CancellationToken,
}

/// Publishes connection states: the latest one, and each one to every subscriber.
#[derive(Clone)]
struct StateSender {
    latest: Arc<std::sync::Mutex<ConnectionState>>,
    events: broadcast::Sender<ConnectionState>,
}

impl StateSender {
    fn send(&self, state: ConnectionState) {
        *self.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = state;
        let _ = self.events.send(state);
    }
}

impl Drop for SessionInner {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

impl Session {
    /// Connects, waiting up to the session timeout for the first session.
    pub(crate) async fn connect(config: SessionConfig) -> Result<Session> {
        let client = connect_client(&config).await?;
        tracing::info!(
            servers = %config.servers,
            session = %client.session_id(),
            timeout_ms = client.session_timeout().as_millis(),
            "ZooKeeper session established"
        );
        let state_watcher = client.state_watcher();
        let (current, _) = watch::channel(Generation { client, number: 0 });
        let states = StateSender {
            latest: Arc::new(std::sync::Mutex::new(ConnectionState::Connected)),
            events: broadcast::channel(64).0,
        };
        let inner = Arc::new(SessionInner {
            config,
            current,
            states: states.clone(),
            closed: CancellationToken::new(),
        });
        tokio::spawn(supervise(Arc::downgrade(&inner), states, inner.closed.clone(), state_watcher));
        Ok(Session { inner })
    }

    /// Returns the current generation.
    pub(crate) fn current(&self) -> Generation {
        self.inner.current.borrow().clone()
    }

    /// Returns the latest connection state.
    pub(crate) fn state(&self) -> ConnectionState {
        *self.inner.states.latest.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Subscribes to the connection states from now on.
    pub(crate) fn subscribe_states(&self) -> broadcast::Receiver<ConnectionState> {
        self.inner.states.events.subscribe()
    }

    /// Reports that the handle closed.
    pub(crate) fn report_closed(&self) {
        self.inner.states.send(ConnectionState::Closed);
    }

    /// Returns a receiver that is notified of every new generation.
    pub(crate) fn generations(&self) -> watch::Receiver<Generation> {
        self.inner.current.subscribe()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generation = self.current();
        f.debug_struct("Session")
            .field("servers", &self.inner.config.servers)
            .field("session_id", &generation.client.session_id())
            .field("generation", &generation.number)
            .finish()
    }
}

/// Connects a new session with the configured credentials, which ZooKeeper does not keep
/// across sessions.
async fn connect_client(config: &SessionConfig) -> Result<Client> {
    let span = tracing::info_span!("session", servers = %config.servers);
    connect_client_inner(config).instrument(span).await
}

async fn connect_client_inner(config: &SessionConfig) -> Result<Client> {
    let security = &config.security;
    let mut connector = Client::connector().with_session_timeout(config.session_timeout);
    for credential in &security.credentials {
        connector = connector.with_auth(&credential.scheme, &credential.secret);
    }
    #[cfg(feature = "sasl")]
    if let Some(sasl) = &security.sasl {
        connector = connector
            .with_sasl(zookeeper_client::SaslOptions::digest_md5(sasl.user.clone(), sasl.password.clone()));
    }
    let connected = {
        #[cfg(feature = "tls")]
        match &security.tls {
            Some(tls) => {
                let connecting = connector.with_tls(tls.to_options()?).secure_connect(&config.servers);
                tokio::select! {
                    connected = connecting => connected,
                    Some(error) = crate::security::probe_tls(&config.servers, tls) => return Err(error),
                }
            }
            None => connector.connect(&config.servers).await,
        }
        #[cfg(not(feature = "tls"))]
        connector.connect(&config.servers).await
    };
    connected.map_err(|source| match source {
        zookeeper_client::Error::AuthFailed => Error::AuthFailed { servers: config.servers.clone() },
        source => Error::Connect { servers: config.servers.clone(), source },
    })
}

/// Follows the session state; after expiry, opens new sessions until one succeeds.
async fn supervise(
    inner: Weak<SessionInner>,
    states: StateSender,
    closed: CancellationToken,
    mut state_watcher: zookeeper_client::StateWatcher,
) {
    loop {
        let state = tokio::select! {
            _ = closed.cancelled() => return,
            state = state_watcher.changed() => state,
        };
        match state {
            SessionState::Expired => states.send(ConnectionState::Expired),
            SessionState::Closed => return,
            SessionState::AuthFailed => {
                states.send(ConnectionState::AuthFailed);
                tracing::error!(
                    "ZooKeeper authentication failed; the session is closed and will not be renewed"
                );
                return;
            }
            SessionState::Disconnected => {
                tracing::debug!("ZooKeeper connection suspended");
                states.send(ConnectionState::Suspended);
                continue;
            }
            SessionState::SyncConnected | SessionState::ConnectedReadOnly => {
                tracing::debug!("ZooKeeper connection re-established");
                states.send(ConnectionState::Reconnected);
                continue;
            }
        }

        let Some(config) = inner.upgrade().map(|inner| inner.config.clone()) else {
            return;
        };
        tracing::warn!(servers = %config.servers, "ZooKeeper session expired; opening a new one");
        let mut delay = Duration::from_millis(100);
        let client = loop {
            let attempt = tokio::select! {
                _ = closed.cancelled() => return,
                attempt = connect_client(&config) => attempt,
            };
            match attempt {
                Ok(client) => break client,
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = delay.as_millis(), "cannot open a new ZooKeeper session");
                    tokio::select! {
                        _ = closed.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };

        let Some(inner) = inner.upgrade() else { return };
        state_watcher = client.state_watcher();
        let session = client.session_id();
        inner.current.send_modify(|generation| {
            generation.number += 1;
            generation.client = client;
            tracing::info!(%session, generation = generation.number, "new ZooKeeper session established");
        });
        states.send(ConnectionState::NewSession);
    }
}

/// Returns whether a session state lets requests through.
pub(crate) fn is_connected(state: SessionState) -> bool {
    matches!(state, SessionState::SyncConnected | SessionState::ConnectedReadOnly)
}
