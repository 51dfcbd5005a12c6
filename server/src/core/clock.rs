//! Wall-clock minutes: per-minute counts line up across instances when they count Unix minutes.

/// The minute of Unix time.
pub fn unix_minute() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 60)
}
