//! Prints whether this kernel can carry tern's ESP SAs: `cargo run --example probe`.
//! Exit status 0 when ready, 1 otherwise.

fn main() {
    let report = tern_xfrm::probe();
    println!("{report}");
    std::process::exit(if report.ready() { 0 } else { 1 });
}
