use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a group chooses which available agents to ring (GROUP-04…10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RingStrategy {
    /// 全て呼び出し: every available agent, lowest skill level first.
    #[default]
    RingAll,
    /// 終話順: the agent whose last call ended longest ago.
    LongestIdle,
    /// 通話時間が短い順: the agent with the shortest talk time.
    ShortestTalk,
    /// ランダム.
    Random,
    /// 順番に呼び出し: round robin.
    RoundRobin,
    /// レベルにより分配: skill levels used as distribution ratios.
    LevelRatio,
}

impl RingStrategy {
    pub const ALL: [RingStrategy; 6] = [
        RingStrategy::RingAll,
        RingStrategy::LongestIdle,
        RingStrategy::ShortestTalk,
        RingStrategy::Random,
        RingStrategy::RoundRobin,
        RingStrategy::LevelRatio,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RingStrategy::RingAll => "ring_all",
            RingStrategy::LongestIdle => "longest_idle",
            RingStrategy::ShortestTalk => "shortest_talk",
            RingStrategy::Random => "random",
            RingStrategy::RoundRobin => "round_robin",
            RingStrategy::LevelRatio => "level_ratio",
        }
    }
}

impl fmt::Display for RingStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown ring strategy `{0}`")]
pub struct UnknownStrategy(pub String);

impl FromStr for RingStrategy {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RingStrategy::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownStrategy(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in RingStrategy::ALL {
            assert_eq!(s.as_str().parse::<RingStrategy>(), Ok(s));
        }
        assert!("ringall".parse::<RingStrategy>().is_err());
    }
}
