"""MISP attribute types map as MISP's own converter (MISP/misp-stix, its MISP -> STIX 2.1 export)
maps them, and every object that comes out is valid for cirt and for the OASIS validator.

The attributes are excerpts of public test data: PyMISP's ``tests/reportlab_testfiles`` and
``tests/mispevent_testfiles``, misp-stix's ``tests/test_objects_collection_1.json`` (long values
shortened where marked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_instance

from cirt.misp.to_stix import events_in, events_to_stix
from cirt.stix_validation import check_object
from cirt.tlp import TLP, TLP2_MARKING_IDS

EVENT_UUID = "57161a6f-6568-44bd-8dd8-4be4950d210f"
YARA = (
    'rule kivars_service {\r\n\r\nmeta:\r\n\r\n\tdescription = "Detects install/service '
    'component"\r\n\r\nstrings:\r\n\r\n\t$a = "SvcMainKV"\r\n\r\ncondition:\r\n\r\n\t$a\r\n}'
)
SNORT = (
    'alert udp any any -> any 53 (msg:"NF - APT LURK0 C&C Domain"; content:"|01 00 00 01|";'
    " sid:1000001; rev:1;)"
)  # shortened


def convert(attribute: dict[str, Any], tag: str = "tlp:amber") -> list[dict[str, Any]]:
    """The objects of one event holding ``attribute``, each checked by both validators."""
    event = {
        "uuid": EVENT_UUID,
        "info": "Kivars (long_event.json)",
        "timestamp": "1461066559",
        "Tag": [{"name": tag}],
        "Attribute": [attribute],
    }
    objects = events_to_stix([event]).objects
    for obj in objects:
        assert check_object(obj) == "", obj
        result = validate_instance(obj, ValidationOptions(version="2.1"))
        assert not result.errors, [str(e) for e in result.errors]
    return objects


def only(objects: list[dict[str, Any]], stix_type: str) -> dict[str, Any]:
    found = [obj for obj in objects if obj["type"] == stix_type]
    assert len(found) == 1, [obj["type"] for obj in objects]
    return found[0]


@pytest.mark.parametrize(
    ("attribute", "pattern_type"),
    [
        (
            {
                "type": "yara",
                "to_ids": False,
                "uuid": "57162852-bbe8-4aa9-a420-4f3a950d210f",
                "timestamp": "1461069906",
                "value": YARA,
            },
            "yara",
        ),
        (
            {
                "type": "snort",
                "to_ids": False,
                "uuid": "577f761a-5ec4-4532-9e7b-093bc0a8f687",
                "timestamp": "1467971098",
                "comment": "Some SNORT IDS Rule.",
                "value": SNORT,
            },
            "snort",
        ),
    ],
)
def test_rules_become_indicators_in_their_own_pattern_language_whatever_to_ids_says(
    attribute: dict[str, Any], pattern_type: str
) -> None:
    indicator = only(convert(attribute), "indicator")
    assert indicator["id"] == f"indicator--{attribute['uuid']}"
    assert indicator["pattern_type"] == pattern_type
    assert indicator["pattern"] == attribute["value"]


def test_a_port_for_ids_is_a_traffic_indicator_and_without_ids_is_not_imported() -> None:
    port = {
        "comment": "",
        "uuid": "5a0d6aa6-4254-40d9-8d15-407e950d210f",
        "timestamp": "1510828710",
        "to_ids": True,
        "value": "443",
        "type": "port",
    }
    assert only(convert(port), "indicator")["pattern"] == "[network-traffic:dst_port = 443]"
    # misp-stix makes a custom object of it, which cirt does not import
    assert [o["type"] for o in convert({**port, "to_ids": False})] == []
    assert [o["type"] for o in convert({**port, "value": "70000"})] == []


def test_a_size_for_ids_is_a_file_size_indicator() -> None:
    size = {
        "uuid": "e4ae0a21-c7ae-4c7f-b84b-b84a7ce53d1f",
        "type": "size-in-bytes",
        "value": "35",
        "timestamp": "1603642920",
        "to_ids": True,
    }
    assert only(convert(size), "indicator")["pattern"] == "[file:size = 35]"


@pytest.mark.parametrize(
    ("attribute", "pattern", "observed"),
    [
        (
            {
                "uuid": "90bd7dae-b78c-4025-9073-568950c780fb",
                "type": "email-subject",
                "value": "Email test subject",
                "timestamp": "1603642920",
            },
            "[email-message:subject = 'Email test subject']",
            {"subject": "Email test subject"},
        ),
        (
            {
                "uuid": "2e55fd78-1c58-4472-bb5b-7583e7cffc97",
                "type": "email-message-id",
                "value": "<1234567890@foo.bar>",
                "timestamp": "1603642920",
            },
            "[email-message:message_id = '<1234567890@foo.bar>']",
            {"message_id": "<1234567890@foo.bar>"},
        ),
        (
            {
                "uuid": "94a2b00f-bec3-4f8a-bea4-e4ccf0de776f",
                "type": "email-reply-to",
                "value": "reply-to@email.test",
                "timestamp": "1603642920",
            },
            "[email-message:additional_header_fields.'Reply-To' = 'reply-to@email.test']",
            {"additional_header_fields": {"Reply-To": "reply-to@email.test"}},
        ),
    ],
)
def test_email_fields_are_email_messages_or_their_indicators(
    attribute: dict[str, Any], pattern: str, observed: dict[str, Any]
) -> None:
    message = only(convert({**attribute, "to_ids": False}), "email-message")
    assert message["id"] == f"email-message--{attribute['uuid']}"
    assert message["is_multipart"] is False and observed.items() <= message.items()
    assert only(convert({**attribute, "to_ids": True}), "indicator")["pattern"] == pattern


def test_an_email_attachment_is_a_message_with_the_file_attached() -> None:
    attachment = {
        "timestamp": "1461066559",
        "value": "brochure .rar",
        "type": "email-attachment",
        "to_ids": False,
        "comment": "",
        "uuid": "57161b3f-f344-447f-804d-4be4950d210f",
    }
    objects = convert(attachment)
    message, file = only(objects, "email-message"), only(objects, "file")
    assert message["body_multipart"][0]["body_raw_ref"] == file["id"]
    assert file["name"] == "brochure .rar"
    indicator = only(convert({**attachment, "to_ids": True}), "indicator")
    assert indicator["pattern"] == "[email-message:body_multipart[*].body_raw_ref.name = 'brochure .rar']"


def test_a_pehash_is_an_indicator_only_as_no_stix_observable_may_carry_it() -> None:
    pehash = {
        "timestamp": "1461144071",
        "value": "ffb7a38174aab4744cc4a509e34800aee9be8e57",
        "type": "pehash",
        "to_ids": True,
        "comment": "Imported via the freetext import.",
        "uuid": "57174a07-2508-4ee1-a57b-4894950d210f",
    }
    assert (
        only(convert(pehash), "indicator")["pattern"]
        == "[file:hashes.PEHASH = 'ffb7a38174aab4744cc4a509e34800aee9be8e57']"
    )
    assert convert({**pehash, "to_ids": False}) == []


def test_a_malware_sample_is_a_zipped_artifact_of_its_file() -> None:
    sample = {
        "data": "ewp9Cg==",
        "to_ids": False,
        "type": "malware-sample",
        "value": "bar.exe|8764605c6f388c89096b534d33565802",
        "uuid": "91ae0a21-c7ae-4c7f-b84b-b84a7ce53d1f",
    }  # malware.json, with its md5
    objects = convert(sample)
    file, artifact = only(objects, "file"), only(objects, "artifact")
    assert file["content_ref"] == artifact["id"] and file["name"] == "bar.exe"
    assert file["hashes"] == {"MD5": "8764605c6f388c89096b534d33565802"}
    assert artifact["payload_bin"] == "ewp9Cg==" and artifact["decryption_key"] == "infected"
    assert (
        only(convert({**sample, "to_ids": True}), "indicator")["pattern"]
        == "[file:name = 'bar.exe' AND file:hashes.MD5 = '8764605c6f388c89096b534d33565802']"
    )


def test_an_attachment_is_a_file_with_its_content_and_bad_base64_is_left_out() -> None:
    picture = {
        "type": "attachment",
        "to_ids": False,
        "uuid": "5acc91b2-bd54-4e44-8aee-35e7950d210f",
        "timestamp": "1523391188",
        "comment": "ransomnote screen",
        "value": "pubg-ransomware.jpg",
        "data": "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBD",
    }  # galaxy_1.json, shortened
    objects = convert(picture)
    assert only(objects, "file")["content_ref"] == only(objects, "artifact")["id"]
    assert [o["type"] for o in convert({**picture, "data": "not base64!"})] == ["file", "report"]


@pytest.mark.parametrize("tag", ["tlp:green", "tlp:amber", "tlp:red"])
def test_every_new_type_keeps_at_least_its_events_level(tag: str) -> None:
    level = {"tlp:green": TLP.GREEN, "tlp:amber": TLP.AMBER, "tlp:red": TLP.RED}[tag]
    attribute = {
        "type": "malware-sample",
        "value": "bar.exe",
        "data": "ewp9Cg==",
        "uuid": "91ae0a21-c7ae-4c7f-b84b-b84a7ce53d1f",
        "Tag": [{"name": "tlp:clear"}],
    }
    for obj in convert(attribute, tag):
        assert obj["object_marking_refs"] == [TLP2_MARKING_IDS[level]]


def test_an_attribute_without_uuid_is_refused_saying_so(cli, tmp_path: Path) -> None:
    # PyMISP's mispevent_testfiles/attribute.json: a MISPEvent built in memory, never saved
    event = {
        "Event": {
            "info": "This is a test",
            "Attribute": [{"category": "Payload delivery", "type": "filename", "value": "bar.exe"}],
        }
    }
    file = tmp_path / "attribute.json"
    file.write_text(json.dumps(event), encoding="utf-8")
    result = cli("import", str(file))
    assert result.code == 1
    assert "contains no objects to import" in result.err
    assert "1 attribute(s) without a uuid (MISP gives every saved attribute one" in result.err
    assert "RFC 4122" not in result.err


def test_attributes_without_uuid_are_noted_and_the_others_imported() -> None:
    event = {
        "uuid": EVENT_UUID,
        "info": "mixed",
        "Attribute": [
            {"type": "filename", "value": "bar.exe"},
            {"type": "filename", "value": "foo.exe", "uuid": "5a0d6aa6-4254-40d9-8d15-407e950d210f"},
        ],
    }
    converted = events_to_stix([event])
    assert sorted(o["type"] for o in converted.objects) == ["file", "report"]
    assert any("1 attribute(s) without a uuid" in note for note in converted.notes)


def test_an_event_of_text_only_is_refused_with_the_reason() -> None:
    event = {
        "uuid": EVENT_UUID,
        "info": "notes",
        "Attribute": [{"type": "text", "value": "a note", "uuid": "5a0d6aa6-4254-40d9-8d15-407e950d210f"}],
    }
    converted = events_to_stix([event])
    assert converted.objects == []
    assert converted.notes[-1].endswith(
        "has nothing to import; attributes of types without a STIX mapping not imported: text (1)"
    )


# Types absent from the corpus: the examples of misp-stix's mapping documentation
# (documentation/mapping/misp_attributes_to_stix21.json).
@pytest.mark.parametrize(
    ("kind", "value", "pattern"),
    [
        (
            "user-agent",
            "Mozilla Firefox",
            "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'Mozilla Firefox']",
        ),
        ("http-method", "POST", "[network-traffic:extensions.'http-request-ext'.request_method = 'POST']"),
        (
            "sha224",
            "5d6dc524ce96b1bb5e96d8dc116ff53b457ffb7f16afd9019a0dd8e9",
            "[file:hashes.'SHA-224' = '5d6dc524ce96b1bb5e96d8dc116ff53b457ffb7f16afd9019a0dd8e9']",
        ),
        (
            "x509-fingerprint-sha1",
            "46aba99aa7158e4609aaa72b50990842fd22ae86",
            "[x509-certificate:hashes.'SHA-1' = '46aba99aa7158e4609aaa72b50990842fd22ae86']",
        ),
        (
            "email-x-mailer",
            "Email X-Mailer test",
            "[email-message:additional_header_fields.'X-Mailer' = 'Email X-Mailer test']",
        ),
        ("email-body", "Email body test", "[email-message:body = 'Email body test']"),
        (
            "sigma",
            "title: Antivirus Relevant File Paths Alerts",
            "title: Antivirus Relevant File Paths Alerts",
        ),
    ],
)
def test_the_other_types_misp_stix_maps_give_valid_indicators(kind: str, value: str, pattern: str) -> None:
    attribute = {
        "uuid": "f0b5b638-81b4-4509-bd40-1e114955caf4",
        "type": kind,
        "value": value,
        "timestamp": "1603642920",
        "to_ids": True,
    }
    assert only(convert(attribute), "indicator")["pattern"] == pattern


def test_an_x509_fingerprint_without_ids_is_a_certificate() -> None:
    attribute = {
        "uuid": "518b4bcb-a86b-4783-9457-391d548b605b",
        "type": "x509-fingerprint-sha1",
        "value": "46aba99aa7158e4609aaa72b50990842fd22ae86",
        "to_ids": False,
    }
    assert only(convert(attribute), "x509-certificate")["hashes"] == {
        "SHA-1": "46aba99aa7158e4609aaa72b50990842fd22ae86"
    }


def test_a_bare_event_with_only_its_header_is_read_as_an_event_and_refused_as_empty(
    cli, tmp_path: Path
) -> None:
    # PyMISP's mispevent_testfiles/event.json, as MISPEvent.to_json writes a new event
    header = {
        "analysis": "1",
        "date": "2017-12-31",
        "distribution": "1",
        "info": "This is a test",
        "published": True,
        "threat_level_id": "1",
    }
    file = tmp_path / "event.json"
    file.write_text(json.dumps(header), encoding="utf-8")
    result = cli("import", str(file))
    assert result.code == 1
    assert "('This is a test') has nothing to import" in result.err


def test_a_restsearch_answer_of_attributes_is_imported_without_a_report() -> None:
    # misp-stix's tests/test_attributes_collection_1.json
    answer = {
        "response": {
            "Attribute": [
                {
                    "uuid": "2972c3a2-dda3-4de7-aca1-e96cf7ce5544",
                    "type": "AS",
                    "category": "Network activity",
                    "timestamp": "1603642920",
                    "value": "AS174",
                },
                {
                    "uuid": "4bb235a7-7d25-4aef-802f-2c6b45c5eceb",
                    "type": "domain",
                    "category": "Network activity",
                    "value": "circl.lu",
                    "timestamp": "1603642920",
                    "comment": "Domain test attribute",
                    "to_ids": True,
                },
            ]
        }
    }
    converted = events_to_stix(events_in(answer, "the file"))
    assert sorted(o["id"] for o in converted.objects) == [
        "autonomous-system--2972c3a2-dda3-4de7-aca1-e96cf7ce5544",
        "indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb",
    ]
    assert any("imported without a report" in note for note in converted.notes)


def test_a_restsearch_answer_of_objects_is_read_as_their_attributes() -> None:
    # misp-stix's tests/test_objects_collection_1.json, one attribute of its email object
    answer = {
        "response": [
            {
                "Object": {
                    "name": "email",
                    "meta-category": "network",
                    "uuid": "5e396622-2a54-4c8d-b61d-159da964451a",
                    "timestamp": "1603642920",
                    "Attribute": [
                        {
                            "uuid": "f5ec3603-e3d0-42d7-a372-14c1c137699b",
                            "type": "email-src",
                            "object_relation": "from",
                            "value": "donald.duck@disney.com",
                            "category": "Payload delivery",
                            "to_ids": True,
                        }
                    ],
                }
            }
        ]
    }
    converted = events_to_stix(events_in(answer, "the file"))
    assert [o["pattern"] for o in converted.objects] == ["[email-addr:value = 'donald.duck@disney.com']"]


def test_a_registry_key_has_its_hive_in_full() -> None:
    # PyMISP's reportlab_testfiles/to_delete2.json (STIX 2.1 §6.13: HKLM is written in full)
    regkey = {
        "uuid": "5a0a9d47-91e0-4fea-8a8d-48ce950d210f",
        "type": "regkey",
        "to_ids": False,
        "value": "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer",
    }
    assert (
        only(convert(regkey), "windows-registry-key")["key"]
        == "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer"
    )
    assert (
        only(convert({**regkey, "to_ids": True}), "indicator")["pattern"]
        == "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Microsoft\\\\Windows"
        "\\\\CurrentVersion\\\\Explorer']"
    )


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("port", "²"),
        ("port", "٤٤٣"),
        ("ip-dst|port", "203.0.113.5|²"),
        ("hostname|port", "a.b|1" * 3),
        ("AS", "AS²"),
        ("size-in-bytes", "9" * 5000),
        ("port", "65536"),
    ],
)
def test_numbers_in_other_digits_or_out_of_range_are_not_mapped_and_do_not_crash(
    kind: str, value: str
) -> None:
    attribute = {"uuid": "5a0d6aa6-4254-40d9-8d15-407e950d210f", "type": kind, "value": value, "to_ids": True}
    assert convert(attribute) == []
