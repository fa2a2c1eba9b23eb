//! Durations in the config are strings like `"2s"`, `"500ms"` or `"24h"` (humantime syntax).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Deserializes a humantime string (`"2s"`, `"1m 30s"`) into a [`Duration`].
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(|err| {
        serde::de::Error::custom(format!(
            "`{text}` is not a duration ({err}); write it like \"2s\", \"500ms\" or \"24h\""
        ))
    })
}
