"""Routing by assets: an inbound observable inside an organisation's declared assets notifies it,
once per value, through the gate at the indicator's own TLP."""

from __future__ import annotations

import ipaddress
import json
import uuid
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cirt.community import Assets
from cirt.routing import AssetIndex, Observable, observables
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.test_bulletin_delivery import Scene, keys, scene, smtp_server  # noqa: F401  (fixtures)

# --- the pure core against references written here ---------------------------------------------


def _inside(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, own: ipaddress.IPv4Network | ipaddress.IPv6Network
) -> bool:
    """Whether NETWORK lies wholly inside OWN; never, across address families."""
    if isinstance(network, ipaddress.IPv4Network) and isinstance(own, ipaddress.IPv4Network):
        return network.subnet_of(own)
    if isinstance(network, ipaddress.IPv6Network) and isinstance(own, ipaddress.IPv6Network):
        return network.subnet_of(own)
    return False


def reference_in_ranges(value: str, ranges: list[str]) -> set[str]:
    """The slow, obvious answer: every declared range the address or range lies wholly inside."""
    network = ipaddress.ip_network(value, strict=False)
    out = set()
    for cidr in ranges:
        own = ipaddress.ip_network(cidr, strict=False)
        if _inside(network, own):
            out.add(str(own))
    return out


def reference_domains(name: str, declared: list[str]) -> set[str]:
    """A name concerns a declared domain if it is that domain or ends with '.' + it."""
    return {d for d in declared if name == d or name.endswith("." + d)}


v4_networks = st.builds(
    lambda n, p: str(ipaddress.ip_network((n, p), strict=False)),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
v6_networks = st.builds(
    lambda n, p: str(ipaddress.ip_network((n, p), strict=False)),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)
# addresses near the declared ranges, so that containment is often true and often just false
near = st.integers(0, 2**32 - 1)


@settings(max_examples=300)
@given(ranges=st.lists(v4_networks, min_size=1, max_size=12), data=st.data())
def test_ipv4_address_or_range_matches_exactly_the_ranges_containing_it(
    ranges: list[str], data: st.DataObject
) -> None:
    index = AssetIndex()
    for cidr in ranges:
        index.add_prefix("org", cidr)
    base = ipaddress.ip_network(data.draw(st.sampled_from(ranges)))
    offset = data.draw(st.integers(-3, base.num_addresses + 3))
    address = (int(base.network_address) + offset) % 2**32
    length = data.draw(st.integers(0, 32))
    value = str(ipaddress.ip_network((address, length), strict=False))
    found = {m.asset for m in index.match(Observable("ip", value))}
    assert found == reference_in_ranges(value, ranges)


@settings(max_examples=200)
@given(ranges=st.lists(v6_networks, min_size=1, max_size=8), data=st.data())
def test_ipv6_ranges_match_like_the_reference(ranges: list[str], data: st.DataObject) -> None:
    index = AssetIndex()
    for cidr in ranges:
        index.add_prefix("org", cidr)
    base = ipaddress.ip_network(data.draw(st.sampled_from(ranges)))
    address = (int(base.network_address) + data.draw(st.integers(-2, 2**20))) % 2**128
    length = data.draw(st.sampled_from([128, 64, 48, base.prefixlen]))
    value = str(ipaddress.ip_network((address, length), strict=False))
    found = {m.asset for m in index.match(Observable("ip", value))}
    assert found == reference_in_ranges(value, ranges)


label = st.text("abcxyz0-", min_size=1, max_size=4).filter(lambda s: s[0] != "-" and s[-1] != "-")
names = st.lists(label, min_size=1, max_size=4).map(".".join)


@settings(max_examples=300)
@given(declared=st.lists(names, min_size=1, max_size=10), prefix=st.lists(label, max_size=3), data=st.data())
def test_a_name_matches_its_domain_and_every_parent_declared(
    declared: list[str], prefix: list[str], data: st.DataObject
) -> None:
    index = AssetIndex()
    for domain in declared:
        index.add_domain("org", domain)
    name = ".".join([*prefix, data.draw(st.sampled_from(declared) | names)]).strip(".")
    found = {m.asset for m in index.match(Observable("domain", name))}
    assert found == reference_domains(name, declared)


def test_a_look_alike_domain_is_not_a_sub_domain() -> None:
    index = AssetIndex()
    index.add_domain("bel", "bel.com.bz")
    assert index.match(Observable("domain", "evilbel.com.bz")) == []
    assert [m.party for m in index.match(Observable("domain", "ops.bel.com.bz"))] == ["bel"]


def test_observables_are_read_from_positive_comparisons_only() -> None:
    pattern = (
        "[ipv4-addr:value = '192.0.2.70'] OR [domain-name:value = 'Ops.BEL.com.bz.'] OR "
        "[url:value = 'https://user@198.51.100.9:8443/login'] OR [autonomous-system:number = 64497]"
        " OR [ipv4-addr:value NOT = '192.0.2.1'] OR [ipv4-addr:value != '192.0.2.2'] OR "
        "[email-message:from_ref.value = 'billing@bws.bz'] OR [ipv4-addr:value ISSUBSET "
        "'192.0.2.64/27'] OR [file:name = 'bel.com.bz']"
    )
    found = observables({"type": "indicator", "pattern": pattern, "pattern_type": "stix"})
    assert found == [
        Observable("ip", "192.0.2.70"),
        Observable("domain", "ops.bel.com.bz"),
        Observable("ip", "198.51.100.9"),
        Observable("asn", "64497"),
        Observable("domain", "bws.bz"),
        Observable("ip", "192.0.2.64/27"),
    ]
    listed = observables(
        {
            "type": "indicator",
            "pattern_type": "stix",
            "pattern": "[ipv4-addr:value IN ('192.0.2.9', '198.51.100.1')] AND "
            "[autonomous-system:number IN (64496, 64497)]",
        }
    )
    assert listed == [
        Observable("ip", "192.0.2.9"),
        Observable("ip", "198.51.100.1"),
        Observable("asn", "64496"),
        Observable("asn", "64497"),
    ]
    assert observables({"type": "indicator", "pattern": "rule x {}", "pattern_type": "yara"}) == []
    assert observables({"type": "ipv4-addr", "value": "192.0.2.5"}) == [Observable("ip", "192.0.2.5")]
    assert observables({"type": "autonomous-system", "number": 64498}) == [Observable("asn", "64498")]


def test_the_shipped_community_routes_by_ranges_domains_asns_and_partner_constituency(ws: Workspace) -> None:
    index = AssetIndex.of(ws.community)

    def parties(pattern: str) -> list[str]:
        return sorted({m.party for m in index.route({"type": "indicator", "pattern": pattern})})

    assert parties("[ipv4-addr:value = '192.0.2.70']") == ["bel"]
    assert parties("[domain-name:value = 'scada.bws.bz']") == ["bws"]
    assert parties("[autonomous-system:number = 64496]") == ["cbb"]
    assert parties("[ipv6-addr:value = '2001:db8:1000::1']") == ["lacnic-warp"]
    assert parties("[ipv4-addr:value = '192.0.2.0/24']") == []  # wider than any declared range
    assert parties("[ipv4-addr:value = '203.0.113.9']") == []


def test_assets_added_as_a_model_are_indexed() -> None:
    index = AssetIndex()
    index.add("x", Assets(domains=("x.example",), ip_ranges=("10.0.0.0/8",), asns=(65000,)))
    assert [m.asset for m in index.match(Observable("ip", "10.1.2.3"))] == ["10.0.0.0/8"]
    assert [m.asset for m in index.match(Observable("asn", "65000"))] == ["AS65000"]


# --- through the door: every inbound object is routed once per value ----------------------------


def indicator(pattern: str, tlp: TLP = TLP.GREEN, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-03-01T10:00:00.000Z",
        "modified": "2026-03-01T10:00:00.000Z",
        "name": "partner indicator",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-03-01T10:00:00Z",
        "object_marking_refs": [tlp.marking_id],
        **extra,
    }


def bundle(path: Path, *objects: dict[str, Any]) -> str:
    path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}))
    return str(path)


def test_an_imported_indicator_in_bels_network_is_routed_to_bel_once(cli: Any, tmp_path: Path) -> None:
    first = bundle(
        tmp_path / "a.json",
        indicator("[ipv4-addr:value = '192.0.2.70']"),
        indicator("[ipv4-addr:value = '203.0.113.5']"),
    )
    assert cli("import", first, "--source", "csirtamericas").code == 0
    again = bundle(tmp_path / "b.json", indicator("[ipv4-addr:value = '192.0.2.70']"))
    assert cli("import", again, "--source", "lacnic").code == 0
    assert cli("import", first, "--source", "csirtamericas").code == 0  # duplicates: not re-seen

    routes = cli("route", "list", "--json").json()
    assert [(r["party"], r["value"], r["seen"], r["state"], r["releasable"]) for r in routes] == [
        ("bel", "192.0.2.70", 2, "pending", True)
    ]
    assert routes[0]["source"] == "import:csirtamericas"

    sent = cli("route", "send", "-o", str(tmp_path / "out"), "--json")
    assert sent.code == 0, sent.err
    [bulletin] = sent.json()
    assert bulletin["party"] == "bel" and bulletin["values"] == ["192.0.2.70"]
    text = Path(bulletin["path"]).read_text()
    assert "192\\[.\\]0\\[.\\]2\\[.\\]70" in text and "TLP:GREEN" in text  # defanged (md)
    log = cli("audit", "log", "--json").json()
    assert any(e["recipient"] == "org:bel" and e["channel"] == "bulletin" for e in log)
    assert cli("route", "list", "--for", "bel", "--json").json()[0]["bulletin"] == bulletin["bulletin"]
    assert cli("route", "send", "-o", str(tmp_path / "out"), "--json").json() == []


def test_an_amber_indicator_the_gate_withholds_stays_pending_with_the_reason(
    cli: Any, tmp_path: Path
) -> None:
    amber = indicator("[domain-name:value = 'vpn.bws.bz']", TLP.AMBER)
    assert cli("import", bundle(tmp_path / "a.json", amber), "--source", "vendor").code == 0
    [route] = cli("route", "list", "--for", "bws", "--json").json()
    assert route["releasable"] is False and "AMBER" in route["gate"]
    assert cli("route", "send", "-o", str(tmp_path / "out"), "--json").json() == []
    assert cli("route", "list", "--json").json()[0]["state"] == "pending"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert cli("audit", "log", "--json").json() == []


def test_route_commands_refuse_an_unknown_party_in_one_line(cli: Any) -> None:
    result = cli("route", "list", "--for", "nobody")
    assert result.code == 1 and "organisation 'nobody' is not in" in result.err
    assert cli("route", "list", "--state", "lost").code == 1


def test_an_indicator_posted_to_our_taxii_inbox_is_routed_like_an_import(ws: Workspace) -> None:
    import base64

    from werkzeug.test import Client

    from cirt.servers.taxii import TaxiiApp
    from cirt.taxii.auth import issue_credential
    from cirt.taxii.collections import COLLECTIONS

    inbox = next(c.id for c in COLLECTIONS if c.title.lower().startswith("inbox"))
    cred = issue_credential(ws, "csirtamericas")
    token = base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
    media = "application/taxii+json;version=2.1"
    posted = Client(TaxiiApp(lambda: ws)).post(
        f"/cirt/collections/{inbox}/objects/",
        data=json.dumps({"objects": [indicator("[domain-name:value = 'scada.bws.bz']")]}),
        headers={"Authorization": f"Basic {token}", "Accept": media, "Content-Type": media},
    )
    assert posted.status_code == 202, posted.get_data(as_text=True)
    [route] = ws.routes.list("bws")
    assert (route.row.value, route.row.asset, route.row.source) == (
        "scada.bws.bz",
        "bws.bz",
        "taxii:csirtamericas",
    )


def test_reading_a_pattern_is_linear_on_adversarial_text() -> None:
    import time

    for hostile in (
        "[ipv4-addr:value IN (" + "'1.2.3.4', " * 20_000 + "]",
        "[ipv4-addr:value = '" + "\\'" * 50_000 + "]",
        "a:value" * 30_000,
        "[x:value IN (" + "(" * 50_000,
    ):
        started = time.process_time()
        observables({"type": "indicator", "pattern": hostile, "pattern_type": "stix"})
        assert time.process_time() - started < 1.0, hostile[:30]


def test_route_send_by_mail_signs_a_bulletin_to_bels_contact_and_logs_it(
    scene: Scene,  # noqa: F811
    cli: Any,
    tmp_path: Path,
) -> None:
    from tests.test_bulletin_delivery import readable, verify_signed

    routed = indicator("[ipv4-addr:value = '192.0.2.70']", name="Scanner probing BEL")
    assert cli("import", bundle(tmp_path / "a.json", routed), "--source", "vendor").code == 0
    sent = cli("route", "send", "--for", "bel", "--mail", "--json")
    assert sent.code == 0, sent.err
    [result] = sent.json()
    assert result["path"] == "e-mail to cirt@bel.bz.example" and result["values"] == ["192.0.2.70"]
    [got] = [r for r in scene.inbox.received if r.recipients == ["cirt@bel.bz.example"]]
    entity, _ = verify_signed(got.raw, scene.keys.contact_home)
    text, stix = readable(entity)
    assert "Scanner probing BEL" in text and "192[.]0[.]2[.]70" in text  # defanged
    assert routed["id"] in {o["id"] for o in stix["objects"]}
    assert "Phishing campaign" not in text  # the bank's AMBER incident is not BEL's
    assert cli("route", "list", "--for", "bel", "--json").json()[0]["state"] == "sent"
    assert any(
        e["recipient"] == "contact:cirt@bel.bz.example" and e["channel"] == "email"
        for e in cli("audit", "log", "--json").json()
    )
    assert cli("route", "send", "--mail", "--json").json() == []  # nothing pending any more
    nowhere = cli("route", "send")
    assert nowhere.code == 1 and "-o DIR" in nowhere.err
