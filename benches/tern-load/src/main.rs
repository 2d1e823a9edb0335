//! tern-load: establishes IKE SAs, each with a CHILD SA (or, with
//! `--childless`, none: RFC 6023), against a responder (ternd, strongSwan's
//! charon, ...) and prints what it achieved as JSON.
//!
//!     tern-load --responder 192.0.2.2:500 --count 10000 --concurrency 64

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tern_load::load::{self, LoadSpec};
use tern_load::profile::Profile;

#[derive(Parser, Debug)]
#[command(name = "tern-load", version, about)]
struct Args {
    /// The responder's IKE address and port.
    #[arg(long)]
    responder: SocketAddr,
    /// IKE SAs to establish.
    #[arg(long, short = 'n', default_value_t = 1000)]
    count: u32,
    /// IKE SAs in flight at once; each has its own source port.
    #[arg(long, short = 'c', default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value = "tern-load shared key")]
    psk: String,
    /// IKE proposal.
    #[arg(long, default_value = "aes128gcm16-prfsha256-x25519")]
    proposal: String,
    /// ESP proposal of the CHILD SA.
    #[arg(long, default_value = "aes128gcm16")]
    esp_proposal: String,
    /// The responder's identity; `%any` accepts whatever it proves.
    #[arg(long, default_value = tern_load::profile::RESPONDER_ID)]
    responder_id: String,
    /// Identity number of the first IKE SA (load-<n>.tern.example), so that
    /// several runs against one responder use different identities.
    #[arg(long, default_value_t = 0)]
    first_index: u32,
    /// Seconds before one IKE SA counts as failed.
    #[arg(long, default_value_t = 30)]
    timeout_s: u64,
    /// Source address of the IKE SAs, repeatable: the workers take them in
    /// turn. Default: the address the route to the responder picks.
    #[arg(long = "source")]
    sources: Vec<std::net::IpAddr>,
    /// IKE SAs without a CHILD SA (RFC 6023): IKE_AUTH carries no SA or TS
    /// payloads, and an IKE SA counts only if the responder announced
    /// CHILDLESS_IKEV2_SUPPORTED and made no CHILD SA.
    #[arg(long)]
    childless: bool,
    /// Runtime threads (1 keeps the generator off the responder's cores).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec = LoadSpec {
        responder: args.responder,
        profile: Profile {
            psk: args.psk,
            proposal: args.proposal,
            esp_proposal: args.esp_proposal,
            responder_id: (args.responder_id != "%any").then_some(args.responder_id),
            childless: args.childless,
        },
        count: args.count,
        concurrency: args.concurrency,
        timeout: Duration::from_secs(args.timeout_s),
        first_index: args.first_index,
        sources: args.sources,
    };
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let summary = runtime.block_on(load::run(spec))?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}
