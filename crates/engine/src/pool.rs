//! Address pools for remote-access clients: which virtual IP each peer identity
//! holds (RFC 7296 §2.19).
//!
//! Pure bookkeeping, deterministic: addresses are handed out in order, first to
//! last, so a replayed simulation leases the same ones. The rules are strongSwan's
//! (its in-memory pools), so its users find what they know:
//! - a requested address is given when it is free, or already this identity's;
//! - a returning identity gets its previous (released) address back;
//! - a released address stays its identity's ("offline") until the pool has no
//!   address left that was never leased, and only then goes to another, oldest first;
//! - an address held by an identity's IKE SA may be shared by another IKE SA of the
//!   same identity that asks for it (a make-before-break reauthentication); it is
//!   released when the last of them ends.
//!
//! With several engines (shards), each hands out only its own slice of a pool
//! (every `count`-th address from its `index`), so no two engines lease one
//! address and none needs to ask the others.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::{AddressRange, PoolConfig};
use crate::shard::Shard;

/// One address family's addresses of one pool, and who holds which.
#[derive(Debug)]
pub(crate) struct AddressPool {
    /// First and last address of each range, as numbers (one family).
    ranges: Vec<(u128, u128)>,
    v6: bool,
    /// Addresses in all ranges (saturating: an IPv6 pool may be vast).
    size: u128,
    /// This engine's slice: offsets `first`, `first + step`, ...
    first: u128,
    step: u128,
    /// The next offset (of this slice) never leased yet, unless requested since.
    next_fresh: u128,
    leases: HashMap<IpAddr, Lease>,
    /// Addresses whose holders all ended, by the order they were released.
    offline: BTreeMap<u64, IpAddr>,
    released: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Lease {
    identity: String,
    /// IKE SAs using the address; 0: offline, kept for the identity.
    holders: u32,
    /// Its key in `offline` while offline.
    offline_key: Option<u64>,
}

/// One leased address, as `ternctl leases` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub pool: String,
    pub address: IpAddr,
    pub identity: String,
    /// Whether an IKE SA holds it now (else it waits for its identity to return).
    pub online: bool,
}

fn to_u128(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

impl AddressPool {
    /// The addresses of `ranges` of one family (`v6`); ranges of the other are left out.
    pub(crate) fn new(ranges: &[AddressRange], v6: bool, shard: Shard) -> Option<AddressPool> {
        let ranges: Vec<(u128, u128)> = ranges
            .iter()
            .filter(|r| r.first.is_ipv6() == v6)
            .map(|r| (to_u128(r.first), to_u128(r.last)))
            .filter(|(first, last)| first <= last)
            .collect();
        if ranges.is_empty() {
            return None;
        }
        let size = ranges.iter().fold(0u128, |total, (first, last)| {
            total.saturating_add((last - first).saturating_add(1))
        });
        Some(AddressPool {
            ranges,
            v6,
            size,
            first: u128::from(shard.index()),
            step: u128::from(shard.count().max(1)),
            next_fresh: u128::from(shard.index()),
            leases: HashMap::new(),
            offline: BTreeMap::new(),
            released: 0,
        })
    }

    fn address_at(&self, mut offset: u128) -> Option<IpAddr> {
        for (first, last) in &self.ranges {
            let len = (last - first).saturating_add(1);
            if offset < len {
                let n = first + offset;
                return Some(if self.v6 {
                    IpAddr::V6(Ipv6Addr::from(n))
                } else {
                    IpAddr::V4(Ipv4Addr::from(n as u32))
                });
            }
            offset -= len;
        }
        None
    }

    fn offset_of(&self, address: IpAddr) -> Option<u128> {
        if address.is_ipv6() != self.v6 {
            return None;
        }
        let n = to_u128(address);
        let mut base = 0u128;
        for (first, last) in &self.ranges {
            if (*first..=*last).contains(&n) {
                return Some(base + (n - first));
            }
            base = base.saturating_add((last - first).saturating_add(1));
        }
        None
    }

    /// Whether `address` is in the pool and in this engine's slice of it.
    fn is_ours(&self, address: IpAddr) -> bool {
        self.offset_of(address)
            .is_some_and(|o| o % self.step == self.first)
    }

    /// An address for an IKE SA of `identity`: `requested` if that may be had, else
    /// its previous one, else one never leased, else the oldest released one of
    /// another identity. `None` when every address is held.
    ///
    /// `started_over`: the peer sent INITIAL_CONTACT, so its other IKE SAs are about
    /// to go; an address they hold is its previous one (the lowest, if several).
    pub(crate) fn acquire(
        &mut self,
        identity: &str,
        requested: Option<IpAddr>,
        started_over: bool,
    ) -> Option<IpAddr> {
        if let Some(wanted) = requested.filter(|a| self.is_ours(*a)) {
            match self.leases.get(&wanted) {
                Some(lease) if lease.identity == identity => return Some(self.take(wanted)),
                None => return Some(self.lease_new(wanted, identity)),
                Some(_) => {}
            }
        }
        let offline = self
            .offline
            .values()
            .copied()
            .find(|a| self.leases[a].identity == identity);
        let held = || {
            self.leases
                .iter()
                .filter(|(_, l)| l.identity == identity && l.holders > 0)
                .map(|(a, _)| *a)
                .min()
        };
        let previous = offline.or_else(|| started_over.then(held).flatten());
        if let Some(address) = previous {
            return Some(self.take(address));
        }
        if let Some(address) = self.fresh() {
            return Some(self.lease_new(address, identity));
        }
        let (_, oldest) = self.offline.pop_first()?;
        self.leases.remove(&oldest);
        Some(self.lease_new(oldest, identity))
    }

    /// The next address never leased (or requested) yet, moving past it.
    fn fresh(&mut self) -> Option<IpAddr> {
        while self.next_fresh < self.size {
            let address = self.address_at(self.next_fresh)?;
            self.next_fresh = self.next_fresh.saturating_add(self.step);
            if !self.leases.contains_key(&address) {
                return Some(address);
            }
        }
        None
    }

    fn lease_new(&mut self, address: IpAddr, identity: &str) -> IpAddr {
        let lease = Lease {
            identity: identity.to_string(),
            holders: 1,
            offline_key: None,
        };
        self.leases.insert(address, lease);
        address
    }

    /// One more holder of a lease this identity already has.
    fn take(&mut self, address: IpAddr) -> IpAddr {
        let lease = self.leases.get_mut(&address).expect("a leased address");
        lease.holders += 1;
        if let Some(key) = lease.offline_key.take() {
            self.offline.remove(&key);
        }
        address
    }

    /// One holder of `address` ended; with the last, the address goes offline,
    /// kept for its identity.
    pub(crate) fn release(&mut self, address: IpAddr) {
        let Some(lease) = self.leases.get_mut(&address) else {
            return;
        };
        if lease.holders == 0 {
            return;
        }
        lease.holders -= 1;
        if lease.holders == 0 {
            self.released += 1;
            lease.offline_key = Some(self.released);
            self.offline.insert(self.released, address);
        }
    }

    /// How many addresses this engine may hand out.
    pub(crate) fn capacity(&self) -> u128 {
        let beyond_first = self.size.saturating_sub(self.first);
        beyond_first.div_ceil(self.step)
    }

    /// How many addresses IKE SAs hold now.
    pub(crate) fn online(&self) -> usize {
        self.leases.values().filter(|l| l.holders > 0).count()
    }

    fn list(&self, pool: &str) -> impl Iterator<Item = LeaseInfo> + '_ {
        let pool = pool.to_string();
        self.leases.iter().map(move |(address, lease)| LeaseInfo {
            pool: pool.clone(),
            address: *address,
            identity: lease.identity.clone(),
            online: lease.holders > 0,
        })
    }
}

/// A configured pool and its address families' bookkeeping.
#[derive(Debug)]
struct Pool {
    config: PoolConfig,
    v4: Option<AddressPool>,
    v6: Option<AddressPool>,
}

impl Pool {
    fn new(config: &PoolConfig, shard: Shard) -> Pool {
        Pool {
            config: config.clone(),
            v4: AddressPool::new(&config.ranges, false, shard),
            v6: AddressPool::new(&config.ranges, true, shard),
        }
    }

    fn family(&mut self, v6: bool) -> Option<&mut AddressPool> {
        if v6 {
            self.v6.as_mut()
        } else {
            self.v4.as_mut()
        }
    }
}

/// A virtual IP an IKE SA holds, to be released when it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualIp {
    pub pool: String,
    pub address: IpAddr,
}

/// Every pool of an engine, by name, made when first used.
#[derive(Debug, Default)]
pub(crate) struct Pools {
    pools: BTreeMap<String, Pool>,
    shard: Shard,
}

/// Why no address of a family could be had from a connection's pools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NoAddress {
    /// None of the pools has addresses of that family.
    NoSuchFamily,
    /// Every address of the family is held: the pools, how many addresses IKE SAs
    /// hold in each and how many this engine may hand out.
    Exhausted(Vec<(String, usize, u128)>),
}

impl Pools {
    pub(crate) fn new(shard: Shard) -> Pools {
        Pools {
            pools: BTreeMap::new(),
            shard,
        }
    }

    /// An address of family `v6` for `identity` from the first of `configs` that has
    /// one (see [`AddressPool::acquire`], also for `started_over`).
    pub(crate) fn acquire(
        &mut self,
        configs: &[PoolConfig],
        identity: &str,
        v6: bool,
        requested: Option<IpAddr>,
        started_over: bool,
    ) -> Result<VirtualIp, NoAddress> {
        let mut full = Vec::new();
        for config in configs {
            let shard = self.shard;
            let pool = self
                .pools
                .entry(config.name.clone())
                .or_insert_with(|| Pool::new(config, shard));
            if pool.config != *config {
                // Changed by a reload: the SAs that held its addresses were ended.
                *pool = Pool::new(config, shard);
            }
            let Some(family) = pool.family(v6) else {
                continue;
            };
            if let Some(address) = family.acquire(identity, requested, started_over) {
                return Ok(VirtualIp {
                    pool: config.name.clone(),
                    address,
                });
            }
            full.push((config.name.clone(), family.online(), family.capacity()));
        }
        if full.is_empty() {
            Err(NoAddress::NoSuchFamily)
        } else {
            Err(NoAddress::Exhausted(full))
        }
    }

    pub(crate) fn release(&mut self, vip: &VirtualIp) {
        let v6 = vip.address.is_ipv6();
        if let Some(family) = self.pools.get_mut(&vip.pool).and_then(|p| p.family(v6)) {
            family.release(vip.address);
        }
    }

    /// Forgets pools no longer configured as they were (a reload): their leases
    /// went with the connections that changed.
    pub(crate) fn retain_configured<'a>(
        &mut self,
        configured: impl Iterator<Item = &'a PoolConfig>,
    ) {
        let configured: Vec<&PoolConfig> = configured.collect();
        self.pools
            .retain(|_, pool| configured.iter().any(|c| **c == pool.config));
    }

    /// Every lease, by pool and address.
    pub(crate) fn leases(&self) -> Vec<LeaseInfo> {
        let mut all: Vec<LeaseInfo> = self
            .pools
            .iter()
            .flat_map(|(name, pool)| {
                pool.v4
                    .iter()
                    .chain(pool.v6.iter())
                    .flat_map(move |family| family.list(name))
            })
            .collect();
        all.sort_by(|a, b| (&a.pool, a.address).cmp(&(&b.pool, b.address)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: &str, last: &str) -> AddressRange {
        AddressRange {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }
    }

    fn pool(first: &str, last: &str) -> AddressPool {
        AddressPool::new(&[range(first, last)], first.contains(':'), Shard::ONLY).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_go_out_in_order_until_the_pool_is_exhausted() {
        let mut p = pool("10.3.0.1", "10.3.0.3");
        assert_eq!(p.acquire("a", None, false), Some(ip("10.3.0.1")));
        assert_eq!(p.acquire("b", None, false), Some(ip("10.3.0.2")));
        assert_eq!(p.acquire("c", None, false), Some(ip("10.3.0.3")));
        assert_eq!(p.acquire("d", None, false), None);
        assert_eq!(p.online(), 3);
    }

    #[test]
    fn a_requested_address_is_given_when_free_and_skipped_later() {
        let mut p = pool("10.3.0.1", "10.3.0.3");
        assert_eq!(
            p.acquire("a", Some(ip("10.3.0.2")), false),
            Some(ip("10.3.0.2"))
        );
        // Taken: another identity asking for it gets the next free one.
        assert_eq!(
            p.acquire("b", Some(ip("10.3.0.2")), false),
            Some(ip("10.3.0.1"))
        );
        assert_eq!(p.acquire("c", None, false), Some(ip("10.3.0.3")));
        // Outside the pool: ignored.
        let mut q = pool("10.3.0.1", "10.3.0.3");
        assert_eq!(
            q.acquire("a", Some(ip("192.0.2.9")), false),
            Some(ip("10.3.0.1"))
        );
    }

    #[test]
    fn a_returning_identity_gets_its_previous_address() {
        let mut p = pool("10.3.0.1", "10.3.0.9");
        let a = p.acquire("a", None, false).unwrap();
        let b = p.acquire("b", None, false).unwrap();
        p.release(a);
        p.release(b);
        assert_eq!(p.acquire("c", None, false), Some(ip("10.3.0.3")));
        assert_eq!(p.acquire("b", None, false), Some(b));
        assert_eq!(p.acquire("a", None, false), Some(a));
    }

    #[test]
    fn released_addresses_go_to_others_only_when_none_is_fresh_oldest_first() {
        let mut p = pool("10.3.0.1", "10.3.0.2");
        let a = p.acquire("a", None, false).unwrap();
        let b = p.acquire("b", None, false).unwrap();
        assert_eq!(p.acquire("c", None, false), None);
        p.release(b);
        p.release(a);
        assert_eq!(p.acquire("c", None, false), Some(b));
        assert_eq!(p.acquire("d", None, false), Some(a));
        // a's address is d's now: a gets nothing back.
        assert_eq!(p.acquire("a", None, false), None);
    }

    #[test]
    fn one_identity_shares_an_address_it_asks_for_until_the_last_holder_ends() {
        let mut p = pool("10.3.0.1", "10.3.0.1");
        let a = p.acquire("a", None, false).unwrap();
        // Its reauthentication asks for the address it has.
        assert_eq!(p.acquire("a", Some(a), false), Some(a));
        p.release(a);
        assert_eq!(p.online(), 1);
        assert_eq!(p.acquire("b", None, false), None);
        p.release(a);
        assert_eq!(p.online(), 0);
        assert_eq!(p.acquire("b", None, false), Some(a));
        // A second release of an offline lease changes nothing.
        p.release(ip("10.3.0.7"));
    }

    #[test]
    fn an_identity_not_asking_for_its_held_address_gets_another() {
        let mut p = pool("10.3.0.1", "10.3.0.2");
        assert_eq!(p.acquire("a", None, false), Some(ip("10.3.0.1")));
        assert_eq!(p.acquire("a", None, false), Some(ip("10.3.0.2")));
    }

    #[test]
    fn a_peer_starting_over_gets_the_address_its_old_ike_sa_holds() {
        // INITIAL_CONTACT: its old IKE SA is about to go, after the new one took
        // the address; the address then stays with the new one.
        let mut p = pool("10.3.0.1", "10.3.0.9");
        let old = p.acquire("a", None, false).unwrap();
        p.acquire("b", None, false).unwrap();
        assert_eq!(p.acquire("a", None, true), Some(old));
        p.release(old);
        assert_eq!(p.online(), 2);
        assert_eq!(p.acquire("c", Some(old), false), Some(ip("10.3.0.3")));
    }

    #[test]
    fn several_ranges_are_one_pool_and_ipv6_works_alike() {
        let ranges = [range("10.3.0.1", "10.3.0.1"), range("10.9.0.5", "10.9.0.6")];
        let mut p = AddressPool::new(&ranges, false, Shard::ONLY).unwrap();
        assert_eq!(p.capacity(), 3);
        let got: Vec<_> = ["a", "b", "c", "d"]
            .map(|i| p.acquire(i, None, false))
            .to_vec();
        assert_eq!(
            got,
            [
                Some(ip("10.3.0.1")),
                Some(ip("10.9.0.5")),
                Some(ip("10.9.0.6")),
                None
            ]
        );
        let mut v6 = pool("fd00::1", "fd00::ffff:ffff:ffff:ffff");
        assert_eq!(v6.acquire("a", None, false), Some(ip("fd00::1")));
        assert_eq!(
            v6.acquire("b", Some(ip("fd00::99")), false),
            Some(ip("fd00::99"))
        );
        assert!(AddressPool::new(&ranges, true, Shard::ONLY).is_none());
    }

    #[test]
    fn shards_hand_out_disjoint_slices() {
        let ranges = [range("10.3.0.1", "10.3.0.5")];
        let mut zero = AddressPool::new(&ranges, false, Shard::new(0, 2).unwrap()).unwrap();
        let mut one = AddressPool::new(&ranges, false, Shard::new(1, 2).unwrap()).unwrap();
        assert_eq!((zero.capacity(), one.capacity()), (3, 2));
        let mut from_zero = Vec::new();
        while let Some(a) = zero.acquire(&format!("z{}", from_zero.len()), None, false) {
            from_zero.push(a);
        }
        // Another shard's address is not ours to give, even when asked for.
        assert_eq!(
            one.acquire("o", Some(ip("10.3.0.1")), false),
            Some(ip("10.3.0.2"))
        );
        assert_eq!(one.acquire("p", None, false), Some(ip("10.3.0.4")));
        assert_eq!(one.acquire("q", None, false), None);
        assert_eq!(from_zero, [ip("10.3.0.1"), ip("10.3.0.3"), ip("10.3.0.5")]);
    }

    fn config(name: &str, ranges: Vec<AddressRange>) -> PoolConfig {
        PoolConfig {
            name: name.into(),
            ranges,
            dns: Vec::new(),
            domains: Vec::new(),
        }
    }

    #[test]
    fn pools_are_tried_in_order_and_exhaustion_names_them() {
        let small = config("small", vec![range("10.3.0.1", "10.3.0.1")]);
        let next = config("next", vec![range("10.4.0.1", "10.4.0.1")]);
        let both = [small.clone(), next.clone()];
        let mut pools = Pools::new(Shard::ONLY);
        let first = pools.acquire(&both, "a", false, None, false).unwrap();
        let second = pools.acquire(&both, "b", false, None, false).unwrap();
        assert_eq!(
            (first.pool.as_str(), second.pool.as_str()),
            ("small", "next")
        );
        assert_eq!(
            pools.acquire(&both, "c", false, None, false),
            Err(NoAddress::Exhausted(vec![
                ("small".into(), 1, 1),
                ("next".into(), 1, 1)
            ]))
        );
        assert_eq!(
            pools.acquire(&both, "c", true, None, false),
            Err(NoAddress::NoSuchFamily)
        );
        pools.release(&first);
        let listed = pools.leases();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            listed[1],
            LeaseInfo {
                pool: "small".into(),
                address: ip("10.3.0.1"),
                identity: "a".into(),
                online: false
            }
        );
        // A reload that keeps `small` unchanged keeps its leases; `next` is gone.
        pools.retain_configured([small].iter());
        assert_eq!(pools.leases().len(), 1);
    }
}
