//! What an engine's loop has read but not yet handled, in two classes, so that
//! when ternd cannot keep up the IKE SAs it already has come first.
//!
//! A new IKE SA (an IKE_SA_INIT request) costs a Diffie-Hellman and is what a
//! flood sends; everything else (requests and responses on known SPIs: rekeys,
//! DPD, DELETE, answers to our own requests) is cheap and keeps tunnels up. The
//! loop reads the sockets dry into this queue (reading is cheap) and then
//! handles every known-SPI datagram, but only [`NEW_PER_TURN`] new IKE SAs,
//! before it reads again. Each class has a bound; past it datagrams are shed,
//! new IKE SAs long before the others, and counted. A shed IKE_SA_INIT costs its
//! initiator one retransmission.
//!
//! New IKE SAs are shed fairly by source address: when their queue is full, the
//! address with the most waiting loses its newest one. A flood from a few dozen
//! addresses then fills the queue with its own datagrams only, and an initiator
//! that sends one IKE_SA_INIT at a time always finds room (shedding by arrival
//! alone dropped it as often as the flood's, and an initiator gives up after a
//! few lost tries).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use crate::dispatch;

/// New IKE SAs handled per turn of the loop before the sockets are read again.
pub const NEW_PER_TURN: usize = 8;
/// IKE_SA_INIT requests waiting at most: at ~0.2 ms of key exchange each, about
/// 50 ms of work; older ones would be answered after their initiator gave up on
/// the attempt (strongSwan retransmits after 4 s, but a flood keeps the queue full).
pub const NEW_CAPACITY: usize = 256;
/// Other datagrams waiting at most (cheap to handle; the bound only caps memory:
/// 4,096 of at most 64 KiB).
pub const KNOWN_CAPACITY: usize = 4096;

/// One datagram as read (non-ESP marker removed).
pub struct Datagram {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
pub struct Intake {
    known: VecDeque<Datagram>,
    new: VecDeque<Datagram>,
    /// How many of `new` each source address has (addresses with none are not kept).
    new_by_source: HashMap<IpAddr, usize>,
    /// New IKE SAs taken from `new` this turn.
    new_this_turn: usize,
    /// IKE_SA_INIT requests shed because `NEW_CAPACITY` were waiting.
    pub shed_new: u64,
    /// Other datagrams shed because `KNOWN_CAPACITY` were waiting.
    pub shed_known: u64,
}

impl Intake {
    /// Queues a datagram, or sheds (and counts) it if its class is full.
    pub fn push(&mut self, datagram: Datagram) {
        if dispatch::is_new_ike_sa(&datagram.bytes) {
            self.push_new(datagram);
        } else if self.known.len() >= KNOWN_CAPACITY {
            self.shed_known += 1;
        } else {
            self.known.push_back(datagram);
        }
    }

    /// Queues a new IKE SA; when the queue is full, the source with the most
    /// waiting sheds its newest (this one, if its source has as many as any).
    fn push_new(&mut self, datagram: Datagram) {
        let source = datagram.remote.ip();
        if self.new.len() >= NEW_CAPACITY {
            self.shed_new += 1;
            let ours = self.waiting_from(source);
            let Some((&greediest, &most)) = self.new_by_source.iter().max_by_key(|(_, n)| **n)
            else {
                return;
            };
            if ours + 1 >= most {
                return;
            }
            let newest = self.new.iter().rposition(|d| d.remote.ip() == greediest);
            if let Some(at) = newest {
                self.new.remove(at);
                self.forget_new(greediest);
            }
        }
        *self.new_by_source.entry(source).or_default() += 1;
        self.new.push_back(datagram);
    }

    fn waiting_from(&self, source: IpAddr) -> usize {
        self.new_by_source.get(&source).copied().unwrap_or(0)
    }

    /// One datagram of `source` left the new-IKE-SA queue.
    fn forget_new(&mut self, source: IpAddr) {
        if let Some(n) = self.new_by_source.get_mut(&source) {
            *n -= 1;
            if *n == 0 {
                self.new_by_source.remove(&source);
            }
        }
    }

    /// The next datagram of this turn: known SPIs first, then new IKE SAs up to
    /// [`NEW_PER_TURN`]. `None` ends the turn.
    pub fn next(&mut self) -> Option<Datagram> {
        if let Some(d) = self.known.pop_front() {
            return Some(d);
        }
        if self.new_this_turn < NEW_PER_TURN {
            let d = self.new.pop_front()?;
            self.forget_new(d.remote.ip());
            self.new_this_turn += 1;
            return Some(d);
        }
        None
    }

    /// Starts the next turn (after the sockets were read again).
    pub fn new_turn(&mut self) {
        self.new_this_turn = 0;
    }

    /// Whether datagrams wait for a later turn.
    pub fn is_waiting(&self) -> bool {
        !self.known.is_empty() || !self.new.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IKE header: initiator SPI, responder SPI, next payload, version,
    /// exchange type, flags, message ID, length.
    fn ike(responder_spi: [u8; 8], exchange: u8, flags: u8) -> Vec<u8> {
        let mut b = vec![0x11; 8];
        b.extend_from_slice(&responder_spi);
        b.extend_from_slice(&[33, 0x20, exchange, flags, 0, 0, 0, 0, 0, 0, 0, 28]);
        b
    }

    fn datagram(bytes: Vec<u8>) -> Datagram {
        from("198.51.100.7:500", bytes)
    }

    fn from(remote: &str, bytes: Vec<u8>) -> Datagram {
        Datagram {
            local: "192.0.2.1:500".parse().unwrap(),
            remote: remote.parse().unwrap(),
            bytes,
        }
    }

    fn init_request() -> Datagram {
        datagram(ike([0; 8], 34, 0x08))
    }

    fn dpd_request() -> Datagram {
        datagram(ike([0x22; 8], 37, 0x08))
    }

    #[test]
    fn known_spis_come_before_new_ike_sas_whatever_the_order_they_came_in() {
        let mut intake = Intake::default();
        for _ in 0..100 {
            intake.push(init_request());
        }
        intake.push(dpd_request());
        let first = intake.next().unwrap();
        assert!(!dispatch::is_new_ike_sa(&first.bytes));
        // Then new IKE SAs, NEW_PER_TURN of them, and the turn ends.
        let mut taken = 0;
        while let Some(d) = intake.next() {
            assert!(dispatch::is_new_ike_sa(&d.bytes));
            taken += 1;
        }
        assert_eq!(taken, NEW_PER_TURN);
        assert!(intake.is_waiting());
        // Something known read in the next turn still goes first.
        intake.new_turn();
        intake.push(dpd_request());
        assert!(!dispatch::is_new_ike_sa(&intake.next().unwrap().bytes));
        assert!(dispatch::is_new_ike_sa(&intake.next().unwrap().bytes));
    }

    #[test]
    fn a_flood_of_new_ike_sas_is_shed_and_counted_and_never_crowds_out_the_rest() {
        let mut intake = Intake::default();
        for _ in 0..NEW_CAPACITY + 1000 {
            intake.push(init_request());
        }
        assert_eq!(intake.shed_new, 1000);
        for _ in 0..KNOWN_CAPACITY {
            intake.push(dpd_request());
        }
        assert_eq!(intake.shed_known, 0, "the flood took no room of theirs");
        intake.push(dpd_request());
        assert_eq!((intake.shed_new, intake.shed_known), (1000, 1));
        let mut known = 0;
        while let Some(d) = intake.next() {
            if !dispatch::is_new_ike_sa(&d.bytes) {
                known += 1;
            }
        }
        assert_eq!(known, KNOWN_CAPACITY);
    }

    #[test]
    fn an_ike_sa_init_response_is_known_traffic() {
        // We initiated: the peer's answer carries its SPI and the response flag.
        let mut intake = Intake::default();
        for _ in 0..NEW_CAPACITY {
            intake.push(init_request());
        }
        intake.push(datagram(ike([0x33; 8], 34, 0x20)));
        assert_eq!((intake.shed_new, intake.shed_known), (0, 0));
        assert!(!dispatch::is_new_ike_sa(&intake.next().unwrap().bytes));
    }

    #[test]
    fn an_initiator_among_a_flood_from_many_addresses_is_never_shed() {
        let mut intake = Intake::default();
        let flooder = |n: usize| format!("198.51.100.{}:500", 10 + n % 40);
        for n in 0..NEW_CAPACITY * 4 {
            intake.push(from(&flooder(n), ike([0; 8], 34, 0x08)));
        }
        let legitimate = "203.0.113.5:500";
        intake.push(from(legitimate, ike([0; 8], 34, 0x08)));
        for n in 0..NEW_CAPACITY * 4 {
            intake.push(from(&flooder(n), ike([0; 8], 34, 0x08)));
        }
        assert_eq!(intake.shed_new, (NEW_CAPACITY * 7 + 1) as u64);
        let mut handled = Vec::new();
        loop {
            intake.new_turn();
            let before = handled.len();
            while let Some(d) = intake.next() {
                handled.push(d.remote.to_string());
            }
            if handled.len() == before {
                break;
            }
        }
        assert_eq!(handled.len(), NEW_CAPACITY);
        assert!(
            handled.iter().any(|r| r == legitimate),
            "its IKE_SA_INIT was shed"
        );
        assert!(intake.new_by_source.is_empty(), "counts follow the queue");
    }

    #[test]
    fn one_address_flooding_alone_sheds_its_own_newest() {
        let mut intake = Intake::default();
        for n in 0..NEW_CAPACITY + 10 {
            let mut d = init_request();
            d.bytes[0] = n as u8; // tell them apart by the initiator SPI
            intake.push(d);
        }
        assert_eq!(intake.shed_new, 10);
        assert_eq!(intake.next().unwrap().bytes[0], 0, "the oldest are kept");
    }
}
