//! Real ZooKeeper servers for tests: start, stop, restart, kill, pause.
//!
//! [`ZkServer`] runs Apache ZooKeeper's standalone server in a child JVM on a free
//! loopback port, with its own data dir in a temporary directory. Each test starts its
//! own server, so tests can run in parallel, and the server is killed when the value is
//! dropped or the test process exits.
//!
//! It needs Java and the ZooKeeper jar. By default it runs `java` from `PATH` with the
//! class path `/usr/share/java/zookeeper.jar`, where Debian's `zookeeper` package installs
//! it (the jar's manifest lists its dependencies). The environment variables
//! `ZKSTRUCT_JAVA` and `ZKSTRUCT_ZOOKEEPER_CLASSPATH` override both.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use zkstruct_core::testing::ZkServer;
//!
//! let mut server = ZkServer::start().await?;
//! let servers = server.connect_string();
//! // ... connect to `servers` ...
//! server.stop().await?;
//! server.start_again().await?;
//! # Ok(())
//! # }
//! ```

mod ensemble;
mod process;
mod proxy;
mod security;

pub use self::ensemble::ZkEnsemble;
pub use self::proxy::{FaultProxy, ProxyMode};
pub use self::security::{ServerTls, TestCertificates};

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The class path used when `ZKSTRUCT_ZOOKEEPER_CLASSPATH` is not set.
pub const DEFAULT_CLASSPATH: &str = "/usr/share/java/zookeeper.jar";
/// Netty's codec jar, which the TLS port of Debian's ZooKeeper 3.8 needs but its jar's
/// manifest does not list. It is added to the default class path when it exists.
const NETTY_CODEC_JAR: &str = "/usr/share/java/netty-codec.jar";

/// The maximum time a server may take to start responding.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of a test server.
#[derive(Clone, Debug)]
pub struct ZkServerBuilder {
    tick_time: Duration,
    min_session_timeout: Duration,
    max_session_timeout: Duration,
    properties: Vec<(String, String)>,
    config_lines: Vec<String>,
    tls: Option<ServerTls>,
    sasl_users: Vec<(String, String)>,
    max_heap_mib: u32,
}

impl Default for ZkServerBuilder {
    fn default() -> Self {
        ZkServerBuilder {
            tick_time: Duration::from_millis(200),
            min_session_timeout: Duration::from_millis(1000),
            max_session_timeout: Duration::from_secs(60),
            properties: Vec::new(),
            config_lines: Vec::new(),
            tls: None,
            sasl_users: Vec::new(),
            max_heap_mib: 256,
        }
    }
}

impl ZkServerBuilder {
    /// Sets ZooKeeper's `tickTime`. Defaults to 200 ms.
    pub fn tick_time(mut self, tick: Duration) -> Self {
        self.tick_time = tick;
        self
    }

    /// Sets the range of session timeouts the server grants. Defaults to 1 s to 60 s.
    pub fn session_timeouts(mut self, min: Duration, max: Duration) -> Self {
        self.min_session_timeout = min;
        self.max_session_timeout = max;
        self
    }

    /// Adds a Java system property, such as `jute.maxbuffer`.
    pub fn property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((name.into(), value.into()));
        self
    }

    /// Adds a line to `zoo.cfg`.
    pub fn config_line(mut self, line: impl Into<String>) -> Self {
        self.config_lines.push(line.into());
        self
    }

    /// Sets the server JVM's maximum heap (`-Xmx`), in MiB. Defaults to 256.
    ///
    /// A ZooKeeper 3.8 server keeps its last 500 committed requests in memory, payloads
    /// included, so servers that take many large writes need more.
    pub fn max_heap_mib(mut self, mib: u32) -> Self {
        self.max_heap_mib = mib;
        self
    }

    /// Serves clients only on a TLS port, with the given certificates.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Requires every client session to authenticate with SASL DIGEST-MD5 as one of these
    /// users (name and password pairs).
    pub fn sasl_users(mut self, users: &[(&str, &str)]) -> Self {
        self.sasl_users =
            users.iter().map(|(user, password)| (user.to_string(), password.to_string())).collect();
        self
    }

    /// Starts the server on a free loopback port and waits until it responds.
    ///
    /// # Errors
    ///
    /// Fails when Java or the ZooKeeper jar is missing, or when the server does not start
    /// within 60 s. The error then includes the end of the server's log.
    pub async fn start(self) -> io::Result<ZkServer> {
        let dir = tempfile::Builder::new().prefix("zkstruct-zk-").tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        let mut server = ZkServer { settings: self, dir, port: free_port(&[])?, member: None, child: None };
        // A port found free can be taken by another process before the server binds it,
        // so a failed start is retried on another port.
        let mut attempts = 1;
        loop {
            match server.launch().await {
                Ok(()) => return Ok(server),
                Err(error) if attempts >= 5 || error.kind() == io::ErrorKind::NotFound => return Err(error),
                Err(_) => {
                    attempts += 1;
                    server.port = free_port(&[server.port])?;
                }
            }
        }
    }
}

/// A standalone ZooKeeper server in a child JVM, killed on drop.
#[derive(Debug)]
pub struct ZkServer {
    settings: ZkServerBuilder,
    dir: tempfile::TempDir,
    port: u16,
    /// Set for a member of an ensemble.
    member: Option<Member>,
    child: Option<Child>,
}

/// The settings that make a server a member of an ensemble.
#[derive(Clone, Debug)]
struct Member {
    id: usize,
    /// The `server.N=...` lines of every member.
    servers: Vec<String>,
}

impl ZkServer {
    /// Starts a server with the default settings.
    ///
    /// # Errors
    ///
    /// See [`ZkServerBuilder::start`].
    pub async fn start() -> io::Result<ZkServer> {
        ZkServerBuilder::default().start().await
    }

    /// Returns a builder for a server with other settings.
    pub fn builder() -> ZkServerBuilder {
        ZkServerBuilder::default()
    }

    /// Returns the connect string, `127.0.0.1:<port>`.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Returns the client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the directory that contains `zoo.cfg`, the data dir and the server's log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Returns the process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Returns `true` while the server process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Stops the server with SIGTERM and waits for it to exit; its data stays.
    ///
    /// # Errors
    ///
    /// Fails when the signal cannot be sent.
    pub async fn stop(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        process::signal(&child, libc::SIGTERM)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                process::signal(&child, libc::SIGKILL)?;
                child.wait()?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Kills the server with SIGKILL; its data stays.
    ///
    /// # Errors
    ///
    /// Fails when the signal cannot be sent.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            process::signal(&child, libc::SIGKILL)?;
            child.wait()?;
        }
        Ok(())
    }

    /// Freezes the server with SIGSTOP: it keeps its sockets open but responds to nothing.
    ///
    /// # Errors
    ///
    /// Fails when the server is not running.
    pub fn pause(&self) -> io::Result<()> {
        process::signal(self.running()?, libc::SIGSTOP)
    }

    /// Resumes a server frozen by [`ZkServer::pause`].
    ///
    /// # Errors
    ///
    /// Fails when the server is not running.
    pub fn resume(&self) -> io::Result<()> {
        process::signal(self.running()?, libc::SIGCONT)
    }

    /// Starts a stopped or killed server again, on the same port with the same data.
    ///
    /// # Errors
    ///
    /// See [`ZkServerBuilder::start`].
    pub async fn start_again(&mut self) -> io::Result<()> {
        self.kill()?;
        self.launch().await
    }

    fn running(&self) -> io::Result<&Child> {
        self.child.as_ref().ok_or_else(|| io::Error::other("the server is not running"))
    }

    async fn launch(&mut self) -> io::Result<()> {
        self.spawn()?;
        self.wait_ready().await
    }

    fn spawn(&mut self) -> io::Result<()> {
        let config = self.dir.path().join("zoo.cfg");
        std::fs::write(&config, self.config_text())?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let main_class = match self.member {
            Some(_) => "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            None => "org.apache.zookeeper.server.ZooKeeperServerMain",
        };

        let mut command = Command::new(java());
        command.arg(format!("-Xmx{}m", self.settings.max_heap_mib));
        command.arg("-XX:+UseSerialGC").arg("-XX:TieredStopAtLevel=1");
        command.arg("-Dzookeeper.admin.enableServer=false");
        command.arg("-Dznode.container.checkIntervalMs=500");
        if !self.settings.sasl_users.is_empty() {
            let jaas = security::write_jaas(self.dir.path(), &self.settings.sasl_users)?;
            command.arg(format!("-Djava.security.auth.login.config={}", jaas.display()));
        }
        for (name, value) in &self.settings.properties {
            command.arg(format!("-D{name}={value}"));
        }
        command.arg("-cp").arg(classpath()?);
        command.arg(main_class).arg(&config);
        command.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        self.child = Some(process::spawn(command)?);
        Ok(())
    }

    /// Waits until the server serves clients: as a standalone server, or as the leader or a
    /// follower of an ensemble that has a quorum.
    async fn wait_ready(&mut self) -> io::Result<()> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if !self.is_running() {
                self.child = None;
                return Err(io::Error::other(format!(
                    "ZooKeeper exited during startup on port {}; log:\n{}",
                    self.port,
                    self.log_tail()
                )));
            }
            // A server with only a TLS port does not respond to four-letter words in plain text.
            let ready = match self.settings.tls {
                Some(_) => TcpStream::connect(address).await.is_ok(),
                None => self.mode(address).await.is_some(),
            };
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill()?;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "ZooKeeper did not respond on port {} within {START_TIMEOUT:?}; log:\n{}",
                        self.port,
                        self.log_tail()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Returns the server's mode (`standalone`, `leader` or `follower`), or `None` while it
    /// does not serve clients.
    async fn mode(&self, address: SocketAddr) -> Option<String> {
        let reply = four_letter_word(address, "srvr").await.ok()?;
        let mode = reply.lines().find_map(|line| line.strip_prefix("Mode: "))?;
        Some(mode.trim().to_owned())
    }

    fn config_text(&self) -> String {
        let settings = &self.settings;
        let mut text = format!(
            "tickTime={}\ndataDir={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nmaxClientCnxns=0\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\nforceSync=no\n",
            settings.tick_time.as_millis(),
            self.dir.path().join("data").display(),
            settings.min_session_timeout.as_millis(),
            settings.max_session_timeout.as_millis(),
        );
        match &settings.tls {
            Some(tls) => text.push_str(&tls.config_lines(self.port)),
            None => text.push_str(&format!("clientPort={}\nclientPortAddress=127.0.0.1\n", self.port)),
        }
        if !settings.sasl_users.is_empty() {
            text.push_str(
                "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
                 sessionRequireClientSASLAuth=true\n",
            );
        }
        if let Some(member) = &self.member {
            std::fs::write(self.dir.path().join("data").join("myid"), member.id.to_string()).ok();
            text.push_str(&format!("initLimit=20\nsyncLimit=10\n{}\n", member.servers.join("\n")));
        }
        for line in &settings.config_lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

fn java() -> String {
    std::env::var("ZKSTRUCT_JAVA").unwrap_or_else(|_| "java".to_owned())
}

fn classpath() -> io::Result<String> {
    let classpath = std::env::var("ZKSTRUCT_ZOOKEEPER_CLASSPATH").unwrap_or_else(|_| {
        if Path::new(NETTY_CODEC_JAR).exists() {
            format!("{DEFAULT_CLASSPATH}:{NETTY_CODEC_JAR}")
        } else {
            DEFAULT_CLASSPATH.to_owned()
        }
    });
    let missing = classpath.split(':').find(|entry| !entry.is_empty() && !Path::new(entry).exists());
    if let Some(entry) = missing {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "ZooKeeper jar not found at {entry}; install Debian's `zookeeper` package \
                 (apt-get install -y zookeeper) or set ZKSTRUCT_ZOOKEEPER_CLASSPATH"
            ),
        ));
    }
    Ok(classpath)
}

/// Sends one of ZooKeeper's four-letter commands and returns the reply.
///
/// # Errors
///
/// Fails when the server does not accept the connection or closes it without a reply.
pub async fn four_letter_word(address: SocketAddr, word: &str) -> io::Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        stream.write_all(word.as_bytes()).await?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await?;
        Ok::<_, io::Error>(reply)
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("no reply to {word} from {address}")))?
}

/// Picks a loopback port that is free now, outside the kernel's ephemeral range and not in
/// `excluded`.
pub(crate) fn free_port(excluded: &[u16]) -> io::Result<u16> {
    for _ in 0..100 {
        let port = 20_000 + u16::try_from(process::random() % 12_000).unwrap_or(0);
        if excluded.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(io::Error::new(io::ErrorKind::AddrInUse, "no free loopback port found in 20000..32000"))
}
