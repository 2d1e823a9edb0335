//! [`XfrmOps`] on the in-memory tables: each request built as for the kernel,
//! then carried out, or refused with the errno the kernel would give.

use super::*;

/// The kernel's refusal of `req` with `errno`, as [`crate::Xfrm`] reports it.
fn refused(req: &Request, errno: i32) -> XfrmError {
    from_errno(&req.op, errno, None, &req.ctx)
}

/// A refusal that the kernel explains in an extended ack.
fn refused_saying(req: &Request, errno: i32, kernel_says: &str) -> XfrmError {
    from_errno(&req.op, errno, Some(kernel_says.to_string()), &req.ctx)
}

/// What a dump shows: a mark of 0/0 and an if_id of 0 are not sent.
fn shown_mark(mark: Option<Mark>) -> Option<Mark> {
    mark.filter(|m| m.value != 0 || m.mask != 0)
}

fn shown_if_id(if_id: Option<u32>) -> Option<u32> {
    if_id.filter(|&id| id != 0)
}

fn unspecified_like(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn full_sa(sa: &SaParams) -> FakeSa {
    let summary = SaSummary {
        src: sa.src,
        dst: sa.dst,
        spi: sa.spi,
        reqid: sa.reqid,
        proto: IPPROTO_ESP,
        mode: Some(sa.mode),
        counters: SaCounters {
            add_time: now_unix(),
            ..SaCounters::default()
        },
        hard_seconds: sa.lifetime.hard_seconds,
        mark: shown_mark(sa.mark),
        if_id: shown_if_id(sa.if_id),
        encap: sa.encap,
    };
    FakeSa {
        summary,
        larval: false,
    }
}

impl XfrmOps for FakeXfrm {
    fn alloc_spi(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        reqid: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, XfrmError> {
        let req = message::alloc_spi(src, dst, reqid, min, max)?;
        // The kernel reuses a larval SA that has no SPI yet, or makes one;
        // it stays even when no SPI is free.
        let larval = match self
            .sas
            .find_spiless(|e| e.is_spiless_larval(src, dst, reqid, Mode::Tunnel))
        {
            Some(i) => i,
            None => {
                let summary = SaSummary {
                    src,
                    dst,
                    spi: 0,
                    reqid,
                    proto: IPPROTO_ESP,
                    mode: Some(Mode::Tunnel),
                    counters: SaCounters {
                        add_time: now_unix(),
                        ..SaCounters::default()
                    },
                    hard_seconds: self.acq_expires,
                    mark: None,
                    if_id: None,
                    encap: None,
                };
                self.sas.push(FakeSa {
                    summary,
                    larval: true,
                })
            }
        };
        let spi = self.pick_spi(dst, min, max).ok_or_else(|| {
            refused_saying(
                &req,
                libc::ENOENT,
                "No SPI available in the requested range",
            )
        })?;
        self.sas.set_spi(larval, spi);
        Ok(spi)
    }

    fn add_sa(&mut self, sa: &SaParams) -> Result<(), XfrmError> {
        let req = message::new_sa(sa)?;
        let m = normal_mark(sa.mark);
        let existing = self.find_sa(sa.dst, sa.spi, m.value & m.mask);
        match (existing, sa.update) {
            (Some(_), false) => Err(refused(&req, libc::EEXIST)),
            (None, true) => Err(refused(&req, libc::ESRCH)),
            (Some(i), true) => {
                // UPDSA fills a larval SA, or changes a full one's limits.
                let entry = self.sas.get_mut(i);
                if entry.larval {
                    *entry = full_sa(sa);
                } else {
                    entry.summary.hard_seconds = sa.lifetime.hard_seconds;
                }
                Ok(())
            }
            (None, false) => {
                // NEWSA also retires an SPI-less larval SA of the same
                // addresses, reqid and mode.
                self.sas
                    .remove_spiless(|e| e.is_spiless_larval(sa.src, sa.dst, sa.reqid, sa.mode));
                self.sas.push(full_sa(sa));
                Ok(())
            }
        }
    }

    fn delete_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<(), XfrmError> {
        let req = message::delete_sa(src, dst, spi, None)?;
        let i = self
            .find_sa(dst, spi, 0)
            .ok_or_else(|| refused(&req, libc::ESRCH))?;
        self.sas.remove(i);
        Ok(())
    }

    fn move_sa(&mut self, to: &SaMove) -> Result<(), XfrmError> {
        let req = message::get_sa(to.src, to.dst, to.spi, None)?;
        let i = self
            .find_sa(to.dst, to.spi, 0)
            .ok_or_else(|| refused(&req, libc::ESRCH))?;
        let op = Op::sa(OpKind::UpdateSa, to.new_src, to.new_dst, to.spi);
        if to.new_dst.is_ipv4() != to.dst.is_ipv4() || to.new_src.is_ipv4() != to.new_dst.is_ipv4()
        {
            return Err(XfrmError::invalid(
                &op,
                "an SA cannot move between IPv4 and IPv6",
            ));
        }
        // The kernel changes encapsulation in place only from one encap to another.
        if self.sas.get(i).summary.encap.is_some() != to.encap.is_some() {
            return Err(refused(&req, libc::EINVAL));
        }
        let mut moved = self.sas.remove(i).expect("an SA the table handed out");
        if to.new_dst != to.dst && self.find_sa(to.new_dst, to.spi, 0).is_some() {
            self.sas.push(moved);
            return Err(refused(&req, libc::EEXIST));
        }
        moved.summary.src = to.new_src;
        moved.summary.dst = to.new_dst;
        moved.summary.encap = to.encap;
        self.sas.push(moved);
        Ok(())
    }

    fn get_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<SaSummary, XfrmError> {
        let req = message::get_sa(src, dst, spi, None)?;
        self.find_sa(dst, spi, 0)
            .map(|i| self.sas.get(i).summary.clone())
            .ok_or_else(|| refused(&req, libc::ESRCH))
    }

    fn add_policy(&mut self, p: &PolicyParams) -> Result<(), XfrmError> {
        let req = message::new_policy(p)?;
        let mark = normal_mark(p.mark);
        let existing = self.policy_position(&p.selector, p.dir, mark, p.if_id.unwrap_or(0));
        let index = match (existing, p.update) {
            (Some(_), false) => return Err(refused(&req, libc::EEXIST)),
            // A replaced policy keeps its index.
            (Some(i), true) => self.policies.remove(i).index,
            (None, _) => {
                let index = self.next_index | u32::from(p.dir.to_u8());
                self.next_index = self.next_index.wrapping_add(8).max(8);
                index
            }
        };
        let templates = p
            .templates
            .iter()
            .map(|t| match t.mode {
                Mode::Tunnel => *t,
                // Transport templates go to the kernel without addresses.
                Mode::Transport => Template {
                    src: unspecified_like(p.selector.src),
                    dst: unspecified_like(p.selector.dst),
                    ..*t
                },
            })
            .collect();
        self.policies.push(PolicySummary {
            selector: p.selector,
            dir: p.dir,
            priority: p.priority,
            index,
            action: 0,
            templates,
            mark: shown_mark(p.mark),
            if_id: shown_if_id(p.if_id),
            // Nothing flows through an in-memory XFRM.
            use_time: 0,
        });
        Ok(())
    }

    fn delete_policy(&mut self, selector: &Selector, dir: PolicyDir) -> Result<(), XfrmError> {
        let req = message::delete_policy(PolicyKey::Selector(selector), dir, None, None)?;
        let i = self
            .policy_position(selector, dir, normal_mark(None), 0)
            .ok_or_else(|| refused(&req, libc::ENOENT))?;
        self.policies.remove(i);
        Ok(())
    }

    fn get_policy(
        &mut self,
        selector: &Selector,
        dir: PolicyDir,
    ) -> Result<PolicySummary, XfrmError> {
        let req = message::get_policy(selector, dir, None, None)?;
        let seq = self
            .policy_position(selector, dir, normal_mark(None), 0)
            .ok_or_else(|| refused(&req, libc::ENOENT))?;
        Ok((*self.policies.by_seq[&seq]).clone())
    }

    fn list_sas(&mut self) -> Result<Vec<SaSummary>, XfrmError> {
        Ok(self
            .sas
            .by_seq
            .values()
            .map(|e| e.summary.clone())
            .collect())
    }

    fn list_policies(&mut self) -> Result<Vec<PolicySummary>, XfrmError> {
        Ok(self
            .policies
            .by_seq
            .values()
            .map(|p| (**p).clone())
            .collect())
    }
}
