//! The one rule for check options, whichever way they arrive: `ha.check.*` settings, C's
//! `ha_check_options` or Java's `CheckOptions`. Each surface words a fault in its own names.

use super::CheckOptions;

/// Most consecutive results `rise` and `fall` may ask for.
pub const MAX_STREAK: u32 = 100;

/// The first rule check options break.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOptionsFault {
    /// The interval or the timeout is zero.
    ZeroDuration,
    /// `rise` or `fall` is outside 1..=[`MAX_STREAK`].
    Streak,
    /// The latency warning is not below the critical latency, so it would never warn.
    LatencyOrder,
}

impl CheckOptions {
    /// Checks the options against the rule above.
    pub fn check(&self) -> Result<(), CheckOptionsFault> {
        if self.interval.is_zero() || self.timeout.is_zero() {
            return Err(CheckOptionsFault::ZeroDuration);
        }
        let streak = 1..=MAX_STREAK;
        if !streak.contains(&self.rise) || !streak.contains(&self.fall) {
            return Err(CheckOptionsFault::Streak);
        }
        if let (Some(warn), Some(crit)) = (self.latency_warn, self.latency_crit)
            && warn >= crit
        {
            return Err(CheckOptionsFault::LatencyOrder);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_rule_is_checked() {
        let ok = CheckOptions::default();
        assert_eq!(ok.check(), Ok(()));
        let ms = Duration::from_millis;
        let cases = [
            (
                CheckOptions {
                    interval: ms(0),
                    ..ok.clone()
                },
                CheckOptionsFault::ZeroDuration,
            ),
            (
                CheckOptions {
                    timeout: ms(0),
                    ..ok.clone()
                },
                CheckOptionsFault::ZeroDuration,
            ),
            (
                CheckOptions {
                    rise: 0,
                    ..ok.clone()
                },
                CheckOptionsFault::Streak,
            ),
            (
                CheckOptions {
                    fall: MAX_STREAK + 1,
                    ..ok.clone()
                },
                CheckOptionsFault::Streak,
            ),
            (
                CheckOptions {
                    latency_warn: Some(ms(5)),
                    latency_crit: Some(ms(5)),
                    ..ok.clone()
                },
                CheckOptionsFault::LatencyOrder,
            ),
        ];
        for (options, fault) in cases {
            assert_eq!(options.check(), Err(fault), "{options:?}");
        }
        let edges = CheckOptions {
            rise: MAX_STREAK,
            fall: 1,
            latency_warn: Some(ms(4)),
            latency_crit: Some(ms(5)),
            ..ok
        };
        assert_eq!(edges.check(), Ok(()));
    }
}
