//! Who a caller is, as the kernel says (docs/product-rules.md §10): the uid and gid of the
//! process at the other end of the socket (`SO_PEERCRED`, read by tokio's
//! `UnixStream::peer_cred`), named from the system's user database; never `$USER`, a
//! client's config or `SSH_CONNECTION`. Roles come from the service's `[access]` config.

use nix::unistd::{Gid, Group, Uid, User};

use crate::config::Access;
use crate::protocol::wire::Role;

/// The user name of `uid` from the user database, or the number itself (e.g. `65534`) when
/// the database has no entry for it.
pub fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}

/// This process's user name ([`user_name`] of the real uid): the embedded console's audit
/// actor and the service's own name.
pub fn own_user_name() -> String {
    user_name(Uid::current().as_raw())
}

/// Whether an `[access]` entry (`NAME` or `group:NAME`) names a user or group this host knows
/// (a user may also be given as a uid number).
pub fn names_someone(entry: &str) -> bool {
    let entry = entry.trim();
    match entry.strip_prefix("group:") {
        Some(g) => matches!(Group::from_name(g.trim()), Ok(Some(_))),
        None => matches!(User::from_name(entry), Ok(Some(_))) || entry.parse::<u32>().is_ok(),
    }
}

/// The names of the groups `user` belongs to: the primary group `gid` (from `SO_PEERCRED`)
/// and the supplementary groups the group database lists for the user. Groups without a
/// name are given as their number.
pub fn group_names(user: &str, gid: u32) -> Vec<String> {
    let name = |g: Gid| match Group::from_gid(g) {
        Ok(Some(group)) => group.name,
        _ => g.as_raw().to_string(),
    };
    let mut out = vec![name(Gid::from_raw(gid))];
    if let Ok(c_user) = std::ffi::CString::new(user)
        && let Ok(list) = nix::unistd::getgrouplist(&c_user, Gid::from_raw(gid))
    {
        for g in list {
            let n = name(g);
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// The role `access` grants a caller named `user` in `groups`: operator when an entry of
/// `operators` names the user or (as `group:NAME`) one of the groups, else reader likewise,
/// else none. Without an `[access]` table, only `service_user` (the service's own user) is an
/// operator. Root is not special.
pub fn role_of(access: &Access, service_user: &str, user: &str, groups: &[String]) -> Option<Role> {
    if !access.configured {
        return (user == service_user).then_some(Role::Operator);
    }
    let matches = |entries: &[String]| {
        entries.iter().any(|e| {
            let e = e.trim();
            match e.strip_prefix("group:") {
                Some(g) => groups.iter().any(|have| have == g.trim()),
                None => e == user,
            }
        })
    };
    if matches(&access.operators) {
        Some(Role::Operator)
    } else if matches(&access.readers) {
        Some(Role::Reader)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(operators: &[&str], readers: &[&str]) -> Access {
        Access {
            configured: true,
            operators: operators.iter().map(|s| s.to_string()).collect(),
            readers: readers.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn roles_come_from_users_and_groups() {
        let a = access(&["alice", "group:ops"], &["group:audit", "carol"]);
        let none: Vec<String> = vec![];
        assert_eq!(role_of(&a, "svc", "alice", &none), Some(Role::Operator));
        assert_eq!(
            role_of(&a, "svc", "bob", &["ops".to_string()]),
            Some(Role::Operator)
        );
        assert_eq!(
            role_of(&a, "svc", "dan", &["audit".to_string()]),
            Some(Role::Reader)
        );
        assert_eq!(role_of(&a, "svc", "carol", &none), Some(Role::Reader));
        // Root is nobody special, and neither is the service's own user once [access] exists.
        assert_eq!(role_of(&a, "svc", "root", &["root".to_string()]), None);
        assert_eq!(role_of(&a, "svc", "svc", &none), None);
        // An operator listed as a reader too is an operator.
        let both = access(&["alice"], &["alice"]);
        assert_eq!(role_of(&both, "svc", "alice", &none), Some(Role::Operator));
    }

    #[test]
    fn without_an_access_table_only_the_service_user_is_an_operator() {
        let a = Access::default();
        assert_eq!(role_of(&a, "alice", "alice", &[]), Some(Role::Operator));
        assert_eq!(role_of(&a, "alice", "bob", &[]), None);
    }

    #[test]
    fn access_entries_that_name_nobody_are_found() {
        assert!(names_someone("root"));
        assert!(names_someone("group:root"));
        assert!(names_someone("65534"));
        assert!(!names_someone("no-such-user-x9"));
        assert!(!names_someone("group:no-such-group-x9"));
    }

    #[test]
    fn root_and_unknown_uids_are_named() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(4_000_000_000), "4000000000");
        assert!(group_names("root", 0).contains(&"root".to_string()));
    }
}
