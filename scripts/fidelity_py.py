#!/usr/bin/env python3
"""The hcloud-python 2.27 flow of docs/hetzner-api.md §14.2 against `crabglamp sim`.

Usage:
    fidelity_py.py --endpoint http://127.0.0.1:PORT/v1 --token T --public-key id_ed25519.pub
    fidelity_py.py --endpoint ... --token T --list-only     # read-only listing (demo seed)

The full flow expects an empty sim (`--seed empty`): it creates ssh key k1, firewall fw1 and
server srv1, exercises them and deletes them again. Each step is one check: it passes when the
official client accepts every response and the values read back are the ones asked for.
Prints `ok   STEP` / `FAIL STEP: why` lines, then `counts: PASSED FAILED`; exit 1 on failures.
Only loopback endpoints are accepted.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import urlparse

warnings.simplefilter("ignore")  # datacenter deprecation warnings

from hcloud import APIException, Client  # noqa: E402
from hcloud.firewalls import (  # noqa: E402
    FirewallResource,
    FirewallResourceLabelSelector,
    FirewallRule,
)
from hcloud.images import Image  # noqa: E402
from hcloud.locations import Location  # noqa: E402
from hcloud.server_types import ServerType  # noqa: E402
from hcloud.servers import Server  # noqa: E402
from hcloud.ssh_keys import SSHKey  # noqa: E402


class Flow:
    """Runs named steps, counting passes and failures; a failed step does not stop the flow."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0
        self.values: dict[str, Any] = {}

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
            self.failed += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(f"FAIL {name}: {type(exc).__name__}: {exc} (line {where.lineno})")
            return None
        self.passed += 1
        print(f"ok   {name}")
        return result


def expect(cond: bool, what: str) -> None:
    """Raise AssertionError(what) unless cond holds (asserts must not vanish under -O)."""
    if not cond:
        raise AssertionError(what)


def expect_api_error(code: str, fn: Callable[[], Any]) -> None:
    try:
        fn()
    except APIException as exc:
        expect(exc.code == code, f"error code {exc.code!r}, wanted {code!r}")
        expect(bool(exc.message), "error without message")
        return
    raise AssertionError(f"no error, wanted {code!r}")


def decimal_str(value: Any) -> Decimal:
    expect(isinstance(value, str), f"price {value!r} is not a decimal string")
    return Decimal(value)


def listing(f: Flow, c: Client) -> None:
    """Read-only listings (used on the demo seed and at the start of the full flow)."""

    def server_types() -> None:
        types = c.server_types.get_all()
        expect(len(types) > 0, "no server types")
        for t in types:
            expect(isinstance(t.cores, int) and t.cores > 0, f"{t.name}: cores {t.cores!r}")
            expect(t.memory > 0 and t.disk > 0, f"{t.name}: memory/disk")
            expect(t.cpu_type in ("shared", "dedicated"), f"{t.name}: cpu_type {t.cpu_type!r}")
            expect(t.architecture in ("x86", "arm"), f"{t.name}: architecture")
            expect(len(t.prices) > 0, f"{t.name}: no prices")
            for p in t.prices:
                expect(decimal_str(p["price_hourly"]["net"]) > 0, f"{t.name}: hourly net")
                decimal_str(p["price_monthly"]["gross"])
            locs = [tl.location.name for tl in t.locations]
            expect(sorted(p["location"] for p in t.prices) == sorted(locs),
                   f"{t.name}: price locations {[p['location'] for p in t.prices]} != {locs}")
        f.values["types"] = {t.name: t for t in types}

    f.step("server_types.get_all: cores, cpu_type, architecture, prices per location", server_types)

    def locations() -> None:
        names = {loc.name: loc for loc in c.locations.get_all()}
        for want in ("fsn1", "hel1", "hil"):
            expect(want in names, f"location {want} missing from {sorted(names)}")
        expect(names["hel1"].country == "FI" and names["hil"].country == "US", "countries")
        expect(names["fsn1"].network_zone == "eu-central", "fsn1 network zone")

    f.step("locations.get_all: fsn1, hel1 (FI), hil (US)", locations)

    def images() -> None:
        imgs = c.images.get_all(type=["system"], architecture=["x86"])
        expect(len(imgs) > 0, "no system images")
        expect(all(i.type == "system" and i.architecture == "x86" for i in imgs), "filter ignored")
        img = c.images.get_by_name_and_architecture("debian-12", "x86")
        expect(img is not None and img.name == "debian-12" and img.os_flavor == "debian",
               f"debian-12 lookup gave {img!r}")

    f.step("images.get_all(system, x86) and get_by_name_and_architecture(debian-12)", images)

    def pricing() -> None:
        p = c.request("GET", "/pricing")["pricing"]
        expect(p["currency"] in ("EUR", "USD"), f"currency {p['currency']!r}")
        decimal_str(p["vat_rate"])
        expect(len(p["server_types"]) > 0, "no server type prices")
        for st in p["server_types"]:
            for price in st["prices"]:
                decimal_str(price["price_hourly"]["gross"])

    f.step("GET /pricing: currency, vat_rate, decimal prices", pricing)

    def lists() -> None:
        servers = c.servers.get_all()
        for s in servers:
            expect(s.status in ("running", "initializing", "starting", "stopping", "off",
                                "deleting", "migrating", "rebuilding", "unknown"), s.status)
            expect(isinstance(s.labels, dict), "labels")
        firewalls = c.firewalls.get_all()
        for fw in firewalls:
            for r in fw.rules:
                expect(r.direction in ("in", "out"), "rule direction")
        c.ssh_keys.get_all()
        f.values["listed"] = (len(servers), len(firewalls))

    f.step("servers/firewalls/ssh_keys.get_all parse", lists)


def full_flow(f: Flow, c: Client, public_key: str) -> None:
    listing(f, c)

    # ssh keys
    def create_key() -> SSHKey:
        k = c.ssh_keys.create(name="k1", public_key=public_key, labels={"team": "a"})
        expect(k.name == "k1" and k.labels == {"team": "a"}, "name/labels")
        expect(len(k.fingerprint.split(":")) == 16, f"fingerprint {k.fingerprint!r} is not MD5")
        return k

    k = f.step("ssh_keys.create k1 (labels, MD5 fingerprint)", create_key)

    def lookup_key() -> None:
        by_fp = c.ssh_keys.get_by_fingerprint(k.fingerprint)
        by_name = c.ssh_keys.get_by_name("k1")
        expect(by_fp is not None and by_fp.id == k.id, "by fingerprint")
        expect(by_name is not None and by_name.id == k.id, "by name")

    f.step("ssh_keys.get_by_fingerprint / get_by_name", lookup_key)
    f.step("ssh_keys.create duplicate key -> uniqueness_error",
           lambda: expect_api_error("uniqueness_error", lambda: c.ssh_keys.create(
               name="k1-dup", public_key=k.public_key)))

    def rename_key() -> None:
        k2 = c.ssh_keys.update(k, name="k2", labels={})
        expect(k2.name == "k2" and k2.labels == {}, f"update gave {k2.name!r} {k2.labels!r}")

    f.step("ssh_keys.update -> k2, labels {}", rename_key)

    # firewall
    def create_fw() -> Any:
        resp = c.firewalls.create(
            name="fw1",
            rules=[FirewallRule(direction="in", protocol="tcp", port="22",
                                source_ips=["0.0.0.0/0", "::/0"]),
                   FirewallRule(direction="in", protocol="icmp",
                                source_ips=["0.0.0.0/0", "::/0"])],
            labels={"a": "b"})
        for a in resp.actions or []:
            a.wait_until_finished()
        fw = resp.firewall
        expect(fw.name == "fw1" and fw.labels == {"a": "b"}, "name/labels")
        expect([(r.protocol, r.port) for r in fw.rules] == [("tcp", "22"), ("icmp", None)],
               f"rules {[(r.protocol, r.port) for r in fw.rules]}")
        return fw

    fw = f.step("firewalls.create fw1 (tcp/22 + icmp, labels)", create_fw)

    def set_rules() -> None:
        actions = c.firewalls.set_rules(fw, [FirewallRule(direction="out", protocol="udp",
                                                          port="53",
                                                          destination_ips=["0.0.0.0/0"])])
        expect(len(actions) >= 1, "no action")
        for a in actions:
            a.wait_until_finished()
            expect(a.status == "success", f"action {a.command} {a.status}")
        rules = c.firewalls.get_by_id(fw.id).rules
        expect(len(rules) == 1, f"{len(rules)} rules after set_rules")
        r = rules[0]
        expect((r.direction, r.protocol, r.port, r.destination_ips, r.source_ips)
               == ("out", "udp", "53", ["0.0.0.0/0"], []), f"rule read back {r.__dict__}")

    f.step("firewalls.set_rules replaces all rules; read back", set_rules)

    # server lifecycle
    def create_server() -> Any:
        r = c.servers.create(name="srv1", server_type=ServerType(name="cx22"),
                             image=Image(name="debian-12"), location=Location(name="fsn1"),
                             ssh_keys=[SSHKey(name="k2")], firewalls=[fw],
                             user_data="#cloud-config\nhostname: srv1\n", labels={"env": "dev"})
        expect(r.server.status == "initializing", f"status at create {r.server.status!r}")
        expect(r.root_password is None, "root_password must be null with ssh keys")
        r.action.wait_until_finished()
        expect(r.action.status == "success", f"create action {r.action.status}")
        for a in r.next_actions:
            a.wait_until_finished()
        return r

    r = f.step("servers.create srv1 and wait for its actions", create_server)
    srv_id = r.server.id if r else 0

    def read_server() -> Server:
        s = c.servers.get_by_id(srv_id)
        expect(s.status == "running", f"status {s.status!r}")
        expect(s.name == "srv1" and s.server_type.name == "cx22", "name/type")
        expect(s.location.name == "fsn1", f"location {s.location.name!r}")
        expect(s.labels == {"env": "dev"}, f"labels {s.labels!r}")
        expect(s.public_net.ipv4.ip.count(".") == 3, f"ipv4 {s.public_net.ipv4.ip!r}")
        expect(s.public_net.ipv6.ip.endswith("/64"), f"ipv6 {s.public_net.ipv6.ip!r}")
        expect(s.public_net.firewalls[0].firewall.id == fw.id, "firewall not attached")
        expect(s.public_net.firewalls[0].status in ("applied", "pending"), "firewall status")
        expect(s.created is not None and s.created.tzinfo is not None, "created timestamp")
        return s

    s = f.step("servers.get_by_id: running, cx22, fsn1, labels, IPs, firewall", read_server)

    def filtered() -> None:
        got = c.servers.get_all(label_selector="env=dev", status=["running"])
        expect([x.id for x in got] == [srv_id], f"label/status filter gave {[x.id for x in got]}")
        none = c.servers.get_all(label_selector="env=prod")
        expect(none == [], "env=prod should match nothing")

    f.step("servers.get_all(label_selector=env=dev, status=running)", filtered)

    for name, want in (("power_off", "off"), ("power_on", "running"), ("shutdown", "off"),
                       ("power_on", "running"), ("reboot", "running"), ("reset", "running")):
        def power(name: str = name, want: str = want) -> None:
            action = getattr(s, name)()
            action.wait_until_finished()
            expect(action.status == "success", f"{action.command} {action.status}")
            status = c.servers.get_by_id(srv_id).status
            expect(status == want, f"status {status!r} after {name}, wanted {want!r}")

        f.step(f"server.{name}() -> {want}", power)

    def update_server() -> None:
        u = c.servers.update(s, name="srv2", labels={"env": "dev", "role": "web"})
        expect(u.name == "srv2" and u.labels == {"env": "dev", "role": "web"}, "update")

    f.step("servers.update -> srv2, labels env+role", update_server)

    def apply_selector() -> None:
        for a in c.firewalls.apply_to_resources(fw, [FirewallResource(
                type="label_selector",
                label_selector=FirewallResourceLabelSelector(selector="env=dev"))]):
            a.wait_until_finished()
        got = c.firewalls.get_by_id(fw.id)
        kinds = sorted(res.type for res in got.applied_to)
        expect(kinds == ["label_selector", "server"], f"applied_to types {kinds}")
        sel = next(res for res in got.applied_to if res.type == "label_selector")
        expect(sel.label_selector.selector == "env=dev", "selector")
        matched = [res.server.id for res in sel.applied_to_resources or []]
        expect(matched == [srv_id], f"applied_to_resources {matched}")

    f.step("firewalls.apply_to_resources(label_selector env=dev)", apply_selector)

    def remove_server() -> None:
        for a in c.firewalls.remove_from_resources(
                fw, [FirewallResource(type="server", server=Server(id=srv_id))]):
            a.wait_until_finished()
        got = c.firewalls.get_by_id(fw.id)
        expect([res.type for res in got.applied_to] == ["label_selector"],
               f"applied_to {[res.type for res in got.applied_to]}")

    f.step("firewalls.remove_from_resources(server)", remove_server)

    def delete_server() -> None:
        action = c.servers.delete(s)
        action.wait_until_finished()
        expect(action.status == "success", f"delete {action.status}")

    f.step("servers.delete -> action, waited", delete_server)
    f.step("servers.get_by_id(999999) -> not_found",
           lambda: expect_api_error("not_found", lambda: c.servers.get_by_id(999999)))

    def cleanup() -> None:
        expect_api_error("resource_in_use", lambda: c.firewalls.delete(fw))
        for a in c.firewalls.remove_from_resources(fw, [FirewallResource(
                type="label_selector",
                label_selector=FirewallResourceLabelSelector(selector="env=dev"))]):
            a.wait_until_finished()
        expect(c.firewalls.delete(fw) is True, "firewall delete")
        expect(c.ssh_keys.delete(k) is True, "ssh key delete")
        expect(c.firewalls.get_all() == [] and c.ssh_keys.get_all() == [], "leftovers")

    f.step("firewalls.delete (resource_in_use first), ssh_keys.delete", cleanup)

    def action_by_id() -> None:
        a = c.actions.get_by_id(r.action.id)
        expect(a.command == "create_server" and a.status == "success", f"{a.command} {a.status}")
        expect(a.finished is not None and a.progress == 100, "finished/progress")

    f.step("actions.get_by_id(create action): success, 100 %", action_by_id)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT/v1")
    ap.add_argument("--token", required=True)
    ap.add_argument("--public-key", help="OpenSSH public key file (full flow)")
    ap.add_argument("--list-only", action="store_true", help="only the read-only listings")
    args = ap.parse_args(argv)
    host = urlparse(args.endpoint).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"refusing non-loopback endpoint {args.endpoint}", file=sys.stderr)
        return 2
    c = Client(token=args.token, api_endpoint=args.endpoint, poll_interval=0.2,
               application_name="crabglamp-fidelity")
    f = Flow()
    if args.list_only:
        listing(f, c)
        if "listed" in f.values:
            servers, firewalls = f.values["listed"]
            f.step("demo seed has servers and firewalls",
                   lambda: expect(servers > 0 and firewalls > 0, f"{servers} servers, {firewalls} firewalls"))
    else:
        if not args.public_key:
            print("--public-key is required for the full flow", file=sys.stderr)
            return 2
        with open(args.public_key, encoding="utf-8") as fh:
            full_flow(f, c, fh.read())
    print(f"counts: {f.passed} {f.failed}")
    return 0 if f.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
