use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The UDP ports RTP and RTCP may use, `LO-HI` inclusive. RTP takes the even port of a pair and
/// RTCP the odd one above it, so the range must start even and hold at least one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    lo: u16,
    hi: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortRangeError {
    #[error("expected LO-HI, for example 10000-20000, got `{0}`")]
    Syntax(String),
    #[error("port range {0}-{1}: the first port must be even (RTP on even, RTCP on odd ports)")]
    OddStart(u16, u16),
    #[error("port range {0}-{1}: must hold at least one RTP/RTCP pair and start at 1024 or above")]
    TooSmall(u16, u16),
}

impl PortRange {
    pub fn new(lo: u16, hi: u16) -> Result<Self, PortRangeError> {
        if lo < 1024 || hi <= lo {
            return Err(PortRangeError::TooSmall(lo, hi));
        }
        if !lo.is_multiple_of(2) {
            return Err(PortRangeError::OddStart(lo, hi));
        }
        Ok(PortRange { lo, hi })
    }

    pub fn lo(&self) -> u16 {
        self.lo
    }

    pub fn hi(&self) -> u16 {
        self.hi
    }

    /// How many RTP/RTCP pairs, i.e. how many legs with media, the range can hold at once.
    pub fn pairs(&self) -> usize {
        (usize::from(self.hi) - usize::from(self.lo)).div_ceil(2)
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange {
            lo: 10000,
            hi: 20000,
        }
    }
}

impl FromStr for PortRange {
    type Err = PortRangeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (lo, hi) = s
            .split_once('-')
            .ok_or_else(|| PortRangeError::Syntax(s.to_owned()))?;
        let parse = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| PortRangeError::Syntax(s.to_owned()))
        };
        PortRange::new(parse(lo)?, parse(hi)?)
    }
}

impl TryFrom<String> for PortRange {
    type Error = PortRangeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<PortRange> for String {
    fn from(r: PortRange) -> String {
        r.to_string()
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.lo, self.hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_counts_pairs() {
        let r: PortRange = "10000-10009".parse().unwrap();
        assert_eq!(r.pairs(), 5);
        assert_eq!(r.to_string(), "10000-10009");
    }

    #[test]
    fn rejects_bad_ranges() {
        assert!(matches!(
            "10001-10010".parse::<PortRange>(),
            Err(PortRangeError::OddStart(..))
        ));
        assert!(matches!(
            "20000-10000".parse::<PortRange>(),
            Err(PortRangeError::TooSmall(..))
        ));
        assert!(matches!(
            "80-100".parse::<PortRange>(),
            Err(PortRangeError::TooSmall(..))
        ));
        assert!(matches!(
            "abc".parse::<PortRange>(),
            Err(PortRangeError::Syntax(..))
        ));
        assert!(matches!(
            "1-x".parse::<PortRange>(),
            Err(PortRangeError::Syntax(..))
        ));
    }
}
