//! Known-answer and validation tests for the ECP and MODP methods.

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test vector is hex")
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b))
}

struct Rfc5903Vector {
    alg: KeAlg,
    i: &'static str,
    gi: &'static str,
    r: &'static str,
    gr: &'static str,
    girx: &'static str,
}

/// RFC 5903 §8.1 (256-bit random ECP group) and §8.2 (384-bit).
const RFC5903: [Rfc5903Vector; 2] = [
    Rfc5903Vector {
        alg: KeAlg::Ecp256,
        i: "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
        gi: "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180
             5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
        r: "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
        gr: "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63
             56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
        girx: "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE",
    },
    Rfc5903Vector {
        alg: KeAlg::Ecp384,
        i: "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655
            E35B5380 41E649EE 3FAEF896 783AB194",
        gi: "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6
             DE3AC808 ACB4BDB4 C88732AE E95F41AA 9482ED1F C0EEB9CA FC498462 5CCFC23F
             65032149 E0E144AD A0241815 35A0F38E EB9FCFF3 C2C947DA E69B4C63 4573A81C",
        r: "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942
            E0308312 916B8ED2 960E4BD5 5A7448FC",
        gr: "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D
             0D1AC43A 0336DEF9 6FDA41D0 774A3571 DCFBEC7A ACF31964 72169E83 8430367F
             66EEBE3C 6E70C416 DD5F0C68 759DD1FF F83FA401 42209DFF 5EAAD96D B9E6386C",
        girx: "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4
               D6031355 69B9E9D0 9CF5D4A2 70F59746",
    },
];

fn clean(s: &str) -> String {
    s.split_whitespace().collect()
}

#[test]
fn rfc5903_ecp_vectors() {
    for v in RFC5903 {
        let (i, r) = (
            Secret::new(unhex(&clean(v.i))),
            Secret::new(unhex(&clean(v.r))),
        );
        let gi = ke_public(v.alg, &i).expect("public");
        let gr = ke_public(v.alg, &r).expect("public");
        assert_eq!(gi, unhex(&clean(v.gi)), "{:?} g^i", v.alg);
        assert_eq!(gr, unhex(&clean(v.gr)), "{:?} g^r", v.alg);
        assert_eq!(gi.len(), v.alg.public_len());
        let at_i = ke_shared(v.alg, &i, &gr).expect("shared");
        let at_r = ke_shared(v.alg, &r, &gi).expect("shared");
        assert_eq!(
            at_i.expose(),
            &unhex(&clean(v.girx))[..],
            "{:?} g^ir",
            v.alg
        );
        assert_eq!(at_i, at_r);
        assert_eq!(at_i.len(), v.alg.shared_len());
    }
}

#[test]
fn ecp_rejects_points_off_the_curve_and_bad_lengths() {
    for v in RFC5903 {
        let i = Secret::new(unhex(&clean(v.i)));
        let mut gr = unhex(&clean(v.gr));
        let last = gr.len() - 1;
        gr[last] ^= 1; // y no longer matches x
        assert!(matches!(
            ke_shared(v.alg, &i, &gr),
            Err(CryptoError::InvalidPeerPublic { .. })
        ));
        // All zeros: (0, 0) is not on either curve (and is how some encode
        // the identity).
        let zeros = vec![0; v.alg.public_len()];
        assert!(matches!(
            ke_shared(v.alg, &i, &zeros),
            Err(CryptoError::InvalidPeerPublic { .. })
        ));
        // Coordinates not reduced mod p are refused, not reduced.
        let ff = vec![0xff; v.alg.public_len()];
        assert!(matches!(
            ke_shared(v.alg, &i, &ff),
            Err(CryptoError::InvalidPeerPublic { .. })
        ));
        // With the 0x04 prefix (SEC1 form) it is one octet too long.
        let with_prefix = [&[4u8][..], &unhex(&clean(v.gr))].concat();
        assert!(matches!(
            ke_shared(v.alg, &i, &with_prefix),
            Err(CryptoError::PeerPublicLength { .. })
        ));
    }
}

#[test]
fn ecp_refuses_out_of_range_scalars() {
    for alg in [KeAlg::Ecp256, KeAlg::Ecp384] {
        for bytes in [vec![0; alg.private_len()], vec![0xff; alg.private_len()]] {
            assert!(
                matches!(
                    ke_public(alg, &Secret::new(bytes)),
                    Err(CryptoError::InvalidPrivateKey { .. })
                ),
                "{alg:?}"
            );
        }
        assert!(matches!(
            ke_public(alg, &Secret::new(vec![1; 31])),
            Err(CryptoError::PrivateKeyLength { .. })
        ));
    }
}

const MODP: [KeAlg; 4] = [
    KeAlg::Modp1024,
    KeAlg::Modp2048,
    KeAlg::Modp3072,
    KeAlg::Modp4096,
];

/// g^x and (g^y)^x for x = 01 02 03 .. and y = 65 66 67 .., checked
/// against Python's built-in pow() (SHA-256 of the big-endian values).
#[test]
fn modp_known_answers_from_an_independent_implementation() {
    let expected = [
        (
            "3e5e53f04e5eeec9a4732ead2dc7f2ffad5d7f6aab19395b4a8130e8ec660251",
            "7c816b72d5984fe5df9ea7dc06ace7686c5c5753cde72f53d9e077009eadf12e",
        ),
        (
            "0b9cb9036d2a594a7e3b43169bdf47ee9c7b64a2292203f1bb137b0b648d7e3c",
            "b47b4e1281da0a516c04f40f49407b684098d1b227852ee0827f747a9a3b353f",
        ),
        (
            "3c53bf83dcbc85226c6a2b4509813df904976739b71df58a85386ee4b369bf8a",
            "6f887022d70b67d953bc0d8ccf9ee865a7025ba82207f178ee6fc7be5d8010ba",
        ),
        (
            "0439872574dafc9b300359ea0dd742c3976ccf9fa56883bdb8268462adedf8cf",
            "956de073b3e2c1737a6cd481d40fec3d08924bbec23bb0ade8b2b784b209ed40",
        ),
    ];
    for (alg, (public_hash, shared_hash)) in MODP.into_iter().zip(expected) {
        let len = alg.private_len() as u8;
        let x = Secret::new((1..=len).collect());
        let y = Secret::new((101..101 + len).collect());
        let gx = ke_public(alg, &x).expect("public");
        let gy = ke_public(alg, &y).expect("public");
        assert_eq!(gx.len(), alg.public_len(), "{alg:?}");
        assert_eq!(sha256_hex(&gx), public_hash, "{alg:?} g^x");
        let at_x = ke_shared(alg, &x, &gy).expect("shared");
        let at_y = ke_shared(alg, &y, &gx).expect("shared");
        assert_eq!(sha256_hex(at_x.expose()), shared_hash, "{alg:?} g^xy");
        assert_eq!(at_x, at_y, "{alg:?}");
        assert_eq!(at_x.len(), alg.shared_len());
    }
}

/// Group 2 in full as RFC 7296 appendix B.2 prints it; for groups 14-16
/// the digits of pi all of them share (RFC 3526 §3's first lines) and the
/// 64 ones at both ends. (All four were also checked against the RFCs'
/// formula 2^n - 2^(n-64) - 1 + 2^64 * ([2^(n-130) pi] + k) when written
/// down.)
#[test]
fn modp_primes_match_the_rfc_text() {
    let group2_rfc = "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
        29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD
        EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245
        E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED
        EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381
        FFFFFFFF FFFFFFFF";
    assert_eq!(modp::GROUP_2.prime(), unhex(&clean(group2_rfc)));
    // RFC 3526 §3, the 2048-bit group's first two lines.
    let group14_start = "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1
        29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD";
    for group in [&modp::GROUP_14, &modp::GROUP_15, &modp::GROUP_16] {
        let prime = group.prime();
        assert!(
            prime.starts_with(&unhex(&clean(group14_start))),
            "{}",
            group.name
        );
        // 2^n - 2^(n-64) - 1 + 2^64 * (...): 64 ones at both ends.
        assert_eq!(&prime[..8], &[0xff; 8]);
        assert_eq!(&prime[prime.len() - 8..], &[0xff; 8]);
    }
    assert_eq!(modp::GROUP_14.len() * 8, 2048);
    assert_eq!(modp::GROUP_15.len() * 8, 3072);
    assert_eq!(modp::GROUP_16.len() * 8, 4096);
}

#[test]
fn modp_rejects_peer_values_outside_one_to_p_minus_one() {
    for alg in MODP {
        let x = Secret::new(vec![7; alg.private_len()]);
        let group = alg.modp_group().expect("modp");
        let n = alg.public_len();
        let p = group.prime();
        let mut p_minus_1 = p.clone();
        p_minus_1[n - 1] -= 1;
        let mut one = vec![0; n];
        one[n - 1] = 1;
        for bad in [vec![0; n], one, p_minus_1, p, vec![0xff; n]] {
            assert!(
                matches!(
                    ke_shared(alg, &x, &bad),
                    Err(CryptoError::InvalidPeerPublic { .. })
                ),
                "{alg:?}"
            );
        }
        let mut two = vec![0; n];
        two[n - 1] = 2;
        assert!(
            ke_shared(alg, &x, &two).is_ok(),
            "{alg:?}: 2 is the generator"
        );
        assert!(matches!(
            ke_shared(alg, &x, &vec![2; n - 1]),
            Err(CryptoError::PeerPublicLength { .. })
        ));
    }
}

#[test]
fn modp_refuses_zero_and_wrong_length_exponents() {
    let alg = KeAlg::Modp2048;
    assert!(matches!(
        ke_public(alg, &Secret::new(vec![0; 32])),
        Err(CryptoError::InvalidPrivateKey { .. })
    ));
    assert_eq!(
        ke_public(alg, &Secret::new(vec![1; 16])),
        Err(CryptoError::PrivateKeyLength {
            expected: 32,
            actual: 16
        })
    );
}

#[test]
fn every_method_agrees_with_itself_and_names_itself() {
    for alg in KeAlg::ALL {
        let a = Secret::new(vec![0x11; alg.private_len()]);
        let b = Secret::new(vec![0x22; alg.private_len()]);
        let pa = ke_public(alg, &a).expect("public");
        let pb = ke_public(alg, &b).expect("public");
        assert_eq!(
            ke_shared(alg, &a, &pb).expect("shared"),
            ke_shared(alg, &b, &pa).expect("shared"),
            "{alg:?}"
        );
        assert!(!alg.name().is_empty());
        assert_eq!(alg.is_legacy(), alg == KeAlg::Modp1024);
    }
    let ids: Vec<u16> = KeAlg::ALL.iter().map(|a| a.iana_id()).collect();
    assert_eq!(ids, [31, 19, 20, 2, 14, 15, 16]);
}
