//! Registries for SA payload transforms (RFC 7296 §3.3.2, IANA).

use super::macros::registry;

registry! {
    /// Transform Types. Type 4 was "Diffie-Hellman Group" before RFC 9370 renamed it.
    pub struct TransformType(u8) {
        ENCR = 1,
        PRF = 2,
        INTEG = 3,
        KE = 4,
        ESN = 5,
        ADDKE1 = 6,
        ADDKE2 = 7,
        ADDKE3 = 8,
        ADDKE4 = 9,
        ADDKE5 = 10,
        ADDKE6 = 11,
        ADDKE7 = 12,
    }
}

impl TransformType {
    /// The RFC 7296 name of transform type 4.
    pub const DH: TransformType = TransformType::KE;
}

registry! {
    /// Transform Type 1: Encryption Algorithm Transform IDs.
    pub struct EncrId(u16) {
        DES_IV64 = 1,
        DES = 2,
        TRIPLE_DES = 3,
        RC5 = 4,
        IDEA = 5,
        CAST = 6,
        BLOWFISH = 7,
        TRIPLE_IDEA = 8,
        DES_IV32 = 9,
        NULL = 11,
        AES_CBC = 12,
        AES_CTR = 13,
        AES_CCM_8 = 14,
        AES_CCM_12 = 15,
        AES_CCM_16 = 16,
        AES_GCM_8 = 18,
        AES_GCM_12 = 19,
        AES_GCM_16 = 20,
        NULL_AUTH_AES_GMAC = 21,
        CAMELLIA_CBC = 23,
        CAMELLIA_CTR = 24,
        CAMELLIA_CCM_8 = 25,
        CAMELLIA_CCM_12 = 26,
        CAMELLIA_CCM_16 = 27,
        CHACHA20_POLY1305 = 28,
        AES_CCM_8_IIV = 29,
        AES_GCM_16_IIV = 30,
        CHACHA20_POLY1305_IIV = 31,
    }
}

registry! {
    /// Transform Type 2: Pseudorandom Function Transform IDs.
    pub struct PrfId(u16) {
        HMAC_MD5 = 1,
        HMAC_SHA1 = 2,
        HMAC_TIGER = 3,
        AES128_XCBC = 4,
        HMAC_SHA2_256 = 5,
        HMAC_SHA2_384 = 6,
        HMAC_SHA2_512 = 7,
        AES128_CMAC = 8,
        HMAC_STREEBOG_512 = 9,
    }
}

registry! {
    /// Transform Type 3: Integrity Algorithm Transform IDs.
    pub struct IntegId(u16) {
        NONE = 0,
        HMAC_MD5_96 = 1,
        HMAC_SHA1_96 = 2,
        DES_MAC = 3,
        KPDK_MD5 = 4,
        AES_XCBC_96 = 5,
        HMAC_MD5_128 = 6,
        HMAC_SHA1_160 = 7,
        AES_CMAC_96 = 8,
        AES_128_GMAC = 9,
        AES_192_GMAC = 10,
        AES_256_GMAC = 11,
        HMAC_SHA2_256_128 = 12,
        HMAC_SHA2_384_192 = 13,
        HMAC_SHA2_512_256 = 14,
    }
}

registry! {
    /// Transform Type 4: Key Exchange Method Transform IDs (formerly D-H groups).
    pub struct KeMethod(u16) {
        NONE = 0,
        MODP_768 = 1,
        MODP_1024 = 2,
        MODP_1536 = 5,
        MODP_2048 = 14,
        MODP_3072 = 15,
        MODP_4096 = 16,
        MODP_6144 = 17,
        MODP_8192 = 18,
        ECP_256 = 19,
        ECP_384 = 20,
        ECP_521 = 21,
        MODP_1024_160 = 22,
        MODP_2048_224 = 23,
        MODP_2048_256 = 24,
        ECP_192 = 25,
        ECP_224 = 26,
        BRAINPOOL_P224R1 = 27,
        BRAINPOOL_P256R1 = 28,
        BRAINPOOL_P384R1 = 29,
        BRAINPOOL_P512R1 = 30,
        CURVE25519 = 31,
        CURVE448 = 32,
        GOST3410_2012_256 = 33,
        GOST3410_2012_512 = 34,
        ML_KEM_512 = 35,
        ML_KEM_768 = 36,
        ML_KEM_1024 = 37,
    }
}

registry! {
    /// Transform Type 5: Extended Sequence Numbers Transform IDs.
    pub struct EsnId(u16) {
        NO_ESN = 0,
        ESN = 1,
    }
}
