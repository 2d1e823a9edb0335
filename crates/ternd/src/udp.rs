//! IKE's UDP sockets: bound to a wildcard address, with packet info so that every
//! answer leaves from the address its request came to.
//!
//! tokio's UdpSocket has no recvmsg/sendmsg with control messages, so these
//! sockets are socket2 sockets driven through `AsyncFd`.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;

/// The four zero octets that precede IKE messages on the NAT-T port (RFC 3948 §2.2).
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];

pub struct IkeSocket {
    fd: AsyncFd<Socket>,
    pub bound: SocketAddr,
}

/// A bound IKE socket not yet registered with a runtime: each engine registers
/// its own with the reactor of its own thread, so a datagram wakes that thread
/// and no other.
pub struct BoundSocket {
    socket: Socket,
    pub bound: SocketAddr,
}

/// One received datagram and the local address it was sent to.
pub struct Received {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub len: usize,
}

impl BoundSocket {
    /// A socket on `addr`; `shared` lets the engines' sockets share it
    /// (SO_REUSEPORT, see `steering`), which a single engine's never does.
    pub fn bind(addr: SocketAddr, shared: bool) -> io::Result<BoundSocket> {
        let domain = if addr.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        if shared {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        let fd = socket.as_raw_fd();
        if addr.is_ipv4() {
            set_int_option(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
        } else {
            socket.set_only_v6(true)?;
            set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
        }
        size_buffers(fd, addr);
        socket.bind(&addr.into())?;
        if let Err(e) =
            tern_xfrm::set_socket_bypass(std::os::fd::AsFd::as_fd(&socket), addr.is_ipv6())
        {
            tracing::warn!(
                %addr,
                "cannot exempt the IKE socket from IPsec policies ({e}): a CHILD SA covering the peer's address would catch IKE itself"
            );
        }
        Ok(BoundSocket {
            socket,
            bound: addr,
        })
    }

    /// Lets the kernel take ESP-in-UDP packets off this socket (the NAT-T port);
    /// IKE messages, behind their zero marker, still come to us.
    pub fn enable_esp_in_udp(&self) -> io::Result<()> {
        tern_xfrm::set_udp_encap(std::os::fd::AsFd::as_fd(&self.socket))
    }

    /// Registers the socket with the runtime of the calling thread.
    pub fn register(self) -> io::Result<IkeSocket> {
        // SAFETY: the socket2 Socket owns its descriptor and never changes it, and
        // the AsyncFd owns the Socket for as long as it is registered.
        let fd =
            unsafe { AsyncFd::register_with_interest(self.socket, tokio::io::Interest::READABLE) }
                .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(IkeSocket {
            fd,
            bound: self.bound,
        })
    }
}

impl AsRawFd for BoundSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl IkeSocket {
    /// The next datagram waiting, or `WouldBlock` (which arms the readiness
    /// that [`IkeSocket::poll_readable`] waits for).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        self.fd.try_io(tokio::io::Interest::READABLE, |socket| {
            recv_with_pktinfo(socket.as_raw_fd(), buf, self.bound)
        })
    }

    /// Ready once a datagram may be waiting (until `try_recv` finds none).
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        // The guard is dropped without clearing: only `try_recv` knows.
        self.fd.poll_read_ready(cx).map(|_| ())
    }

    /// Sends from `local` (its address only; the port is the socket's).
    pub fn send(&self, local: IpAddr, remote: SocketAddr, payload: &[u8]) -> io::Result<()> {
        send_with_pktinfo(self.fd.get_ref().as_raw_fd(), local, remote, payload)
    }

    /// Sends, and when the send buffer is full (EAGAIN) or the kernel is short of
    /// buffers (ENOBUFS) tries again up to `retries` times, each after waiting at
    /// most [`SEND_RETRY_WAIT`] for room. Returns the outcome and how many times
    /// it tried again.
    pub fn send_retrying(
        &self,
        local: IpAddr,
        remote: SocketAddr,
        payload: &[u8],
        retries: u32,
    ) -> (io::Result<()>, u32) {
        let mut tried_again = 0;
        loop {
            let result = self.send(local, remote, payload);
            match &result {
                Err(e) if is_transient(e) && tried_again < retries => {
                    tried_again += 1;
                    wait_for_room(self.fd.get_ref().as_raw_fd(), e);
                }
                _ => return (result, tried_again),
            }
        }
    }
}

/// The longest a send waits for room before trying again.
pub const SEND_RETRY_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// Failures that room in a buffer a moment later may cure.
fn is_transient(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS)
}

fn wait_for_room(fd: i32, e: &io::Error) {
    if e.kind() == io::ErrorKind::WouldBlock {
        let mut pollfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd, alive for the call. Its result does not matter: the
        // send that follows says whether there is room.
        unsafe { libc::poll(&mut pollfd, 1, SEND_RETRY_WAIT.as_millis() as i32) };
    } else {
        // ENOBUFS: the socket looks writable all along; only time helps.
        std::thread::sleep(SEND_RETRY_WAIT);
    }
}

/// Receive buffer asked for: a burst of about 2,000 IKE datagrams (the kernel
/// charges each small datagram ~2 KiB of buffer), where Linux's default
/// (rmem_default, 208 KiB) holds ~100 and drops the rest unread, whoever sent them.
pub const RECEIVE_BUFFER: usize = 4 << 20;
/// Send buffer asked for: room for a burst of answers and retransmissions.
pub const SEND_BUFFER: usize = 1 << 20;

/// Sizes the socket's buffers for bursts. SO_RCVBUFFORCE/SO_SNDBUFFORCE (ternd
/// has CAP_NET_ADMIN for XFRM) go past the system's rmem_max/wmem_max; without the
/// capability the plain options give what the system allows. Never fatal.
fn size_buffers(fd: i32, addr: SocketAddr) {
    for (force, plain, size, what) in [
        (
            libc::SO_RCVBUFFORCE,
            libc::SO_RCVBUF,
            RECEIVE_BUFFER,
            "receive",
        ),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, SEND_BUFFER, "send"),
    ] {
        let size = size as i32;
        if set_int_option(fd, libc::SOL_SOCKET, force, size).is_err() {
            if let Err(e) = set_int_option(fd, libc::SOL_SOCKET, plain, size) {
                tracing::warn!(%addr, "cannot size the IKE socket's {what} buffer: {e}");
            }
        }
    }
}

fn set_int_option(fd: i32, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: a plain int option on a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Room for one IP_PKTINFO or IPV6_PKTINFO control message.
const CMSG_SPACE: usize = 64;

fn recv_with_pktinfo(fd: i32, buf: &mut [u8], bound: SocketAddr) -> io::Result<Received> {
    // SAFETY: every pointer handed to recvmsg points into a live local of the right
    // size; control messages are read only within msg_controllen as the kernel set it.
    unsafe {
        let mut from: libc::sockaddr_storage = zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u8; CMSG_SPACE];
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = (&mut from as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = CMSG_SPACE as _;
        let n = libc::recvmsg(fd, &mut msg, 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let remote = sockaddr_to_std(&from)
            .ok_or_else(|| io::Error::other("datagram from an unknown address family"))?;
        let mut local_ip = bound.ip();
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let (level, kind) = ((*cmsg).cmsg_level, (*cmsg).cmsg_type);
            if level == libc::IPPROTO_IP && kind == libc::IP_PKTINFO {
                let info = libc::CMSG_DATA(cmsg)
                    .cast::<libc::in_pktinfo>()
                    .read_unaligned();
                local_ip = IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)));
            } else if level == libc::IPPROTO_IPV6 && kind == libc::IPV6_PKTINFO {
                let info = libc::CMSG_DATA(cmsg)
                    .cast::<libc::in6_pktinfo>()
                    .read_unaligned();
                local_ip = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok(Received {
            local: SocketAddr::new(local_ip, bound.port()),
            remote,
            len: n as usize,
        })
    }
}

fn send_with_pktinfo(fd: i32, local: IpAddr, remote: SocketAddr, payload: &[u8]) -> io::Result<()> {
    // SAFETY: as in recv_with_pktinfo; the control buffer is large enough for the
    // one control message written into it, and msg_controllen says exactly how much.
    unsafe {
        let (mut to, to_len) = std_to_sockaddr(remote);
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr() as *mut _,
            iov_len: payload.len(),
        };
        let mut control = [0u8; CMSG_SPACE];
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = (&mut to as *mut libc::sockaddr_storage).cast();
        msg.msg_namelen = to_len;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if !local.is_unspecified() {
            msg.msg_control = control.as_mut_ptr().cast();
            let cmsg;
            match local {
                IpAddr::V4(v4) => {
                    msg.msg_controllen =
                        libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as _;
                    cmsg = libc::CMSG_FIRSTHDR(&msg);
                    (*cmsg).cmsg_level = libc::IPPROTO_IP;
                    (*cmsg).cmsg_type = libc::IP_PKTINFO;
                    (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as _;
                    let mut info: libc::in_pktinfo = zeroed();
                    info.ipi_spec_dst.s_addr = u32::from(v4).to_be();
                    libc::CMSG_DATA(cmsg)
                        .cast::<libc::in_pktinfo>()
                        .write_unaligned(info);
                }
                IpAddr::V6(v6) => {
                    msg.msg_controllen =
                        libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) as _;
                    cmsg = libc::CMSG_FIRSTHDR(&msg);
                    (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
                    (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
                    (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as _;
                    let mut info: libc::in6_pktinfo = zeroed();
                    info.ipi6_addr.s6_addr = v6.octets();
                    libc::CMSG_DATA(cmsg)
                        .cast::<libc::in6_pktinfo>()
                        .write_unaligned(info);
                }
            }
        }
        if libc::sendmsg(fd, &msg, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn sockaddr_to_std(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    // SAFETY: the family field says which layout the storage holds.
    unsafe {
        match i32::from(s.ss_family) {
            libc::AF_INET => {
                let a = &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>();
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let a = &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>();
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

fn std_to_sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    let converted: socket2::SockAddr = addr.into();
    // SAFETY: SockAddr holds a valid sockaddr of `len()` bytes, which fits in storage.
    unsafe {
        let mut storage: libc::sockaddr_storage = zeroed();
        std::ptr::copy_nonoverlapping(
            converted.as_ptr().cast::<u8>(),
            (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
            converted.len() as usize,
        );
        (storage, converted.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the plain options may give at most: the system's limit, which the
    /// kernel doubles for its bookkeeping (socket(7)).
    fn system_limit(name: &str) -> usize {
        let text = std::fs::read_to_string(format!("/proc/sys/net/core/{name}")).unwrap();
        text.trim().parse::<usize>().unwrap() * 2
    }

    #[test]
    fn the_sockets_have_room_for_a_burst() {
        let bound = BoundSocket::bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let (receive, send) = (
            bound.socket.recv_buffer_size().unwrap(),
            bound.socket.send_buffer_size().unwrap(),
        );
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            // Root (ternd's case: CAP_NET_ADMIN) gets the sizes asked for, doubled.
            assert_eq!((receive, send), (2 * RECEIVE_BUFFER, 2 * SEND_BUFFER));
        } else {
            assert_eq!(receive, (2 * RECEIVE_BUFFER).min(system_limit("rmem_max")));
            assert_eq!(send, (2 * SEND_BUFFER).min(system_limit("wmem_max")));
        }
    }

    #[test]
    fn only_a_want_of_room_is_worth_trying_again() {
        let bound = BoundSocket::bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let fd = bound.socket.as_raw_fd();
        // An IPv6 destination on an IPv4 socket: refused at once, and not for room.
        let to: SocketAddr = "[::1]:500".parse().unwrap();
        let result = send_with_pktinfo(fd, "127.0.0.1".parse().unwrap(), to, b"x");
        let e = result.expect_err("refused");
        assert!(!is_transient(&e), "{e}");
        assert!(is_transient(&io::Error::from_raw_os_error(libc::EAGAIN)));
        assert!(is_transient(&io::Error::from_raw_os_error(libc::ENOBUFS)));
    }
}
