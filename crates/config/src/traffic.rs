//! A child's traffic limits, with strongSwan's names and defaults: `rekey_bytes`,
//! `life_bytes` (rekey_bytes + 10 %), `rand_bytes` (their difference, but at most a
//! tenth of rekey_bytes, so a generous life_bytes does not make the rekey point
//! anywhere from 0 up), and the same for packets. All off (0) unless set.

use tern_engine::config::TrafficLifetime;

use crate::error::ConfigError;
use crate::reader::TableReader;

pub(crate) fn traffic(table: &TableReader<'_>) -> Result<TrafficLifetime, ConfigError> {
    let (rekey_bytes, life_bytes, rand_bytes) = trio(table, "bytes")?;
    let (rekey_packets, life_packets, rand_packets) = trio(table, "packets")?;
    Ok(TrafficLifetime {
        rekey_bytes,
        life_bytes,
        rand_bytes,
        rekey_packets,
        life_packets,
        rand_packets,
    })
}

/// (rekey_UNIT, life_UNIT, rand_UNIT).
fn trio(table: &TableReader<'_>, unit: &str) -> Result<(u64, u64, u64), ConfigError> {
    let read = |key: String| -> Result<Option<u64>, ConfigError> {
        table
            .field(&key)
            .map(|f| f.integer_in(0, i64::MAX).map(|n| n as u64))
            .transpose()
    };
    let rekey = read(format!("rekey_{unit}"))?.unwrap_or(0);
    let life = read(format!("life_{unit}"))?.unwrap_or(rekey + rekey / 10);
    let rand =
        read(format!("rand_{unit}"))?.unwrap_or_else(|| life.saturating_sub(rekey).min(rekey / 10));
    if rekey != 0 && life != 0 && life <= rekey {
        let key = format!("life_{unit}");
        let message = format!(
            "life_{unit} ({life}) must be more than rekey_{unit} ({rekey}), or the SA ends before it is rekeyed"
        );
        return Err(table.field(&key).map_or_else(
            || table.error(message.clone()),
            |f| f.error(message.clone()),
        ));
    }
    if rekey != 0 && rand >= rekey {
        let message = format!("rand_{unit} ({rand}) must be less than rekey_{unit} ({rekey})");
        let key = format!("rand_{unit}");
        return Err(table.field(&key).map_or_else(
            || table.error(message.clone()),
            |f| f.error(message.clone()),
        ));
    }
    Ok((rekey, life, rand))
}
