//! The states a monitored application can be in, as they travel on the wire.

use std::fmt;
use std::str::FromStr;

/// The state reported as the first word of a `check` reply.
///
/// UP, DEGRADED and DOWN are operational (computed from checks, pushes, counters and the
/// watchdog); STARTING, DRAINING, MAINT and STOPPING are lifecycle states that the
/// application or an operator sets and that take precedence on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Up,
    Degraded,
    Down,
    Starting,
    Draining,
    Maint,
    Stopping,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Up,
        State::Degraded,
        State::Down,
        State::Starting,
        State::Draining,
        State::Maint,
        State::Stopping,
    ];

    /// The upper-case word used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Up => "UP",
            State::Degraded => "DEGRADED",
            State::Down => "DOWN",
            State::Starting => "STARTING",
            State::Draining => "DRAINING",
            State::Maint => "MAINT",
            State::Stopping => "STOPPING",
        }
    }

    /// The number used for this state in the C ABI (`HA_STATE_*`).
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The state for a C ABI number, if it names one.
    pub fn from_code(code: u32) -> Option<State> {
        State::ALL.get(code as usize).copied()
    }

    /// Whether a cluster manager should consider the instance healthy (`ping` says OK).
    pub fn is_available(self) -> bool {
        matches!(self, State::Up | State::Degraded)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a word that is not one of the seven wire states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownState(pub String);

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown state word {:?}", self.0)
    }
}

impl std::error::Error for UnknownState {}

impl FromStr for State {
    type Err = UnknownState;

    /// Parses the exact upper-case wire word; anything else is rejected so that a probe fails
    /// closed on a garbled reply.
    fn from_str(s: &str) -> Result<State, UnknownState> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_codes_round_trip() {
        for st in State::ALL {
            assert_eq!(st.as_str().parse::<State>(), Ok(st));
            assert_eq!(State::from_code(st.code()), Some(st));
        }
        assert_eq!(State::from_code(7), None);
        assert!("up".parse::<State>().is_err());
        assert!("UPX".parse::<State>().is_err());
    }

    #[test]
    fn only_up_and_degraded_are_available() {
        let avail: Vec<_> = State::ALL
            .into_iter()
            .filter(|s| s.is_available())
            .collect();
        assert_eq!(avail, vec![State::Up, State::Degraded]);
    }
}
