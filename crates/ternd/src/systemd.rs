//! The systemd notification protocol (sd_notify): READY, STOPPING, WATCHDOG and a
//! STATUS line, sent as datagrams to `$NOTIFY_SOCKET`. Without that variable (not
//! run by systemd, or not Type=notify) every call does nothing.
//!
//! Hand-written rather than the sd-notify crate: sd-notify 0.5 connects to
//! `$NOTIFY_SOCKET` as a path, so an abstract socket (`@name`, which sd_notify(3)
//! allows and containers and some service managers use) is never reached and
//! systemd waits for READY=1 until it times out. The protocol is one datagram.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

pub struct Notifier {
    socket: Option<(UnixDatagram, String)>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET").ok().and_then(|path| {
            // An abstract socket is written with a leading '@'.
            let addr = path
                .strip_prefix('@')
                .map_or(path.clone(), |rest| format!("\0{rest}"));
            UnixDatagram::unbound().ok().map(|s| (s, addr))
        });
        Notifier { socket }
    }

    fn send(&self, message: &str) {
        let Some((socket, addr)) = &self.socket else {
            return;
        };
        let sent = if let Some(name) = addr.strip_prefix('\0') {
            abstract_send(socket, name, message)
        } else {
            socket.send_to(message.as_bytes(), addr).map(|_| ())
        };
        if let Err(e) = sent {
            tracing::warn!("cannot notify systemd ({message:?}): {e}");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=deleting IKE SAs");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// How often to ping the watchdog: half of `$WATCHDOG_USEC`, if systemd set one
    /// for this process.
    pub fn watchdog_interval() -> Option<Duration> {
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .is_none_or(|pid| pid == std::process::id().to_string());
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        (for_us && usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}

fn abstract_send(socket: &UnixDatagram, name: &str, message: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    socket.send_to_addr(message.as_bytes(), &addr).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_reaches_the_notify_socket() {
        let dir = std::env::temp_dir().join(format!("ternd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier {
            socket: Some((
                UnixDatagram::unbound().unwrap(),
                path.to_string_lossy().into_owned(),
            )),
        };
        notifier.ready("1 connection");
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=1 connection");
        notifier.stopping();
        let n = listener.recv(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"STOPPING=1"));
    }

    #[test]
    fn an_abstract_notify_socket_is_reached() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("ternd-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        // What from_env makes of NOTIFY_SOCKET=@name.
        let notifier = Notifier {
            socket: Some((UnixDatagram::unbound().unwrap(), format!("\0{name}"))),
        };
        notifier.watchdog();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn without_systemd_nothing_happens() {
        let notifier = Notifier { socket: None };
        notifier.ready("x");
        notifier.watchdog();
    }
}
