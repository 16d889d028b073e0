"""Match tokens: what the server sealed comes back intact and unreadable to the voter; anything else
is refused with 400 or 403."""

from __future__ import annotations

import base64
import os
import stat
import struct
import threading

import pytest

from imagearena.arena.tokens import TokenSigner, check_admin, load_or_create_secret
from imagearena.errors import ForbiddenError, InputError

KEY = b"k" * 32
CLAIMS = dict(
    study_id=3, epoch=1, prompt_id=7, left_image_id=11, right_image_id=12, model_a_id=5, model_b_id=6
)


def test_round_trip_keeps_every_claim():
    signer = TokenSigner(KEY)
    token, issued = signer.issue(**CLAIMS, now=1_000_000)
    back = signer.verify(token, now=1_000_010)
    assert back == issued
    assert (back.study_id, back.epoch, back.prompt_id) == (3, 1, 7)
    assert (back.left_image_id, back.right_image_id, back.model_a_id, back.model_b_id) == (11, 12, 5, 6)
    assert len(back.nonce_hex) == 24


def test_every_token_has_its_own_nonce():
    signer = TokenSigner(KEY)
    nonces = {signer.issue(**CLAIMS)[1].nonce for _ in range(200)}
    assert len(nonces) == 200


def test_a_token_from_another_key_is_forbidden():
    token, _ = TokenSigner(b"x" * 32).issue(**CLAIMS)
    with pytest.raises(ForbiddenError, match="not issued by this server"):
        TokenSigner(KEY).verify(token)


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


@pytest.mark.parametrize("position", [1, 14, 30, -1])  # nonce, claims, claims, tag
def test_a_tampered_token_is_forbidden(position):
    signer = TokenSigner(KEY)
    token, _ = signer.issue(**CLAIMS)
    raw = _raw(token)
    raw[position] ^= 1  # a voter trying to change what was shown, or which token it is
    with pytest.raises(ForbiddenError):
        signer.verify(_encode(raw))


def test_the_models_cannot_be_read_from_the_token():
    """Knowing the model ids (revealed names after one vote) must not reveal the next match's models."""
    signer = TokenSigner(KEY)
    for _ in range(50):
        token, claims = signer.issue(**CLAIMS)
        raw = bytes(_raw(token))
        assert struct.pack(">II", CLAIMS["model_a_id"], CLAIMS["model_b_id"]) not in raw
        assert struct.pack(">I", CLAIMS["left_image_id"]) not in raw
        assert claims.nonce in raw  # the nonce travels in clear; everything else is sealed


def test_another_version_is_an_input_error():
    signer = TokenSigner(KEY)
    raw = _raw(signer.issue(**CLAIMS)[0])
    raw[0] = 1
    with pytest.raises(InputError, match="another server version"):
        signer.verify(_encode(raw))


@pytest.mark.parametrize("bad", ["", "nodot", "a.b.c", "!!!.???", "AAAA.AAAA", "x" * 500, "A" * 87])
def test_malformed_tokens_are_input_errors(bad):
    with pytest.raises(InputError) as info:
        TokenSigner(KEY).verify(bad)
    assert info.value.http_status == 400


def test_expired_token_is_refused():
    signer = TokenSigner(KEY, max_age_s=60)
    token, _ = signer.issue(**CLAIMS, now=1000)
    signer.verify(token, now=1050)
    with pytest.raises(InputError, match="expired"):
        signer.verify(token, now=1061)


def test_short_keys_are_refused():
    with pytest.raises(InputError):
        TokenSigner(b"short")


def test_secret_is_created_once_private_and_kept(tmp_path):
    first = load_or_create_secret(tmp_path / "data", "secret_key")
    assert len(first) >= 32
    path = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(tmp_path / "data", "secret_key") == first


def test_concurrent_first_starts_agree_on_one_secret(tmp_path):
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(load_or_create_secret(tmp_path, "admin_token")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and len(set(results)) == 1


def test_check_admin():
    check_admin("secret-token", "secret-token")
    for given in (None, "", "secret-tokem", "secret-token "):
        with pytest.raises(ForbiddenError):
            check_admin(given, "secret-token")
