//! Strips telnet negotiation (IAC sequences, RFC 854) from the byte stream, so a telnet or
//! PuTTY session that negotiates options still reads as plain lines. Keeps state across
//! reads, because a sequence may be split between two.

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Telnet {
    #[default]
    Data,
    Command,
    Option,
    Sub,
    SubCommand,
}

impl Telnet {
    /// Returns the byte if it is data, None if it belongs to a negotiation.
    pub fn filter(&mut self, b: u8) -> Option<u8> {
        let (next, out) = match (*self, b) {
            (Telnet::Data, IAC) => (Telnet::Command, None),
            (Telnet::Data, b) => (Telnet::Data, Some(b)),
            (Telnet::Command, WILL..=DONT) => (Telnet::Option, None),
            (Telnet::Command, SB) => (Telnet::Sub, None),
            // IAC IAC is an escaped 255: not a character any command uses, so it is dropped.
            (Telnet::Command, _) => (Telnet::Data, None),
            (Telnet::Option, _) => (Telnet::Data, None),
            (Telnet::Sub, IAC) => (Telnet::SubCommand, None),
            (Telnet::Sub, _) => (Telnet::Sub, None),
            (Telnet::SubCommand, SE) => (Telnet::Data, None),
            (Telnet::SubCommand, _) => (Telnet::Sub, None),
        };
        *self = next;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(input: &[u8]) -> Vec<u8> {
        let mut t = Telnet::default();
        input.iter().filter_map(|b| t.filter(*b)).collect()
    }

    #[test]
    fn negotiation_is_removed_and_data_kept() {
        // IAC DO ECHO, IAC WILL SGA, IAC SB NAWS 0 80 0 24 IAC SE, IAC NOP
        let mut input = vec![255, 253, 1, b'p', 255, 251, 3, b'i'];
        input.extend([255, 250, 31, 0, 80, 0, 24, 255, 240, b'n', 255, 241, b'g']);
        assert_eq!(strip(&input), b"ping");
    }

    #[test]
    fn split_sequences_keep_their_state() {
        let mut t = Telnet::default();
        assert_eq!(t.filter(255), None);
        assert_eq!(t.filter(253), None);
        assert_eq!(t.filter(b'x'), None, "the option byte of IAC DO");
        assert_eq!(t.filter(b'y'), Some(b'y'));
    }
}
