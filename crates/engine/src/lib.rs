//! tern-engine: the sans-IO IKEv2 protocol engine.
//!
//! The engine is handed datagrams, time and commands, and hands back datagrams,
//! kernel operations, timer deadlines and events. It never performs I/O, reads the
//! clock or draws randomness itself (see [`Environment`]), so a simulation of two
//! engines is deterministic and runs hours of protocol time in milliseconds.

pub mod civil_time;
pub mod config;
pub mod log_limit;

mod adapt;
mod algorithms;
mod capabilities;
mod cert_auth;
mod child_sa;
mod child_select;
mod children;
mod chosen_keys;
mod config_payload;
mod cookie;
mod counters;
mod create_child_sa;
mod dpd;
mod duplicate_ike;
mod duplicates;
mod eap;
mod eap_auth;
mod eap_client;
mod eap_radius;
mod eap_server;
mod end_action;
mod end_reason;
mod engine;
mod env;
mod fragment;
#[cfg(feature = "fuzzing")]
mod fuzz_hook;
mod half_open;
mod handover;
mod held_outbound;
mod history;
mod identity;
mod ike_auth;
mod ike_rekey;
mod ike_sa;
mod ike_sa_init;
mod inbound_spis;
mod informational;
mod initial_contact;
mod kernel_events;
mod kernel_refusal;
mod lint;
mod mobike;
mod mobike_client;
mod nat;
mod output;
mod payloads;
mod policy_hold;
mod pool;
mod proposal;
mod radius_session;
mod reauth;
mod rhythm;
mod shard;
mod shared_child;
mod stats;
mod timers;
mod traffic;
mod trap;
mod ts;
pub mod verdict;

pub use counters::CounterRead;
pub use eap_radius::{RadiusAnswer, RadiusRelay};
pub use end_reason::{EndKind, EndReason, KeGroups, RekeyFailure};
pub use engine::{Command, CommandAccepted, Engine, ReloadReport};
pub use env::Environment;
pub use history::{SaEnd, SaKind, HISTORY_PER_CONNECTION};
pub use identity::describe_config as describe_identity;
pub use initial_contact::PeerStartedOver;
pub use kernel_events::{KernelEvent, Refusal};
pub use lint::{lint, Finding, FindingKind};
pub use nat::NAT_KEEPALIVE;
pub use output::{
    ChildSaInfo, EndAction, Event, IkeSaInfo, KernelOp, MobikeInfo, NatInfo, PolicyDirection,
    PolicyInstall, RekeyFailedInfo, SaInstall, SaMove, Selector, TrafficLimits, Transmit, UdpEncap,
    UnansweredInfo,
};
pub use pool::{LeaseInfo, VirtualIp};
pub use proposal::{describe_offer, encryption_name, EspSuite, IkeSuite};
pub use radius_session::{AccountingRecord, AccountingStatus, RadiusGrant, RadiusSession};
pub use shard::Shard;
pub use stats::{DropReason, Stats};
pub use traffic::{SaTraffic, TrafficRead, Usage};
