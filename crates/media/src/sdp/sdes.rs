//! SDES: SRTP keys carried in `a=crypto` lines (RFC 4568), which is why the SIP edge may take
//! them only over TLS.

use crate::srtp::{MasterKey, SrtpKey, SrtpKeys, Suite, MAX_MKI_LEN};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use std::fmt;

/// Standard base64; padding is not needed for 30 bytes, and tolerated either way.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One `a=crypto` line we can use: its tag, and the suite, key and MKI that protect what
/// the line's sender sends (in SDES each side encrypts with its own key).
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    /// Ties the answer's line to the offered one it accepts.
    pub tag: u32,
    pub key: SrtpKey,
}

/// Why an `a=crypto` line cannot be used; the next one may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("a=crypto needs <tag> <suite> inline:<key>")]
    Syntax,
    #[error("crypto suite not supported")]
    Suite,
    #[error("the key is not base64 of a 16-byte key and a 14-byte salt")]
    Key,
    #[error("lifetime or MKI not understood, or an MKI longer than we take")]
    KeyParameter,
    /// Several keys, or session parameters such as UNENCRYPTED_SRTP or KDR.
    #[error("several keys or session parameters are not supported")]
    Unsupported,
}

impl Crypto {
    /// The value of an `a=crypto:` attribute (without `crypto:`).
    pub fn parse(value: &str) -> Result<Crypto, CryptoError> {
        let mut fields = value.split_ascii_whitespace();
        let tag = fields
            .next()
            .filter(|t| (1..=9).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or(CryptoError::Syntax)?;
        let suite = fields.next().ok_or(CryptoError::Syntax)?;
        let params = fields.next().ok_or(CryptoError::Syntax)?;
        // The window size hint is only a hint; every other session parameter changes how
        // SRTP works (RFC 4568 §6.3), and a line we do not fully understand must not be used.
        if fields.any(|p| !p.starts_with("WSH=")) {
            return Err(CryptoError::Unsupported);
        }
        let suite = Suite::from_name(suite).ok_or(CryptoError::Suite)?;
        if params.contains(';') {
            return Err(CryptoError::Unsupported);
        }
        let info = params.strip_prefix("inline:").ok_or(CryptoError::Syntax)?;
        let mut parts = info.split('|');
        let key = parts
            .next()
            .and_then(|k| BASE64.decode(k).ok())
            .and_then(|k| MasterKey::from_bytes(&k))
            .ok_or(CryptoError::Key)?;
        let mut mki = None;
        let mut lifetime_seen = false;
        for part in parts {
            match part.split_once(':') {
                Some((value, len)) if mki.is_none() => mki = Some(parse_mki(value, len)?),
                None if !lifetime_seen && mki.is_none() && is_lifetime(part) => {
                    lifetime_seen = true
                }
                _ => return Err(CryptoError::KeyParameter),
            }
        }
        Ok(Crypto {
            tag,
            key: SrtpKey {
                suite,
                master: key,
                mki,
            },
        })
    }

    /// Our answer to this offered line: the same tag and suite, with a key of ours, fresh for
    /// this session, and the keys of the leg it makes.
    pub fn answer(&self, rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> (Crypto, SrtpKeys) {
        let ours = Crypto {
            tag: self.tag,
            key: SrtpKey {
                suite: self.key.suite,
                master: MasterKey::random(rng),
                mki: None,
            },
        };
        let keys = SrtpKeys {
            remote: self.key.clone(),
            local: ours.key.clone(),
        };
        (ours, keys)
    }
}

/// `crypto:<tag> <suite> inline:<key||salt>[|2^n][|mki:len]`, as an attribute value.
impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crypto:{} {} inline:{}",
            self.tag,
            self.key.suite.name(),
            BASE64.encode(self.key.master.to_bytes())
        )?;
        if let Some(mki) = &self.key.mki {
            let value = mki.iter().fold(0u128, |v, &b| v << 8 | u128::from(b));
            write!(f, "|{value}:{}", mki.len())?;
        }
        Ok(())
    }
}

/// The key is not shown, so that it never reaches a log.
impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &self.key.suite)
            .field("mki", &self.key.mki)
            .finish_non_exhaustive()
    }
}

/// `2^n` or a decimal number of packets. We do not end the key at its lifetime: a call
/// would need 2^31 packets, some 1.4 years of audio, to reach the shortest one SRTCP allows.
fn is_lifetime(part: &str) -> bool {
    let digits = part.strip_prefix("2^").unwrap_or(part);
    !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An MKI of `len` bytes (1 to 128 in RFC 4568 §9.1; we take up to [`MAX_MKI_LEN`]) with
/// decimal `value`, as it appears in packets: big-endian.
fn parse_mki(value: &str, len: &str) -> Result<Vec<u8>, CryptoError> {
    let bad = CryptoError::KeyParameter;
    let len: usize = len.parse().map_err(|_| bad)?;
    let digits =
        !value.is_empty() && value.len() <= 39 && value.bytes().all(|b| b.is_ascii_digit());
    if !(1..=MAX_MKI_LEN).contains(&len) || !digits {
        return Err(bad);
    }
    let value: u128 = value.parse().map_err(|_| bad)?;
    let bytes = value.to_be_bytes();
    let (high, mki) = bytes.split_at(16 - len);
    if high.iter().any(|&b| b != 0) {
        return Err(bad);
    }
    Ok(mki.to_vec())
}
