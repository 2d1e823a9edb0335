//! One ternd per control socket and IKE address.
//!
//! A lock file beside the control socket (`<socket>.lock`, flock'ed for the
//! daemon's life, holding its pid) keeps a second ternd from taking over the
//! socket; a socket that still answers (a ternd started without the lock) stops
//! it too; and the IKE ports are tried exclusively before the engines share them,
//! so a second daemon cannot slip into the first one's SO_REUSEPORT group. On its
//! way out a daemon removes the control socket only if the file is still the one
//! it bound.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// This daemon's claim on its control socket path; the lock is held while it lives.
#[derive(Debug)]
pub struct Instance {
    socket: PathBuf,
    /// Keeps the flock: closing the file releases it.
    _lock: File,
    /// The control socket file this daemon bound: (device, inode).
    bound: Option<(u64, u64)>,
}

/// The lock file of a control socket path.
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl Instance {
    /// Takes the lock for `socket`, or says which ternd holds it.
    pub fn claim(socket: &Path) -> anyhow::Result<Instance> {
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let path = lock_path(socket);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(err).with_context(|| format!("locking {}", path.display()));
            }
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => "another ternd".to_string(),
                pid => format!("another ternd (pid {pid})"),
            };
            bail!(
                "{holder} is already running with control socket {} (lock {}); stop it first, or give this one its own --socket and addresses",
                socket.display(),
                path.display()
            );
        }
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            bail!(
                "a process already answers on control socket {} (a ternd without a lock file?); stop it first, or give this one its own --socket",
                socket.display()
            );
        }
        lock.set_len(0)?;
        lock.rewind()?;
        writeln!(lock, "{}", std::process::id())?;
        Ok(Instance {
            socket: socket.to_path_buf(),
            _lock: lock,
            bound: None,
        })
    }

    /// Notes the control socket file just bound, so only that file is removed.
    pub fn bound_socket(&mut self) -> std::io::Result<()> {
        let meta = std::fs::symlink_metadata(&self.socket)?;
        self.bound = Some((meta.dev(), meta.ino()));
        Ok(())
    }

    /// Removes the control socket if it is still the file this daemon bound.
    pub fn remove_socket(&self) {
        let ours = std::fs::symlink_metadata(&self.socket)
            .is_ok_and(|meta| Some((meta.dev(), meta.ino())) == self.bound);
        if ours {
            let _ = std::fs::remove_file(&self.socket);
        } else {
            tracing::warn!(
                path = %self.socket.display(),
                "the control socket is no longer the one ternd bound; left in place"
            );
        }
    }
}

/// Fails if anything already listens on UDP `addr`. The engines bind it with
/// SO_REUSEADDR/SO_REUSEPORT, which would let them join another daemon's
/// sockets; a bind without them succeeds only if nobody holds the port. Other
/// errors (no IPv6 here, say) are left for the engines' own bind to report.
pub fn check_udp_free(addr: SocketAddr) -> anyhow::Result<()> {
    match probe_bind(addr) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "UDP {addr} is already in use by another process (another ternd or IKE daemon?); stop it first, or listen elsewhere ([daemon].listen, port, nat_port)"
        ),
        Err(_) => Ok(()),
    }
}

/// Binds `addr` exclusively and lets go; IPv6 only on IPv6, as the engines bind.
fn probe_bind(addr: SocketAddr) -> std::io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ternd-instance-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("ternd.sock")
    }

    #[test]
    fn a_second_claim_names_the_first_and_fails() {
        let socket = scratch("claim");
        let first = Instance::claim(&socket).unwrap();
        let err = Instance::claim(&socket).unwrap_err().to_string();
        assert!(
            err.contains(&format!("another ternd (pid {})", std::process::id())),
            "{err}"
        );
        drop(first);
        // Released with the daemon: the next one may start.
        Instance::claim(&socket).unwrap();
    }

    #[test]
    fn a_socket_replaced_by_someone_else_is_left_alone() {
        let socket = scratch("replaced");
        let mut instance = Instance::claim(&socket).unwrap();
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        instance.bound_socket().unwrap();
        std::fs::remove_file(&socket).unwrap();
        let _theirs = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        instance.remove_socket();
        assert!(socket.exists(), "another's socket was removed");
    }

    #[test]
    fn an_answering_socket_refuses_the_claim() {
        let socket = scratch("answering");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err = Instance::claim(&socket).unwrap_err().to_string();
        assert!(err.contains("already answers"), "{err}");
    }

    #[test]
    fn a_held_udp_port_is_refused() {
        let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let err = check_udp_free(addr).unwrap_err().to_string();
        assert!(
            err.contains(&format!("UDP {addr} is already in use")),
            "{err}"
        );
        drop(held);
        check_udp_free(addr).unwrap();
    }
}
