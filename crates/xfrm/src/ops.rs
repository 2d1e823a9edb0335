//! The XFRM operations a daemon needs, as a trait: [`crate::Xfrm`] carries
//! them out in the kernel, [`crate::FakeXfrm`] in memory, so engine and
//! daemon code can be tested without root or kernel ESP.

use std::net::IpAddr;

use crate::types::{PolicyDir, PolicyParams, SaCounters, SaMove, SaParams, SaSummary, Selector};
use crate::{PolicySummary, Xfrm, XfrmError};

/// What ternd asks of XFRM. Both implementations answer with the same
/// values and the same [`XfrmError`]s, so callers cannot tell them apart.
pub trait XfrmOps {
    /// ALLOCSPI: reserves an SPI in `min..=max` for an inbound ESP SA
    /// src->dst (a larval SA with `reqid`, filled by [`XfrmOps::add_sa`]
    /// with `update = true`).
    fn alloc_spi(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        reqid: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, XfrmError>;

    /// NEWSA, or UPDSA when `sa.update`.
    fn add_sa(&mut self, sa: &SaParams) -> Result<(), XfrmError>;

    /// DELSA of the ESP SA (dst, spi); [`XfrmError::NotFound`] if absent.
    fn delete_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<(), XfrmError>;

    /// Moves an installed ESP SA to new addresses or NAT-T ports, keeping its
    /// keys and sequence numbers ([`Xfrm::move_sa`]).
    fn move_sa(&mut self, to: &SaMove) -> Result<(), XfrmError>;

    /// GETSA: the SA as installed.
    fn get_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<SaSummary, XfrmError>;

    /// GETSA: the SA's traffic counters.
    fn sa_counters(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<SaCounters, XfrmError> {
        Ok(self.get_sa(src, dst, spi)?.counters)
    }

    /// NEWPOLICY, or UPDPOLICY when `p.update`.
    fn add_policy(&mut self, p: &PolicyParams) -> Result<(), XfrmError>;

    /// DELPOLICY by selector and direction; [`XfrmError::NotFound`] if absent.
    fn delete_policy(&mut self, selector: &Selector, dir: PolicyDir) -> Result<(), XfrmError>;

    /// GETPOLICY by selector and direction (its `use_time` says when a packet
    /// last matched it); [`XfrmError::NotFound`] if absent.
    fn get_policy(
        &mut self,
        selector: &Selector,
        dir: PolicyDir,
    ) -> Result<PolicySummary, XfrmError>;

    /// Every SA.
    fn list_sas(&mut self) -> Result<Vec<SaSummary>, XfrmError>;

    /// Every in/out/fwd policy.
    fn list_policies(&mut self) -> Result<Vec<PolicySummary>, XfrmError>;
}

impl XfrmOps for Xfrm {
    fn alloc_spi(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        reqid: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, XfrmError> {
        Xfrm::alloc_spi(self, src, dst, reqid, min, max)
    }

    fn add_sa(&mut self, sa: &SaParams) -> Result<(), XfrmError> {
        Xfrm::add_sa(self, sa)
    }

    fn delete_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<(), XfrmError> {
        Xfrm::delete_sa(self, src, dst, spi)
    }

    fn move_sa(&mut self, to: &SaMove) -> Result<(), XfrmError> {
        Xfrm::move_sa(self, to)
    }

    fn get_sa(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<SaSummary, XfrmError> {
        Xfrm::get_sa(self, src, dst, spi)
    }

    fn sa_counters(&mut self, src: IpAddr, dst: IpAddr, spi: u32) -> Result<SaCounters, XfrmError> {
        Xfrm::sa_counters(self, src, dst, spi)
    }

    fn add_policy(&mut self, p: &PolicyParams) -> Result<(), XfrmError> {
        Xfrm::add_policy(self, p)
    }

    fn delete_policy(&mut self, selector: &Selector, dir: PolicyDir) -> Result<(), XfrmError> {
        Xfrm::delete_policy(self, selector, dir)
    }

    fn get_policy(
        &mut self,
        selector: &Selector,
        dir: PolicyDir,
    ) -> Result<PolicySummary, XfrmError> {
        Xfrm::get_policy(self, selector, dir)
    }

    fn list_sas(&mut self) -> Result<Vec<SaSummary>, XfrmError> {
        Xfrm::list_sas(self)
    }

    fn list_policies(&mut self) -> Result<Vec<PolicySummary>, XfrmError> {
        Xfrm::list_policies(self)
    }
}
