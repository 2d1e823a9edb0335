//! A small command line over tern-xfrm for the real-kernel test scripts
//! (crates/xfrm/tests/uml/). Keys are derived from the SPI, so both ends of
//! a test tunnel compute the same ones: for tests only, never for real use.
//!
//!   xfrm-tool child local=IP remote=IP spi-in=HEX spi-out=HEX alg=NAME
//!             mode=tunnel|transport [local-net=CIDR remote-net=CIDR]
//!             [reqid=N] [encap=SPORT:DPORT] [soft-secs=N] [hard-secs=N]
//!             [remote-sa-src=IP]
//!   xfrm-tool trap local=IP remote=IP local-net=CIDR remote-net=CIDR reqid=N
//!   xfrm-tool monitor seconds=N [until=WORD] [encap-port=PORT]
//!   xfrm-tool counters src=IP dst=IP spi=HEX
//!   xfrm-tool policy-use src-net=CIDR dst-net=CIDR dir=in|out|fwd
//!   xfrm-tool flush

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsFd;
use std::process::exit;
use std::time::{Duration, Instant};

use tern_xfrm::*;

type Args = HashMap<String, String>;

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("xfrm-tool: {msg}");
    exit(1)
}

fn get<'a>(a: &'a Args, k: &str) -> &'a str {
    a.get(k)
        .map(String::as_str)
        .unwrap_or_else(|| fail(format!("missing {k}=")))
}

fn addr(a: &Args, k: &str) -> IpAddr {
    get(a, k)
        .parse()
        .unwrap_or_else(|e| fail(format!("{k}: {e}")))
}

fn hex(a: &Args, k: &str) -> u32 {
    let v = get(a, k);
    u32::from_str_radix(v.trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| fail(format!("{k}: {e}")))
}

fn num(a: &Args, k: &str, default: u64) -> u64 {
    a.get(k).map_or(default, |v| {
        v.parse().unwrap_or_else(|e| fail(format!("{k}: {e}")))
    })
}

fn net(a: &Args, k: &str) -> (IpAddr, u8) {
    let v = get(a, k);
    let (ip, len) = v
        .split_once('/')
        .unwrap_or_else(|| fail(format!("{k}: want ADDR/LEN")));
    (
        ip.parse().unwrap_or_else(|e| fail(format!("{k}: {e}"))),
        len.parse().unwrap_or_else(|e| fail(format!("{k}: {e}"))),
    )
}

/// Test keys: a function of the SPI alone, so both peers agree.
fn test_keymat(spi: u32, len: usize) -> Vec<u8> {
    let s = spi.to_be_bytes();
    (0..len)
        .map(|i| s[i % 4] ^ (i as u8).wrapping_mul(37))
        .collect()
}

fn sa(src: IpAddr, dst: IpAddr, spi: u32, a: &Args) -> SaParams {
    let alg = EspAlgorithm::from_name(get(a, "alg")).unwrap_or_else(|| fail("unknown alg="));
    let mode = match get(a, "mode") {
        "tunnel" => Mode::Tunnel,
        "transport" => Mode::Transport,
        m => fail(format!("mode={m}?")),
    };
    let encap = a.get("encap").map(|e| {
        let (s, d) = e
            .split_once(':')
            .unwrap_or_else(|| fail("encap=SPORT:DPORT"));
        UdpEncap {
            sport: s.parse().unwrap_or_else(|_| fail("encap sport")),
            dport: d.parse().unwrap_or_else(|_| fail("encap dport")),
        }
    });
    let mut p = SaParams {
        src,
        dst,
        spi,
        reqid: num(a, "reqid", u64::from(kernel_reqid(1))) as u32,
        mode,
        aead: None,
        encryption: None,
        integrity: None,
        encap,
        replay_window: 32,
        esn: false,
        lifetime: Lifetime {
            soft_seconds: num(a, "soft-secs", 0),
            hard_seconds: num(a, "hard-secs", 0),
            ..Lifetime::default()
        },
        selector: None,
        update: false,
        mark: None,
        if_id: None,
    };
    alg.apply_to(&mut p, &test_keymat(spi, alg.keymat_len()))
        .unwrap_or_else(|e| fail(e));
    p
}

fn policy(
    sel: Selector,
    dir: PolicyDir,
    src: IpAddr,
    dst: IpAddr,
    mode: Mode,
    reqid: u32,
) -> PolicyParams {
    PolicyParams {
        selector: sel,
        dir,
        priority: 1000,
        templates: vec![Template {
            src,
            dst,
            reqid,
            mode,
            spi: 0,
        }],
        update: false,
        mark: None,
        if_id: None,
    }
}

fn child(x: &mut Xfrm, a: &Args) {
    let (local, remote) = (addr(a, "local"), addr(a, "remote"));
    // Behind a NAT the inbound SA's source is the NAT's address.
    let in_src = a
        .get("remote-sa-src")
        .map_or(remote, |_| addr(a, "remote-sa-src"));
    let out = sa(local, remote, hex(a, "spi-out"), a);
    let inb = sa(in_src, local, hex(a, "spi-in"), a);
    let (mode, reqid) = (out.mode, out.reqid);
    let (lsel, rsel) = match mode {
        Mode::Tunnel => (net(a, "local-net"), net(a, "remote-net")),
        Mode::Transport => {
            let full = |ip: IpAddr| (ip, if ip.is_ipv4() { 32 } else { 128 });
            (full(local), full(remote))
        }
    };
    let out_sel = Selector::subnets(lsel.0, lsel.1, rsel.0, rsel.1);
    let in_sel = Selector::subnets(rsel.0, rsel.1, lsel.0, lsel.1);
    // sa-selector=yes binds the SAs to the traffic selectors (inner family).
    let (mut out, mut inb) = (out, inb);
    if a.get("sa-selector").is_some() {
        out.selector = Some(out_sel);
        inb.selector = Some(in_sel);
    }
    let mut policies = vec![
        policy(out_sel, PolicyDir::Out, local, remote, mode, reqid),
        policy(in_sel, PolicyDir::In, in_src, local, mode, reqid),
    ];
    if mode == Mode::Tunnel {
        policies.push(policy(in_sel, PolicyDir::Fwd, in_src, local, mode, reqid));
    }
    for s in [&out, &inb] {
        x.add_sa(s).unwrap_or_else(|e| fail(e));
    }
    for p in &policies {
        x.add_policy(p).unwrap_or_else(|e| fail(e));
    }
}

fn trap(x: &mut Xfrm, a: &Args) {
    let (l, r) = (net(a, "local-net"), net(a, "remote-net"));
    let sel = Selector::subnets(l.0, l.1, r.0, r.1);
    let reqid = num(a, "reqid", u64::from(kernel_reqid(1))) as u32;
    x.add_policy(&policy(
        sel,
        PolicyDir::Out,
        addr(a, "local"),
        addr(a, "remote"),
        Mode::Tunnel,
        reqid,
    ))
    .unwrap_or_else(|e| fail(e));
}

fn describe(e: &XfrmEvent) -> String {
    match e {
        XfrmEvent::Acquire {
            policy,
            packet,
            template,
            src,
            dst,
            ..
        } => format!(
            "acquire src={src} dst={dst} reqid={} policy=\"{}\" packet=\"{}\"",
            template.map_or(0, |t| t.reqid),
            policy.selector,
            packet.map_or(String::new(), |p| p.to_string())
        ),
        XfrmEvent::Expire { sa, hard } => format!(
            "expire spi=0x{:08x} src={} dst={} hard={hard}",
            sa.spi, sa.src, sa.dst
        ),
        XfrmEvent::Mapping {
            dst, spi, old, new, ..
        } => format!("mapping spi=0x{spi:08x} dst={dst} old={old} new={new}"),
        XfrmEvent::SaChanged { change, sa } => {
            format!("sa-{change:?} spi=0x{:08x}", sa.spi).to_lowercase()
        }
        XfrmEvent::PolicyChanged { change, policy } => format!(
            "policy-{change:?} \"{}\" dir {}",
            policy.selector, policy.dir
        )
        .to_lowercase(),
        other => format!("{other:?}"),
    }
}

fn monitor(a: &Args) {
    let mut m = Monitor::open().unwrap_or_else(|e| fail(e));
    // ESP-in-UDP reaches XFRM only through a socket with UDP_ENCAP set.
    let _encap = a.get("encap-port").map(|p| {
        let s = UdpSocket::bind((
            "0.0.0.0",
            p.parse::<u16>().unwrap_or_else(|_| fail("encap-port")),
        ))
        .unwrap_or_else(|e| fail(format!("binding encap port: {e}")));
        set_udp_encap(s.as_fd()).unwrap_or_else(|e| fail(format!("UDP_ENCAP: {e}")));
        s
    });
    let until = a.get("until").cloned();
    let deadline = Instant::now() + Duration::from_secs(num(a, "seconds", 10));
    println!("monitoring");
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        for e in m.wait_events(left).unwrap_or_else(|e| fail(e)) {
            let line = describe(&e);
            println!("{line}");
            if until.as_deref().is_some_and(|u| line.contains(u)) {
                return;
            }
        }
    }
    if until.is_some() {
        fail("timed out before the awaited event")
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = argv.first() else {
        fail("usage: xfrm-tool child|trap|monitor|counters|policy-use|flush key=value...")
    };
    let a: Args = argv[1..]
        .iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| fail(format!("{kv}: want key=value")));
            (k.to_string(), v.to_string())
        })
        .collect();
    if cmd == "monitor" {
        return monitor(&a);
    }
    let mut x = Xfrm::open().unwrap_or_else(|e| fail(e));
    match cmd.as_str() {
        "child" => child(&mut x, &a),
        "trap" => trap(&mut x, &a),
        "counters" => {
            let c = x
                .sa_counters(addr(&a, "src"), addr(&a, "dst"), hex(&a, "spi"))
                .unwrap_or_else(|e| fail(e));
            println!("bytes={} packets={}", c.bytes, c.packets);
        }
        "policy-use" => {
            let (s, d) = (net(&a, "src-net"), net(&a, "dst-net"));
            let dir = match get(&a, "dir") {
                "in" => PolicyDir::In,
                "out" => PolicyDir::Out,
                "fwd" => PolicyDir::Fwd,
                other => fail(format!("dir={other}?")),
            };
            let p = x
                .get_policy(&Selector::subnets(s.0, s.1, d.0, d.1), dir)
                .unwrap_or_else(|e| fail(e));
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            println!("use_time={} now={now}", p.use_time);
        }
        "flush" => {
            x.flush_policies().unwrap_or_else(|e| fail(e));
            x.flush_sas().unwrap_or_else(|e| fail(e));
        }
        other => fail(format!("unknown command {other}")),
    }
}
