//! Install and removal rate of CHILD SAs through tern-xfrm: each CHILD SA is
//! two ESP SAs (AES-GCM-128, tunnel mode) and three policies (out, in, fwd),
//! as ternd installs them. Runs in a fresh network namespace of its own, so
//! it needs root; run it in a kernel with ESP (crates/xfrm/tests/uml/bench).
//!
//!   xfrm-bench [COUNT] [--json]          (default 10000)
//!   xfrm-bench [COUNT] --ip-batch FILE   writes the same SAs and policies as
//!                                        `ip -batch` input, installs nothing
//!
//! benches/xfrm-install sets the two side by side in the test kernel.

use std::fmt::Write as _;
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

/// The same CHILD SAs as `ip xfrm` commands, one a line, for `ip -batch`.
fn ip_batch(children: &[Child]) -> String {
    let mut out = String::new();
    for c in children {
        for sa in [&c.in_sa, &c.out_sa] {
            let aead = sa.aead.as_ref().expect("AES-GCM is an AEAD");
            let key: String = aead.key.iter().map(|b| format!("{b:02x}")).collect();
            writeln!(
                out,
                "xfrm state add src {} dst {} proto esp spi 0x{:08x} reqid {} mode tunnel replay-window {} aead {} 0x{key} {}",
                sa.src, sa.dst, sa.spi, sa.reqid, sa.replay_window, aead.name, aead.icv_bits
            )
            .expect("a String takes any write");
        }
        for p in &c.policies {
            let s = &p.selector;
            let t = &p.templates[0];
            writeln!(
                out,
                "xfrm policy add src {}/{} dst {}/{} dir {} priority {} tmpl src {} dst {} proto esp reqid {} mode tunnel",
                s.src, s.src_prefix, s.dst, s.dst_prefix, p.dir, p.priority, t.src, t.dst, t.reqid
            )
            .expect("a String takes any write");
        }
    }
    out
}

fn main() {
    let mut count: u32 = 10_000;
    let mut ip_batch_file = None;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ip-batch" => ip_batch_file = Some(args.next().expect("--ip-batch FILE")),
            "--json" => json = true,
            n => count = n.parse().expect("COUNT"),
        }
    }
    if let Some(file) = ip_batch_file {
        let children: Vec<Child> = (0..count).map(child).collect();
        std::fs::write(&file, ip_batch(&children))
            .unwrap_or_else(|e| panic!("writing {file}: {e}"));
        return;
    }
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
    if json {
        println!(
            "{{\"count\":{count},\"install_s\":{:.3},\"install_per_s\":{:.0},\"removal_s\":{:.3},\"removal_per_s\":{:.0}}}",
            install.as_secs_f64(),
            rate(install),
            removal.as_secs_f64(),
            rate(removal)
        );
        return;
    }
    println!(
        "xfrm-bench: {count} CHILD SAs (2 SAs + 3 policies each): install {:.2} s = {:.0} CHILD SAs/s; removal {:.2} s = {:.0} CHILD SAs/s",
        install.as_secs_f64(),
        rate(install),
        removal.as_secs_f64(),
        rate(removal)
    );
}
