//! FakeXfrm answers like the kernel: one sequence of policy and ALLOCSPI
//! operations, run against both, must give the same outcomes. (ESP SAs
//! are left out: the host kernel used for these tests has no ESP.)
//!
//! Needs root, for the fresh network namespace the real run uses.

mod common;

use common::*;
use tern_xfrm::*;

const RANGE: (u32, u32) = (0xc000_0000, 0xcfff_ffff);

fn tunnel_policy(sel: Selector, dir: PolicyDir, outer: (&str, &str), reqid: u32) -> PolicyParams {
    PolicyParams {
        selector: sel,
        dir,
        priority: 1000,
        templates: vec![Template {
            src: ip(outer.0),
            dst: ip(outer.1),
            reqid,
            mode: Mode::Tunnel,
            spi: 0,
        }],
        update: false,
        mark: None,
        if_id: None,
    }
}

/// Records each outcome as text. SPIs the backend chose are replaced by
/// their order of allocation, and the kernel's policy indexes and add
/// times are left out: they differ from run to run.
struct Log {
    lines: Vec<String>,
    spis: Vec<u32>,
}

impl Log {
    fn anonymise(&self, text: String) -> String {
        self.spis.iter().enumerate().fold(text, |t, (n, spi)| {
            t.replace(&format!("{spi:08x}"), &format!("<spi{n}>"))
        })
    }

    fn record<T: std::fmt::Debug>(&mut self, step: &str, result: Result<T, XfrmError>) {
        let outcome = match result {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => {
                let debug = format!("{e:?}");
                let variant = debug.split([' ', '{', '(']).next().unwrap_or_default();
                format!("error {variant}: {e}")
            }
        };
        let line = self.anonymise(format!("{step}: {outcome}"));
        self.lines.push(line);
    }

    /// A listing, in an order that does not depend on the SPIs chosen.
    fn record_rows(&mut self, step: &str, rows: Result<Vec<String>, XfrmError>) {
        let rows = rows.map(|rows| {
            let mut rows: Vec<String> = rows.into_iter().map(|r| self.anonymise(r)).collect();
            rows.sort();
            rows
        });
        self.record(step, rows);
    }

    fn alloc(&mut self, x: &mut dyn XfrmOps, step: &str, reqid: u32, min: u32, max: u32) {
        let (peer, us) = (ip("192.0.2.2"), ip("192.0.2.1"));
        let result = x.alloc_spi(peer, us, reqid, min, max).map(|spi| {
            self.spis.push(spi);
            (min..=max).contains(&spi)
        });
        self.record(step, result);
    }

    fn sas(&mut self, x: &mut dyn XfrmOps, step: &str) {
        let listed = x.list_sas().map(|sas| {
            let rows: Vec<String> = sas
                .into_iter()
                .map(|s| {
                    let c = s.counters;
                    let spi = if s.spi == 0 { "none".to_string() } else { format!("{:08x}", s.spi) };
                    format!(
                        "{}->{} spi {spi} reqid {} proto {} {:?} hard {} bytes {} packets {} {:?} {:?}",
                        s.src, s.dst, s.reqid, s.proto, s.mode, s.hard_seconds, c.bytes, c.packets, s.mark, s.if_id
                    )
                })
                .collect();
            rows
        });
        self.record_rows(step, listed);
    }

    fn policies(&mut self, x: &mut dyn XfrmOps, step: &str) {
        let listed = x.list_policies().map(|ps| {
            let rows: Vec<String> = ps
                .into_iter()
                .map(|p| {
                    format!(
                        "{} dir {} prio {} action {} dir-bits {} {:?} {:?} {:?}",
                        p.selector,
                        p.dir,
                        p.priority,
                        p.action,
                        p.index & 7,
                        p.templates,
                        p.mark,
                        p.if_id
                    )
                })
                .collect();
            rows
        });
        self.record_rows(step, listed);
    }
}

fn scenario(x: &mut dyn XfrmOps) -> Vec<String> {
    let mut log = Log {
        lines: Vec::new(),
        spis: Vec::new(),
    };
    let v4_out = Selector::subnets(ip("10.1.0.0"), 16, ip("10.2.0.0"), 16);
    let v4_in = Selector::subnets(ip("10.2.0.0"), 16, ip("10.1.0.0"), 16);
    let v6_out = Selector::subnets(ip("2001:db8:1::"), 64, ip("2001:db8:2::"), 64);
    let policies = [
        tunnel_policy(v4_out, PolicyDir::Out, ("192.0.2.1", "192.0.2.2"), 1),
        tunnel_policy(v4_in, PolicyDir::In, ("192.0.2.2", "192.0.2.1"), 1),
        tunnel_policy(v4_in, PolicyDir::Fwd, ("192.0.2.2", "192.0.2.1"), 1),
        tunnel_policy(v6_out, PolicyDir::Out, ("2001:db8::1", "2001:db8::2"), 2),
        // IPv4 traffic through an IPv6 tunnel.
        tunnel_policy(v4_out, PolicyDir::Fwd, ("2001:db8::1", "2001:db8::2"), 3),
        PolicyParams {
            selector: Selector {
                proto: 17,
                dport: 4500,
                dport_mask: 0xffff,
                ..Selector::hosts(ip("192.0.2.1"), ip("192.0.2.2"))
            },
            priority: 50,
            templates: vec![Template {
                src: ip("0.0.0.0"),
                dst: ip("0.0.0.0"),
                reqid: 4,
                mode: Mode::Transport,
                spi: 0,
            }],
            ..tunnel_policy(v4_out, PolicyDir::Out, ("0.0.0.0", "0.0.0.0"), 4)
        },
    ];
    for (n, p) in policies.iter().enumerate() {
        log.record(&format!("add policy {n}"), x.add_policy(p));
    }
    log.record("add policy 0 again", x.add_policy(&policies[0]));
    let changed = PolicyParams {
        update: true,
        priority: 7,
        ..policies[0].clone()
    };
    log.record("update policy 0", x.add_policy(&changed));
    let absent = PolicyParams {
        update: true,
        ..tunnel_policy(v6_out, PolicyDir::In, ("2001:db8::2", "2001:db8::1"), 2)
    };
    log.record("update an absent policy", x.add_policy(&absent));
    let mixed = Selector::subnets(ip("10.1.0.0"), 16, ip("2001:db8::"), 64);
    log.record(
        "add a policy of mixed families",
        x.add_policy(&tunnel_policy(
            mixed,
            PolicyDir::Out,
            ("192.0.2.1", "192.0.2.2"),
            1,
        )),
    );
    log.policies(x, "policies");
    for (n, p) in policies.iter().enumerate() {
        log.record(
            &format!("delete policy {n}"),
            x.delete_policy(&p.selector, p.dir),
        );
    }
    log.record(
        "delete policy 0 again",
        x.delete_policy(&v4_out, PolicyDir::Out),
    );
    log.record("delete it as fwd", x.delete_policy(&v4_in, PolicyDir::Out));
    log.policies(x, "policies after delete");

    log.alloc(x, "alloc reqid 5", 5, RANGE.0, RANGE.1);
    log.alloc(x, "alloc reqid 5 again", 5, RANGE.0, RANGE.1);
    log.sas(x, "larval SAs");
    let (peer, us) = (ip("192.0.2.2"), ip("192.0.2.1"));
    let first = log.spis[0];
    log.record(
        "counters",
        x.sa_counters(peer, us, first).map(|c| (c.bytes, c.packets)),
    );
    log.alloc(x, "alloc a taken one-SPI range", 6, first, first);
    log.sas(x, "SAs after the failed alloc");
    log.alloc(x, "alloc reqid 6 in a free range", 6, 0x100, 0x100);
    log.alloc(x, "alloc an empty range", 7, 9, 2);
    log.record("delete the first", x.delete_sa(peer, us, first));
    log.record("delete it again", x.delete_sa(peer, us, first));
    log.record("get it", x.get_sa(peer, us, first).map(|s| s.spi));
    log.record("counters of it", x.sa_counters(peer, us, first));
    log.record("delete spi 0", x.delete_sa(peer, us, 0));
    log.sas(x, "SAs at the end");
    log.lines
}

#[test]
fn fake_and_kernel_give_the_same_outcomes() {
    let fake = scenario(&mut FakeXfrm::new());
    let kernel = in_fresh_netns(|| scenario(&mut open()));
    for (f, k) in fake.iter().zip(&kernel) {
        assert_eq!(f, k, "\nfake:   {f}\nkernel: {k}");
    }
    assert_eq!(fake.len(), kernel.len());
}
