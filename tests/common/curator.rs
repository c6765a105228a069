//! Apache Curator as a foreign client: `tests/java/CuratorPeer.java`, compiled once and run
//! in a child JVM per command.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::LineProcess;

/// The class path of Curator 5.4 as Debian's `libcurator-recipes-java` installs it, with the
/// jars it loads at run time: ZooKeeper 3.8's client (`zookeeper`, `zookeeper-jute`), Guava
/// (Debian's jar includes `failureaccess`), and SLF4J with the simple binding. The jars'
/// manifests list more (Jackson, Netty, Jetty), which the peer's commands never load.
pub const CURATOR_CLASSPATH: &[&str] = &[
    "/usr/share/java/curator-recipes.jar",
    "/usr/share/java/curator-framework.jar",
    "/usr/share/java/curator-client.jar",
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/guava.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-simple.jar",
];

const SOURCE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/java/CuratorPeer.java");
const SOURCE: &str = include_str!("../java/CuratorPeer.java");
const MAIN_CLASS: &str = "CuratorPeer";

/// Runs one `CuratorPeer` command against `servers`; see `tests/java/CuratorPeer.java` for
/// the commands and the lines they print.
pub fn curator(servers: &str, command: &str, args: &[&str]) -> LineProcess {
    let classpath = format!("{}:{}", classes_dir().display(), CURATOR_CLASSPATH.join(":"));
    let mut java = Command::new(java());
    java.arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg("-Xmx128m")
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
        // The ZooKeeper client warns on every close that the server closed the socket.
        .arg("-Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.ClientCnxn=error")
        .arg("-cp")
        .arg(classpath)
        .arg(MAIN_CLASS)
        .arg(servers)
        .arg(command)
        .args(args);
    LineProcess::spawn(&format!("Curator {command}"), java)
}

/// Returns the dir with the compiled peer, compiling it on first use in this process.
///
/// The dir's name carries a hash of the source and the class path, so test processes that
/// run at the same time or later share one compilation. Each compiles into a dir of its
/// own and renames it into place, which is atomic, so no process loads a partly written one.
fn classes_dir() -> &'static Path {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let missing: Vec<&str> =
            CURATOR_CLASSPATH.iter().copied().filter(|jar| !Path::new(jar).exists()).collect();
        assert!(
            missing.is_empty(),
            "Curator jars not found: {missing:?}; install Debian's libcurator-recipes-java \
             (apt-get install -y libcurator-recipes-java)"
        );

        let mut hasher = DefaultHasher::new();
        SOURCE.hash(&mut hasher);
        CURATOR_CLASSPATH.hash(&mut hasher);
        let target =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("curator-peer-{:016x}", hasher.finish()));
        if target.is_dir() {
            return target;
        }

        let staging = target.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).expect("the staging dir for javac can be created");
        let output = Command::new(javac())
            .arg("-cp")
            .arg(CURATOR_CLASSPATH.join(":"))
            .arg("-d")
            .arg(&staging)
            .arg(SOURCE_PATH)
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "javac failed to start: {error}; install a JDK (apt-get install -y default-jdk-headless)"
                )
            });
        assert!(
            output.status.success(),
            "javac {SOURCE_PATH} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        // Another process may have put its compilation in place first; either one will do.
        if std::fs::rename(&staging, &target).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
            assert!(target.is_dir(), "the compiled peer could not be moved to {}", target.display());
        }
        target
    })
}

/// Returns the `java` that the test servers use: `ZKSTRUCT_JAVA`, or `java` from `PATH`.
fn java() -> PathBuf {
    std::env::var_os("ZKSTRUCT_JAVA").map_or_else(|| PathBuf::from("java"), PathBuf::from)
}

/// Returns the `javac` in the same dir as [`java`], or `javac` from `PATH`.
fn javac() -> PathBuf {
    java().with_file_name("javac")
}
