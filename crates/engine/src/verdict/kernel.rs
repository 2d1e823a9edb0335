//! CHILD SAs the kernel of this host refused: nothing the peer or the
//! lifetimes did, and nothing tern can change by itself (it creates the child
//! again with a growing back-off, see `kernel_refusal`).

use super::*;

/// Each child with SAs the kernel refused to install.
pub(super) fn kernel_refusals(e: &Evidence, out: &mut Vec<Verdict>) {
    for child in &e.children {
        let name = child.name.as_str();
        let refused: Vec<&EndEvidence> = e
            .ends
            .iter()
            .filter(|x| x.child.as_deref() == Some(name) && x.kind == EndKind::KernelRefused)
            .collect();
        if refused.is_empty() {
            continue;
        }
        out.push(verdict(
            e,
            VerdictKind::KernelRefused,
            Some(name),
            format!(
                "connection {}, child {name}: this host's kernel refused its ESP SAs ({}); \
                 tern told the peer and creates the CHILD SA again, waiting longer after \
                 each refusal (up to 5 minutes), and the child's traffic is held, not sent, \
                 meanwhile.",
                e.connection,
                summary(e, &refused)
            ),
            &refused,
            None,
            "check this host's kernel, not the peer: ESP and the negotiated algorithm must be \
             available (the esp4/esp6 modules and the cipher's, see dmesg and the kernel's \
             words in the evidence); \"File exists\" means another IPsec daemon holds the same \
             SPI (ip xfrm state)"
                .to_string(),
        ));
    }
}
