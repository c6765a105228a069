//! A TCP proxy between a client and a server that can cut, blackhole or half-drop traffic.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The treatment of traffic through a [`FaultProxy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forwards bytes both ways.
    Forward,
    /// Closes every connection and closes new ones at once, as a peer that went away.
    Cut,
    /// Keeps connections open but stops forwarding either way, as a network that silently
    /// drops packets: bytes wait in the socket buffers, as unacknowledged TCP segments
    /// would, and flow again in order when the mode changes back.
    Blackhole,
    /// Forwards requests to the server but drops its replies, so requests are applied and
    /// the client never learns of it.
    DropReplies,
}

/// A TCP proxy on a loopback port, stopped when dropped.
///
/// Point a client at [`FaultProxy::connect_string`] instead of the server, then switch the
/// mode to simulate network faults.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use zkstruct_core::testing::{FaultProxy, ProxyMode, ZkServer};
///
/// let server = ZkServer::start().await?;
/// let proxy = FaultProxy::start(format!("127.0.0.1:{}", server.port()).parse().unwrap()).await?;
/// // Connect the code under test to `proxy.connect_string()`, then:
/// proxy.set_mode(ProxyMode::Blackhole);
/// proxy.set_mode(ProxyMode::Forward);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    mode: watch::Sender<ProxyMode>,
    connections: Arc<AtomicUsize>,
    stop: CancellationToken,
}

impl FaultProxy {
    /// Starts forwarding from a free loopback port to `target`.
    ///
    /// # Errors
    ///
    /// Fails when no loopback port can be bound.
    pub async fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let (mode, _) = watch::channel(ProxyMode::Forward);
        let stop = CancellationToken::new();
        let connections = Arc::new(AtomicUsize::new(0));
        tokio::spawn(accept(listener, target, mode.subscribe(), connections.clone(), stop.clone()));
        Ok(FaultProxy { address, mode, connections, stop })
    }

    /// Returns the connect string of the proxy, `127.0.0.1:<port>`.
    pub fn connect_string(&self) -> String {
        self.address.to_string()
    }

    /// Sets what the proxy does from now on, for existing and new connections.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.mode.send_replace(mode);
    }

    /// Returns the number of client connections the proxy forwards now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// Returns the current mode.
    pub fn mode(&self) -> ProxyMode {
        *self.mode.borrow()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept(
    listener: TcpListener,
    target: SocketAddr,
    mode: watch::Receiver<ProxyMode>,
    connections: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else { continue };
        if *mode.borrow() == ProxyMode::Cut {
            drop(client);
            continue;
        }
        let mode = mode.clone();
        let stop = stop.clone();
        let connections = connections.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            // Forward small writes at once: Nagle's algorithm would hold them back.
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let connection = stop.child_token();
            let upstream = pump(client_read, server_write, mode.clone(), true, connection.clone());
            let downstream = pump(server_read, client_write, mode, false, connection.clone());
            connections.fetch_add(1, Ordering::AcqRel);
            tokio::join!(upstream, downstream);
            connections.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// Waits until the mode is no longer `Blackhole`. Returns `false` if the connection or the
/// proxy ends first.
async fn wait_while_blackholed(
    mode: &mut watch::Receiver<ProxyMode>,
    connection: &CancellationToken,
) -> bool {
    while *mode.borrow_and_update() == ProxyMode::Blackhole {
        tokio::select! {
            _ = connection.cancelled() => return false,
            changed = mode.changed() => if changed.is_err() { return false },
        }
    }
    true
}

/// Copies one direction of a connection according to the mode, until either side closes,
/// the mode becomes `Cut`, or the proxy stops. Ending cancels the other direction too.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<ProxyMode>,
    upstream: bool,
    connection: CancellationToken,
) {
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        if !wait_while_blackholed(&mut mode, &connection).await {
            break;
        }
        let read = tokio::select! {
            _ = connection.cancelled() => break,
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() == ProxyMode::Cut {
                    break;
                }
                continue;
            }
            read = from.read(&mut buffer) => read,
        };
        let length = match read {
            Ok(0) | Err(_) => break,
            Ok(length) => length,
        };
        // Bytes read just as the mode turned to `Blackhole` are held back, not lost.
        if !wait_while_blackholed(&mut mode, &connection).await {
            break;
        }
        let current = *mode.borrow();
        let forward = match current {
            ProxyMode::Forward => true,
            ProxyMode::DropReplies => upstream,
            ProxyMode::Cut | ProxyMode::Blackhole => false,
        };
        if forward && to.write_all(&buffer[..length]).await.is_err() {
            break;
        }
    }
    connection.cancel();
}
