//! Envelopes: the private wire wrappers of responses (a list page, `{"server": …}` and the like).

use serde::Deserialize;

use super::action::Action;
use super::firewall::Firewall;
use super::server::Server;
use super::server_type::{Pricing, ServerType};
use super::ssh_key::SshKey;
use super::{Meta, null_as_default};

/// A page of any list endpoint: the list under its resource root plus `meta`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    #[serde(
        alias = "servers",
        alias = "firewalls",
        alias = "server_types",
        alias = "locations",
        alias = "images",
        alias = "ssh_keys",
        alias = "actions"
    )]
    pub(crate) items: Vec<T>,
    #[serde(default)]
    pub(crate) meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerEnvelope {
    pub(crate) server: Server,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FirewallEnvelope {
    pub(crate) firewall: Firewall,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerTypeEnvelope {
    pub(crate) server_type: ServerType,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionEnvelope {
    pub(crate) action: Action,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionsEnvelope {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) actions: Vec<Action>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PricingEnvelope {
    pub(crate) pricing: Pricing,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SshKeyEnvelope {
    pub(crate) ssh_key: SshKey,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hetzner::model::Location;

    #[test]
    fn page_envelope_reads_any_list_root_and_meta() {
        let json = r#"{"locations":[{"id":1,"name":"hel1","description":"Helsinki DC Park 1",
            "country":"FI","city":"Helsinki","latitude":60.169855,"longitude":24.938379,
            "network_zone":"eu-central"}],
            "meta":{"pagination":{"page":1,"per_page":50,"previous_page":null,"next_page":null,
            "last_page":1,"total_entries":1}}}"#;
        let p: Page<Location> = serde_json::from_str(json).expect("page");
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].name, "hel1");
        let pg = p.meta.and_then(|m| m.pagination).expect("pagination");
        assert_eq!(pg.next_page, None);
        assert_eq!(pg.total_entries, Some(1));
        // Missing list root: an error, not an empty list.
        assert!(serde_json::from_str::<Page<Location>>(r#"{"meta":{}}"#).is_err());
    }
}
