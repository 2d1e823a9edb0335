//! Install and removal rate of CHILD SAs through tern-xfrm: each CHILD SA is
//! two ESP SAs (AES-GCM-128, tunnel mode) and three policies (out, in, fwd),
//! as ternd installs them. Runs in a fresh network namespace of its own, so
//! it needs root; run it in a kernel with ESP (crates/xfrm/tests/uml/bench).
//!
//!   xfrm-bench [COUNT]     (default 10000)

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use tern_xfrm::*;

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(n))
}

struct Child {
    out_sa: SaParams,
    in_sa: SaParams,
    policies: Vec<PolicyParams>,
}

/// CHILD SA `i`: host pair 10.0.0.0+i <-> 172.0.0.0+i through one peer.
fn child(i: u32) -> Child {
    let (local, remote) = (v4(0xc000_0201), v4(0xc000_0202)); // 192.0.2.1/.2
    let (lnet, rnet) = (v4(0x0a00_0000 + i), v4(0xac00_0000 + i));
    let reqid = kernel_reqid(i + 1);
    let alg = EspAlgorithm::AesGcm {
        key_bits: 128,
        icv_octets: 16,
    };
    let sa = |src, dst, spi| {
        let mut p = SaParams {
            src,
            dst,
            spi,
            reqid,
            mode: Mode::Tunnel,
            aead: None,
            encryption: None,
            integrity: None,
            encap: None,
            replay_window: 32,
            esn: false,
            lifetime: Lifetime::default(),
            selector: None,
            update: false,
            mark: None,
            if_id: None,
        };
        alg.apply_to(&mut p, &[0x42; 20]).expect("key length");
        p
    };
    let policy = |sel, dir, src, dst| PolicyParams {
        selector: sel,
        dir,
        priority: 1000,
        templates: vec![Template {
            src,
            dst,
            reqid,
            mode: Mode::Tunnel,
            spi: 0,
        }],
        update: false,
        mark: None,
        if_id: None,
    };
    let out_sel = Selector::hosts(lnet, rnet);
    let in_sel = Selector::hosts(rnet, lnet);
    Child {
        out_sa: sa(local, remote, 0xd000_0000 + i),
        in_sa: sa(remote, local, 0xc000_0000 + i),
        policies: vec![
            policy(out_sel, PolicyDir::Out, local, remote),
            policy(in_sel, PolicyDir::In, remote, local),
            policy(in_sel, PolicyDir::Fwd, remote, local),
        ],
    }
}

fn main() {
    let count: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("COUNT"))
        .unwrap_or(10_000);
    // SAFETY: unshare(2) affects only this (single-threaded) process.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        eprintln!(
            "xfrm-bench: unshare(CLONE_NEWNET): {} (needs root)",
            std::io::Error::last_os_error()
        );
        std::process::exit(1);
    }
    let mut x = Xfrm::open().unwrap_or_else(|e| panic!("{e}"));
    let children: Vec<Child> = (0..count).map(child).collect();

    let t = Instant::now();
    for c in &children {
        x.add_sa(&c.in_sa).unwrap_or_else(|e| panic!("{e}"));
        x.add_sa(&c.out_sa).unwrap_or_else(|e| panic!("{e}"));
        for p in &c.policies {
            x.add_policy(p).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let install = t.elapsed();
    let sas = x.list_sas().unwrap().len();
    let policies = x.list_policies().unwrap().len();
    assert_eq!((sas, policies), (2 * count as usize, 3 * count as usize));

    let t = Instant::now();
    for c in &children {
        for p in &c.policies {
            x.delete_policy(&p.selector, p.dir)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for s in [&c.out_sa, &c.in_sa] {
            x.delete_sa(s.src, s.dst, s.spi)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let removal = t.elapsed();
    assert!(x.list_sas().unwrap().is_empty() && x.list_policies().unwrap().is_empty());

    let rate = |d: std::time::Duration| f64::from(count) / d.as_secs_f64();
    println!(
        "xfrm-bench: {count} CHILD SAs (2 SAs + 3 policies each): install {:.2} s = {:.0} CHILD SAs/s; removal {:.2} s = {:.0} CHILD SAs/s",
        install.as_secs_f64(),
        rate(install),
        removal.as_secs_f64(),
        rate(removal)
    );
}
