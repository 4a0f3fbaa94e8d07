//! Names from the hosts file alone, read by the probe itself: what `ha-probe --host NAME`
//! uses instead of the C library's resolver.
//!
//! A health probe that asks DNS (or LDAP, SSSD, NIS through NSS) fails when those do, and a
//! failed probe is a failover: the application would be moved because a name server was
//! slow. It also lets the shipped ha-probe be linked statically: glibc's resolver loads the
//! host's NSS modules at run time, which a static program built against another glibc cannot
//! do safely, so that program must never call it. The hosts file is a local file, read in
//! one go; the format is the one every C library reads (hosts(5)).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// Where names are looked up.
pub const HOSTS_FILE: &str = "/etc/hosts";

/// The addresses `text` (a hosts file) gives `name`, in file order without repeats. Names
/// compare without regard to ASCII case, as the C library's do; a line whose address does not
/// parse is skipped, as the C library skips it.
pub fn addresses_in(text: &[u8], name: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = match line.iter().position(|&b| b == b'#') {
            Some(at) => &line[..at],
            None => line,
        };
        let mut fields = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let Some(addr) = fields.next() else { continue };
        if !fields.any(|n| n.eq_ignore_ascii_case(name.as_bytes())) {
            continue;
        }
        let Some(ip) = std::str::from_utf8(addr).ok().and_then(|a| a.parse().ok()) else {
            continue;
        };
        if !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

/// The addresses of `name` from the hosts file at `path`. `localhost` not listed there is
/// the loopback addresses (RFC 6761), as the C library's `myhostname` module answers.
/// An error says why there is none, and what to give instead.
pub fn lookup(path: &Path, name: &str) -> Result<Vec<IpAddr>, String> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(format!(
                "{name}: cannot read {}: {e}; {GIVE_AN_ADDRESS}",
                path.display()
            ));
        }
    };
    let found = addresses_in(&text, name);
    if !found.is_empty() {
        return Ok(found);
    }
    if name.eq_ignore_ascii_case("localhost") {
        return Ok(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ]);
    }
    Err(format!(
        "{name}: not in {}, the only place ha-probe looks names up (never DNS or another \
         name service, whose outage must not fail a probe); {GIVE_AN_ADDRESS}",
        path.display()
    ))
}

const GIVE_AN_ADDRESS: &str =
    "give --host the server's address instead (e.g. --host 192.0.2.10 or --host ::1)";

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    const STOCK: &str = "\
127.0.0.1\tlocalhost
127.0.1.1\tnode1.example.org node1
# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
192.0.2.7 db1 DB1   # repeated with another case
192.0.2.8 db1
192.0.2.7 db1
";

    #[test]
    fn names_and_aliases_in_file_order_without_repeats() {
        let text = STOCK.as_bytes();
        assert_eq!(addresses_in(text, "localhost"), ips(&["127.0.0.1", "::1"]));
        assert_eq!(addresses_in(text, "node1"), ips(&["127.0.1.1"]));
        assert_eq!(addresses_in(text, "node1.example.org"), ips(&["127.0.1.1"]));
        assert_eq!(addresses_in(text, "ip6-loopback"), ips(&["::1"]));
        assert_eq!(addresses_in(text, "Db1"), ips(&["192.0.2.7", "192.0.2.8"]));
    }

    #[test]
    fn comments_addresses_and_partial_names_do_not_match() {
        let text = STOCK.as_bytes();
        for name in ["desirable", "IPv6", "node", "example.org", "127.0.0.1", "#"] {
            assert!(addresses_in(text, name).is_empty(), "{name}");
        }
        let odd = b"not-an-address db2\n10.0.0.300 db2\n\xff\xfe db2\n  10.0.0.3   db2  \r\n";
        // The CR of a CRLF file is whitespace, and the bad lines are skipped.
        assert_eq!(addresses_in(odd, "db2"), ips(&["10.0.0.3"]));
        assert!(addresses_in(b"", "db2").is_empty());
        assert!(addresses_in(b"10.0.0.4", "db2").is_empty());
    }

    #[test]
    fn lookup_reads_the_file_and_names_what_to_do() {
        let dir = std::env::temp_dir().join(format!("hamon-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, "192.0.2.9 app\n").unwrap();
        assert_eq!(lookup(&hosts, "APP"), Ok(ips(&["192.0.2.9"])));
        let err = lookup(&hosts, "db9").unwrap_err();
        assert!(err.starts_with("db9: not in "), "{err}");
        assert!(err.contains(&hosts.display().to_string()), "{err}");
        assert!(err.contains("never DNS"), "{err}");
        assert!(err.contains("give --host the server's address"), "{err}");
        // localhost without a line of its own is the loopback addresses.
        assert_eq!(lookup(&hosts, "localhost"), Ok(ips(&["127.0.0.1", "::1"])));
        let missing = dir.join("none");
        assert_eq!(
            lookup(&missing, "localhost"),
            Ok(ips(&["127.0.0.1", "::1"]))
        );
        assert!(lookup(&missing, "app").unwrap_err().contains("not in"));
        // A directory cannot be read as a file: the error says so.
        let err = lookup(&dir, "app").unwrap_err();
        assert!(err.starts_with("app: cannot read "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
