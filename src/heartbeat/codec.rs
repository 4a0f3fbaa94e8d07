//! Byte layout of the records in [`super::record`]: encode and decode, nothing else (no I/O).
//!
//! Every record is one [`BLOCK`], little endian, with a CRC-32C (Castagnoli, `CRC_32_ISCSI`)
//! over the used part, so a torn or stale-mixed block never decodes. Everything not listed
//! below is reserved and must be zero; decode rejects any non-zero reserved byte or bit, so a
//! future format change has to bump the version.
//!
//! Node record (`DIR/node.<name>`, written only by that node):
//!
//! | bytes      | field                                                        |
//! |------------|--------------------------------------------------------------|
//! | 0..8       | magic `b"HAMONHB\x01"`                                        |
//! | 8..10      | format version, u16 = 1                                      |
//! | 10..12     | reserved, 0                                                  |
//! | 12..44     | cluster name, NUL-padded                                     |
//! | 44..76     | node name, NUL-padded                                        |
//! | 76..84     | incarnation, u64                                             |
//! | 84..92     | seq, u64                                                     |
//! | 92         | state, u8: 0 Standby, 1 Claiming, 2 Active, 3 Stopping, 4 Released |
//! | 93..96     | reserved, 0                                                  |
//! | 96..104    | epoch, u64                                                   |
//! | 104..112   | max_epoch, u64                                               |
//! | 112..120   | maint_ack, u64                                               |
//! | 120..124   | period_ms, u32                                               |
//! | 124..128   | renew_deadline_ms, u32                                       |
//! | 128..132   | takeover_ms, u32                                             |
//! | 132..136   | kill_budget_ms, u32                                          |
//! | 136..144   | wall_ms, u64                                                 |
//! | 144        | flags, u8: bit 0 preferred, other bits 0                     |
//! | 145..252   | reserved, 0                                                  |
//! | 252..256   | CRC-32C of bytes 0..252, u32                                 |
//! | 256..4096  | zero                                                         |
//!
//! Maintenance record (`DIR/maint`, written only by operator commands):
//!
//! | bytes      | field                                                        |
//! |------------|--------------------------------------------------------------|
//! | 0..8       | magic `b"HAMONMT\x01"`                                        |
//! | 8..10      | format version, u16 = 1                                      |
//! | 10..12     | reserved, 0                                                  |
//! | 12..44     | cluster name, NUL-padded                                     |
//! | 44..52     | token, u64                                                   |
//! | 52         | mode, u8: 0 Off, 1 Freeze, 2 Switchover                      |
//! | 53..56     | reserved, 0                                                  |
//! | 56..88     | switchover target name, NUL-padded; all zero unless Switchover |
//! | 88         | drained count, u8, at most [`MAX_DRAINED`]                   |
//! | 89..96     | reserved, 0                                                  |
//! | 96..352    | drained names, 8 slots of 32 bytes, NUL-padded; unused slots zero |
//! | 352..384   | set_by, NUL-padded UTF-8                                     |
//! | 384..512   | reason, NUL-padded UTF-8                                     |
//! | 512..520   | wall_ms, u64                                                 |
//! | 520..1020  | reserved, 0                                                  |
//! | 1020..1024 | CRC-32C of bytes 0..1020, u32                                |
//! | 1024..4096 | zero                                                         |
//!
//! Names (cluster, node, switchover target, drained) are 1..=[`MAX_NAME`] bytes of
//! `[A-Za-z0-9_.-]` ([`valid_name`]); a field is the name followed by NULs only.
//!
//! Decode checks, in order: length (at least the used part), magic, version, CRC, every field
//! (including reserved bytes and the zero tail, as far as the input goes), and last the cluster
//! name against the expected one.
//!
//! Encode never panics and assumes valid input: callers validate names with [`valid_name`]
//! first. If they do not, encode still writes something, chosen so that decode rejects it
//! rather than reading back a different valid record: an invalid name whose (truncated) bytes
//! would read as a valid name gets a `~` in its last byte; more than [`MAX_DRAINED`] drained
//! names store the real count (saturated at 255) with the first eight names. `set_by` and
//! `reason` are display text: they are cut at the first NUL and then to fit, at a char boundary.

use std::fmt;

use super::record::{BLOCK, MAX_DRAINED, MAX_NAME, MaintMode, MaintRecord, NodeRecord, NodeState};

/// Magic of a node record (last byte: the layout family, not the version).
pub const NODE_MAGIC: [u8; 8] = *b"HAMONHB\x01";
/// Magic of the maintenance record.
pub const MAINT_MAGIC: [u8; 8] = *b"HAMONMT\x01";
/// The format version this code writes and the only one it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of a node record covered by the layout (and the CRC, which is the last 4 of them).
pub const NODE_USED: usize = 256;
/// Bytes of the maintenance record covered by the layout (CRC last).
pub const MAINT_USED: usize = 1024;

/// Slice-by-16 tables: every read of every record is checked, many times a second in the
/// simulation.
const CRC32C: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// Width of the `set_by` field.
const SET_BY_LEN: usize = 32;
/// Width of the `reason` field.
const REASON_LEN: usize = 128;

/// Why bytes are not a record of the expected kind and cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the record's used part.
    Short { len: usize },
    /// Not this kind of record (or not a record at all).
    Magic,
    /// A format version this code does not read.
    Version(u16),
    /// Torn, damaged or half-written block.
    Crc { stored: u32, computed: u32 },
    /// A well-formed record of another cluster (wrong directory mounted?).
    Cluster { found: String },
    /// The CRC matches but a field holds a value the format does not allow.
    Field(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Short { len } => write!(f, "record too short: {len} bytes"),
            DecodeError::Magic => f.write_str("bad magic: not a record of this kind"),
            DecodeError::Version(v) => write!(f, "unsupported record format version {v}"),
            DecodeError::Crc { stored, computed } => write!(
                f,
                "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            DecodeError::Cluster { found } => {
                write!(f, "record belongs to another cluster: {found:?}")
            }
            DecodeError::Field(what) => write!(f, "invalid field: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// True if `name` can be a cluster or node name (the rule lives in [`crate::name`]).
pub use crate::name::valid_node_name as valid_name;

// ---------------------------------------------------------------------------------------------
// Little helpers over fixed offsets. All offsets are constants inside the checked length, so
// the slicing below cannot go out of bounds once the length check has passed.

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn get_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_le_bytes(a)
}
fn get_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}
fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Writes a name into a [`MAX_NAME`]-byte field. An invalid name is written anyway, truncated,
/// and poisoned if needed so that [`get_name`] rejects it (see the module docs).
fn put_name(field: &mut [u8], name: &str) {
    debug_assert_eq!(field.len(), MAX_NAME);
    let b = name.as_bytes();
    let n = b.len().min(MAX_NAME);
    field[..n].copy_from_slice(&b[..n]);
    if !valid_name(name) && get_name(field, "").is_ok() {
        field[MAX_NAME - 1] = b'~';
    }
}

/// Reads a NUL-padded name field: a valid name, then NULs only.
fn get_name(field: &[u8], what: &'static str) -> Result<String, DecodeError> {
    let text = get_padded(field, what)?;
    if !crate::name::valid(text, MAX_NAME) {
        return Err(DecodeError::Field(what));
    }
    // Valid names are ASCII.
    Ok(String::from_utf8_lossy(text).into_owned())
}

/// The bytes before the first NUL, checking that only NULs follow.
fn get_padded<'a>(field: &'a [u8], what: &'static str) -> Result<&'a [u8], DecodeError> {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    if field[end..].iter().any(|&c| c != 0) {
        return Err(DecodeError::Field(what));
    }
    Ok(&field[..end])
}

/// Writes display text: cut at the first NUL, then to fit at a char boundary.
fn put_text(field: &mut [u8], text: &str) {
    let text = text.split('\0').next().unwrap_or("");
    let mut n = text.len().min(field.len());
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    field[..n].copy_from_slice(&text.as_bytes()[..n]);
}

fn get_text(field: &[u8], what: &'static str) -> Result<String, DecodeError> {
    let text = get_padded(field, what)?;
    std::str::from_utf8(text)
        .map(str::to_owned)
        .map_err(|_| DecodeError::Field(what))
}

fn zero(b: &[u8]) -> bool {
    // No early exit: this form vectorises, and a valid record is all zero here anyway.
    b.iter().fold(0u8, |acc, &c| acc | c) == 0
}

fn seal(block: &mut [u8], used: usize) {
    let crc = CRC32C.checksum(&block[..used - 4]);
    put_u32(block, used - 4, crc);
}

/// Length, magic, version and CRC: the checks common to both kinds, in that order.
fn check_frame(bytes: &[u8], magic: &[u8; 8], used: usize) -> Result<(), DecodeError> {
    if bytes.len() < used {
        return Err(DecodeError::Short { len: bytes.len() });
    }
    if bytes[0..8] != magic[..] {
        return Err(DecodeError::Magic);
    }
    let version = get_u16(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version(version));
    }
    let stored = get_u32(bytes, used - 4);
    let computed = CRC32C.checksum(&bytes[..used - 4]);
    if stored != computed {
        return Err(DecodeError::Crc { stored, computed });
    }
    Ok(())
}

fn check_cluster(cluster: String, expect: &str) -> Result<String, DecodeError> {
    if cluster == expect {
        Ok(cluster)
    } else {
        Err(DecodeError::Cluster { found: cluster })
    }
}

// ---------------------------------------------------------------------------------------------
// Node record.

mod node {
    pub const CLUSTER: usize = 12;
    pub const NODE: usize = 44;
    pub const INCARNATION: usize = 76;
    pub const SEQ: usize = 84;
    pub const STATE: usize = 92;
    pub const EPOCH: usize = 96;
    pub const MAX_EPOCH: usize = 104;
    pub const MAINT_ACK: usize = 112;
    pub const PERIOD: usize = 120;
    pub const RENEW_DEADLINE: usize = 124;
    pub const TAKEOVER: usize = 128;
    pub const KILL_BUDGET: usize = 132;
    pub const WALL: usize = 136;
    pub const FLAGS: usize = 144;
    pub const FLAG_PREFERRED: u8 = 1;
}

fn state_byte(s: NodeState) -> u8 {
    match s {
        NodeState::Standby => 0,
        NodeState::Claiming => 1,
        NodeState::Active => 2,
        NodeState::Stopping => 3,
        NodeState::Released => 4,
    }
}

fn state_from_byte(b: u8) -> Option<NodeState> {
    Some(match b {
        0 => NodeState::Standby,
        1 => NodeState::Claiming,
        2 => NodeState::Active,
        3 => NodeState::Stopping,
        4 => NodeState::Released,
        _ => return None,
    })
}

impl NodeRecord {
    /// The record as a full [`BLOCK`] (the returned vector's length is always `BLOCK`).
    pub fn encode(&self) -> Vec<u8> {
        use node::*;
        let mut b = vec![0u8; BLOCK];
        b[0..8].copy_from_slice(&NODE_MAGIC);
        put_u16(&mut b, 8, FORMAT_VERSION);
        put_name(&mut b[CLUSTER..CLUSTER + MAX_NAME], &self.cluster);
        put_name(&mut b[NODE..NODE + MAX_NAME], &self.node);
        put_u64(&mut b, INCARNATION, self.incarnation);
        put_u64(&mut b, SEQ, self.seq);
        b[STATE] = state_byte(self.state);
        put_u64(&mut b, EPOCH, self.epoch);
        put_u64(&mut b, MAX_EPOCH, self.max_epoch);
        put_u64(&mut b, MAINT_ACK, self.maint_ack);
        put_u32(&mut b, PERIOD, self.period_ms);
        put_u32(&mut b, RENEW_DEADLINE, self.renew_deadline_ms);
        put_u32(&mut b, TAKEOVER, self.takeover_ms);
        put_u32(&mut b, KILL_BUDGET, self.kill_budget_ms);
        put_u64(&mut b, WALL, self.wall_ms);
        b[FLAGS] = if self.preferred { FLAG_PREFERRED } else { 0 };
        seal(&mut b, NODE_USED);
        b
    }

    /// Parses a node record read from storage, accepting it only for `expect_cluster`.
    ///
    /// `bytes` must hold at least [`NODE_USED`] bytes; bytes past that (normally up to
    /// [`BLOCK`]) must be zero. The node name is returned as found: checking it against the
    /// file it came from is the caller's business.
    pub fn decode(bytes: &[u8], expect_cluster: &str) -> Result<NodeRecord, DecodeError> {
        use node::*;
        check_frame(bytes, &NODE_MAGIC, NODE_USED)?;
        let b = bytes;
        if !zero(&b[10..12]) || !zero(&b[93..96]) || !zero(&b[145..252]) {
            return Err(DecodeError::Field("reserved bytes not zero"));
        }
        if !zero(&b[NODE_USED..]) {
            return Err(DecodeError::Field("padding after the record not zero"));
        }
        let cluster = get_name(&b[CLUSTER..CLUSTER + MAX_NAME], "cluster name")?;
        let node = get_name(&b[NODE..NODE + MAX_NAME], "node name")?;
        let state = state_from_byte(b[STATE]).ok_or(DecodeError::Field("state"))?;
        let flags = b[FLAGS];
        if flags & !FLAG_PREFERRED != 0 {
            return Err(DecodeError::Field("unknown flag bits"));
        }
        let rec = NodeRecord {
            cluster: check_cluster(cluster, expect_cluster)?,
            node,
            incarnation: get_u64(b, INCARNATION),
            seq: get_u64(b, SEQ),
            state,
            epoch: get_u64(b, EPOCH),
            max_epoch: get_u64(b, MAX_EPOCH),
            maint_ack: get_u64(b, MAINT_ACK),
            period_ms: get_u32(b, PERIOD),
            renew_deadline_ms: get_u32(b, RENEW_DEADLINE),
            takeover_ms: get_u32(b, TAKEOVER),
            kill_budget_ms: get_u32(b, KILL_BUDGET),
            preferred: flags & FLAG_PREFERRED != 0,
            wall_ms: get_u64(b, WALL),
        };
        Ok(rec)
    }
}

// ---------------------------------------------------------------------------------------------
// Maintenance record.

mod maint {
    pub const CLUSTER: usize = 12;
    pub const TOKEN: usize = 44;
    pub const MODE: usize = 52;
    pub const TARGET: usize = 56;
    pub const DRAINED_COUNT: usize = 88;
    pub const DRAINED: usize = 96;
    pub const SET_BY: usize = 352;
    pub const REASON: usize = 384;
    pub const WALL: usize = 512;
}

impl MaintRecord {
    /// The record as a full [`BLOCK`] (the returned vector's length is always `BLOCK`).
    pub fn encode(&self) -> Vec<u8> {
        use maint::*;
        let mut b = vec![0u8; BLOCK];
        b[0..8].copy_from_slice(&MAINT_MAGIC);
        put_u16(&mut b, 8, FORMAT_VERSION);
        put_name(&mut b[CLUSTER..CLUSTER + MAX_NAME], &self.cluster);
        put_u64(&mut b, TOKEN, self.token);
        b[MODE] = match &self.mode {
            MaintMode::Off => 0,
            MaintMode::Freeze => 1,
            MaintMode::Switchover(target) => {
                put_name(&mut b[TARGET..TARGET + MAX_NAME], target);
                2
            }
        };
        // More than MAX_DRAINED: keep the real count so that decode rejects the record
        // instead of silently forgetting a drained node.
        b[DRAINED_COUNT] = u8::try_from(self.drained.len()).unwrap_or(u8::MAX);
        for (i, name) in self.drained.iter().take(MAX_DRAINED).enumerate() {
            let at = DRAINED + i * MAX_NAME;
            put_name(&mut b[at..at + MAX_NAME], name);
        }
        put_text(&mut b[SET_BY..SET_BY + SET_BY_LEN], &self.set_by);
        put_text(&mut b[REASON..REASON + REASON_LEN], &self.reason);
        put_u64(&mut b, WALL, self.wall_ms);
        seal(&mut b, MAINT_USED);
        b
    }

    /// Parses the maintenance record read from storage, accepting it only for
    /// `expect_cluster`. `bytes` must hold at least [`MAINT_USED`] bytes; bytes past that must
    /// be zero.
    pub fn decode(bytes: &[u8], expect_cluster: &str) -> Result<MaintRecord, DecodeError> {
        use maint::*;
        check_frame(bytes, &MAINT_MAGIC, MAINT_USED)?;
        let b = bytes;
        if !zero(&b[10..12]) || !zero(&b[53..56]) || !zero(&b[89..96]) || !zero(&b[520..1020]) {
            return Err(DecodeError::Field("reserved bytes not zero"));
        }
        if !zero(&b[MAINT_USED..]) {
            return Err(DecodeError::Field("padding after the record not zero"));
        }
        let cluster = get_name(&b[CLUSTER..CLUSTER + MAX_NAME], "cluster name")?;
        let target = &b[TARGET..TARGET + MAX_NAME];
        let mode = match b[MODE] {
            0 | 1 if !zero(target) => {
                return Err(DecodeError::Field(
                    "switchover target set without switchover",
                ));
            }
            0 => MaintMode::Off,
            1 => MaintMode::Freeze,
            2 => MaintMode::Switchover(get_name(target, "switchover target")?),
            _ => return Err(DecodeError::Field("mode")),
        };
        let count = usize::from(b[DRAINED_COUNT]);
        if count > MAX_DRAINED {
            return Err(DecodeError::Field("drained count"));
        }
        let mut drained = Vec::with_capacity(count);
        for i in 0..MAX_DRAINED {
            let at = DRAINED + i * MAX_NAME;
            let slot = &b[at..at + MAX_NAME];
            if i < count {
                drained.push(get_name(slot, "drained name")?);
            } else if !zero(slot) {
                return Err(DecodeError::Field("unused drained slot not zero"));
            }
        }
        let set_by = get_text(&b[SET_BY..SET_BY + SET_BY_LEN], "set_by")?;
        let reason = get_text(&b[REASON..REASON + REASON_LEN], "reason")?;
        Ok(MaintRecord {
            cluster: check_cluster(cluster, expect_cluster)?,
            token: get_u64(b, TOKEN),
            mode,
            drained,
            set_by,
            reason,
            wall_ms: get_u64(b, WALL),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "prod-eu.1";

    fn node_rec() -> NodeRecord {
        NodeRecord {
            cluster: C.to_owned(),
            node: "node_A-1".to_owned(),
            incarnation: 0x0123_4567_89ab_cdef,
            seq: 42,
            state: NodeState::Active,
            epoch: 7,
            max_epoch: 9,
            maint_ack: 3,
            period_ms: 1000,
            renew_deadline_ms: 5000,
            takeover_ms: 12000,
            kill_budget_ms: 3000,
            preferred: true,
            wall_ms: 1_700_000_000_000,
        }
    }

    fn maint_rec() -> MaintRecord {
        MaintRecord {
            cluster: C.to_owned(),
            token: 77,
            mode: MaintMode::Switchover("node-b".to_owned()),
            drained: vec!["node-c".to_owned(), "x".to_owned()],
            set_by: "alice@host1".to_owned(),
            reason: "kernel update, ticket #123".to_owned(),
            wall_ms: 1_700_000_000_123,
        }
    }

    /// Re-computes the CRC after a test tampered with a field.
    fn reseal(b: &mut [u8], used: usize) {
        seal(b, used);
    }

    #[test]
    fn crc_is_crc32c() {
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn node_layout_is_pinned() {
        let b = node_rec().encode();
        assert_eq!(b.len(), BLOCK);
        assert_eq!(&b[0..8], b"HAMONHB\x01");
        assert_eq!(&b[8..10], &[1, 0]);
        assert_eq!(&b[12..21], C.as_bytes());
        assert!(zero(&b[21..44]));
        assert_eq!(&b[44..52], b"node_A-1");
        assert_eq!(&b[76..84], &0x0123_4567_89ab_cdef_u64.to_le_bytes());
        assert_eq!(&b[84..92], &42u64.to_le_bytes());
        assert_eq!(b[92], 2);
        assert_eq!(&b[96..104], &7u64.to_le_bytes());
        assert_eq!(&b[104..112], &9u64.to_le_bytes());
        assert_eq!(&b[112..120], &3u64.to_le_bytes());
        assert_eq!(&b[120..124], &1000u32.to_le_bytes());
        assert_eq!(&b[124..128], &5000u32.to_le_bytes());
        assert_eq!(&b[128..132], &12000u32.to_le_bytes());
        assert_eq!(&b[132..136], &3000u32.to_le_bytes());
        assert_eq!(&b[136..144], &1_700_000_000_000u64.to_le_bytes());
        assert_eq!(b[144], 1);
        assert!(zero(&b[145..252]));
        assert_eq!(&b[252..256], &CRC32C.checksum(&b[..252]).to_le_bytes());
        assert!(zero(&b[256..]));
    }

    #[test]
    fn maint_layout_is_pinned() {
        let b = maint_rec().encode();
        assert_eq!(b.len(), BLOCK);
        assert_eq!(&b[0..8], b"HAMONMT\x01");
        assert_eq!(&b[8..10], &[1, 0]);
        assert_eq!(&b[12..21], C.as_bytes());
        assert_eq!(&b[44..52], &77u64.to_le_bytes());
        assert_eq!(b[52], 2);
        assert_eq!(&b[56..62], b"node-b");
        assert_eq!(b[88], 2);
        assert_eq!(&b[96..102], b"node-c");
        assert_eq!(&b[128..129], b"x");
        assert!(zero(&b[160..352]));
        assert_eq!(&b[352..363], b"alice@host1");
        assert_eq!(&b[384..410], b"kernel update, ticket #123");
        assert_eq!(&b[512..520], &1_700_000_000_123u64.to_le_bytes());
        assert!(zero(&b[520..1020]));
        assert_eq!(&b[1020..1024], &CRC32C.checksum(&b[..1020]).to_le_bytes());
        assert!(zero(&b[1024..]));
    }

    #[test]
    fn node_round_trips() {
        let r = node_rec();
        assert_eq!(NodeRecord::decode(&r.encode(), C), Ok(r.clone()));
        for state in [
            NodeState::Standby,
            NodeState::Claiming,
            NodeState::Active,
            NodeState::Stopping,
            NodeState::Released,
        ] {
            for preferred in [false, true] {
                let r = NodeRecord {
                    state,
                    preferred,
                    ..node_rec()
                };
                assert_eq!(NodeRecord::decode(&r.encode(), C), Ok(r));
            }
        }
    }

    #[test]
    fn node_edge_values_round_trip() {
        let one = "a".to_owned();
        let max = "Z9_.-".repeat(7)[..MAX_NAME].to_owned();
        assert!(valid_name(&max));
        for (cluster, node) in [(&one, &max), (&max, &one)] {
            let r = NodeRecord {
                cluster: cluster.clone(),
                node: node.clone(),
                incarnation: u64::MAX,
                seq: u64::MAX,
                state: NodeState::Released,
                epoch: u64::MAX,
                max_epoch: u64::MAX,
                maint_ack: u64::MAX,
                period_ms: u32::MAX,
                renew_deadline_ms: u32::MAX,
                takeover_ms: u32::MAX,
                kill_budget_ms: u32::MAX,
                preferred: true,
                wall_ms: u64::MAX,
            };
            assert_eq!(NodeRecord::decode(&r.encode(), cluster), Ok(r));
            let z = NodeRecord::blank(cluster, node);
            assert_eq!(NodeRecord::decode(&z.encode(), cluster), Ok(z));
        }
    }

    #[test]
    fn maint_round_trips() {
        let r = maint_rec();
        assert_eq!(MaintRecord::decode(&r.encode(), C), Ok(r));
        let max = "m".repeat(MAX_NAME);
        let full = MaintRecord {
            cluster: max.clone(),
            token: u64::MAX,
            mode: MaintMode::Switchover(max.clone()),
            drained: (0..MAX_DRAINED)
                .map(|i| format!("{i}{}", "d".repeat(31)))
                .collect(),
            set_by: "s".repeat(SET_BY_LEN),
            reason: "é".repeat(REASON_LEN / 2),
            wall_ms: u64::MAX,
        };
        assert_eq!(MaintRecord::decode(&full.encode(), &max), Ok(full));
        for mode in [
            MaintMode::Off,
            MaintMode::Freeze,
            MaintMode::Switchover("b".into()),
        ] {
            let r = MaintRecord {
                cluster: "c".into(),
                token: 0,
                mode,
                drained: vec![],
                set_by: String::new(),
                reason: String::new(),
                wall_ms: 0,
            };
            assert_eq!(MaintRecord::decode(&r.encode(), "c"), Ok(r));
        }
    }

    #[test]
    fn every_bit_flip_in_a_node_record_is_rejected() {
        let good = node_rec().encode();
        for byte in 0..BLOCK {
            for bit in 0..8 {
                let mut b = good.clone();
                b[byte] ^= 1 << bit;
                let r = NodeRecord::decode(&b, C);
                assert!(r.is_err(), "flip of byte {byte} bit {bit} accepted: {r:?}");
            }
        }
    }

    #[test]
    fn every_bit_flip_in_a_maint_record_is_rejected() {
        let good = maint_rec().encode();
        for byte in 0..BLOCK {
            for bit in 0..8 {
                let mut b = good.clone();
                b[byte] ^= 1 << bit;
                let r = MaintRecord::decode(&b, C);
                assert!(r.is_err(), "flip of byte {byte} bit {bit} accepted: {r:?}");
            }
        }
    }

    #[test]
    fn every_truncation_is_rejected() {
        let n = node_rec().encode();
        for len in 0..NODE_USED {
            assert_eq!(
                NodeRecord::decode(&n[..len], C),
                Err(DecodeError::Short { len })
            );
        }
        // The used part alone is enough (the zero tail is optional).
        assert!(NodeRecord::decode(&n[..NODE_USED], C).is_ok());
        let m = maint_rec().encode();
        for len in 0..MAINT_USED {
            assert_eq!(
                MaintRecord::decode(&m[..len], C),
                Err(DecodeError::Short { len })
            );
        }
        assert!(MaintRecord::decode(&m[..MAINT_USED], C).is_ok());
    }

    #[test]
    fn another_cluster_is_rejected() {
        let n = node_rec().encode();
        assert_eq!(
            NodeRecord::decode(&n, "prod-us"),
            Err(DecodeError::Cluster {
                found: C.to_owned()
            })
        );
        let m = maint_rec().encode();
        assert_eq!(
            MaintRecord::decode(&m, "prod"),
            Err(DecodeError::Cluster {
                found: C.to_owned()
            })
        );
    }

    #[test]
    fn wrong_magic_and_version_are_rejected() {
        for (mut b, used) in [
            (node_rec().encode(), NODE_USED),
            (maint_rec().encode(), MAINT_USED),
        ] {
            let good = b.clone();
            b[3] = b'X';
            reseal(&mut b, used);
            assert_eq!(NodeRecord::decode(&b, C), Err(DecodeError::Magic));
            assert_eq!(MaintRecord::decode(&b, C), Err(DecodeError::Magic));
            for v in [0u16, 2, 0x100, u16::MAX] {
                let mut b = good.clone();
                put_u16(&mut b, 8, v);
                reseal(&mut b, used);
                let r = if used == NODE_USED {
                    NodeRecord::decode(&b, C).map(|_| ())
                } else {
                    MaintRecord::decode(&b, C).map(|_| ())
                };
                assert_eq!(r, Err(DecodeError::Version(v)));
            }
        }
    }

    #[test]
    fn kinds_never_mix() {
        let n = node_rec().encode();
        let m = maint_rec().encode();
        assert_eq!(MaintRecord::decode(&n, C), Err(DecodeError::Magic));
        assert_eq!(NodeRecord::decode(&m, C), Err(DecodeError::Magic));
        // Even with the other kind's magic and a fresh CRC, the content does not parse.
        let mut n2 = n.clone();
        n2[0..8].copy_from_slice(&MAINT_MAGIC);
        reseal(&mut n2, MAINT_USED);
        assert!(MaintRecord::decode(&n2, C).is_err());
        let mut m2 = m.clone();
        m2[0..8].copy_from_slice(&NODE_MAGIC);
        reseal(&mut m2, NODE_USED);
        assert!(NodeRecord::decode(&m2, C).is_err());
    }

    #[test]
    fn checks_run_in_order() {
        let n = node_rec().encode();
        // Short wins over everything.
        assert_eq!(
            NodeRecord::decode(&[0xff; 10], C),
            Err(DecodeError::Short { len: 10 })
        );
        // Magic before version and CRC.
        let mut b = n.clone();
        b[0] = 0;
        b[8] = 9;
        assert_eq!(NodeRecord::decode(&b, C), Err(DecodeError::Magic));
        // Version before CRC.
        let mut b = n.clone();
        b[8] = 9;
        assert_eq!(NodeRecord::decode(&b, C), Err(DecodeError::Version(9)));
        // CRC before fields.
        let mut b = n.clone();
        b[92] = 99;
        assert!(matches!(
            NodeRecord::decode(&b, C),
            Err(DecodeError::Crc { .. })
        ));
        // Fields before cluster.
        reseal(&mut b, NODE_USED);
        assert_eq!(
            NodeRecord::decode(&b, "other"),
            Err(DecodeError::Field("state"))
        );
    }

    fn node_field_err(f: impl FnOnce(&mut Vec<u8>)) -> DecodeError {
        let mut b = node_rec().encode();
        f(&mut b);
        reseal(&mut b, NODE_USED);
        NodeRecord::decode(&b, C).unwrap_err()
    }

    fn maint_field_err(f: impl FnOnce(&mut Vec<u8>)) -> DecodeError {
        let mut b = maint_rec().encode();
        f(&mut b);
        reseal(&mut b, MAINT_USED);
        MaintRecord::decode(&b, C).unwrap_err()
    }

    #[test]
    fn bad_node_fields_are_rejected_even_with_a_good_crc() {
        use DecodeError::Field;
        assert_eq!(node_field_err(|b| b[92] = 5), Field("state"));
        assert_eq!(node_field_err(|b| b[144] = 2), Field("unknown flag bits"));
        assert_eq!(
            node_field_err(|b| b[144] = 0x81),
            Field("unknown flag bits")
        );
        for at in [10, 11, 93, 95, 145, 200, 251] {
            assert_eq!(
                node_field_err(|b| b[at] = 1),
                Field("reserved bytes not zero")
            );
        }
        assert_eq!(node_field_err(|b| b[44] = b'/'), Field("node name"));
        assert_eq!(node_field_err(|b| b[44..76].fill(0)), Field("node name"));
        // Junk after the terminating NUL.
        assert_eq!(node_field_err(|b| b[75] = b'x'), Field("node name"));
        assert_eq!(node_field_err(|b| b[12] = 0), Field("cluster name"));
        assert_eq!(node_field_err(|b| b[12] = 0xc3), Field("cluster name"));
        // The tail is outside the CRC but must still be zero.
        let mut b = node_rec().encode();
        b[BLOCK - 1] = 1;
        assert_eq!(
            NodeRecord::decode(&b, C),
            Err(Field("padding after the record not zero"))
        );
    }

    #[test]
    fn bad_maint_fields_are_rejected_even_with_a_good_crc() {
        use DecodeError::Field;
        assert_eq!(maint_field_err(|b| b[52] = 3), Field("mode"));
        // A target while not in switchover.
        assert_eq!(
            maint_field_err(|b| b[52] = 1),
            Field("switchover target set without switchover")
        );
        assert_eq!(
            maint_field_err(|b| b[52] = 0),
            Field("switchover target set without switchover")
        );
        assert_eq!(
            maint_field_err(|b| b[56..88].fill(0)),
            Field("switchover target")
        );
        assert_eq!(maint_field_err(|b| b[88] = 9), Field("drained count"));
        assert_eq!(maint_field_err(|b| b[88] = 255), Field("drained count"));
        // Count says 3, slot 2 is empty.
        assert_eq!(maint_field_err(|b| b[88] = 3), Field("drained name"));
        // Count says 1, slot 1 still holds a name.
        assert_eq!(
            maint_field_err(|b| b[88] = 1),
            Field("unused drained slot not zero")
        );
        for at in [10, 53, 55, 89, 95, 520, 1019] {
            assert_eq!(
                maint_field_err(|b| b[at] = 1),
                Field("reserved bytes not zero")
            );
        }
        assert_eq!(maint_field_err(|b| b[352] = 0xff), Field("set_by"));
        assert_eq!(maint_field_err(|b| b[511] = b'x'), Field("reason"));
        assert_eq!(maint_field_err(|b| b[384] = 0xc3), Field("reason"));
    }

    #[test]
    fn invalid_names_encode_without_panic_and_never_decode() {
        let long_valid_chars = "n".repeat(MAX_NAME + 1);
        let ends_bad = format!("{}!", "n".repeat(MAX_NAME));
        let bad = [
            "",
            "\0",
            "ab\0",
            "a/b",
            "a b",
            "é",
            long_valid_chars.as_str(),
            ends_bad.as_str(),
        ];
        for name in bad {
            assert!(!valid_name(name), "{name:?}");
            let r = NodeRecord {
                node: name.to_owned(),
                ..node_rec()
            };
            assert_eq!(
                NodeRecord::decode(&r.encode(), C),
                Err(DecodeError::Field("node name")),
                "{name:?}"
            );
            let r = NodeRecord {
                cluster: name.to_owned(),
                ..node_rec()
            };
            assert_eq!(
                NodeRecord::decode(&r.encode(), name),
                Err(DecodeError::Field("cluster name")),
                "{name:?}"
            );
            let r = MaintRecord {
                mode: MaintMode::Switchover(name.to_owned()),
                ..maint_rec()
            };
            assert_eq!(
                MaintRecord::decode(&r.encode(), C),
                Err(DecodeError::Field("switchover target")),
                "{name:?}"
            );
            let r = MaintRecord {
                drained: vec!["ok".to_owned(), name.to_owned()],
                ..maint_rec()
            };
            assert_eq!(
                MaintRecord::decode(&r.encode(), C),
                Err(DecodeError::Field("drained name")),
                "{name:?}"
            );
        }
    }

    #[test]
    fn too_many_drained_never_decode() {
        let r = MaintRecord {
            drained: (0..=MAX_DRAINED).map(|i| format!("n{i}")).collect(),
            ..maint_rec()
        };
        assert_eq!(
            MaintRecord::decode(&r.encode(), C),
            Err(DecodeError::Field("drained count"))
        );
        let r = MaintRecord {
            drained: vec!["n".to_owned(); 1000],
            ..maint_rec()
        };
        assert_eq!(
            MaintRecord::decode(&r.encode(), C),
            Err(DecodeError::Field("drained count"))
        );
    }

    #[test]
    fn text_is_cut_to_fit_at_a_char_boundary() {
        let r = MaintRecord {
            // 2-byte chars: 32 bytes hold 16; 'x' first makes the cut fall mid-char.
            set_by: format!("x{}", "é".repeat(20)),
            reason: format!("{}tail\0hidden", "r".repeat(REASON_LEN - 2)),
            ..maint_rec()
        };
        let d = MaintRecord::decode(&r.encode(), C).unwrap();
        assert_eq!(d.set_by, format!("x{}", "é".repeat(15)));
        assert_eq!(d.reason, format!("{}ta", "r".repeat(REASON_LEN - 2)));
        let r = MaintRecord {
            set_by: "who\0ever".to_owned(),
            ..maint_rec()
        };
        assert_eq!(MaintRecord::decode(&r.encode(), C).unwrap().set_by, "who");
    }

    #[test]
    fn errors_display() {
        let shown = [
            DecodeError::Short { len: 3 }.to_string(),
            DecodeError::Magic.to_string(),
            DecodeError::Version(2).to_string(),
            DecodeError::Crc {
                stored: 1,
                computed: 0xdead_beef,
            }
            .to_string(),
            DecodeError::Cluster { found: "x".into() }.to_string(),
            DecodeError::Field("state").to_string(),
        ];
        assert_eq!(shown[0], "record too short: 3 bytes");
        assert_eq!(
            shown[3],
            "CRC mismatch: stored 0x00000001, computed 0xdeadbeef"
        );
        assert_eq!(shown[4], "record belongs to another cluster: \"x\"");
        assert_eq!(shown[5], "invalid field: state");
    }
}
