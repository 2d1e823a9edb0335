//! Steers each datagram to the socket of the engine that owns it, in the kernel.
//!
//! With several engines, every engine has its own socket on each IKE address
//! and port (SO_REUSEPORT), and reads it on its own thread: no reader task, no
//! channel and no thread wakeup between the socket and the engine. The kernel
//! picks a socket of the group by running the classic BPF program built here
//! on each datagram: it routes exactly as `dispatch::route` does (the engine of
//! our SPI, or for a new IKE SA the engine of the peer's address), and returns
//! that engine's index, which is the socket's place in the group (the order
//! they were bound in).
//!
//! The program only saves a hop: an engine still checks `dispatch::route` for
//! every datagram and hands on one that is not its own, so a kernel without
//! the program (or a socket that joined the group out of order) costs speed,
//! never correctness.

use std::io;
use std::os::fd::AsRawFd;

use tern_engine::Shard;

/// SO_ATTACH_REUSEPORT_CBPF (asm-generic/socket.h; the same on x86 and arm).
const SO_ATTACH_REUSEPORT_CBPF: libc::c_int = 51;

/// Offsets from here on are from the network (IP) header, not the UDP payload.
const NET: u32 = libc::SKF_NET_OFF as u32;
/// Where the IKE header's SPIs and flags octet are (RFC 7296 §3.1).
const RESPONDER_SPI: u32 = 8;
const FLAGS: u32 = 19;
const FLAG_INITIATOR: u32 = 0x08;
/// The shortest datagram `dispatch::route` reads SPIs from.
const HEADER_PART: u32 = FLAGS + 1;
/// Scratch memory cells.
const SCRATCH: u32 = 0;
const HASH: u32 = 1;

/// What the program is for: a group on the IKE port or the NAT-T port (IKE
/// behind the non-ESP marker), of IPv4 or IPv6 sockets, for `count` engines.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    pub count: u32,
    pub nat_t: bool,
    pub ipv6: bool,
}

/// Attaches the steering program to the reuseport group `socket` belongs to.
pub fn attach(socket: &impl AsRawFd, group: Group) -> io::Result<()> {
    let mut code = program(group)?;
    let prog = libc::sock_fprog {
        len: code.len() as libc::c_ushort,
        filter: code.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `code`, which outlives the call; the kernel copies
    // the program before returning.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_REUSEPORT_CBPF,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The program for `group`. A -> the index of the engine, as `dispatch::route`.
pub fn program(group: Group) -> io::Result<Vec<libc::sock_filter>> {
    if group.count < 2 || group.count > u32::from(u16::MAX) {
        // One engine needs no steering; beyond 65,535 the SPI arithmetic below
        // would overflow 32 bits.
        return Err(io::Error::other("steering needs 2 to 65,535 engines"));
    }
    let count = group.count;
    let mut a = Asm::default();
    // IKE on the NAT-T port is behind four zero octets; anything else there is
    // ESP (taken by the kernel's UDP_ENCAP on whichever socket) or a keepalive.
    let ike = if group.nat_t { 4 } else { 0 };
    a.op(LD | LEN, 0);
    if group.nat_t {
        a.jump(JGE, 4, Next, Any);
        a.op(LD | W | ABS, 0);
        a.jump(JEQ, 0, Next, Any);
        a.op(LD | LEN, 0);
    }
    // Too short for the SPIs: the peer's engine counts it as malformed.
    a.jump(JGE, ike + HEADER_PART, Next, Peer);
    // Responder SPI zero: a new IKE SA, placed by the peer's address.
    a.op(LD | W | ABS, ike + RESPONDER_SPI);
    a.jump(JEQ, 0, Next, BySpi);
    a.op(LD | W | ABS, ike + RESPONDER_SPI + 4);
    a.jump(JEQ, 0, Peer, BySpi);
    // The I flag says who sent it: the original initiator knows us by the
    // responder SPI, the responder by the initiator SPI.
    a.label(BySpi);
    a.op(LD | B | ABS, ike + FLAGS);
    a.jump(JSET, FLAG_INITIATOR, Next, InitiatorSpi);
    spi_modulo(&mut a, ike + RESPONDER_SPI, count);
    a.label(InitiatorSpi);
    spi_modulo(&mut a, ike, count);
    a.label(Peer);
    if group.ipv6 {
        // An IPv4-mapped source hashes as its IPv4 address (`to_canonical`).
        let source = NET + 8;
        a.op(LD | W | ABS, source);
        a.jump(JEQ, 0, Next, Full);
        a.op(LD | W | ABS, source + 4);
        a.jump(JEQ, 0, Next, Full);
        a.op(LD | W | ABS, source + 8);
        a.jump(JEQ, 0xffff, Next, Full);
        peer_hash(&mut a, source + 12, 4, count);
        a.label(Full);
        peer_hash(&mut a, source, 16, count);
    } else {
        peer_hash(&mut a, NET + 12, 4, count);
    }
    a.label(Any);
    a.op(RET | K, 0);
    a.finish()
}

/// A = the 64-bit SPI at `at` (big-endian) modulo `count`, returned:
/// (high mod n × (2^32 mod n) + low mod n) mod n, in 32-bit arithmetic.
fn spi_modulo(a: &mut Asm, at: u32, count: u32) {
    let shift = ((1u64 << 32) % u64::from(count)) as u32;
    a.op(LD | W | ABS, at);
    a.op(ALU | MOD | K, count);
    a.op(ALU | MUL | K, shift);
    a.op(ST, SCRATCH);
    a.op(LD | W | ABS, at + 4);
    a.op(ALU | MOD | K, count);
    a.op(LDX | MEM, SCRATCH);
    a.op(ALU | ADD | X, 0);
    a.op(ALU | MOD | K, count);
    a.op(RET | A, 0);
}

/// A = `Shard::of_peer` of the `len` address octets at `at`, returned.
fn peer_hash(a: &mut Asm, at: u32, len: u32, count: u32) {
    a.op(LD | IMM, Shard::PEER_HASH_BASIS);
    a.op(ST, HASH);
    for i in 0..len {
        a.op(LD | B | ABS, at + i);
        a.op(MISC | TAX, 0);
        a.op(LD | MEM, HASH);
        a.op(ALU | XOR | X, 0);
        a.op(ALU | MUL | K, Shard::PEER_HASH_PRIME);
        a.op(ST, HASH);
    }
    a.op(MISC | TAX, 0);
    a.op(ALU | RSH | K, 16);
    a.op(ALU | XOR | X, 0);
    a.op(ALU | MOD | K, count);
    a.op(RET | A, 0);
}

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;
const MISC: u16 = 0x07;
const W: u16 = 0x00;
const B: u16 = 0x10;
const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;
const ADD: u16 = 0x00;
const MUL: u16 = 0x20;
const RSH: u16 = 0x70;
const MOD: u16 = 0x90;
const XOR: u16 = 0xa0;
const JEQ: u16 = JMP | 0x10;
const JGE: u16 = JMP | 0x30;
const JSET: u16 = JMP | 0x40;
const K: u16 = 0x00;
const X: u16 = 0x08;
const A: u16 = 0x10;
const TAX: u16 = 0x00;

/// Where a conditional jump goes: the next instruction or a label further on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Next,
    BySpi,
    InitiatorSpi,
    Peer,
    Full,
    Any,
}
use Target::*;

/// A tiny assembler: forward jumps to labels, resolved at the end.
#[derive(Default)]
struct Asm {
    code: Vec<libc::sock_filter>,
    jumps: Vec<(usize, Target, Target)>,
    labels: Vec<(Target, usize)>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push(libc::sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        });
    }

    fn jump(&mut self, code: u16, k: u32, yes: Target, no: Target) {
        self.jumps.push((self.code.len(), yes, no));
        self.op(code | K, k);
    }

    fn label(&mut self, target: Target) {
        self.labels.push((target, self.code.len()));
    }

    fn finish(mut self) -> io::Result<Vec<libc::sock_filter>> {
        for (at, yes, no) in std::mem::take(&mut self.jumps) {
            let offset = |target: Target| -> io::Result<u8> {
                if target == Next {
                    return Ok(0);
                }
                let (_, to) = self
                    .labels
                    .iter()
                    .find(|(t, _)| *t == target)
                    .ok_or_else(|| io::Error::other(format!("no label {target:?}")))?;
                u8::try_from(to - at - 1).map_err(|_| io::Error::other("jump too far"))
            };
            self.code[at].jt = offset(yes)?;
            self.code[at].jf = offset(no)?;
        }
        Ok(self.code)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr, UdpSocket};

    use super::*;
    use crate::dispatch;

    /// Runs a classic BPF program the way the kernel does for a reuseport group:
    /// absolute loads from the UDP payload, or from the IP header at NET + n; a
    /// load past the end ends the program with 0.
    fn run(code: &[libc::sock_filter], ip_header: &[u8], payload: &[u8]) -> u32 {
        let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
        let load = |k: u32, size: usize| -> Option<u32> {
            let (bytes, at) = if k >= NET {
                (ip_header, (k - NET) as usize)
            } else {
                (payload, k as usize)
            };
            let b = bytes.get(at..at + size)?;
            Some(b.iter().fold(0u32, |v, o| v << 8 | u32::from(*o)))
        };
        let mut pc = 0;
        loop {
            let i = code[pc];
            pc += 1;
            let operand = if i.code & X != 0 { x } else { i.k };
            match i.code & 0x07 {
                0x00 => {
                    a = match i.code & 0xe0 {
                        IMM => i.k,
                        ABS => match load(i.k, if i.code & B != 0 { 1 } else { 4 }) {
                            Some(v) => v,
                            None => return 0,
                        },
                        MEM => mem[i.k as usize],
                        LEN => payload.len() as u32,
                        other => panic!("load mode {other:#x}"),
                    }
                }
                0x01 => x = mem[i.k as usize],
                0x02 => mem[i.k as usize] = a,
                0x04 => {
                    a = match i.code & 0xf0 {
                        ADD => a.wrapping_add(operand),
                        MUL => a.wrapping_mul(operand),
                        RSH => a >> operand,
                        MOD => a % operand,
                        XOR => a ^ operand,
                        other => panic!("alu op {other:#x}"),
                    }
                }
                0x05 => {
                    let taken = match i.code & 0xf0 {
                        0x10 => a == operand,
                        0x30 => a >= operand,
                        0x40 => a & operand != 0,
                        other => panic!("jump {other:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                0x06 => return if i.code & A != 0 { a } else { i.k },
                0x07 => x = a,
                _ => unreachable!(),
            }
        }
    }

    fn ip_header(source: IpAddr) -> Vec<u8> {
        match source {
            IpAddr::V4(v4) => {
                let mut h = vec![0x45; 20];
                h[12..16].copy_from_slice(&v4.octets());
                h
            }
            IpAddr::V6(v6) => {
                let mut h = vec![0x60; 40];
                h[8..24].copy_from_slice(&v6.octets());
                h
            }
        }
    }

    fn header(ispi: u64, rspi: u64, flags: u8) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&ispi.to_be_bytes());
        h.extend_from_slice(&rspi.to_be_bytes());
        h.extend_from_slice(&[33, 0x20, 34, flags, 0, 0, 0, 0, 0, 0, 0, 28]);
        h
    }

    /// IKE headers of every kind, and garbage, as peers may send them.
    fn datagrams() -> Vec<Vec<u8>> {
        let mut out = vec![vec![], vec![0xff; 3], vec![0; 19], vec![0xab; 27]];
        let spis = [
            0,
            1,
            2,
            0x0000_0001_0000_0000,
            0xffff_ffff_ffff_ffff,
            0x5eed_0000_1111_2222,
            0x8000_0000_0000_0003,
            0x1234_5678_9abc_def0,
        ];
        for ispi in spis {
            for rspi in spis {
                for flags in [0x08, 0x20, 0x28, 0x00] {
                    out.push(header(ispi, rspi, flags));
                }
            }
        }
        out
    }

    fn sources() -> Vec<IpAddr> {
        [
            "192.0.2.1",
            "192.0.2.11",
            "192.0.2.17",
            "10.0.0.1",
            "255.255.255.255",
            "2001:db8::7",
            "2001:db8:ffff::1:2",
            "::ffff:192.0.2.77",
            "::ffff:0:1",
            "::1",
            "fe80::1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
    }

    #[test]
    fn the_program_routes_as_dispatch_does() {
        for count in [2, 3, 4, 7, 64] {
            for source in sources() {
                for nat_t in [false, true] {
                    let group = Group {
                        count,
                        nat_t,
                        ipv6: source.is_ipv6(),
                    };
                    let code = program(group).unwrap();
                    let ip = ip_header(source);
                    for ike in datagrams() {
                        let payload = if nat_t {
                            [&[0, 0, 0, 0][..], &ike].concat()
                        } else {
                            ike.clone()
                        };
                        assert_eq!(
                            run(&code, &ip, &payload) as usize,
                            dispatch::route(&ike, source, count),
                            "{group:?} from {source}: {ike:02x?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn on_the_nat_t_port_esp_and_keepalives_go_anywhere() {
        let code = program(Group {
            count: 4,
            nat_t: true,
            ipv6: false,
        })
        .unwrap();
        let ip = ip_header("192.0.2.9".parse().unwrap());
        for payload in [
            &[0xff][..],
            &[0, 0, 0],
            &[0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1],
        ] {
            assert_eq!(run(&code, &ip, payload), 0);
        }
    }

    #[test]
    fn one_engine_or_too_many_get_no_program() {
        for count in [0, 1, 65_536] {
            let group = Group {
                count,
                nat_t: false,
                ipv6: false,
            };
            assert!(program(group).is_err());
        }
    }

    /// The kernel runs the program: each datagram reaches the socket of the
    /// engine `dispatch::route` names (loopback, peers from 127.0.0.0/8).
    #[test]
    fn the_kernel_steers_by_the_program() {
        let peers: Vec<IpAddr> = (1..=12).map(|n| IpAddr::from([127, 0, 0, n])).collect();
        steer_on_the_loopback("127.0.0.1".parse().unwrap(), &peers, 3, false);
    }

    /// On the NAT-T port: IKE behind the non-ESP marker.
    #[test]
    fn the_kernel_steers_nat_t_by_the_program() {
        let peers: Vec<IpAddr> = (1..=12).map(|n| IpAddr::from([127, 0, 0, n])).collect();
        steer_on_the_loopback("127.0.0.1".parse().unwrap(), &peers, 3, true);
    }

    /// The same over IPv6, from ::1 only, whose engine of 4 is 3: a program
    /// reading the source at the wrong offset (or failing, which means 0)
    /// would not find it.
    #[test]
    fn the_kernel_steers_ipv6_by_the_program() {
        let peer: IpAddr = "::1".parse().unwrap();
        assert_eq!(dispatch::peer_shard(peer, 4), 3);
        steer_on_the_loopback(peer, &[peer], 4, false);
    }

    fn steer_on_the_loopback(at: IpAddr, peers: &[IpAddr], count: u32, nat_t: bool) {
        let group: Vec<socket2::Socket> = match bind_group(at, count) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("skipped: cannot bind a reuseport group on {at}: {e}");
                return;
            }
        };
        let to = group[0].local_addr().unwrap().as_socket().unwrap();
        let ipv6 = at.is_ipv6();
        attach(&group[0], Group { count, nat_t, ipv6 }).unwrap();
        let mut checked = 0;
        for peer in peers {
            let Ok(sender) = UdpSocket::bind(SocketAddr::new(*peer, 0)) else {
                continue;
            };
            for ike in datagrams().iter().step_by(7) {
                let sent = if nat_t {
                    [&[0, 0, 0, 0][..], ike].concat()
                } else {
                    ike.clone()
                };
                sender.send_to(&sent, to).unwrap();
                let got = receiver(&group);
                assert_eq!(
                    got,
                    dispatch::route(ike, *peer, count),
                    "from {peer}: {ike:02x?}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 30, "{checked}");
    }

    fn bind_group(ip: IpAddr, count: u32) -> io::Result<Vec<socket2::Socket>> {
        let mut group = Vec::new();
        let mut at = SocketAddr::new(ip, 0);
        for _ in 0..count {
            let s =
                socket2::Socket::new(socket2::Domain::for_address(at), socket2::Type::DGRAM, None)?;
            if ip.is_ipv6() {
                s.set_only_v6(true)?;
            }
            s.set_reuse_port(true)?;
            s.bind(&at.into())?;
            at = s.local_addr()?.as_socket().unwrap();
            group.push(s);
        }
        Ok(group)
    }

    /// Which socket of the group the next datagram reached.
    fn receiver(group: &[socket2::Socket]) -> usize {
        let mut fds: Vec<libc::pollfd> = group
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a live array of `fds.len()` pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 2000) };
        assert_eq!(n, 1, "one socket has the datagram");
        let index = fds.iter().position(|p| p.revents != 0).unwrap();
        let mut buf = [std::mem::MaybeUninit::new(0u8); 2048];
        group[index].recv(&mut buf).unwrap();
        index
    }
}
