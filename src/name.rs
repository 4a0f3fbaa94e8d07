//! The one rule for names that travel unquoted: on the monitor's wire (checks, counters), in
//! heartbeat records and in the shared directory's file names (clusters, nodes). A name is 1 to
//! a use's maximum bytes of `A-Z a-z 0-9 _ . -`, so it needs no quoting and holds no `/`.

/// Longest check or counter name a monitor server accepts.
pub const MAX_CHECK_NAME: usize = 64;

/// Longest cluster or node name: a fixed field of a heartbeat record.
pub const MAX_NODE_NAME: usize = 32;

/// Whether `name` is 1..=`max_len` bytes of `A-Z a-z 0-9 _ . -`.
pub fn valid(name: &[u8], max_len: usize) -> bool {
    (1..=max_len).contains(&name.len())
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Whether `name` can be a check or counter name.
pub fn valid_check_name(name: &str) -> bool {
    valid(name.as_bytes(), MAX_CHECK_NAME)
}

/// Whether `name` can be a cluster or node name.
pub fn valid_node_name(name: &str) -> bool {
    valid(name.as_bytes(), MAX_NODE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_three_marks_up_to_the_limit() {
        assert!(valid(b"a", 1));
        assert!(valid(b"A-z_0.9", 7));
        assert!(!valid(b"ab", 1));
        for bad in ["", " ", "a:b", "a/b", "ä", "a\n", "a b", "a\0"] {
            assert!(!valid(bad.as_bytes(), 64), "{bad:?}");
        }
    }

    #[test]
    fn checks_and_nodes_have_their_own_limits() {
        assert!(valid_check_name(&"x".repeat(MAX_CHECK_NAME)));
        assert!(!valid_check_name(&"x".repeat(MAX_CHECK_NAME + 1)));
        assert!(valid_node_name(&"x".repeat(MAX_NODE_NAME)));
        assert!(!valid_node_name(&"x".repeat(MAX_NODE_NAME + 1)));
    }
}
