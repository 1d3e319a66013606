//! The system settings (`/api/v1/settings/system`): time zone and business day, shared by the
//! recording archive, the IVR schedules and statistics, and whether calls are recorded. One JSON
//! value under the settings name `system`; what a newer version adds gets its default.

use crate::{Result, Store, StoreError};
use engine::archive_schedule::{Schedule, ScheduleError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const NAME: &str = "system";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SystemSettings {
    /// IANA time zone of the center, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// Start of the business day, `HH:MM` local time.
    pub business_day_start: String,
    /// End of the business day, `HH:MM`; the day's recordings are archived after it.
    pub business_day_end: String,
    /// Record every answered call (a phone number may override it).
    pub recording_enabled: bool,
    /// Days a recording's file is kept after it is archived; 0: for ever.
    pub recording_retention_days: u32,
}

impl Default for SystemSettings {
    fn default() -> Self {
        SystemSettings {
            time_zone: "Asia/Tokyo".into(),
            business_day_start: "09:00".into(),
            business_day_end: "18:00".into(),
            recording_enabled: true,
            recording_retention_days: 365,
        }
    }
}

/// Longest retention accepted: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;

impl SystemSettings {
    /// The archive's schedule, or which field is wrong.
    pub fn schedule(&self) -> Result<Schedule, (&'static str, ScheduleError)> {
        Schedule::new(
            &self.time_zone,
            &self.business_day_start,
            &self.business_day_end,
            self.recording_retention_days,
        )
        .map_err(|e| {
            let field = match &e {
                ScheduleError::TimeZone(_) => "time_zone",
                ScheduleError::TimeOfDay(v) if *v == self.business_day_start => {
                    "business_day_start"
                }
                ScheduleError::TimeOfDay(_) => "business_day_end",
            };
            (field, e)
        })
    }
}

impl Store {
    /// The system settings; the defaults for what was never saved.
    pub async fn system_settings(&self) -> Result<SystemSettings> {
        match self.get_setting(NAME).await? {
            None => Ok(SystemSettings::default()),
            Some(v) => serde_json::from_str(&v)
                .map_err(|e| StoreError::Corrupt(format!("settings `{NAME}`: {e}"))),
        }
    }

    pub async fn set_system_settings(&self, s: &SystemSettings) -> Result<()> {
        let v = serde_json::to_string(s)
            .map_err(|e| StoreError::Corrupt(format!("settings `{NAME}`: {e}")))?;
        self.set_setting(NAME, &v).await
    }
}
