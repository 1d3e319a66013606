//! WAV validation for voice files (VOICE-03): the telephony side plays 8000 Hz mono 16-bit
//! linear PCM, so that is the only format accepted. The RIFF chunks are walked properly: the
//! `fmt ` chunk may come anywhere before or after unknown chunks (LIST, fact, …), and chunks of
//! odd size are followed by a pad byte.

use std::fmt;

/// Largest file accepted (bytes).
pub const MAX_BYTES: usize = 20 * 1024 * 1024;
/// Longest audio accepted.
pub const MAX_DURATION_MS: i64 = 10 * 60 * 1000;

pub const RATE: u32 = 8000;
pub const CHANNELS: u16 = 1;
pub const BITS: u16 = 16;
/// Bytes per sample frame of the accepted format.
const BLOCK_ALIGN: u16 = CHANNELS * BITS / 8;
/// What a RIFF size of all ones means: a stream whose writer never went back to fill it in.
const RIFF_SIZE_UNSET: u32 = u32::MAX;

const REQUIRED: &str = "8000 Hz mono 16-bit PCM WAV is required \
    (convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav)";

/// What a valid file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub duration_ms: i64,
    /// Bytes of audio in the data chunk.
    pub data_bytes: usize,
    /// Where the data chunk's audio starts in the file.
    pub data_offset: usize,
}

/// Why a file is refused. `Display` is the message shown beside the file field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WavError {
    TooLarge(usize),
    NotWav,
    Truncated(String),
    NoFormat,
    WrongFormat {
        format: u16,
        rate: u32,
        channels: u16,
        bits: u16,
    },
    /// The PCM format is right but its derived fields are not (a byte rate of 0, a wrong
    /// block alignment): a file written this way is broken, whatever its samples.
    Inconsistent {
        byte_rate: u32,
        block_align: u16,
    },
    Empty,
    TooLong(i64),
}

impl WavError {
    /// The stable `code` of the API error.
    pub fn code(&self) -> &'static str {
        match self {
            WavError::TooLarge(_) => "too_large",
            WavError::NotWav | WavError::NoFormat => "not_wav",
            WavError::Truncated(_) => "truncated",
            WavError::WrongFormat { .. } | WavError::Inconsistent { .. } => "wav_format",
            WavError::Empty => "empty",
            WavError::TooLong(_) => "too_long",
        }
    }
}

fn format_name(code: u16) -> String {
    match code {
        1 => "PCM".into(),
        2 => "MS ADPCM".into(),
        3 => "IEEE float".into(),
        6 => "A-law".into(),
        7 => "µ-law".into(),
        0x11 => "IMA ADPCM".into(),
        0x31 => "GSM 6.10".into(),
        0x55 => "MP3".into(),
        0xFFFE => "WAVE_FORMAT_EXTENSIBLE".into(),
        other => format!("format code {other}"),
    }
}

fn channels_name(n: u16) -> String {
    match n {
        1 => "mono".into(),
        2 => "stereo".into(),
        n => format!("{n}-channel"),
    }
}

/// `m:ss.s`, as shown in lists.
pub fn clock(ms: i64) -> String {
    let tenths = ms / 100;
    format!("{}:{:02}.{}", tenths / 600, (tenths / 10) % 60, tenths % 10)
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WavError::TooLarge(n) => write!(
                f,
                "The file is {:.1} MiB; at most {} MiB is accepted.",
                *n as f64 / (1024.0 * 1024.0),
                MAX_BYTES >> 20
            ),
            WavError::NotWav => write!(
                f,
                "This is not a WAV file (no RIFF/WAVE header); {REQUIRED}."
            ),
            WavError::Truncated(what) => write!(f, "The WAV file is truncated: {what}."),
            WavError::NoFormat => write!(f, "The WAV file has no fmt chunk; {REQUIRED}."),
            WavError::WrongFormat {
                format,
                rate,
                channels,
                bits,
            } => write!(
                f,
                "{rate} Hz {} {bits}-bit {} found; {REQUIRED}.",
                channels_name(*channels),
                format_name(*format)
            ),
            WavError::Inconsistent {
                byte_rate,
                block_align,
            } => write!(
                f,
                "The fmt chunk declares {byte_rate} bytes per second and {block_align}-byte \
                 blocks; 8000 Hz mono 16-bit PCM has {} bytes per second and {}-byte blocks. \
                 The file is damaged: convert it again (sox in.wav -r 8000 -c 1 -b 16 out.wav).",
                RATE * u32::from(BLOCK_ALIGN),
                BLOCK_ALIGN
            ),
            WavError::Empty => write!(f, "The WAV file contains no audio."),
            WavError::TooLong(ms) => write!(
                f,
                "The audio is {} long; at most 10 minutes is accepted.",
                clock(*ms)
            ),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

struct Fmt {
    format: u16,
    channels: u16,
    rate: u32,
    byte_rate: u32,
    block_align: u16,
    bits: u16,
}

/// Checks a whole file and measures it.
pub fn check(bytes: &[u8]) -> Result<WavInfo, WavError> {
    if bytes.len() > MAX_BYTES {
        return Err(WavError::TooLarge(bytes.len()));
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(WavError::NotWav);
    }
    // The RIFF size counts everything after its own field. It must fit in the file: a size
    // of all ones (an unfinished stream) or any larger one means the chunks cannot be trusted.
    let riff_size = u32_at(bytes, 4);
    let present = bytes.len() - 8;
    if riff_size == RIFF_SIZE_UNSET {
        return Err(WavError::Truncated(
            "the RIFF header's size is unset (0xFFFFFFFF, a recording that was never finished)"
                .into(),
        ));
    }
    if riff_size < 4 {
        return Err(WavError::Truncated(format!(
            "the RIFF header declares {riff_size} bytes, at least 4 are needed"
        )));
    }
    // Bytes after the RIFF chunk (some tools append tags) are not part of the WAV. A RIFF
    // that claims more than the file holds is walked as far as the file goes, so that a cut
    // file is reported by the chunk it cuts.
    let end = (8 + riff_size as usize).min(bytes.len());
    let mut fmt: Option<Fmt> = None;
    let mut data: Option<(usize, usize)> = None;
    let mut pos = 12usize;
    // Walk every chunk header that fits; a trailing fragment shorter than a header is ignored.
    while pos + 8 <= end && (fmt.is_none() || data.is_none()) {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4) as usize;
        let body = pos + 8;
        let available = end - body;
        match id {
            b"fmt " => {
                if size < 16 {
                    return Err(WavError::Truncated(format!(
                        "the fmt chunk has {size} bytes, at least 16 are needed"
                    )));
                }
                if available < 16 {
                    return Err(WavError::Truncated("the fmt chunk is cut short".into()));
                }
                fmt = Some(Fmt {
                    format: u16_at(bytes, body),
                    channels: u16_at(bytes, body + 2),
                    rate: u32_at(bytes, body + 4),
                    byte_rate: u32_at(bytes, body + 8),
                    block_align: u16_at(bytes, body + 12),
                    bits: u16_at(bytes, body + 14),
                });
            }
            b"data" => {
                if size > available {
                    return Err(WavError::Truncated(format!(
                        "the data chunk declares {size} bytes but only {available} are present"
                    )));
                }
                data = Some((body, size));
            }
            _ => {}
        }
        // Chunks are word-aligned: an odd size is followed by one pad byte.
        pos = match body.checked_add(size).and_then(|p| p.checked_add(size & 1)) {
            Some(p) => p,
            None => break,
        };
    }
    if riff_size as usize > present {
        return Err(WavError::Truncated(format!(
            "the RIFF header declares {riff_size} bytes but only {present} are present"
        )));
    }
    let Some(fmt) = fmt else {
        return Err(WavError::NoFormat);
    };
    if fmt.format != 1 || fmt.rate != RATE || fmt.channels != CHANNELS || fmt.bits != BITS {
        return Err(WavError::WrongFormat {
            format: fmt.format,
            rate: fmt.rate,
            channels: fmt.channels,
            bits: fmt.bits,
        });
    }
    if fmt.block_align != BLOCK_ALIGN || fmt.byte_rate != RATE * u32::from(BLOCK_ALIGN) {
        return Err(WavError::Inconsistent {
            byte_rate: fmt.byte_rate,
            block_align: fmt.block_align,
        });
    }
    let Some((data_offset, data_bytes)) = data else {
        return Err(WavError::Truncated("there is no data chunk".into()));
    };
    // Two bytes per sample: a dangling odd byte is not a sample.
    let samples = (data_bytes / 2) as i64;
    if samples == 0 {
        return Err(WavError::Empty);
    }
    let duration_ms = samples * 1000 / i64::from(RATE);
    if duration_ms > MAX_DURATION_MS {
        return Err(WavError::TooLong(duration_ms));
    }
    Ok(WavInfo {
        duration_ms,
        data_bytes,
        data_offset,
    })
}

/// The samples of a valid file, for playing it.
pub fn pcm(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    let info = check(bytes)?;
    let data = &bytes[info.data_offset..info.data_offset + info.data_bytes];
    Ok(data
        .chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = id.to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(body);
        if body.len() % 2 == 1 {
            out.push(0);
        }
        out
    }

    fn fmt_body(format: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut b = Vec::new();
        b.extend_from_slice(&format.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        b.extend_from_slice(&align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        out.extend_from_slice(b"WAVE");
        out.extend_from_slice(&body);
        out
    }

    fn wav(format: u16, channels: u16, rate: u32, bits: u16, data_bytes: usize) -> Vec<u8> {
        riff(&[
            chunk(b"fmt ", &fmt_body(format, channels, rate, bits)),
            chunk(b"data", &vec![0x11; data_bytes]),
        ])
    }

    #[test]
    fn good_file_is_measured() {
        let w = wav(1, 1, 8000, 16, 16_000);
        assert_eq!(
            check(&w),
            Ok(WavInfo {
                duration_ms: 1000,
                data_bytes: 16_000,
                data_offset: 44,
            })
        );
        let samples = pcm(&w).unwrap();
        assert_eq!(samples.len(), 8000);
        assert_eq!(samples[0], 0x1111);
        assert_eq!(check(&wav(1, 1, 8000, 16, 2)).unwrap().duration_ms, 0);
    }

    #[test]
    fn unknown_chunks_and_padding_are_skipped() {
        // An odd-sized LIST chunk (with its pad byte) before fmt, and a fact chunk before data.
        let w = riff(&[
            chunk(b"LIST", b"INFOISFT\x05\0\0\0Lavf\0"),
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
            chunk(b"fact", &[0, 0, 0, 0]),
            chunk(b"data", &[0; 8000]),
        ]);
        assert_eq!(check(&w).unwrap().duration_ms, 500);
        // fmt after data is fine too.
        let w = riff(&[
            chunk(b"data", &[0; 800]),
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
        ]);
        assert_eq!(check(&w).unwrap().duration_ms, 50);
        // A longer (18-byte) fmt chunk with cbSize.
        let mut f = fmt_body(1, 1, 8000, 16);
        f.extend_from_slice(&[0, 0]);
        let w = riff(&[chunk(b"fmt ", &f), chunk(b"data", &[0; 1600])]);
        assert_eq!(check(&w).unwrap().duration_ms, 100);
    }

    #[test]
    fn wrong_formats_say_what_was_found() {
        let e = check(&wav(1, 2, 44_100, 16, 400)).unwrap_err();
        assert_eq!(e.code(), "wav_format");
        assert_eq!(
            e.to_string(),
            "44100 Hz stereo 16-bit PCM found; 8000 Hz mono 16-bit PCM WAV is required \
             (convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav)."
        );
        let e = check(&wav(1, 2, 8000, 16, 400)).unwrap_err().to_string();
        assert!(e.starts_with("8000 Hz stereo 16-bit PCM found"), "{e}");
        let e = check(&wav(1, 1, 44_100, 16, 400)).unwrap_err().to_string();
        assert!(e.starts_with("44100 Hz mono 16-bit PCM found"), "{e}");
        let e = check(&wav(1, 1, 8000, 8, 400)).unwrap_err().to_string();
        assert!(e.starts_with("8000 Hz mono 8-bit PCM found"), "{e}");
        let e = check(&wav(7, 1, 8000, 8, 400)).unwrap_err().to_string();
        assert!(e.starts_with("8000 Hz mono 8-bit µ-law found"), "{e}");
        let e = check(&wav(3, 1, 8000, 32, 400)).unwrap_err().to_string();
        assert!(e.contains("IEEE float"), "{e}");
    }

    #[test]
    fn broken_files_are_refused() {
        // Truncated: the data chunk claims more than the file holds.
        let mut w = wav(1, 1, 8000, 16, 1000);
        w.truncate(w.len() - 100);
        let e = check(&w).unwrap_err();
        assert_eq!(e.code(), "truncated");
        assert!(
            e.to_string().contains("declares 1000 bytes but only 900"),
            "{e}"
        );
        // Cut inside the fmt chunk.
        let w = wav(1, 1, 8000, 16, 100);
        assert_eq!(check(&w[..24]).unwrap_err().code(), "truncated");
        // No data chunk at all.
        let w = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 8000, 16))]);
        assert_eq!(check(&w).unwrap_err().code(), "truncated");
        // No fmt chunk.
        let w = riff(&[chunk(b"data", &[0; 100])]);
        assert_eq!(check(&w).unwrap_err(), WavError::NoFormat);
        // Empty audio.
        assert_eq!(check(&wav(1, 1, 8000, 16, 0)).unwrap_err(), WavError::Empty);
        // Garbage, an empty file, a RIFF that is not WAVE.
        assert_eq!(
            check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap_err(),
            WavError::NotWav
        );
        assert_eq!(check(b"").unwrap_err(), WavError::NotWav);
        assert_eq!(
            check(b"RIFF\x04\0\0\0AVI LIST").unwrap_err(),
            WavError::NotWav
        );
        assert!(check(b"garbage").unwrap_err().to_string().contains("sox"));
        // A chunk size near u32::MAX does not overflow the walk.
        let w = riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
            b"JUNK\xff\xff\xff\xff".to_vec(),
        ]);
        assert_eq!(check(&w).unwrap_err().code(), "truncated");
    }

    /// Issue 10 item 15: a RIFF size that does not fit the file (0xFFFFFFFF in particular)
    /// is refused as truncated, not walked past.
    #[test]
    fn riff_size_must_fit_the_file() {
        let good = wav(1, 1, 8000, 16, 1600);
        let with_size = |size: u32| {
            let mut w = good.clone();
            w[4..8].copy_from_slice(&size.to_le_bytes());
            w
        };
        let e = check(&with_size(u32::MAX)).unwrap_err();
        assert_eq!(e.code(), "truncated");
        assert!(e.to_string().contains("0xFFFFFFFF"), "{e}");
        let declared = (good.len() - 8 + 1) as u32;
        let e = check(&with_size(declared)).unwrap_err();
        assert_eq!(e.code(), "truncated");
        assert!(
            e.to_string().contains(&format!(
                "declares {declared} bytes but only {} are",
                good.len() - 8
            )),
            "{e}"
        );
        assert_eq!(check(&with_size(0)).unwrap_err().code(), "truncated");
        // Bytes appended after the RIFF chunk are not read as chunks, and do no harm.
        let mut tagged = good.clone();
        tagged.extend_from_slice(b"data\x10\0\0\0");
        assert_eq!(check(&tagged).unwrap().duration_ms, 100);
        let mut outside = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 8000, 16))]);
        outside.extend_from_slice(&chunk(b"data", &[0; 160]));
        assert_eq!(
            check(&outside).unwrap_err(),
            WavError::Truncated("there is no data chunk".into())
        );
        // A data chunk may not reach past the RIFF end into such bytes.
        let mut short = with_size((good.len() - 8 - 2) as u32);
        short.extend_from_slice(&[0, 0]);
        assert_eq!(check(&short).unwrap_err().code(), "truncated");
    }

    /// Issue 10 item 15: the byte rate and block alignment must match the format.
    #[test]
    fn byte_rate_and_block_align_must_match() {
        let good = wav(1, 1, 8000, 16, 1600);
        // fmt body starts at 20: byte rate at 28, block align at 32.
        let mut zero_rate = good.clone();
        zero_rate[28..32].copy_from_slice(&0u32.to_le_bytes());
        let e = check(&zero_rate).unwrap_err();
        assert_eq!(
            e,
            WavError::Inconsistent {
                byte_rate: 0,
                block_align: 2
            }
        );
        assert_eq!(e.code(), "wav_format");
        assert!(
            e.to_string().starts_with(
                "The fmt chunk declares 0 bytes per second and 2-byte blocks; 8000 Hz mono \
                 16-bit PCM has 16000 bytes per second and 2-byte blocks."
            ),
            "{e}"
        );
        let mut bad_align = good.clone();
        bad_align[32..34].copy_from_slice(&4u16.to_le_bytes());
        assert_eq!(check(&bad_align).unwrap_err().code(), "wav_format");
        assert!(check(&good).is_ok());
    }

    #[test]
    fn limits() {
        let ten_minutes = 8000 * 2 * 600;
        assert_eq!(
            check(&wav(1, 1, 8000, 16, ten_minutes))
                .unwrap()
                .duration_ms,
            MAX_DURATION_MS
        );
        let e = check(&wav(1, 1, 8000, 16, ten_minutes + 1600)).unwrap_err();
        assert_eq!(e, WavError::TooLong(MAX_DURATION_MS + 100));
        assert!(e.to_string().contains("10:00.1"), "{e}");
        let big = vec![0u8; MAX_BYTES + 1];
        assert_eq!(check(&big).unwrap_err().code(), "too_large");
        assert_eq!(clock(61_250), "1:01.2");
    }
}
