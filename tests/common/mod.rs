//! Helpers shared by the integration tests: tracing, deadlines, and foreign ZooKeeper clients.
#![allow(dead_code)]

pub mod curator;

use std::future::Future;
use std::io::{BufRead as _, Read as _, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
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

/// Polls `condition` until it is true, failing the test with `description` after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, description: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {description}");
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

/// Returns whether `path` exists, according to kazoo.
pub fn kazoo_exists(servers: &str, path: &str) -> bool {
    match kazoo(servers, &format!("print(zk.exists({path:?}) is not None)")).trim() {
        "True" => true,
        "False" => false,
        other => panic!("unexpected kazoo output for exists({path:?}): {other:?}"),
    }
}

/// Follows `path` with a kazoo `DataWatch`, which prints `data <version> <content>` for the
/// content at start and for each change, and `deleted` when the node is missing. The watch
/// runs until the process's standard input closes.
pub fn kazoo_watch(servers: &str, path: &str) -> LineProcess {
    let script = format!(
        r#"import sys
from kazoo.client import KazooClient

def show(data, stat):
    if stat is None:
        print("deleted", flush=True)
    else:
        print("data", stat.version, data.decode(), flush=True)

zk = KazooClient(hosts={servers:?})
zk.start(timeout=15)
zk.DataWatch({path:?}, show)
sys.stdin.read()
zk.stop()
"#
    );
    let mut command = Command::new(PYTHON);
    command.arg("-c").arg(script);
    LineProcess::spawn("kazoo DataWatch", command)
}

/// Parses a `data <version> <content>` line, as the kazoo and Curator watchers print it,
/// into the node version and the content as JSON.
pub fn parse_data_line(line: &str) -> (i32, serde_json::Value) {
    let parsed = line.strip_prefix("data ").and_then(|rest| rest.split_once(' '));
    let Some((version, content)) = parsed else {
        panic!("expected `data <version> <content>`, got {line:?}")
    };
    let version = version.parse().unwrap_or_else(|_| panic!("invalid version in {line:?}"));
    let content = serde_json::from_str(content).unwrap_or_else(|error| panic!("{error}: {line:?}"));
    (version, content)
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

/// A child process that prints one result per line, and whose standard input stays open
/// until [`LineProcess::finish`], so that commands can wait for it to close.
///
/// Dropping it without `finish` kills the process.
pub struct LineProcess {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl LineProcess {
    /// Starts `command` with all three standard streams piped. `name` appears in failures.
    pub fn spawn(name: &str, mut command: Command) -> LineProcess {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|error| panic!("{name} failed to start: {error}"));

        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = std::thread::spawn({
            let stderr = stderr.clone();
            move || {
                let mut buffer = [0u8; 4096];
                while let Ok(read @ 1..) = stderr_pipe.read(&mut buffer) {
                    stderr.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            }
        });

        let stdin = child.stdin.take();
        LineProcess { name: name.to_owned(), child, stdin, lines, stderr, stderr_reader: Some(stderr_reader) }
    }

    /// Receives the next line, failing the test after `timeout` or when the process exits
    /// first.
    pub async fn next_line(&mut self, timeout: Duration) -> String {
        match tokio::time::timeout(timeout, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                let status = self.child.wait().map(|status| status.to_string()).unwrap_or_default();
                panic!("{}", self.failure(&format!("exited ({status}) before printing a line")))
            }
            Err(_) => panic!("{}", self.failure(&format!("printed no line within {timeout:?}"))),
        }
    }

    /// Receives the next line and requires it to start with `prefix`.
    pub async fn expect_line(&mut self, prefix: &str, timeout: Duration) -> String {
        let line = self.next_line(timeout).await;
        assert!(
            line.starts_with(prefix),
            "{} printed {line:?}, expected a line starting with {prefix:?}",
            self.name
        );
        line
    }

    /// Returns a line printed so far and not received yet, without waiting.
    pub fn printed_line(&mut self) -> Option<String> {
        self.lines.try_recv().ok()
    }

    /// Returns whether the process has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Closes standard input, waits up to `timeout` for the process to exit with success,
    /// and returns the lines it printed that were not received yet.
    pub async fn finish(mut self, timeout: Duration) -> Vec<String> {
        self.stdin.take();
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("the process status is readable") {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not exit within {timeout:?}", self.name);
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if !status.success() {
            panic!("{}", self.failure(&format!("failed ({status})")));
        }

        let mut rest = Vec::new();
        while let Some(line) = self.lines.recv().await {
            rest.push(line);
        }
        rest
    }

    /// Describes a failure with the process's standard error: all of it once the process
    /// has exited.
    fn failure(&mut self, problem: &str) -> String {
        if let Ok(Some(_)) = self.child.try_wait() {
            if let Some(reader) = self.stderr_reader.take() {
                let _ = reader.join();
            }
        }
        let stderr = self.stderr.lock().unwrap();
        format!("{} {problem}; stderr:\n{stderr}", self.name)
    }
}

impl Drop for LineProcess {
    fn drop(&mut self) {
        self.stdin.take();
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
