"""`parse_signed_request`: Meta's signed requests verified with the app secret, everything else refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.inbound.callbacks import InvalidSignedRequest, parse_signed_request
from tests.callbacks.signing import b64url, sign, signed_raw, signed_request

SECRET = "the-app-secret"


def refused(value: str, fragment: str) -> None:
    with pytest.raises(InvalidSignedRequest) as caught:
        parse_signed_request(value, SECRET)
    assert caught.value.status_code == 400 and caught.value.code == "invalid_signed_request"
    assert fragment in caught.value.message


class TestGood:
    def test_reads_user_and_time(self) -> None:
        parsed = parse_signed_request(signed_request(SECRET, "17841400000000042", issued_at=1764442379), SECRET)
        assert parsed.user_id == "17841400000000042"
        assert parsed.issued_at == datetime(2025, 11, 29, 18, 52, 59, tzinfo=UTC)

    def test_matches_the_sandboxs_signer(self) -> None:
        """The emulator signs as Meta documents; both implementations agree byte for byte."""
        from app.sandbox.callbacks import signed_request as sandbox_signed_request

        parsed = parse_signed_request(sandbox_signed_request(SECRET, "17841400000000007", 1764442379), SECRET)
        assert parsed.user_id == "17841400000000007"

    def test_numeric_user_id_and_lowercase_algorithm(self) -> None:
        parsed = parse_signed_request(signed_request(SECRET, 17841400000000001, algorithm="hmac-sha256"), SECRET)
        assert parsed.user_id == "17841400000000001"

    def test_padding_is_optional_and_unknown_fields_are_ignored(self) -> None:
        request = signed_request(SECRET, "1", expires=0, oauth_token=None, profile_id="x")
        assert parse_signed_request(request + "\n", SECRET).user_id == "1"


class TestForged:
    def test_another_secret(self) -> None:
        refused(signed_request("not-the-app-secret"), "signature does not match")

    def test_payload_changed_after_signing(self) -> None:
        signature, _ = signed_request(SECRET, "17841400000000001").split(".")
        other = b64url(json.dumps({"algorithm": "HMAC-SHA256", "issued_at": 1, "user_id": "666"}).encode())
        refused(f"{signature}.{other}", "signature does not match")

    def test_signature_of_another_payload_truncated(self) -> None:
        signature, payload = signed_request(SECRET).split(".")
        refused(f"{signature[:-4]}.{payload}", "signature")

    def test_empty_signature(self) -> None:
        refused("." + signed_request(SECRET).split(".")[1], "<signature>.<payload>")


class TestMalformed:
    @pytest.mark.parametrize("value", ["", "   ", "no-dot-at-all", "abc.", ".abc"])
    def test_shape(self, value: str) -> None:
        with pytest.raises(InvalidSignedRequest):
            parse_signed_request(value, SECRET)

    def test_signature_not_base64url(self) -> None:
        payload = signed_request(SECRET).split(".")[1]
        refused(f"not*base64!.{payload}", "signature is not valid base64url")

    def test_payload_not_base64url(self) -> None:
        payload = "eyJ!!!"
        refused(f"{sign(payload, SECRET)}.{payload}", "payload is not valid base64url")

    def test_payload_not_json(self) -> None:
        refused(signed_raw(SECRET, b"\xff\xfe not json"), "not JSON")

    def test_payload_not_an_object(self) -> None:
        refused(signed_raw(SECRET, b'["user_id"]'), "not a JSON object")

    def test_not_ascii(self) -> None:
        refused(signed_request(SECRET) + "é", "not a Meta signed request")

    def test_too_long(self) -> None:
        refused(signed_request(SECRET, padding="x" * 10_000), "not a Meta signed request")


class TestPayload:
    @pytest.mark.parametrize("algorithm", ["HMAC-SHA1", "none", "", 256, None])
    def test_wrong_algorithm(self, algorithm: object) -> None:
        refused(signed_request(SECRET, algorithm=algorithm), "algorithm must be HMAC-SHA256")

    @pytest.mark.parametrize("user_id", [None, "", "  ", True, "12ab", "١٢٣", "1" * 65, {"id": "1"}])
    def test_missing_or_bad_user_id(self, user_id: object) -> None:
        with pytest.raises(InvalidSignedRequest) as caught:
            parse_signed_request(signed_request(SECRET, user_id), SECRET)
        assert "user_id" in caught.value.message

    @pytest.mark.parametrize("issued_at", ["1764442379", 1.5, True, 10**20])
    def test_missing_or_bad_issued_at(self, issued_at: object) -> None:
        with pytest.raises(InvalidSignedRequest) as caught:
            parse_signed_request(signed_request(SECRET, issued_at=issued_at), SECRET)
        assert "issued_at" in caught.value.message

    def test_issued_at_left_out(self) -> None:
        payload = b64url(json.dumps({"algorithm": "HMAC-SHA256", "user_id": "1"}).encode())
        refused(f"{sign(payload, SECRET)}.{payload}", "no issued_at")
