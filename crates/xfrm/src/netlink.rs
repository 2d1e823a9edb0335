//! The NETLINK_XFRM socket: send one request, collect its replies and ack.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::abi::*;
use crate::codec::{attributes, DecodeError, Reader};
use crate::error::{from_errno, XfrmError};
use crate::message::Request;
use zeroize::{Zeroize, Zeroizing};

/// How long to wait for the kernel before giving up on a request.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct Socket {
    fd: OwnedFd,
    buf: Vec<u8>,
}

/// One message from the kernel that answers our request.
pub(crate) struct Reply {
    pub msg_type: u16,
    /// SA replies carry keys: wiped on drop.
    pub body: Zeroizing<Vec<u8>>,
}

pub(crate) fn sockaddr_kernel() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa
}

pub(crate) fn set_int_opt(fd: &OwnedFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: fd is open; we pass a valid pointer to an int and its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A NETLINK_XFRM socket bound to a kernel-assigned port.
pub(crate) fn open_bound() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_XFRM,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a freshly created descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let local = sockaddr_kernel(); // nl_pid 0: the kernel assigns our port
                                   // SAFETY: valid sockaddr_nl pointer and length.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&local as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

impl Socket {
    pub(crate) fn open() -> io::Result<Socket> {
        let fd = open_bound()?;
        // Extended acks carry the kernel's reason text ("Requested type not
        // found"); capped acks keep key material out of echoed requests.
        // Both are optional: old kernels just give bare errnos.
        let _ = set_int_opt(&fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
        let _ = set_int_opt(&fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
        let tv = libc::timeval {
            tv_sec: REPLY_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: 0,
        };
        // SAFETY: valid timeval pointer and size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket {
            fd,
            buf: vec![0; 32 * 1024],
        })
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let dst = sockaddr_kernel();
        loop {
            // SAFETY: bytes and dst are valid for the lengths given.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    0,
                    (&dst as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n as usize != bytes.len() {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "short netlink send",
                ));
            }
            return Ok(());
        }
    }

    /// Receives one datagram from the kernel into `self.buf`; returns its length.
    fn recv(&mut self) -> io::Result<usize> {
        loop {
            // Peek with MSG_TRUNC to learn the datagram's full size first.
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
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if want as usize > self.buf.len() {
                self.buf.resize(want as usize, 0);
            }
            let mut from = sockaddr_kernel();
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
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if from.nl_pid != 0 {
                continue; // not from the kernel
            }
            return Ok(n as usize);
        }
    }

    /// Sends `req` with sequence number `seq` and returns the messages that
    /// answer it: the data replies before the ack, or a dump's entries.
    pub(crate) fn transact(&mut self, req: &Request, seq: u32) -> Result<Vec<Reply>, XfrmError> {
        let op = req.op();
        let io_err = |source: io::Error| {
            if matches!(
                source.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) {
                XfrmError::Timeout {
                    op: op.clone(),
                    seconds: REPLY_TIMEOUT.as_secs(),
                }
            } else {
                XfrmError::Io {
                    op: op.clone(),
                    source,
                }
            }
        };
        let malformed = |error: DecodeError| XfrmError::Malformed {
            op: op.clone(),
            error,
        };
        let bytes = req.to_bytes(seq);
        self.send(&bytes).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => from_errno(op, libc::EPERM, None, &req.ctx),
            _ => io_err(e),
        })?;
        let mut replies = Vec::new();
        loop {
            let n = self.recv().map_err(io_err)?;
            // Replies about SAs carry their keys: none stay in the reused buffer.
            let received = Zeroizing::new(self.buf[..n].to_vec());
            self.buf[..n].zeroize();
            let mut datagram = &received[..];
            while datagram.len() >= NLMSG_HDRLEN {
                let mut r = Reader::new(datagram);
                let len = r.u32("nlmsg_len").map_err(malformed)? as usize;
                let msg_type = r.u16("nlmsg_type").map_err(malformed)?;
                let flags = r.u16("nlmsg_flags").map_err(malformed)?;
                let msg_seq = r.u32("nlmsg_seq").map_err(malformed)?;
                if len < NLMSG_HDRLEN || len > datagram.len() {
                    return Err(malformed(DecodeError {
                        offset: 0,
                        what: "nlmsg_len",
                    }));
                }
                let body = &datagram[NLMSG_HDRLEN..len];
                datagram = &datagram[crate::codec::align4(len).min(datagram.len())..];
                if msg_seq != seq {
                    continue; // a late answer to an earlier, timed-out request
                }
                match msg_type {
                    NLMSG_ERROR => {
                        let (errno, ext) = parse_error(body, flags).map_err(malformed)?;
                        if errno == 0 {
                            return Ok(replies);
                        }
                        return Err(from_errno(op, errno, ext, &req.ctx));
                    }
                    NLMSG_DONE => {
                        let status = Reader::new(body).i32("done status").unwrap_or(0);
                        if status < 0 {
                            return Err(from_errno(op, -status, None, &req.ctx));
                        }
                        return Ok(replies);
                    }
                    _ => {
                        if flags & NLM_F_DUMP_INTR != 0 {
                            return Err(XfrmError::Kernel {
                                op: op.clone(),
                                errno: libc::EINTR,
                                kernel: crate::error::KernelSays(Some(
                                    "dump interrupted by a concurrent change; retry".into(),
                                )),
                            });
                        }
                        replies.push(Reply {
                            msg_type,
                            body: Zeroizing::new(body.to_vec()),
                        });
                        if !req.is_dump() && flags & NLM_F_MULTI == 0 && req.flags & NLM_F_ACK == 0
                        {
                            return Ok(replies);
                        }
                    }
                }
            }
        }
    }
}

/// Reads struct nlmsgerr and its extended-ack message, if any.
/// Returns the positive errno (0 for a plain ack).
fn parse_error(body: &[u8], flags: u16) -> Result<(i32, Option<String>), DecodeError> {
    let mut r = Reader::new(body);
    let error = r.i32("nlmsgerr.error")?;
    let echoed_len = r.u32("nlmsgerr.msg.nlmsg_len")? as usize;
    let mut message = None;
    if flags & NLM_F_ACK_TLVS != 0 {
        // The echoed request is its header only when capped (or on success).
        let echoed = if flags & NLM_F_CAPPED != 0 || error == 0 {
            NLMSG_HDRLEN
        } else {
            crate::codec::align4(echoed_len)
        };
        let tlv_start = 4 + echoed;
        if let Some(tlvs) = body.get(tlv_start..) {
            for attr in attributes(tlvs) {
                let Ok((kind, payload)) = attr else { break };
                if kind == NLMSGERR_ATTR_MSG {
                    let text = payload.split(|b| *b == 0).next().unwrap_or(&[]);
                    let text = String::from_utf8_lossy(text).trim().to_string();
                    if !text.is_empty() {
                        message = Some(text);
                    }
                }
            }
        }
    }
    Ok((error.saturating_neg(), message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_with_extended_ack_text() {
        // nlmsgerr { error = -EPROTONOSUPPORT, msg = capped header } + MSG attr.
        let mut b = Vec::new();
        b.extend_from_slice(&(-libc::EPROTONOSUPPORT).to_ne_bytes());
        b.extend_from_slice(&336u32.to_ne_bytes());
        b.extend_from_slice(&[0u8; 12]);
        let text = b"Requested type not found\0";
        b.extend_from_slice(&((4 + text.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        b.extend_from_slice(text);
        let (errno, msg) = parse_error(&b, NLM_F_CAPPED | NLM_F_ACK_TLVS).unwrap();
        assert_eq!(errno, libc::EPROTONOSUPPORT);
        assert_eq!(msg.as_deref(), Some("Requested type not found"));
    }

    #[test]
    fn truncated_error_is_an_error_not_a_panic() {
        assert!(parse_error(&[1, 2], 0).is_err());
        let (errno, msg) = parse_error(&[0; 20], NLM_F_ACK_TLVS).unwrap();
        assert_eq!((errno, msg), (0, None));
    }
}
