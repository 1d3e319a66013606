//! Crypto suites, master keys and the session keys derived from them (RFC 3711 §4.3, §8.2;
//! suite names from RFC 4568 §6.2).

use aes::cipher::{BlockCipherEncrypt, InnerIvInit, KeyInit, StreamCipher};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::fmt;

pub const MASTER_KEY_LEN: usize = 16;
pub const MASTER_SALT_LEN: usize = 14;
/// HMAC-SHA1 keys are 160 bits in both suites (RFC 3711 §8.2).
const AUTH_KEY_LEN: usize = 20;
/// SRTCP's tag is 80 bits in both suites (RFC 4568 §6.2.1, §6.2.2).
pub const SRTCP_TAG_LEN: usize = 10;

pub(crate) type HmacSha1 = Hmac<Sha1>;
type AesCm = ctr::Ctr128BE<Aes128>;
type AesCmCore = ctr::CtrCore<Aes128, ctr::flavors::Ctr128BE>;

/// The SDES crypto suites we speak: AES-128 in counter mode with an HMAC-SHA1 tag of 80 or
/// 32 bits on SRTP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl Suite {
    /// The name in `a=crypto` (RFC 4568 §6.2).
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<Suite> {
        [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// Length of the tag on SRTP (not SRTCP) packets.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// A master key and salt, as an `a=crypto` line's `inline:` carries them (concatenated).
/// `Debug` does not show them, so that a key never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    pub key: [u8; MASTER_KEY_LEN],
    pub salt: [u8; MASTER_SALT_LEN],
}

impl MasterKey {
    /// From key || salt, 30 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<MasterKey> {
        if bytes.len() != MASTER_KEY_LEN + MASTER_SALT_LEN {
            return None;
        }
        let (key, salt) = bytes.split_at(MASTER_KEY_LEN);
        Some(MasterKey {
            key: key.try_into().ok()?,
            salt: salt.try_into().ok()?,
        })
    }

    pub fn to_bytes(&self) -> [u8; MASTER_KEY_LEN + MASTER_SALT_LEN] {
        let mut out = [0; MASTER_KEY_LEN + MASTER_SALT_LEN];
        out[..MASTER_KEY_LEN].copy_from_slice(&self.key);
        out[MASTER_KEY_LEN..].copy_from_slice(&self.salt);
        out
    }

    /// A fresh key from a cryptographically secure generator (RFC 4568 §6.1 wants keys that
    /// are random and unique per session).
    pub fn random(rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> MasterKey {
        let mut key = MasterKey {
            key: [0; MASTER_KEY_LEN],
            salt: [0; MASTER_SALT_LEN],
        };
        rng.fill_bytes(&mut key.key);
        rng.fill_bytes(&mut key.salt);
        key
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The keys of one of SRTP or SRTCP, derived once: the key derivation rate is 0, the only
/// one SDES allows us to leave out of the `a=crypto` line (RFC 4568 §6.3).
#[derive(Clone)]
pub(crate) struct SessionKeys {
    /// Expanded once; each packet's keystream starts from a copy.
    cipher: Aes128,
    salt: [u8; MASTER_SALT_LEN],
    /// Keyed once; each packet's tag starts from a copy.
    pub auth: HmacSha1,
}

/// The labels of RFC 3711 §4.3.1: encryption, authentication, salt.
pub(crate) const RTP_LABELS: [u8; 3] = [0, 1, 2];
pub(crate) const RTCP_LABELS: [u8; 3] = [3, 4, 5];

impl SessionKeys {
    pub fn derive(master: &MasterKey, [enc, auth, salt]: [u8; 3]) -> SessionKeys {
        let mut k_e = [0; MASTER_KEY_LEN];
        let mut k_a = [0; AUTH_KEY_LEN];
        let mut k_s = [0; MASTER_SALT_LEN];
        derive_key(master, enc, &mut k_e);
        derive_key(master, auth, &mut k_a);
        derive_key(master, salt, &mut k_s);
        SessionKeys {
            cipher: Aes128::new(&k_e.into()),
            salt: k_s,
            // HMAC takes keys of any length.
            auth: <HmacSha1 as Mac>::new_from_slice(&k_a)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length")),
        }
    }

    /// XORs the keystream of packet `index` of `ssrc` onto `data` (RFC 3711 §4.1.1): the IV
    /// is the salt shifted 16 bits, XOR the SSRC at bit 64 and the index at bit 16.
    pub fn apply_keystream(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..MASTER_SALT_LEN].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, i) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= i;
        }
        AesCm::from_core(AesCmCore::inner_iv_init(self.cipher.clone(), &iv.into()))
            .apply_keystream(data);
    }
}

/// The AES-CM PRF of RFC 3711 §4.3.3 with a key derivation rate of 0: the keystream for an
/// IV of the master salt with `label` at byte 7, shifted 16 bits.
fn derive_key(master: &MasterKey, label: u8, out: &mut [u8]) {
    let cipher = Aes128::new(&master.key.into());
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(&master.salt);
    iv[7] ^= label;
    for (i, chunk) in out.chunks_mut(16).enumerate() {
        let mut block = iv;
        block[14..].copy_from_slice(&(i as u16).to_be_bytes());
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3711 §B.3.
    pub fn b3_master() -> MasterKey {
        MasterKey::from_bytes(&hex(
            "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6",
        ))
        .unwrap()
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let master = b3_master();
        let mut k_e = [0; 16];
        derive_key(&master, 0, &mut k_e);
        assert_eq!(k_e[..], hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut k_s = [0; 14];
        derive_key(&master, 2, &mut k_s);
        assert_eq!(k_s[..], hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut k_a = [0; 20];
        derive_key(&master, 1, &mut k_a);
        assert_eq!(k_a[..], hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
        // The RFC goes on for a 256-bit authentication key: the counter runs on.
        let mut long = [0; 32];
        derive_key(&master, 1, &mut long);
        assert_eq!(
            long[..],
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE")
        );
    }

    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        // The session keys as B.2 gives them, rather than derived.
        let keys = SessionKeys {
            cipher: Aes128::new(
                &<[u8; 16]>::try_from(hex("2B7E151628AED2A6ABF7158809CF4F3C"))
                    .unwrap()
                    .into(),
            ),
            salt: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD").try_into().unwrap(),
            auth: <HmacSha1 as Mac>::new_from_slice(&[0; 20]).unwrap(),
        };
        // 65282 blocks: the table's end crosses the 16-bit block counter's 0xFF00.
        let mut stream = vec![0u8; 1_044_512];
        keys.apply_keystream(0, 0, &mut stream);
        assert_eq!(
            stream[..48],
            hex(
                "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB
                 41E95B3BB0A2E8DD477901E4FCA894C0"
            )
        );
        assert_eq!(
            stream[stream.len() - 48..],
            hex(
                "EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE
                 6A2CC3787889374FBEB4C81B17BA6C44"
            )
        );
    }

    #[test]
    fn suite_names_and_tags() {
        assert_eq!(
            Suite::from_name("AES_CM_128_HMAC_SHA1_80"),
            Some(Suite::AesCm128HmacSha1_80)
        );
        assert_eq!(
            Suite::from_name("AES_CM_128_HMAC_SHA1_32").map(Suite::rtp_tag_len),
            Some(4)
        );
        assert_eq!(Suite::from_name("F8_128_HMAC_SHA1_80"), None);
        assert_eq!(Suite::from_name("aes_cm_128_hmac_sha1_80"), None);
    }

    #[test]
    fn master_keys_are_30_bytes_and_not_shown() {
        assert!(MasterKey::from_bytes(&[0; 29]).is_none());
        assert!(MasterKey::from_bytes(&[0; 31]).is_none());
        let key = b3_master();
        assert_eq!(MasterKey::from_bytes(&key.to_bytes()), Some(key.clone()));
        assert_eq!(format!("{key:?}"), "MasterKey(..)");
    }
}
