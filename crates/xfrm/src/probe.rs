//! Finds out, once at start-up, whether this kernel can carry ESP at all.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::algorithm::EspAlgorithm;
use crate::error::XfrmError;
use crate::types::{AeadAlgo, Algo, AuthAlgo, Lifetime, Mode, SaParams};
use crate::Xfrm;

/// What [`probe`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The XFRM netlink socket opened and answered a request.
    pub xfrm_usable: bool,
    /// The kernel accepted an ESP SA (`None`: the probe could not tell).
    pub esp_supported: Option<bool>,
    /// What is missing or went wrong, in plain language; `None` when ready.
    pub problem: Option<String>,
    /// Each ESP transform tern negotiates, tried once ESP works (empty
    /// otherwise).
    pub algorithms: Vec<AlgorithmSupport>,
}

/// Whether the kernel accepted an SA with one ESP transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmSupport {
    pub algorithm: EspAlgorithm,
    /// `None` when available; otherwise the kernel's refusal, explained
    /// (which module or option provides it).
    pub problem: Option<String>,
}

impl ProbeReport {
    /// XFRM works and ESP SAs can be installed.
    pub fn ready(&self) -> bool {
        self.xfrm_usable && self.esp_supported == Some(true) && self.problem.is_none()
    }

    /// The transforms the kernel refused, with the reason for each.
    pub fn missing_algorithms(&self) -> impl Iterator<Item = &AlgorithmSupport> {
        self.algorithms.iter().filter(|a| a.problem.is_some())
    }

    /// Whether an SA with `algorithm` went in (`None`: not probed).
    pub fn supports(&self, algorithm: EspAlgorithm) -> Option<bool> {
        self.algorithms
            .iter()
            .find(|a| a.algorithm == algorithm)
            .map(|a| a.problem.is_none())
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            None => f.write_str("XFRM netlink works and the kernel accepts ESP SAs")?,
            Some(p) => f.write_str(p)?,
        }
        let missing: Vec<_> = self.missing_algorithms().collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|a| a.algorithm.to_string()).collect();
            write!(f, "; unavailable ESP algorithms: {}", names.join(", "))?;
            if let Some(p) = missing[0].problem.as_deref() {
                write!(f, " (first refusal: {p})")?;
            }
        }
        Ok(())
    }
}

/// The dummy SA's SPI; reserved by IANA, so no peer will ever pick it.
const PROBE_SPI: u32 = 0x1;

fn dummy_sa(
    aead: Option<AeadAlgo>,
    encryption: Option<Algo>,
    integrity: Option<AuthAlgo>,
) -> SaParams {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    SaParams {
        src: lo,
        dst: lo,
        spi: PROBE_SPI,
        reqid: 0,
        // Transport needs nothing beyond ESP itself (no tunnel mode support).
        mode: Mode::Transport,
        aead,
        encryption,
        integrity,
        encap: None,
        replay_window: 0,
        esn: false,
        lifetime: Lifetime::default(),
        selector: None,
        update: false,
        mark: None,
        if_id: None,
    }
}

/// Candidate transforms, cheapest first: the probe only wants to learn
/// whether ESP exists, so it tries until the kernel knows one algorithm.
fn candidates() -> Vec<SaParams> {
    vec![
        dummy_sa(
            None,
            Some(Algo {
                name: "ecb(cipher_null)",
                key: Vec::new(),
            }),
            None,
        ),
        dummy_sa(
            None,
            Some(Algo {
                name: "cbc(aes)",
                key: vec![0; 16],
            }),
            Some(AuthAlgo {
                name: "hmac(sha256)",
                key: vec![0; 32],
                trunc_bits: 128,
            }),
        ),
        dummy_sa(
            Some(AeadAlgo {
                name: "rfc4106(gcm(aes))",
                key: vec![0; 20],
                icv_bits: 128,
            }),
            None,
            None,
        ),
    ]
}

/// Opens XFRM in the calling thread's network namespace and tries to add
/// (then deletes) a dummy ESP SA 127.0.0.1->127.0.0.1 spi 0x1.
pub fn probe() -> ProbeReport {
    let mut x = match Xfrm::open() {
        Ok(x) => x,
        Err(e) => return unusable(e),
    };
    // A dump needs CAP_NET_ADMIN like every XFRM request, so this checks
    // permission without changing anything.
    if let Err(e) = x.list_policies() {
        return unusable(e);
    }
    let mut last_algorithm_error = None;
    for sa in candidates() {
        match x.add_sa(&sa) {
            Ok(()) => {
                let cleanup = x.delete_sa(sa.src, sa.dst, sa.spi);
                return ProbeReport {
                    xfrm_usable: true,
                    esp_supported: Some(true),
                    problem: cleanup.err().map(|e| {
                        format!("ESP works, but removing the probe's dummy SA failed: {e}")
                    }),
                    algorithms: probe_algorithms(&mut x),
                };
            }
            // Someone (an earlier probe?) left it there: ESP exists.
            Err(XfrmError::AlreadyExists { .. }) => {
                let _ = x.delete_sa(sa.src, sa.dst, sa.spi);
                return ProbeReport {
                    algorithms: probe_algorithms(&mut x),
                    ..ready()
                };
            }
            Err(e @ XfrmError::NoEsp { .. }) => {
                return ProbeReport {
                    xfrm_usable: true,
                    esp_supported: Some(false),
                    problem: Some(format!("XFRM works but ESP SAs cannot be installed: {e}")),
                    algorithms: Vec::new(),
                }
            }
            Err(e @ XfrmError::AlgorithmUnavailable { .. }) => last_algorithm_error = Some(e),
            Err(e @ XfrmError::CryptoInit { .. }) => {
                return ProbeReport {
                    xfrm_usable: true,
                    esp_supported: Some(true),
                    problem: Some(format!(
                        "ESP exists but its crypto could not be set up: {e}"
                    )),
                    algorithms: Vec::new(),
                }
            }
            Err(e) => {
                return ProbeReport {
                    xfrm_usable: true,
                    esp_supported: None,
                    problem: Some(format!("could not tell whether ESP works: {e}")),
                    algorithms: Vec::new(),
                }
            }
        }
    }
    ProbeReport {
        xfrm_usable: true,
        esp_supported: None,
        problem: Some(match last_algorithm_error {
            Some(e) => format!("the kernel knows none of the probe's ESP algorithms: {e}"),
            None => "could not tell whether ESP works".to_string(),
        }),
        algorithms: Vec::new(),
    }
}

/// Installs and removes one dummy SA per transform tern negotiates.
fn probe_algorithms(x: &mut Xfrm) -> Vec<AlgorithmSupport> {
    EspAlgorithm::all()
        .into_iter()
        .map(|algorithm| {
            let mut sa = dummy_sa(None, None, None);
            let keymat = vec![0x5a; algorithm.keymat_len()];
            if let Err(e) = algorithm.apply_to(&mut sa, &keymat) {
                return AlgorithmSupport {
                    algorithm,
                    problem: Some(e.to_string()),
                };
            }
            let result = x.add_sa(&sa);
            let _ = x.delete_sa(sa.src, sa.dst, sa.spi);
            AlgorithmSupport {
                algorithm,
                problem: match result {
                    Ok(()) => None,
                    Err(e) => Some(e.to_string()),
                },
            }
        })
        .collect()
}

fn ready() -> ProbeReport {
    ProbeReport {
        xfrm_usable: true,
        esp_supported: Some(true),
        problem: None,
        algorithms: Vec::new(),
    }
}

fn unusable(e: XfrmError) -> ProbeReport {
    ProbeReport {
        xfrm_usable: false,
        esp_supported: None,
        problem: Some(format!("XFRM is not usable: {e}")),
        algorithms: Vec::new(),
    }
}
