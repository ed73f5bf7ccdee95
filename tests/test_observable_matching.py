"""Matching observable values: each rule against a simple reference written here."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from cirt.observables import (
    Observable,
    classify,
    index_entry,
    lookup_plan,
    matches,
    normalise,
    object_values,
    pattern_values,
)
from cirt.patterns import quote

# --- references: the plainest arithmetic that decides each rule -------------------------------


def reference_ip_match(a: tuple[int, int, int], b: tuple[int, int, int]) -> bool:
    """(version, first address, last address): one range inside the other."""
    if a[0] != b[0]:
        return False
    return (a[1] <= b[1] and b[2] <= a[2]) or (b[1] <= a[1] and a[2] <= b[2])


def reference_domain_match(a: str, b: str) -> bool:
    x, y = a.split("."), b.split(".")
    shorter, longer = (x, y) if len(x) <= len(y) else (y, x)
    return longer[len(longer) - len(shorter) :] == shorter


@st.composite
def networks(draw: st.DrawFn) -> tuple[str, tuple[int, int, int]]:
    version = draw(st.sampled_from([4, 6]))
    bits = 32 if version == 4 else 128
    # addresses near each other, so that containment happens often
    base = draw(st.integers(0, 3)) << (bits - 8)
    address = base + draw(st.integers(0, 2**12))
    prefix = draw(st.integers(bits - 16, bits))
    size = 1 << (bits - prefix)
    first = address & ~(size - 1)
    text = str(ipaddress.ip_address(first) if version == 4 else ipaddress.IPv6Address(first)) + f"/{prefix}"
    if prefix == bits and draw(st.booleans()):
        text = text.split("/")[0]
    return text, (version, first, first + size - 1)


@given(networks(), networks())
def test_addresses_and_ranges_match_when_one_contains_the_other(
    a: tuple[str, tuple[int, int, int]], b: tuple[str, tuple[int, int, int]]
) -> None:
    left, right = normalise("ip", a[0]), normalise("ip", b[0])
    assert left is not None and right is not None
    assert matches(left, right) == reference_ip_match(a[1], b[1])
    assert matches(left, right) == matches(right, left)


label = st.text("abcdefgh0123-", min_size=1, max_size=6).filter(
    lambda s: not s.startswith("-") and not s.endswith("-")
)
domains = st.lists(
    st.sampled_from(["a", "b", "example", "bz", "com", "www"]) | label, min_size=2, max_size=5
).map(".".join)


@given(domains, domains, st.booleans())
def test_a_domain_matches_its_subdomains_in_any_case(a: str, b: str, shout: bool) -> None:
    left = normalise("domain", a.upper() + "." if shout else a)
    right = normalise("domain", b)
    assert left is not None and right is not None
    assert matches(left, right) == reference_domain_match(a, b)


@given(domains, st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3))
def test_subdomains_match_parents_and_not_lookalikes(domain: str, sub: list[str]) -> None:
    parent = normalise("domain", domain)
    child = normalise("domain", ".".join([*sub, domain]))
    lookalike = normalise("domain", "x" + domain)
    assert parent and child and lookalike
    assert matches(parent, child) and matches(child, parent)
    assert not matches(parent, lookalike)


unreserved = st.text("abcXYZ019-._~", min_size=1, max_size=5).filter(lambda s: s not in (".", ".."))


@given(st.sampled_from(["http", "https"]), domains, st.lists(unreserved, max_size=3), st.data())
def test_spellings_of_one_url_normalise_to_one_value(
    scheme: str, host: str, segments: list[str], data: st.DataObject
) -> None:
    canonical = f"{scheme}://{host}/" + "/".join(segments)
    shout_scheme = scheme.upper() if data.draw(st.booleans()) else scheme
    shout_host = host.upper() if data.draw(st.booleans()) else host
    port = {"http": ":80", "https": ":443"}[scheme] if data.draw(st.booleans()) else ""
    path: list[str] = []
    for segment in segments:
        if data.draw(st.booleans()):
            path += ["x", ".."]  # a dot segment that cancels out
        if data.draw(st.booleans()):
            path.append(".")
        escaped = "".join(f"%{ord(c):02x}" if data.draw(st.booleans()) else c for c in segment)
        path.append(escaped)
    fragment = "#" + data.draw(unreserved) if data.draw(st.booleans()) else ""
    spelling = f"{shout_scheme}://{shout_host}{port}/" + "/".join(path) + fragment
    assert normalise("url", spelling) == normalise("url", canonical)
    assert normalise("url", spelling) == Observable("url", canonical)


def test_url_normalisation_keeps_what_changes_the_resource() -> None:
    first = normalise("url", "http://example.com/a?q=1")
    assert first is not None
    for other in (
        "https://example.com/a?q=1",
        "http://example.com/A?q=1",
        "http://example.com/a?q=2",
        "http://example.com:8080/a?q=1",
        "http://example.com/a%2Fb?q=1",
    ):
        assert normalise("url", other) != first, other
    assert normalise("url", "http://example.com/a%2fb") == Observable("url", "http://example.com/a%2Fb")


@given(st.binary(min_size=32, max_size=32), st.data())
def test_hashes_match_in_any_case(digest: bytes, data: st.DataObject) -> None:
    text = digest.hex()
    mixed = "".join(c.upper() if data.draw(st.booleans()) else c for c in text)
    assert normalise("hash", mixed) == normalise("hash", text) == classify(mixed)


# --- the index finds every match and nothing else -------------------------------------------


@given(networks(), st.lists(networks(), max_size=20))
def test_the_index_plan_for_addresses_is_exactly_the_matches(
    term: tuple[str, tuple[int, int, int]], stored: list[tuple[str, tuple[int, int, int]]]
) -> None:
    wanted = normalise("ip", term[0])
    assert wanted is not None
    plan = lookup_plan(wanted)
    for text, span in stored:
        value = normalise("ip", text)
        assert value is not None
        assert plan.admits(index_entry(value)) == reference_ip_match(term[1], span)


@given(domains, st.lists(domains, max_size=20))
def test_the_index_plan_for_domains_is_exactly_the_matches(term: str, stored: list[str]) -> None:
    wanted = normalise("domain", term)
    assert wanted is not None
    plan = lookup_plan(wanted)
    for text in stored:
        value = normalise("domain", text)
        assert value is not None
        assert plan.admits(index_entry(value)) == reference_domain_match(term, text)


# --- values from patterns and objects ---------------------------------------------------------


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20))
def test_quoted_values_come_back_out_of_patterns(local: str) -> None:
    address = local.replace("@", "").replace(" ", "") or "x"
    pattern = f"[email-addr:value = {quote(address + '@example.com')}]"
    assert pattern_values(pattern) == [normalise("email", address + "@example.com")]


def test_values_of_every_compared_kind_and_operator() -> None:
    pattern = (
        "[ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR "
        "[ipv6-addr:value = '2001:DB8::1'] OR "
        "[domain-name:value IN ('Evil.example', 'b\\'ad.example')] OR "
        "[file:hashes.'SHA-256' = 'AB" + "0" * 62 + "'] OR "
        "[network-traffic:dst_ref.value = '198.51.100.7'] OR "
        "[ipv4-addr:value NOT = '192.0.2.1'] OR [url:value LIKE 'http://%']"
    )
    assert pattern_values(pattern) == [
        Observable("ip", "203.0.113.0/24"),
        Observable("ip", "2001:db8::1/128"),
        Observable("domain", "evil.example"),
        Observable("hash", "ab" + "0" * 62),
        Observable("ip", "198.51.100.7/32"),
    ]


def test_an_invalid_pattern_has_no_values() -> None:
    assert pattern_values("[ipv4-addr:value = ") == []


def test_objects_hold_values_in_patterns_observables_and_url_hosts() -> None:
    indicator = {
        "type": "indicator",
        "pattern_type": "stix",
        "pattern": "[url:value = 'HTTPS://Login.Example.com/x']",
    }
    assert object_values(indicator) == [
        Observable("url", "https://login.example.com/x"),
        Observable("domain", "login.example.com"),
    ]
    observed = {
        "type": "observed-data",
        "objects": {
            "0": {"type": "ipv4-addr", "value": "203.0.113.45"},
            "1": {"type": "file", "hashes": {"MD5": "D41D8CD98F00B204E9800998ECF8427E"}},
        },
    }
    assert object_values(observed) == [
        Observable("ip", "203.0.113.45/32"),
        Observable("hash", "d41d8cd98f00b204e9800998ecf8427e"),
    ]
    assert object_values({"type": "indicator", "pattern_type": "sigma", "pattern": "x"}) == []


def test_search_terms_are_recognised() -> None:
    assert classify("203.0.113.45") == Observable("ip", "203.0.113.45/32")
    assert classify("203.0.113.0/24") == Observable("ip", "203.0.113.0/24")
    assert classify("2001:db8::/32") == Observable("ip", "2001:db8::/32")
    assert classify("WWW.Example.com.") == Observable("domain", "www.example.com")
    assert classify("d41d8cd98f00b204e9800998ecf8427e") == Observable(
        "hash", "d41d8cd98f00b204e9800998ecf8427e"
    )
    assert classify("phishing kit") is None


@given(
    st.sampled_from(
        [
            "ipv4-addr:value",
            "domain-name:value",
            "url:value",
            "file:hashes.'SHA-256'",
            "file:hashes.MD5",
            "network-traffic:dst_ref.value",
            "email-addr:value",
        ]
    ),
    st.sampled_from(["=", "ISSUBSET"]),
    st.sampled_from(
        ["203.0.113.0/24", "Evil.Example", "http://x.example/a", "a@b.example", "AB" * 16, "ab" * 32, "it's"]
    ),
)
def test_the_quick_reading_of_one_comparison_agrees_with_the_grammar(
    path: str, operator: str, value: str
) -> None:
    simple = f"[{path} {operator} {quote(value)}]"
    assert pattern_values(simple) == pattern_values(f"({simple})")  # parentheses: the grammar


@given(st.integers(0, 2**32 - 1), st.integers(0, 32), st.booleans())
def test_the_quick_ipv4_reading_agrees_with_ipaddress(address: int, prefix: int, with_prefix: bool) -> None:
    text = str(ipaddress.IPv4Address(address)) + (f"/{prefix}" if with_prefix else "")
    quick = normalise("ip", text)
    network = ipaddress.ip_network(text, strict=False)
    assert quick == Observable("ip", network.compressed)
    assert quick is not None
    assert index_entry(quick) == index_entry(Observable("ip", network.compressed))
    entry = index_entry(quick)
    assert (entry.lookup, entry.ip_end) == (
        format(int(network.network_address), "08x"),
        format(int(network.broadcast_address), "08x"),
    )


def test_unusual_addresses_are_left_to_ipaddress() -> None:
    assert normalise("ip", "010.0.0.1") is None  # leading zeros: ambiguous, refused
    assert normalise("ip", "256.0.0.1") is None
    assert normalise("ip", "1.2.3.4/33") is None
    assert normalise("ip", "::ffff:1.2.3.4") == Observable("ip", "::ffff:102:304/128")


@given(st.lists(st.text(alphabet="ab'\\ ,", max_size=6), min_size=1, max_size=4))
def test_in_lists_give_back_every_string(values: list[str]) -> None:
    literal = "(" + ", ".join(quote(v) for v in values) + ")"
    from cirt.observables import _string_literals

    assert list(_string_literals(literal)) == values
