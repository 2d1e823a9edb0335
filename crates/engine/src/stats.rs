//! Counters for `ternctl stats` and for tests: what came in, what went out, and
//! every packet dropped, by reason.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The datagram is not a well-formed IKEv2 message.
    Malformed,
    /// No IKE SA has the SPI the message names.
    UnknownSpi,
    /// The SK payload failed its integrity check or did not decrypt.
    Unauthenticated,
    /// A request outside the message ID window.
    OutOfWindow,
    /// Well-formed, but not what the SA expects now.
    Unexpected,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::UnknownSpi => "unknown-spi",
            DropReason::Unauthenticated => "unauthenticated",
            DropReason::OutOfWindow => "out-of-window",
            DropReason::Unexpected => "unexpected",
        }
    }

    /// What the log's summary line calls these drops.
    pub fn log_label(self) -> &'static str {
        match self {
            DropReason::Malformed => "dropped IKE packets (malformed)",
            DropReason::UnknownSpi => "dropped IKE packets (unknown-spi)",
            DropReason::Unauthenticated => "dropped IKE packets (unauthenticated)",
            DropReason::OutOfWindow => "dropped IKE packets (out-of-window)",
            DropReason::Unexpected => "dropped IKE packets (unexpected)",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub sent: u64,
    pub retransmits_sent: u64,
    pub retransmits_answered: u64,
    /// IKE_SA_INIT requests answered with a COOKIE demand instead of a key exchange.
    pub cookies_demanded: u64,
    /// IKE_SA_INIT requests dropped: their address had `half_open_per_address`
    /// half-open IKE SAs already.
    pub half_open_refused_per_address: u64,
    /// IKE_SA_INIT requests dropped: `half_open_limit` IKE SAs were half-open.
    pub half_open_refused_limit: u64,
    /// NAT-keepalives sent because we are behind a NAT.
    pub nat_keepalives_sent: u64,
    pub dropped_malformed: u64,
    pub dropped_unknown_spi: u64,
    pub dropped_unauthenticated: u64,
    pub dropped_out_of_window: u64,
    pub dropped_unexpected: u64,
    pub child_rekeys_initiated: u64,
    /// Simultaneous CHILD SA rekeys resolved by the nonce rule (RFC 7296 §2.8.1).
    pub child_rekey_collisions: u64,
    /// CHILD SAs that reached life_time (should never happen with a live peer).
    pub child_hard_expiries: u64,
    /// Children whose SAs tern now rekeys before the age at which the peer kept
    /// letting them expire (see `adapt`).
    pub rekeys_adapted: u64,
    /// Reauthentications started because a CHILD rekey failed on PFS wanted by
    /// one side only.
    pub pfs_reauths: u64,
    pub ike_rekeys_initiated: u64,
    pub ike_hard_expiries: u64,
    /// Simultaneous IKE SA rekeys settled by the nonce rule (RFC 7296 §2.8.2).
    pub ike_rekey_collisions: u64,
    /// Virtual IPs handed out from address pools (see `config_payload`).
    pub virtual_ips_assigned: u64,
    /// Requests for a virtual IP answered INTERNAL_ADDRESS_FAILURE.
    pub virtual_ip_refusals: u64,
    /// Configuration attributes of a wrong length, ignored.
    pub cp_attributes_malformed: u64,
    /// Liveness checks sent because the peer was silent for dpd_delay.
    pub dpd_checks_sent: u64,
    /// IKE SAs ended because the peer stopped answering an established SA's requests.
    pub dead_peers: u64,
    /// Connections initiated again by dpd_action = restart or close_action = start
    /// (each attempt counts).
    pub restarts: u64,
    /// ESP SAs the kernel refused to install (each ends its CHILD SA, which is
    /// created again after a back-off).
    pub kernel_refusals: u64,
}

impl Stats {
    pub fn count_drop(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Malformed => &mut self.dropped_malformed,
            DropReason::UnknownSpi => &mut self.dropped_unknown_spi,
            DropReason::Unauthenticated => &mut self.dropped_unauthenticated,
            DropReason::OutOfWindow => &mut self.dropped_out_of_window,
            DropReason::Unexpected => &mut self.dropped_unexpected,
        };
        *counter += 1;
    }

    pub fn dropped(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_unknown_spi
            + self.dropped_unauthenticated
            + self.dropped_out_of_window
            + self.dropped_unexpected
    }
}
