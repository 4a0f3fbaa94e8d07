//! The heartbeat record codecs: decode∘encode is the identity for every record that can be
//! written, and a block that decodes (its CRC made valid here, so the fuzzer gets past it)
//! encodes back to the same bytes.
#![no_main]

use arbitrary::Unstructured;
use hamon::heartbeat::codec::{
    FORMAT_VERSION, MAINT_MAGIC, MAINT_USED, NODE_MAGIC, NODE_USED, valid_name,
};
use hamon::heartbeat::record::{BLOCK, MaintMode, MaintRecord, NodeRecord, NodeState};
use libfuzzer_sys::fuzz_target;

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

fn name(u: &mut Unstructured) -> arbitrary::Result<String> {
    let n: String = u.arbitrary()?;
    Ok(if valid_name(&n) { n } else { "n".into() })
}

fn text(u: &mut Unstructured, max: usize) -> arbitrary::Result<String> {
    let mut t: String = u.arbitrary()?;
    t.retain(|c| c != '\0');
    while t.len() > max {
        t.pop();
    }
    Ok(t)
}

fn node(u: &mut Unstructured) -> arbitrary::Result<NodeRecord> {
    let states = [
        NodeState::Standby,
        NodeState::Claiming,
        NodeState::Active,
        NodeState::Stopping,
        NodeState::Released,
    ];
    Ok(NodeRecord {
        cluster: name(u)?,
        node: name(u)?,
        incarnation: u.arbitrary()?,
        seq: u.arbitrary()?,
        state: *u.choose(&states)?,
        epoch: u.arbitrary()?,
        max_epoch: u.arbitrary()?,
        maint_ack: u.arbitrary()?,
        period_ms: u.arbitrary()?,
        renew_deadline_ms: u.arbitrary()?,
        takeover_ms: u.arbitrary()?,
        kill_budget_ms: u.arbitrary()?,
        preferred: u.arbitrary()?,
        wall_ms: u.arbitrary()?,
    })
}

fn maint(u: &mut Unstructured) -> arbitrary::Result<MaintRecord> {
    let mode = match u.int_in_range(0..=2u8)? {
        0 => MaintMode::Off,
        1 => MaintMode::Freeze,
        _ => MaintMode::Switchover(name(u)?),
    };
    let count = u.int_in_range(0..=8usize)?;
    let mut drained = Vec::new();
    for _ in 0..count {
        drained.push(name(u)?);
    }
    Ok(MaintRecord {
        cluster: name(u)?,
        token: u.arbitrary()?,
        mode,
        drained,
        set_by: text(u, 32)?,
        reason: text(u, 128)?,
        wall_ms: u.arbitrary()?,
    })
}

/// `bytes` framed as a block of `used` bytes (magic, format version, valid CRC), zero-padded
/// to BLOCK.
fn sealed(magic: &[u8; 8], bytes: &[u8], used: usize) -> Vec<u8> {
    let mut b = vec![0u8; BLOCK];
    b[..8].copy_from_slice(magic);
    b[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let n = bytes.len().min(used - 14);
    b[10..10 + n].copy_from_slice(&bytes[..n]);
    let crc = CRC32C.checksum(&b[..used - 4]);
    b[used - 4..used].copy_from_slice(&crc.to_le_bytes());
    b
}

fn cluster_of(block: &[u8]) -> String {
    let field = &block[12..44];
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let mut u = Unstructured::new(rest);
    match kind % 4 {
        0 => {
            let Ok(rec) = node(&mut u) else { return };
            let bytes = rec.encode();
            assert_eq!(bytes.len(), BLOCK);
            assert_eq!(NodeRecord::decode(&bytes, &rec.cluster), Ok(rec));
        }
        1 => {
            let Ok(rec) = maint(&mut u) else { return };
            let bytes = rec.encode();
            assert_eq!(bytes.len(), BLOCK);
            assert_eq!(MaintRecord::decode(&bytes, &rec.cluster), Ok(rec));
        }
        2 => {
            let block = sealed(&NODE_MAGIC, rest, NODE_USED);
            if let Ok(rec) = NodeRecord::decode(&block, &cluster_of(&block)) {
                assert_eq!(rec.encode(), block);
            }
        }
        _ => {
            let block = sealed(&MAINT_MAGIC, rest, MAINT_USED);
            if let Ok(rec) = MaintRecord::decode(&block, &cluster_of(&block)) {
                assert_eq!(rec.encode(), block);
            }
        }
    }
});
