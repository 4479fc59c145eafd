//! The Vault against the fake Hetzner API on 127.0.0.1 (issue 6): a key provisioned onto a VM,
//! deleted from the Vault, shows in the exposure view until the VM is destroyed (in-process,
//! through the worker); and the headless `vault list|add|rm|exposure` commands of the real
//! binary with `--data-dir` and a standalone sim (`HCLOUD_TOKEN`/`HCLOUD_ENDPOINT`), including
//! a private key on stdin that never reaches the store files or the log.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};

use common::harness::{
    Dirs, Harness, Options, Worker, add_org, cli_against, client, contains, files_under, ok,
    one_line_failure, open_store, provision_request, spawn, start_sim,
};
use crabglamp::domain::vault::exposure;
use crabglamp::domain::{BillingType, VaultEntry};
use crabglamp::protocol::{Effect, KeySource, ProvisionRequest, Snapshot, VaultEvent, WorkerEvent};
use crabglamp::sim::SimHandle;
use tokio::io::AsyncWriteExt;

const KEY_K: &str = include_str!("../assets/demo-keys/acme-deploy.pub");
const KEY_OTHER: &str = include_str!("../assets/demo-keys/acme-bob.pub");

/// A fake OpenSSH private key with a distinctive body to grep for.
const PRIVATE_MARK: &str = "Zm9yYmlkZGVuLXByaXZhdGUta2V5LW1hcmtlcg";
fn private_key() -> String {
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA{PRIVATE_MARK}\n{PRIVATE_MARK}AAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    )
}

/// 100 ms actions, an empty store, the operator `tester`.
fn opts() -> Options {
    Options {
        actor: "tester",
        ..Options::default()
    }
}

/// Events until `pred` holds; returns the last snapshot seen and the matching event.
async fn until(
    h: &mut Worker,
    last: &mut Option<Snapshot>,
    pred: impl Fn(&WorkerEvent) -> bool,
) -> WorkerEvent {
    loop {
        let ev = h.next().await;
        if let WorkerEvent::Snapshot(s) = &ev {
            *last = Some((**s).clone());
        }
        if pred(&ev) {
            return ev;
        }
    }
}

fn request(name: &str, key: &VaultEntry) -> ProvisionRequest {
    ProvisionRequest {
        billing_type: BillingType::Metered,
        ..provision_request(name, "acme", vec![key.id])
    }
}

/// Provisions `name` with `key` and returns its VM id and IPv4.
async fn provision(
    h: &mut Worker,
    last: &mut Option<Snapshot>,
    name: &str,
    key: &VaultEntry,
) -> (uuid::Uuid, String) {
    h.send(Effect::Provision(request(name, key)));
    match until(h, last, |e| {
        matches!(
            e,
            WorkerEvent::Provisioned(_)
                | WorkerEvent::OperationFailed { .. }
                | WorkerEvent::Refused { .. }
        )
    })
    .await
    {
        WorkerEvent::Provisioned(r) => {
            assert_eq!(r.key_fingerprints, vec![key.fingerprint_sha256.clone()]);
            (r.vm_id, r.ipv4.clone().expect("an IPv4 from the sim"))
        }
        other => panic!("provisioning failed: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_stays_exposed_until_its_vm_is_destroyed() {
    let t = Harness::new(opts()).await;
    let Harness { store, dir, .. } = &t;
    add_org(store, "acme");
    let key_file = dir.path().join("k.pub");
    std::fs::write(&key_file, KEY_K).unwrap();
    let mut h = t.spawn();
    let mut last = None;

    // Add K from a file the worker reads.
    h.send(Effect::AddVaultKey {
        account: "acme".into(),
        label: Some("deploy K".into()),
        source: KeySource::Path(key_file.display().to_string()),
    });
    let k = match until(&mut h, &mut last, |e| matches!(e, WorkerEvent::Vault(_))).await {
        WorkerEvent::Vault(VaultEvent::Added { entry }) => entry,
        other => panic!("expected Added, got {other:?}"),
    };
    assert_eq!(k.label, "deploy K");
    assert_eq!(k.public_key, KEY_K.trim());
    assert_eq!(
        k.fingerprint_sha256,
        "SHA256:SAep4c4qaKHrecguX+28wexpwMtvdVKk5YwJwax0NiM"
    );

    let (vm_id, ipv4) = provision(&mut h, &mut last, "exposed-1", &k).await;
    let (other_id, _) = provision(&mut h, &mut last, "exposed-2", &k).await;

    // Delete K: the answer names both live VMs with their ssh commands.
    h.send(Effect::DeleteVaultKey { id: k.id });
    let holders = match until(&mut h, &mut last, |e| matches!(e, WorkerEvent::Vault(_))).await {
        WorkerEvent::Vault(VaultEvent::Deleted { entry, holders }) => {
            assert!(entry.deleted_at.is_some());
            holders
        }
        other => panic!("expected Deleted, got {other:?}"),
    };
    let names: Vec<&str> = holders.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["exposed-1", "exposed-2"]);
    assert_eq!(holders[0].ssh_command, format!("ssh debian@{ipv4}"));
    // The store keeps the entry, soft-deleted.
    let stored = store.vault_entry(k.id).unwrap().unwrap();
    assert!(stored.deleted_at.is_some());

    let snap = last.clone().unwrap();
    let x = exposure(&snap.vault, snap.vms.iter().map(|v| &v.record));
    assert_eq!(x.len(), 1);
    assert_eq!(x[0].entry.id, k.id);
    assert_eq!(x[0].holders.len(), 2);

    // Destroy one: still exposed on the other; destroy both: exposure clears.
    for (id, left) in [(vm_id, 1usize), (other_id, 0)] {
        h.send(Effect::Destroy { vm_id: id });
        match until(&mut h, &mut last, |e| {
            matches!(
                e,
                WorkerEvent::OperationDone { .. } | WorkerEvent::OperationFailed { .. }
            )
        })
        .await
        {
            WorkerEvent::OperationDone { .. } => {}
            other => panic!("destroy failed: {other:?}"),
        }
        let vms = store.vms().unwrap();
        let x = exposure(&store.vault(None).unwrap(), &vms);
        assert_eq!(x.iter().map(|e| e.holders.len()).sum::<usize>(), left);
    }
    assert!(exposure(&store.vault(None).unwrap(), &store.vms().unwrap()).is_empty());
    h.shutdown().await;
    t.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_vault_changes_in_the_worker() {
    let t = Harness::new(Options {
        read_only: true,
        ..opts()
    })
    .await;
    let store = &t.store;
    add_org(store, "acme");
    let mut h = t.spawn();
    let mut last = None;
    h.send(Effect::AddVaultKey {
        account: "acme".into(),
        label: None,
        source: KeySource::Text(KEY_K.into()),
    });
    match until(&mut h, &mut last, |e| {
        matches!(e, WorkerEvent::Refused { .. } | WorkerEvent::Vault(_))
    })
    .await
    {
        WorkerEvent::Refused { reason } => assert_eq!(
            reason,
            "read-only mode: adding a key to acme's Vault is not allowed"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(store.vault(None).unwrap().is_empty());
    h.shutdown().await;
    t.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Headless

async fn run(sim: &SimHandle, home: &Path, data: &Path, args: &[&str]) -> Output {
    cli_against(sim, home, data)
        .args(args)
        .output()
        .await
        .unwrap()
}

async fn run_stdin(
    sim: &SimHandle,
    home: &Path,
    data: &Path,
    args: &[&str],
    input: &str,
) -> Output {
    let mut c = cli_against(sim, home, data);
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_list_add_rm_exposure_against_a_sim() {
    let sim = start_sim(opts().sim_config()).await;
    let Dirs {
        tmp: _tmp,
        home,
        data,
    } = Dirs::create();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let key_file = home.join(".ssh/id_ed25519.pub");
    std::fs::write(&key_file, KEY_K).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), private_key()).unwrap();

    ok(&run(
        &sim,
        &home,
        &data,
        &["account", "add", "acme", "--kind", "org"],
    )
    .await);

    // Add from a file (label from the comment), and from stdin with a label.
    let out = ok(&run(
        &sim,
        &home,
        &data,
        &[
            "vault",
            "add",
            "--account",
            "acme",
            key_file.to_str().unwrap(),
        ],
    )
    .await);
    assert!(
        out.starts_with("added 'deploy@acme-ci' to acme's Vault: "),
        "{out}"
    );
    let out = ok(&run_stdin(
        &sim,
        &home,
        &data,
        &["vault", "add", "--account", "acme", "--label", "bob", "-"],
        &format!("\n  {KEY_OTHER}  \n\n"),
    )
    .await);
    assert!(out.starts_with("added 'bob' to acme's Vault: "), "{out}");

    // Refusals, each with its own message.
    let err = one_line_failure(
        &run(
            &sim,
            &home,
            &data,
            &[
                "vault",
                "add",
                "--account",
                "acme",
                key_file.to_str().unwrap(),
            ],
        )
        .await,
    );
    assert_eq!(
        err,
        format!(
            "crabglamp: {}: public key: already in acme's Vault as 'deploy@acme-ci' (SHA256:SAep4c4qaKHrecguX+28wexpwMtvdVKk5YwJwax0NiM)",
            key_file.display()
        )
    );
    let err = one_line_failure(
        &run(
            &sim,
            &home,
            &data,
            &[
                "vault",
                "add",
                "--account",
                "nope",
                key_file.to_str().unwrap(),
            ],
        )
        .await,
    );
    assert_eq!(err, "crabglamp: account 'nope' not found; add it first (A)");
    let priv_path = home.join(".ssh/id_ed25519");
    let err = one_line_failure(
        &run(
            &sim,
            &home,
            &data,
            &[
                "vault",
                "add",
                "--account",
                "acme",
                priv_path.to_str().unwrap(),
            ],
        )
        .await,
    );
    assert_eq!(
        err,
        format!(
            "crabglamp: {}: public key: this is a PRIVATE key; it was not stored. Paste the public key instead (the .pub file, or the output of `ssh-keygen -y -f KEYFILE`) (did you mean {}.pub?)",
            priv_path.display(),
            priv_path.display()
        )
    );
    let err = one_line_failure(
        &run_stdin(
            &sim,
            &home,
            &data,
            &["vault", "add", "--account", "acme", "-"],
            &private_key(),
        )
        .await,
    );
    assert_eq!(
        err,
        "crabglamp: stdin: public key: this is a PRIVATE key; it was not stored. Paste the public key instead (the .pub file, or the output of `ssh-keygen -y -f KEYFILE`)"
    );

    // list --json: the documented shape.
    let out = ok(&run(
        &sim,
        &home,
        &data,
        &["vault", "list", "--account", "acme", "--json"],
    )
    .await);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 2);
    let mut keys: Vec<String> = list[0].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "account",
            "createdAt",
            "fingerprintSha256",
            "id",
            "label",
            "publicKey",
            "type"
        ]
    );
    assert_eq!(list[0]["label"], "deploy@acme-ci");
    assert_eq!(list[0]["type"], "ssh-ed25519");
    assert_eq!(list[0]["publicKey"], KEY_K.trim());
    assert_eq!(list[1]["label"], "bob");
    let k_id = list[0]["id"].as_str().unwrap().to_string();

    // Provision a VM with K in-process on the same data directory, then let go of the store.
    let vm_ip = {
        let store = open_store(&data.join("live.db"));
        let k = store.vault_entry(k_id.parse().unwrap()).unwrap().unwrap();
        let mut h = spawn(&sim, &store, &opts());
        let mut last = None;
        let (_, ip) = provision(&mut h, &mut last, "headless-1", &k).await;
        h.shutdown().await;
        ip
    };

    // rm by id prefix: prints the live VM with its ssh command.
    let out = ok(&run(&sim, &home, &data, &["vault", "rm", &k_id[..8]]).await);
    assert_eq!(
        out,
        format!(
            "deleted 'deploy@acme-ci' (SHA256:SAep4c4qaKHrecguX+28wexpwMtvdVKk5YwJwax0NiM) from acme's Vault\n\
             Deleting a key from the Vault does not remove it from the VMs that received it. Still on 1 live VM:\n\
             \x20 VM          LOG IN WITH\n\
             \x20 headless-1  ssh debian@{vm_ip}\n\
             On each, remove the line with fingerprint SHA256:SAep4c4qaKHrecguX+28wexpwMtvdVKk5YwJwax0NiM from ~/.ssh/authorized_keys (`ssh-keygen -lf ~/.ssh/authorized_keys` lists them).\n"
        )
    );
    let err = one_line_failure(&run(&sim, &home, &data, &["vault", "rm", &k_id]).await);
    assert!(
        err.starts_with("crabglamp: Vault key 'deploy@acme-ci' was already deleted on "),
        "{err}"
    );

    // list leaves it out; exposure shows it with the VM.
    let out = ok(&run(&sim, &home, &data, &["vault", "list", "--json"]).await);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 1);
    let out = ok(&run(&sim, &home, &data, &["vault", "exposure", "--json"]).await);
    let x: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(x.len(), 1);
    assert_eq!(x[0]["id"], k_id.as_str());
    assert_eq!(x[0]["account"], "acme");
    assert_eq!(
        x[0]["fingerprintSha256"],
        "SHA256:SAep4c4qaKHrecguX+28wexpwMtvdVKk5YwJwax0NiM"
    );
    assert_eq!(x[0]["vms"][0]["name"], "headless-1");
    assert_eq!(x[0]["vms"][0]["ipv4"], vm_ip.as_str());
    assert_eq!(x[0]["vms"][0]["sshCommand"], format!("ssh debian@{vm_ip}"));
    let out = ok(&run(&sim, &home, &data, &["vault", "exposure"]).await);
    assert!(
        out.contains("deleted from Vault, still on 1 live VM: headless-1"),
        "{out}"
    );

    // The server disappears at Hetzner: reconciliation marks the VM, exposure clears.
    let c = client(&sim);
    let servers = c
        .list_servers(&crabglamp::hetzner::ListParams::new())
        .await
        .unwrap();
    for s in servers {
        let action = c.delete_server(s.id).await.unwrap();
        c.wait_for_action(action.id).await.unwrap();
    }
    let out = ok(&run(&sim, &home, &data, &["vault", "exposure", "--json"]).await);
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&out)
            .unwrap()
            .len(),
        0
    );

    // Read-only: refused by the worker.
    let mut c = cli_against(&sim, &home, &data);
    let out = c
        .args([
            "--read-only",
            "vault",
            "add",
            "--account",
            "acme",
            key_file.to_str().unwrap(),
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(
        one_line_failure(&out),
        "crabglamp: read-only mode: adding a key to acme's Vault is not allowed"
    );

    // The private key never reached the store files or the log.
    let files = files_under(&data);
    assert!(files.iter().any(|(p, _)| p.ends_with("crabglamp.log")));
    for (path, bytes) in files {
        assert!(
            !contains(&bytes, PRIVATE_MARK),
            "private key text in {}",
            path.display()
        );
        assert!(
            !contains(&bytes, "PRIVATE KEY-----"),
            "private key armour in {}",
            path.display()
        );
    }
    sim.shutdown().await;
}
