//! crypto-bound: how many aes128gcm16-prfsha256-x25519 PSK handshakes per
//! second the cryptography alone allows (both sides' work, see
//! tern_load::crypto_bound), on `--threads` threads. Prints JSON.

use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "crypto-bound", about)]
struct Args {
    /// Threads doing handshakes' cryptography side by side.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

fn main() {
    let args = Args::parse();
    let rate =
        tern_load::crypto_bound::rate_per_s(args.threads, Duration::from_secs_f64(args.seconds));
    println!(
        "{}",
        serde_json::json!({ "crypto_bound_per_s": rate, "threads": args.threads })
    );
}
