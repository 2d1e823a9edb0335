//! Start-up cleanup: what a previous ternd left in the kernel when it died
//! without removing its SAs and policies (kill -9, a crash, a power cut of
//! the process). Left alone, its policies would keep sending traffic into
//! SAs nobody will ever rekey, and then into nothing.
//!
//! tern's own state is recognised by its reqid (see [`crate::TERN_REQIDS`]).

use std::ops::RangeInclusive;

use crate::{PolicySummary, SaSummary, Xfrm, XfrmError};

/// What [`Xfrm::remove_stale`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaleRemoved {
    pub policies: Vec<PolicySummary>,
    pub sas: Vec<SaSummary>,
}

impl StaleRemoved {
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty() && self.sas.is_empty()
    }
}

/// A policy is ours when it has templates and every one carries our reqid.
fn policy_is_ours(p: &PolicySummary, reqids: &RangeInclusive<u32>) -> bool {
    !p.templates.is_empty() && p.templates.iter().all(|t| reqids.contains(&t.reqid))
}

/// An ESP SA (full or larval) is ours when its reqid is.
fn sa_is_ours(sa: &SaSummary, reqids: &RangeInclusive<u32>) -> bool {
    sa.proto == crate::abi::IPPROTO_ESP && reqids.contains(&sa.reqid)
}

/// Retries a dump that a concurrent change interrupted.
fn dump_retrying<T>(
    x: &mut Xfrm,
    dump: impl Fn(&mut Xfrm) -> Result<Vec<T>, XfrmError>,
) -> Result<Vec<T>, XfrmError> {
    let mut attempts = 0;
    loop {
        match dump(x) {
            Err(XfrmError::Kernel { errno, .. }) if errno == libc::EINTR && attempts < 3 => {
                attempts += 1
            }
            other => return other,
        }
    }
}

impl Xfrm {
    /// Removes every policy and ESP SA in this namespace whose reqid lies in
    /// `reqids` (tern passes [`crate::TERN_REQIDS`]). Policies go first, so
    /// no packet is steered to an SA that is already gone. Something that
    /// disappears meanwhile (an SA expiring) is not an error.
    pub fn remove_stale(
        &mut self,
        reqids: &RangeInclusive<u32>,
    ) -> Result<StaleRemoved, XfrmError> {
        let mut removed = StaleRemoved::default();
        let policies = dump_retrying(self, Xfrm::list_policies)?;
        for p in policies.into_iter().filter(|p| policy_is_ours(p, reqids)) {
            match self.delete_policy_by_index(p.index, p.dir, p.mark, p.if_id) {
                Ok(()) => removed.policies.push(p),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let sas = dump_retrying(self, Xfrm::list_sas)?;
        for sa in sas.into_iter().filter(|sa| sa_is_ours(sa, reqids)) {
            match self.delete_sa_marked(sa.src, sa.dst, sa.spi, sa.mark) {
                Ok(()) => removed.sas.push(sa),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mode, PolicyDir, Selector, Template, TERN_REQIDS};

    fn policy(reqids: &[u32]) -> PolicySummary {
        let a = "10.0.0.1".parse().unwrap();
        PolicySummary {
            selector: Selector::hosts(a, a),
            dir: PolicyDir::Out,
            priority: 1,
            index: 1,
            action: 0,
            templates: reqids
                .iter()
                .map(|&reqid| Template {
                    src: a,
                    dst: a,
                    reqid,
                    mode: Mode::Tunnel,
                    spi: 0,
                })
                .collect(),
            mark: None,
            if_id: None,
            use_time: 0,
        }
    }

    #[test]
    fn only_policies_whose_every_template_is_ours() {
        let ours = crate::kernel_reqid(1);
        assert!(policy_is_ours(&policy(&[ours]), &TERN_REQIDS));
        assert!(!policy_is_ours(&policy(&[ours, 1]), &TERN_REQIDS));
        assert!(!policy_is_ours(&policy(&[1]), &TERN_REQIDS));
        // A block or bypass policy without templates is never ours.
        assert!(!policy_is_ours(&policy(&[]), &TERN_REQIDS));
    }
}
