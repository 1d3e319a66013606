//! G.711 µ-law (PCMU) and A-law (PCMA), for playing voice files to a leg in the codec it
//! negotiated. Encoding is done once per prompt, not per packet.

/// Static payload types of RFC 3551.
pub const PCMU: u8 = 0;
pub const PCMA: u8 = 8;

const ULAW_BIAS: i32 = 0x84;
const ULAW_CLIP: i32 = 32635;
/// Upper ends of the A-law segments, on the 13-bit scale.
const ALAW_SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];

/// The G.711 laws; anything else cannot be played.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    Ulaw,
    Alaw,
}

impl Law {
    pub fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            PCMU => Some(Law::Ulaw),
            PCMA => Some(Law::Alaw),
            _ => None,
        }
    }

    pub fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => PCMU,
            Law::Alaw => PCMA,
        }
    }

    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => ulaw_encode(sample),
            Law::Alaw => alaw_encode(sample),
        }
    }

    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Law::Ulaw => ulaw_decode(byte),
            Law::Alaw => alaw_decode(byte),
        }
    }

    /// [`Law::encode`] as a table lookup, for the mixer, which encodes every sample it sends.
    pub fn encode_fast(self, sample: i16) -> u8 {
        let table = match self {
            Law::Ulaw => ULAW_TABLE.get_or_init(|| encode_table(ulaw_encode)),
            Law::Alaw => ALAW_TABLE.get_or_init(|| encode_table(alaw_encode)),
        };
        table[table_index(sample)]
    }
}

/// One byte per 16-bit sample (64 KiB a law): µ-law rounds negative samples after negating
/// them, so a smaller table indexed by the high bits would differ for some of them.
const TABLE_LEN: usize = 1 << 16;
static ULAW_TABLE: std::sync::OnceLock<Box<[u8; TABLE_LEN]>> = std::sync::OnceLock::new();
static ALAW_TABLE: std::sync::OnceLock<Box<[u8; TABLE_LEN]>> = std::sync::OnceLock::new();

fn table_index(sample: i16) -> usize {
    (i32::from(sample) + 32768) as usize
}

fn encode_table(encode: fn(i16) -> u8) -> Box<[u8; TABLE_LEN]> {
    let mut table = Box::new([0u8; TABLE_LEN]);
    for (i, b) in table.iter_mut().enumerate() {
        *b = encode((i as i32 - 32768) as i16);
    }
    table
}

pub fn ulaw_encode(sample: i16) -> u8 {
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(ULAW_CLIP) + ULAW_BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !((sign | (exponent << 4) | mantissa) as u8)
}

pub fn ulaw_decode(byte: u8) -> i16 {
    let u = i32::from(!byte);
    let exponent = (u >> 4) & 0x07;
    let mantissa = u & 0x0f;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    // At most 32124, so the narrowing cannot overflow.
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

pub fn alaw_encode(sample: i16) -> u8 {
    let mut pcm = i32::from(sample) >> 3;
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    let Some(seg) = ALAW_SEG_END.iter().position(|&end| pcm <= end) else {
        return (0x7F ^ mask) as u8;
    };
    let mantissa = if seg < 2 { pcm >> 1 } else { pcm >> seg } & 0x0f;
    (((seg as i32) << 4 | mantissa) ^ mask) as u8
}

pub fn alaw_decode(byte: u8) -> i16 {
    let a = i32::from(byte ^ 0x55);
    let mut t = (a & 0x0f) << 4;
    let seg = (a & 0x70) >> 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    // At most 32256.
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_encodes_to_the_usual_idle_bytes() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert!(alaw_decode(0xD5).abs() <= 8);
    }

    #[test]
    fn round_trip_error_stays_within_the_segment_step() {
        for law in [Law::Ulaw, Law::Alaw] {
            for s in (-32768i32..=32767).step_by(7) {
                let s = s as i16;
                let back = i32::from(law.decode(law.encode(s)));
                let err = (back - i32::from(s)).abs();
                // Logarithmic quantisation: the step grows with the magnitude (≤ 1/16 + a bit).
                let allowed = (i32::from(s).abs() / 16).max(16) + 16;
                assert!(err <= allowed, "{law:?} {s} → {back} (error {err})");
            }
        }
    }

    #[test]
    fn the_encoding_table_gives_the_same_bytes_as_the_formula() {
        for law in [Law::Ulaw, Law::Alaw] {
            for s in i16::MIN..=i16::MAX {
                assert_eq!(law.encode_fast(s), law.encode(s), "{law:?} {s}");
            }
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        for law in [Law::Ulaw, Law::Alaw] {
            let mut last = i32::MIN;
            for s in (-32768i32..=32767).step_by(3) {
                let v = i32::from(law.decode(law.encode(s as i16)));
                assert!(v >= last, "{law:?} not monotonic at {s}");
                last = v;
            }
        }
    }
}
