//! Child processes that die with the test process.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `command` so that the kernel kills it when this process exits.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, so children are
/// forked by one thread that lives as long as the process.
pub(crate) fn spawn(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("zkstruct-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    // SAFETY: the closure runs between fork and exec and only calls prctl,
                    // which is async-signal-safe.
                    unsafe {
                        command.pre_exec(|| {
                            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                                return Err(io::Error::last_os_error());
                            }
                            Ok(())
                        });
                    }
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the spawner thread starts");
        Mutex::new(requests)
    });

    let (reply, result) = mpsc::channel();
    let program = command.get_program().to_string_lossy().into_owned();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    let spawned = result.recv().map_err(|_| io::Error::other("the spawner thread is gone"))?;
    spawned.map_err(|error| io::Error::new(error.kind(), format!("cannot start {program}: {error}")))
}

/// Sends a signal to a child process.
pub(crate) fn signal(child: &Child, signal: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Returns a pseudo-random number, good enough to spread test ports.
pub(crate) fn random() -> u64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default())
}
