"""Hash-list upload in the console: bad entries are named like on the command line and make
the answer a 400, good ones are imported all the same; never a 500."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from tests.console.conftest import Client

BIG_INT = "1" + "0" * 4999
MD5_GOOD = "0123456789abcdef0123456789abcdef"


def upload(client: Client, filename: str, content: bytes, **fields: str
           ) -> tuple[int, dict[str, Any]]:
    boundary = "----heroes-upload-boundary"
    body = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
                   f"{v}\r\n" for k, v in fields.items()).encode() + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/json\r\n\r\n'.encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        client.base + "/api/hashes/import",
        data=body,
        method="POST",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRF-Token": client.csrf,
        },
    )
    try:
        with client.opener.open(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def vics(*entries: str) -> bytes:
    return ('{"value": [\n' + ",\n".join(entries) + "\n]}\n").encode()


def test_vics_upload_with_bad_entries_names_them_and_keeps_the_good(admin: Client) -> None:
    content = vics(
        f'{{"MediaID": {BIG_INT}, "MD5": "{"a" * 32}"}}',
        '{"MediaID": 2, "X": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"MediaID": 3, "MD5": "\\ud800"}',
        f'{{"MediaID": 4, "MD5": "{MD5_GOOD}"}}',
    )
    status, report = upload(admin, "bad-entries.json", content)
    assert status == 400, report
    assert report["imported"] == 1 and report["problem_count"] == 3
    assert report["error"]["message"].startswith("3 entries could not be imported (1 imported")
    assert report["problems"] == [
        "bad-entries.json:2: an integer of 5,000 digits (at most 20)",
        "bad-entries.json:3: the entry is nested more than 64 levels deep",
        "bad-entries.json:4: a lone surrogate '\\ud800' in a string (half of a UTF-16 pair, "
        "not a character)",
    ]


def test_upload_with_nothing_good_is_400_with_the_messages(admin: Client) -> None:
    status, answer = upload(
        admin, "nothing-good.json", vics(f'{{"MediaID": {BIG_INT}, "MD5": "{"b" * 32}"}}')
    )
    assert status == 400, answer
    assert answer["error"]["param"] == "file"
    assert answer["error"]["message"] == (
        "no value could be imported:\nnothing-good.json:2: an integer of 5,000 digits (at most 20)"
    )
    status, answer = upload(admin, "utf16.json", '{"value": []}'.encode("utf-16"))
    assert status == 400, answer
    assert answer["error"]["message"].startswith("utf16.json:1: the file is UTF-16")


def test_a_stix_bundle_upload_names_its_bad_objects_and_imports_the_rest(admin: Client
                                                                         ) -> None:
    good = {"type": "indicator", "spec_version": "2.1",
            "id": "indicator--1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
            "valid_from": "2026-11-01T00:00:00Z", "pattern_type": "stix",
            "pattern": f"[file:hashes.MD5 = '{MD5_GOOD}']"}
    broken = {**good, "id": "indicator--2f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
              "pattern": "[broken"}
    bundle = {"type": "bundle", "id": "bundle--3f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
              "objects": [good, broken]}
    status, report = upload(admin, "shared.json", json.dumps(bundle, indent=1).encode(),
                            format="stix", list="partner")
    assert status == 400, report
    assert (report["list"], report["imported"], report["problem_count"]) == ("partner", 1, 1)
    assert report["source"] == (
        "STIX bundle bundle--3f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b (shared.json)")
    [problem] = report["problems"]
    assert problem.startswith("shared.json:") and broken["id"] in problem
    # A type is the file's to say; an unknown format is named with the ones there are.
    status, answer = upload(admin, "shared.json", json.dumps(bundle).encode(), format="misp",
                            type="md5")
    assert status == 400 and answer["error"]["param"] == "type", answer
    status, answer = upload(admin, "x.json", b"{}", format="openioc")
    assert status == 400 and "misp, stix" in answer["error"]["message"], answer


def test_a_misp_event_upload_is_imported_with_its_source(admin: Client) -> None:
    event = {"Event": {"uuid": "5b1d7f0e-1c2d-4e3f-8a9b-0c1d2e3f4a5c", "info": "partner",
                       "Attribute": [{"type": "md5", "value": "f" * 32},
                                     {"type": "text", "value": "a note"}]}}
    status, report = upload(admin, "event.json", json.dumps(event).encode(), format="misp",
                            list="partner-misp")
    assert status == 200, report
    assert report["imported"] == 1
    assert report["source"].startswith("MISP event 5b1d7f0e-1c2d-4e3f-8a9b-0c1d2e3f4a5c")
