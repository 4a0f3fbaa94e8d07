//! A node's published events: the last few entries of its decision journal, which it writes
//! where every other node can read them (`hb.dir/events.<name>` on the shared directory, the
//! key `<prefix>timeline/<name>` on etcd), so that any node's status page shows the whole
//! cluster's recent history (docs/heartbeat.md, "The cluster's events").
//!
//! Layout, little endian: magic, format version, payload length, seq (+1 every publish),
//! cluster and node names (zero padded), CRC-32C of the header (CRC field excluded) and the
//! payload, then the payload: JSON lines, oldest first. The file is always [`SIZE`] bytes
//! (zero padded), the etcd value only header and payload. Nothing that fails a check is
//! shown: a torn write, another cluster's or another node's file, garbage.

use super::codec::DecodeError;

/// The size of an events file, and the most an etcd value may hold.
pub const SIZE: usize = 16 * 1024;
/// Header bytes before the payload.
pub const HEADER: usize = 96;
/// The most payload one publish holds.
pub const CAPACITY: usize = SIZE - HEADER;
/// Magic of a published-events block.
pub const MAGIC: [u8; 8] = *b"HAMONEV\x01";
/// Format version this code writes and reads.
pub const VERSION: u16 = 1;

const NAME_LEN: usize = 32;
mod off {
    pub const VERSION: usize = 8;
    pub const LEN: usize = 12;
    pub const SEQ: usize = 16;
    pub const CLUSTER: usize = 24;
    pub const NODE: usize = 56;
    pub const CRC: usize = 88;
}

/// Once per publish, a few times a minute at most: no table tuning needed.
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// What a node published: its name, its seq and its JSON lines, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub node: String,
    pub seq: u64,
    pub payload: String,
}

fn crc(bytes: &[u8], len: usize) -> u32 {
    let mut d = CRC32C.digest();
    d.update(&bytes[..off::CRC]);
    d.update(&bytes[HEADER..HEADER + len]);
    d.finalize()
}

fn put_name(field: &mut [u8], name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > NAME_LEN || name.bytes().any(|b| b == 0) {
        return Err(format!(
            "name {name:?} does not fit the events header (1 to {NAME_LEN} bytes)"
        ));
    }
    field[..name.len()].copy_from_slice(name.as_bytes());
    Ok(())
}

fn get_name(field: &[u8], what: &'static str) -> Result<String, DecodeError> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    if end == 0 || field[end..].iter().any(|&b| b != 0) {
        return Err(DecodeError::Field(what));
    }
    std::str::from_utf8(&field[..end])
        .map(str::to_string)
        .map_err(|_| DecodeError::Field(what))
}

/// Header and `payload` (at most [`CAPACITY`] bytes): the etcd value. Refuses names that do
/// not fit and a payload that is too long.
pub fn encode(cluster: &str, node: &str, seq: u64, payload: &str) -> Result<Vec<u8>, String> {
    if payload.len() > CAPACITY {
        return Err(format!(
            "{} bytes of events do not fit in {CAPACITY}",
            payload.len()
        ));
    }
    let mut b = vec![0u8; HEADER + payload.len()];
    b[..8].copy_from_slice(&MAGIC);
    b[off::VERSION..off::VERSION + 2].copy_from_slice(&VERSION.to_le_bytes());
    b[off::LEN..off::LEN + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    b[off::SEQ..off::SEQ + 8].copy_from_slice(&seq.to_le_bytes());
    put_name(&mut b[off::CLUSTER..off::CLUSTER + NAME_LEN], cluster)?;
    put_name(&mut b[off::NODE..off::NODE + NAME_LEN], node)?;
    b[HEADER..].copy_from_slice(payload.as_bytes());
    let c = crc(&b, payload.len());
    b[off::CRC..off::CRC + 4].copy_from_slice(&c.to_le_bytes());
    Ok(b)
}

/// [`encode`] padded with zeros to [`SIZE`]: the events file's whole content.
pub fn encode_block(cluster: &str, node: &str, seq: u64, payload: &str) -> Result<Vec<u8>, String> {
    let mut b = encode(cluster, node, seq, payload)?;
    b.resize(SIZE, 0);
    Ok(b)
}

/// What `bytes` (a file's content or an etcd value; only the first [`SIZE`] bytes count)
/// hold, if they are the published events of `expect_node` in `expect_cluster`.
pub fn decode(
    bytes: &[u8],
    expect_cluster: &str,
    expect_node: &str,
) -> Result<Published, DecodeError> {
    let bytes = &bytes[..bytes.len().min(SIZE)];
    if bytes.len() < HEADER {
        return Err(DecodeError::Short { len: bytes.len() });
    }
    if bytes[..8] != MAGIC {
        return Err(DecodeError::Magic);
    }
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
    let version = u16::from_le_bytes([bytes[off::VERSION], bytes[off::VERSION + 1]]);
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let len = u32_at(off::LEN) as usize;
    if len > CAPACITY || HEADER + len > bytes.len() {
        return Err(DecodeError::Short { len: bytes.len() });
    }
    let stored = u32_at(off::CRC);
    let computed = crc(bytes, len);
    if stored != computed {
        return Err(DecodeError::Crc { stored, computed });
    }
    let cluster = get_name(&bytes[off::CLUSTER..off::CLUSTER + NAME_LEN], "cluster")?;
    if cluster != expect_cluster {
        return Err(DecodeError::Cluster { found: cluster });
    }
    let node = get_name(&bytes[off::NODE..off::NODE + NAME_LEN], "node")?;
    if node != expect_node {
        return Err(DecodeError::Field("node: written for another node"));
    }
    let payload = std::str::from_utf8(&bytes[HEADER..HEADER + len])
        .map_err(|_| DecodeError::Field("payload: not UTF-8"))?
        .to_string();
    Ok(Published {
        node,
        seq: u64::from_le_bytes(bytes[off::SEQ..off::SEQ + 8].try_into().unwrap_or([0; 8])),
        payload,
    })
}

/// The newest lines of `newest_first` (each a whole line, newline included) that fit
/// together in `capacity` bytes, oldest first: a line that would not fit ends the list.
pub fn fit<'a>(newest_first: impl IntoIterator<Item = &'a str>, capacity: usize) -> String {
    let mut kept = Vec::new();
    let mut used = 0;
    for line in newest_first {
        if used + line.len() > capacity {
            break;
        }
        used += line.len();
        kept.push(line);
    }
    kept.reverse();
    kept.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = "{\"kind\":\"role\",\"text\":\"standby -> active\"}\n\
                         {\"kind\":\"operator\",\"text\":\"<img src=x>\"}\n";

    #[test]
    fn a_publish_reads_back_from_the_file_and_from_etcd() {
        let v = encode("shop", "n1", 7, LINES).unwrap();
        assert_eq!(v.len(), HEADER + LINES.len());
        let p = decode(&v, "shop", "n1").unwrap();
        assert_eq!(
            (p.node.as_str(), p.seq, p.payload.as_str()),
            ("n1", 7, LINES)
        );
        let b = encode_block("shop", "n1", 7, LINES).unwrap();
        assert_eq!(b.len(), SIZE);
        assert_eq!(decode(&b, "shop", "n1").unwrap(), p);
        // What `init` writes: nothing published yet.
        let blank = decode(&encode_block("shop", "n2", 0, "").unwrap(), "shop", "n2").unwrap();
        assert_eq!((blank.seq, blank.payload.as_str()), (0, ""));
        // More than a file holds is never read.
        let mut long = b.clone();
        long.extend_from_slice(&[b'x'; 100]);
        assert_eq!(decode(&long, "shop", "n1").unwrap(), p);
    }

    #[test]
    fn a_damaged_foreign_or_misplaced_publish_is_refused() {
        let b = encode_block("shop", "n1", 3, LINES).unwrap();
        for at in [
            0,
            off::LEN,
            off::SEQ,
            off::CLUSTER,
            off::NODE,
            off::CRC,
            HEADER + 5,
        ] {
            let mut bad = b.clone();
            bad[at] ^= 0x20;
            assert!(decode(&bad, "shop", "n1").is_err(), "flipped byte {at}");
        }
        let mut torn = b.clone();
        torn[HEADER + 3] ^= 1;
        assert!(matches!(
            decode(&torn, "shop", "n1"),
            Err(DecodeError::Crc { .. })
        ));
        assert_eq!(
            decode(&b, "other", "n1"),
            Err(DecodeError::Cluster {
                found: "shop".into()
            })
        );
        // n1's file copied over n2's.
        assert!(matches!(
            decode(&b, "shop", "n2"),
            Err(DecodeError::Field(_))
        ));
        assert!(matches!(
            decode(&b[..HEADER - 1], "shop", "n1"),
            Err(DecodeError::Short { .. })
        ));
        // Cut in the payload (an etcd value cut short).
        assert!(decode(&b[..HEADER + 10], "shop", "n1").is_err());
        assert_eq!(decode(&[0u8; SIZE], "shop", "n1"), Err(DecodeError::Magic));
        assert!(decode(b"garbage", "shop", "n1").is_err());
        // A length past the capacity, with a CRC that matches it.
        let mut huge = b.clone();
        huge[off::LEN..off::LEN + 4].copy_from_slice(&(SIZE as u32).to_le_bytes());
        assert!(matches!(
            decode(&huge, "shop", "n1"),
            Err(DecodeError::Short { .. })
        ));
    }

    #[test]
    fn what_does_not_fit_is_refused_or_left_out() {
        assert!(encode("shop", "n1", 1, &"x".repeat(CAPACITY + 1)).is_err());
        assert!(encode("shop", "n1", 1, &"x".repeat(CAPACITY)).is_ok());
        assert!(encode(&"c".repeat(NAME_LEN + 1), "n1", 1, "").is_err());
        assert!(encode("shop", "", 1, "").is_err());
        // Newest first in, oldest first out; the oldest that do not fit are left out.
        let lines = ["c\n", "bb\n", "aaaa\n"];
        assert_eq!(fit(lines, 5), "bb\nc\n");
        assert_eq!(fit(lines, 100), "aaaa\nbb\nc\n");
        assert_eq!(fit(["toolong\n", "x\n"], 3), "");
    }
}
