//! A ZooKeeper ensemble of several members on loopback.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use super::{free_port, Member, ZkServer, ZkServerBuilder};

/// Several ZooKeeper servers forming one ensemble, each a child JVM on its own loopback
/// ports (client, quorum, election) with its own data dir. All are killed on drop.
///
/// Each member is a [`ZkServer`], so it can be stopped, killed, paused, resumed and
/// started again on its own.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use zkstruct_core::testing::ZkEnsemble;
///
/// let mut ensemble = ZkEnsemble::start(3).await?;
/// let servers = ensemble.connect_string();
/// if let Some(leader) = ensemble.leader().await {
///     ensemble.member_mut(leader).kill()?;
///     ensemble.member_mut(leader).start_again().await?;
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ZkEnsemble {
    members: Vec<ZkServer>,
}

impl ZkEnsemble {
    /// Starts an ensemble of `size` members with the default settings, and waits until
    /// every member serves clients.
    ///
    /// # Errors
    ///
    /// Fails as [`ZkServerBuilder::start`] does, for any member.
    pub async fn start(size: usize) -> io::Result<ZkEnsemble> {
        Self::start_with(size, ZkServerBuilder::default()).await
    }

    /// Starts an ensemble of `size` members with the given settings.
    ///
    /// # Errors
    ///
    /// Fails as [`ZkServerBuilder::start`] does, for any member.
    pub async fn start_with(size: usize, settings: ZkServerBuilder) -> io::Result<ZkEnsemble> {
        if size == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "an ensemble needs at least one member"));
        }
        // Ports found free can be taken before the members bind them, so a failed start is
        // retried with new ports.
        let mut attempts = 1;
        loop {
            match Self::try_start(size, &settings).await {
                Ok(ensemble) => return Ok(ensemble),
                Err(error) if attempts >= 3 || error.kind() == io::ErrorKind::NotFound => return Err(error),
                Err(_) => attempts += 1,
            }
        }
    }

    async fn try_start(size: usize, settings: &ZkServerBuilder) -> io::Result<ZkEnsemble> {
        let mut chosen = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..size {
            let mut member_ports = [0_u16; 3];
            for port in &mut member_ports {
                *port = free_port(&chosen)?;
                chosen.push(*port);
            }
            ports.push(member_ports);
        }
        let servers: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(index, [_, quorum, election])| {
                format!("server.{}=127.0.0.1:{quorum}:{election}", index + 1)
            })
            .collect();

        let mut members = Vec::new();
        for (index, [client, _, _]) in ports.iter().enumerate() {
            let dir = tempfile::Builder::new().prefix("zkstruct-zk-member-").tempdir()?;
            std::fs::create_dir_all(dir.path().join("data"))?;
            let member = Member { id: index + 1, servers: servers.clone() };
            members.push(ZkServer {
                settings: settings.clone(),
                dir,
                port: *client,
                member: Some(member),
                child: None,
            });
        }
        for member in &mut members {
            member.spawn()?;
        }
        for member in &mut members {
            member.wait_ready().await?;
        }
        Ok(ZkEnsemble { members })
    }

    /// Returns the connect string naming every member.
    pub fn connect_string(&self) -> String {
        let addresses: Vec<String> = self.members.iter().map(ZkServer::connect_string).collect();
        addresses.join(",")
    }

    /// Returns the number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Returns `true` for an ensemble without members, which [`ZkEnsemble::start`] never
    /// creates.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Returns the member at `index`, counted from 0 (its `myid` is `index + 1`).
    ///
    /// # Panics
    ///
    /// Panics if `index` is out of range.
    pub fn member(&self, index: usize) -> &ZkServer {
        &self.members[index]
    }

    /// Returns the member at `index` for stopping, killing, pausing or restarting it.
    ///
    /// # Panics
    ///
    /// Panics if `index` is out of range.
    pub fn member_mut(&mut self, index: usize) -> &mut ZkServer {
        &mut self.members[index]
    }

    /// Returns the index of the current leader, asking each member with `srvr`.
    pub async fn leader(&self) -> Option<usize> {
        for (index, member) in self.members.iter().enumerate() {
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, member.port));
            if member.mode(address).await.as_deref() == Some("leader") {
                return Some(index);
            }
        }
        None
    }
}
