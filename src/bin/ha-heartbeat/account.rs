//! `hb.user` and `hb.group`: the user and group the application (`hb.start_cmd`,
//! `hb.stop_cmd`) runs as, while the daemon keeps its own. Names are looked up with
//! getpwnam_r/getgrnam_r once, when the daemon starts; numeric ids are taken as they are.

use std::ffi::{CStr, CString};
use std::os::unix::process::CommandExt;
use std::process::Command;

use hamon::config::HeartbeatSettings;

/// Who the application runs as.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// `HOME`, `USER` and `LOGNAME` of the user, when the passwd database knows it.
    env: Vec<(&'static str, String)>,
}

/// One passwd entry: name, uid, primary gid, home.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

impl Account {
    /// Resolves `hb.user` and `hb.group`; with `hb.user` alone the group is the user's
    /// primary group. Errors name the key.
    pub fn resolve(hb: &HeartbeatSettings) -> Result<Account, String> {
        let mut account = Account::default();
        if let Some(user) = &hb.user {
            let entry = match user.parse::<u32>() {
                Ok(uid) => lookup_user(Lookup::Id(uid))
                    .map_err(|e| format!("hb.user {user}: {e}"))?
                    .map_or((uid, None), |u| (uid, Some(u))),
                Err(_) => match lookup_user(Lookup::Name(user))
                    .map_err(|e| format!("hb.user {user}: {e}"))?
                {
                    Some(u) => (u.uid, Some(u)),
                    None => return Err(format!("hb.user {user}: no such user in passwd")),
                },
            };
            account.uid = Some(entry.0);
            if let Some(u) = entry.1 {
                account.gid = Some(u.gid);
                account.env = vec![
                    ("HOME", u.home),
                    ("USER", u.name.clone()),
                    ("LOGNAME", u.name),
                ];
            }
        }
        if let Some(group) = &hb.group {
            account.gid = Some(match group.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => lookup_group(group)
                    .map_err(|e| format!("hb.group {group}: {e}"))?
                    .ok_or_else(|| format!("hb.group {group}: no such group"))?,
            });
        }
        if account.uid.is_some() && account.gid.is_none() {
            return Err(format!(
                "hb.user {}: not in passwd, so it has no primary group: set hb.group too",
                hb.user.as_deref().unwrap_or_default()
            ));
        }
        Ok(account)
    }

    /// Makes `cmd` run as this account (the group first; supplementary groups are dropped when
    /// the daemon is root).
    pub fn apply(&self, cmd: &mut Command) {
        if let Some(gid) = self.gid {
            cmd.gid(gid);
        }
        if let Some(uid) = self.uid {
            cmd.uid(uid);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v)));
    }
}

enum Lookup<'a> {
    Name(&'a str),
    Id(u32),
}

/// Looks a user up; Ok(None) when there is none.
fn lookup_user(what: Lookup) -> Result<Option<User>, String> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out-parameter.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let rc = match what {
        Lookup::Name(name) => {
            let c = CString::new(name).map_err(|_| "a name with a NUL byte".to_string())?;
            // SAFETY: valid C string, out-parameters and buffer of the given length.
            unsafe {
                libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut found)
            }
        }
        // SAFETY: as above.
        Lookup::Id(uid) => unsafe {
            libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found)
        },
    };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc).to_string());
    }
    if found.is_null() {
        return Ok(None);
    }
    // SAFETY: on success the strings point into `buf`, NUL-terminated.
    let text = |p: *const libc::c_char| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    Ok(Some(User {
        name: text(pw.pw_name),
        uid: pw.pw_uid,
        gid: pw.pw_gid,
        home: text(pw.pw_dir),
    }))
}

/// Looks a group up by name; Ok(None) when there is none.
fn lookup_group(name: &str) -> Result<Option<u32>, String> {
    let c = CString::new(name).map_err(|_| "a name with a NUL byte".to_string())?;
    let mut buf = vec![0 as libc::c_char; 64 * 1024];
    // SAFETY: a zeroed group is a valid out-parameter.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: valid C string, out-parameters and buffer of the given length.
    let rc =
        unsafe { libc::getgrnam_r(c.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc).to_string());
    }
    Ok((!found.is_null()).then_some(gr.gr_gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(user: Option<&str>, group: Option<&str>) -> HeartbeatSettings {
        HeartbeatSettings {
            user: user.map(str::to_string),
            group: group.map(str::to_string),
            ..HeartbeatSettings::default()
        }
    }

    #[test]
    fn names_and_numeric_ids_resolve_and_errors_name_the_key() {
        assert_eq!(
            Account::resolve(&settings(None, None)).unwrap(),
            Account::default()
        );
        let root = Account::resolve(&settings(Some("root"), None)).unwrap();
        assert_eq!((root.uid, root.gid), (Some(0), Some(0)));
        assert!(root.env.contains(&("USER", "root".to_string())));
        let numeric = Account::resolve(&settings(Some("0"), Some("65534"))).unwrap();
        assert_eq!((numeric.uid, numeric.gid), (Some(0), Some(65534)));
        let group_only = Account::resolve(&settings(None, Some("0"))).unwrap();
        assert_eq!((group_only.uid, group_only.gid), (None, Some(0)));
        let e = Account::resolve(&settings(Some("no-such-user-hamon"), None)).unwrap_err();
        assert!(
            e.starts_with("hb.user no-such-user-hamon: no such user"),
            "{e}"
        );
        let e = Account::resolve(&settings(None, Some("no-such-group-hamon"))).unwrap_err();
        assert!(
            e.starts_with("hb.group no-such-group-hamon: no such group"),
            "{e}"
        );
        // An id passwd does not know has no primary group.
        let e = Account::resolve(&settings(Some("4123456789"), None)).unwrap_err();
        assert!(e.contains("set hb.group too"), "{e}");
        let ok = Account::resolve(&settings(Some("4123456789"), Some("4123456789"))).unwrap();
        assert_eq!(ok.uid, Some(4_123_456_789));
    }
}
