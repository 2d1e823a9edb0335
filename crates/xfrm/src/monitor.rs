//! The monitor: a second NETLINK_XFRM socket subscribed to the kernel's
//! multicast groups, read without blocking.
//!
//! ternd wraps [`Monitor`] in tokio's `AsyncFd` (it implements `AsRawFd`)
//! and calls [`Monitor::recv_events`] whenever the descriptor is readable.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::abi::*;
use crate::codec::{align4, Reader};
use crate::error::{Op, OpKind, XfrmError};
use crate::event::{parse_event, XfrmEvent};
use crate::netlink::{open_bound, set_int_opt};

/// The XFRM multicast groups tern listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// ACQUIRE: a trap policy wants an SA.
    Acquire,
    /// EXPIRE and POLEXPIRE: soft and hard lifetimes reached.
    Expire,
    /// MAPPING: a NAT changed the peer's ESP-in-UDP address or port.
    Mapping,
    /// SA additions, updates, deletions and flushes.
    Sa,
    /// Policy additions, updates, deletions and flushes.
    Policy,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Acquire,
        Group::Expire,
        Group::Mapping,
        Group::Sa,
        Group::Policy,
    ];

    fn number(self) -> u32 {
        match self {
            Group::Acquire => XFRMNLGRP_ACQUIRE,
            Group::Expire => XFRMNLGRP_EXPIRE,
            Group::Mapping => XFRMNLGRP_MAPPING,
            Group::Sa => XFRMNLGRP_SA,
            Group::Policy => XFRMNLGRP_POLICY,
        }
    }
}

/// Receive buffer asked for: a flush of thousands of SAs sends one
/// notification each, and an overflow loses them all.
const RCVBUF_BYTES: i32 = 4 * 1024 * 1024;

/// A subscribed, non-blocking NETLINK_XFRM socket.
pub struct Monitor {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

fn io_error(what: &str, source: io::Error) -> XfrmError {
    XfrmError::Io {
        op: Op::plain(OpKind::Open, what),
        source,
    }
}

impl Monitor {
    /// Subscribes to every group in [`Group::ALL`], in the calling thread's
    /// network namespace.
    pub fn open() -> Result<Monitor, XfrmError> {
        Monitor::open_groups(&Group::ALL)
    }

    pub fn open_groups(groups: &[Group]) -> Result<Monitor, XfrmError> {
        let fd = open_bound().map_err(|source| match source.raw_os_error() {
            Some(libc::EPROTONOSUPPORT) | Some(libc::EAFNOSUPPORT) => XfrmError::NoXfrm { source },
            _ => io_error("opening the XFRM monitor socket", source),
        })?;
        for g in groups {
            set_int_opt(&fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g.number() as i32).map_err(
                |e| match e.raw_os_error() {
                    Some(libc::EPERM) | Some(libc::EACCES) => XfrmError::PermissionDenied {
                        op: Op::plain(OpKind::Open, &format!("subscribing to XFRM {g:?} events")),
                        kernel: Default::default(),
                    },
                    _ => io_error(&format!("subscribing to XFRM {g:?} events"), e),
                },
            )?;
        }
        // SO_RCVBUFFORCE passes the rmem_max limit with CAP_NET_ADMIN; fall
        // back to what an unprivileged process may ask for.
        if set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF_BYTES).is_err() {
            let _ = set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, RCVBUF_BYTES);
        }
        // SAFETY: fcntl on an open descriptor we own.
        let rc = unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK)
        };
        if rc < 0 {
            return Err(io_error(
                "making the XFRM monitor socket non-blocking",
                io::Error::last_os_error(),
            ));
        }
        Ok(Monitor {
            fd,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Every notification queued now; empty when there is none. Never
    /// blocks. A buffer overflow shows as [`XfrmEvent::Overrun`].
    pub fn recv_events(&mut self) -> Result<Vec<XfrmEvent>, XfrmError> {
        let mut events = Vec::new();
        loop {
            match self.recv_datagram() {
                Ok(Some(n)) => split_datagram(&self.buf[..n], &mut events),
                Ok(None) => return Ok(events),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    events.push(XfrmEvent::Overrun)
                }
                Err(e) => return Err(io_error("reading XFRM events", e)),
            }
        }
    }

    /// Waits up to `timeout` for at least one notification (for tools and
    /// tests; the daemon polls the descriptor instead).
    pub fn wait_events(&mut self, timeout: Duration) -> Result<Vec<XfrmEvent>, XfrmError> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.recv_events()?;
            let left = deadline.saturating_duration_since(Instant::now());
            if !events.is_empty() || left.is_zero() {
                return Ok(events);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, ms) };
        }
    }

    /// One datagram into `self.buf`, grown to fit; `None` when none waits.
    fn recv_datagram(&mut self) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: buf is valid for its length.
            let want = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            if want < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(None),
                    _ => return Err(e),
                }
            }
            if want as usize > self.buf.len() {
                self.buf.resize(want as usize, 0);
            }
            let mut from = crate::netlink::sockaddr_kernel();
            let mut from_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // SAFETY: buf, from and from_len are valid for the sizes given.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                    (&mut from as *mut libc::sockaddr_nl).cast(),
                    &mut from_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(None),
                    _ => return Err(e),
                }
            }
            if from.nl_pid != 0 {
                continue; // only the kernel may speak on XFRM groups
            }
            return Ok(Some(n as usize));
        }
    }
}

/// Every notification in one datagram from the XFRM multicast groups, read as
/// [`Monitor`] reads them. Never panics, whatever the bytes (fuzzed in fuzz/).
pub fn parse_datagram(datagram: &[u8]) -> Vec<XfrmEvent> {
    let mut events = Vec::new();
    split_datagram(datagram, &mut events);
    events
}

/// Splits one datagram into its netlink messages and reads each.
fn split_datagram(mut datagram: &[u8], events: &mut Vec<XfrmEvent>) {
    while datagram.len() >= NLMSG_HDRLEN {
        let mut r = Reader::new(datagram);
        let (Ok(len), Ok(msg_type)) = (r.u32("nlmsg_len"), r.u16("nlmsg_type")) else {
            return;
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > datagram.len() {
            events.push(XfrmEvent::Unreadable {
                msg_type,
                error: crate::DecodeError {
                    offset: 0,
                    what: "nlmsg_len",
                },
            });
            return;
        }
        if msg_type != NLMSG_DONE && msg_type != NLMSG_ERROR {
            events.push(parse_event(msg_type, &datagram[NLMSG_HDRLEN..len]));
        }
        datagram = &datagram[align4(len).min(datagram.len())..];
    }
}

impl AsRawFd for Monitor {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Monitor {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Turns a UDP socket into the kernel's ESP-in-UDP receiver (UDP_ENCAP =
/// UDP_ENCAP_ESPINUDP, RFC 3948): datagrams starting with a non-zero SPI
/// are decrypted by XFRM, the rest (IKE behind the non-ESP marker) reach the
/// socket. ternd sets it on its port 4500 socket.
pub fn set_udp_encap(socket: BorrowedFd<'_>) -> io::Result<()> {
    const SOL_UDP: i32 = 17;
    const UDP_ENCAP: i32 = 100;
    let value: i32 = i32::from(UDP_ENCAP_ESPINUDP);
    // SAFETY: valid descriptor, pointer to an int and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            SOL_UDP,
            UDP_ENCAP,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Exempts a socket's own traffic, both ways, from the IPsec policies (as
/// strongSwan does for its IKE sockets): without this, a CHILD SA whose selectors
/// cover the peer's address (transport mode, host-to-host tunnels) would claim the
/// IKE messages themselves and the kernel would drop them.
pub fn set_socket_bypass(socket: BorrowedFd<'_>, v6: bool) -> io::Result<()> {
    const IP_XFRM_POLICY: i32 = 17;
    const IPV6_XFRM_POLICY: i32 = 35;
    let (level, name) = if v6 {
        (libc::IPPROTO_IPV6, IPV6_XFRM_POLICY)
    } else {
        (libc::IPPROTO_IP, IP_XFRM_POLICY)
    };
    for dir in [crate::PolicyDir::In, crate::PolicyDir::Out] {
        let policy = crate::message::socket_bypass_policy(dir, v6);
        // SAFETY: valid descriptor, pointer to the policy's bytes and their length.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                policy.as_ptr().cast(),
                policy.len() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
