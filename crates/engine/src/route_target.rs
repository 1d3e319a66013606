use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a phone number, a divert or an IVR button can send a call to (NUM-05, GROUP-17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Group,
    Agent,
    VoiceFile,
    Ivr,
    Forward,
}

impl TargetKind {
    pub const ALL: [TargetKind; 5] = [
        TargetKind::Group,
        TargetKind::Agent,
        TargetKind::VoiceFile,
        TargetKind::Ivr,
        TargetKind::Forward,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Group => "group",
            TargetKind::Agent => "agent",
            TargetKind::VoiceFile => "voice_file",
            TargetKind::Ivr => "ivr",
            TargetKind::Forward => "forward",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown target kind `{0}`")]
pub struct UnknownKind(pub String);

impl FromStr for TargetKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TargetKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// A routing destination stored as `{kind, id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RouteTarget {
    pub kind: TargetKind,
    pub id: i64,
}
