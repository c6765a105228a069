//! Helpers shared by the integration tests: tracing, deadlines, and foreign ZooKeeper clients.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use zkstruct::{Diff, Event, Subscription};

/// Python with the `kazoo` package, from Debian's `python3-kazoo`.
pub const PYTHON: &str = "/usr/bin/python3";
/// ZooKeeper's own command-line client, from Debian's `zookeeper`.
pub const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// Sends the library's logs to the test output; `RUST_LOG` sets the filter.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "zkstruct_core=info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Returns a dir path that no other test in this process uses.
pub fn unique_dir(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("/zkstruct-tests/{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Polls `condition` until it holds, failing the test with `what` after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Receives the next event, failing the test after `timeout`.
pub async fn next_event<T: Diff + Send + Sync + 'static>(
    subscription: &mut Subscription<T>,
    timeout: Duration,
) -> Event<T> {
    match tokio::time::timeout(timeout, subscription.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the subscription ended"),
        Err(_) => panic!("no event within {timeout:?}"),
    }
}

/// Receives the next event and requires it to be a change set.
pub async fn next_changes<T: Diff + Send + Sync + 'static>(
    subscription: &mut Subscription<T>,
    timeout: Duration,
) -> zkstruct::ChangeSet<T> {
    match next_event(subscription, timeout).await {
        Event::Changed(changes) => changes,
        other => panic!("expected a change set, got {other:?}"),
    }
}

/// Runs a Python snippet with a connected kazoo client bound to `zk`, and returns its
/// standard output.
pub fn kazoo(servers: &str, snippet: &str) -> String {
    let script = format!(
        "from kazoo.client import KazooClient\nzk = KazooClient(hosts={servers:?})\nzk.start(timeout=15)\n{snippet}\nzk.stop()\n"
    );
    let output = Command::new(PYTHON).arg("-c").arg(&script).output().expect("python3 runs");
    assert!(
        output.status.success(),
        "kazoo script failed:\n{script}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Writes `data` to `path` with kazoo, as a foreign client that ignores the lock.
pub fn kazoo_set(servers: &str, path: &str, data: &str) {
    kazoo(servers, &format!("zk.set({path:?}, {data:?}.encode())"));
}

/// Writes `data` to `path` with kazoo, passing it through a file, so it can be larger than
/// a command-line argument may be.
pub fn kazoo_set_bytes(servers: &str, path: &str, data: &[u8]) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let file = std::env::temp_dir().join(format!(
        "zkstruct-payload-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, data).expect("the payload file is written");
    kazoo(servers, &format!("zk.set({path:?}, open({:?}, 'rb').read())", file.display()));
    let _ = std::fs::remove_file(file);
}

/// Reads `path` with kazoo.
pub fn kazoo_get(servers: &str, path: &str) -> String {
    kazoo(servers, &format!("import sys\nsys.stdout.write(zk.get({path:?})[0].decode())"))
}

/// Lists the children of `path` with kazoo; an absent node has none.
pub fn kazoo_children(servers: &str, path: &str) -> Vec<String> {
    let output = kazoo(
        servers,
        &format!("print('\\n'.join(sorted(zk.get_children({path:?}))) if zk.exists({path:?}) else '')"),
    );
    output.lines().filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

/// Runs one zkCli.sh command against `servers` and returns its output.
pub fn zkcli(servers: &str, args: &[&str]) -> String {
    let output = Command::new(ZKCLI).arg("-server").arg(servers).args(args).output().expect("zkCli.sh runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "zkCli.sh {args:?} failed:\n{text}");
    text
}

/// A kazoo session that keeps an ephemeral sequential node until dropped.
pub struct ForeignNode {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The full path of the node.
    pub path: String,
}

impl ForeignNode {
    /// Creates `<prefix><sequence>` as an ephemeral sequential node, creating parents.
    pub fn create(servers: &str, prefix: &str) -> ForeignNode {
        Self::create_with_session_timeout(servers, prefix, Duration::from_secs(10))
    }

    /// Creates the node on a kazoo session with the given timeout.
    pub fn create_with_session_timeout(
        servers: &str,
        prefix: &str,
        session_timeout: Duration,
    ) -> ForeignNode {
        let timeout = session_timeout.as_secs_f64();
        let script = format!(
            "import sys\nfrom kazoo.client import KazooClient\nzk = KazooClient(hosts={servers:?}, timeout={timeout})\n\
             zk.start(timeout=15)\nprint(zk.create({prefix:?}, ephemeral=True, sequence=True, makepath=True), flush=True)\n\
             sys.stdin.read()\nzk.stop()\n"
        );
        let mut child = Command::new(PYTHON)
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .expect("kazoo prints the path");
        assert!(line.starts_with('/'), "kazoo did not create the node: {line:?}");
        let stdin = child.stdin.take();
        ForeignNode { child, stdin, path: line.trim().to_owned() }
    }

    /// Closes the kazoo session, which deletes the node, and waits for the process to end.
    pub fn release(mut self) {
        self.close();
    }

    /// Kills the kazoo process with SIGKILL: its session, and the node, stay until the
    /// session times out.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stdin.take();
    }

    fn close(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ForeignNode {
    fn drop(&mut self) {
        self.close();
    }
}
