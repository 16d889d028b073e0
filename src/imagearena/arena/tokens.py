"""Signed one-time match tokens and the server's secrets.

A match token carries everything a vote needs (study, epoch, prompt, both images and their models,
a random nonce), signed with HMAC-SHA256. Serving a match therefore writes nothing; the vote inserts
the match row (unique nonce: a replay fails) and the vote row in one transaction.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from imagearena.errors import ForbiddenError, InputError

_VERSION = 1
# version, study, epoch, prompt, left image, right image, model_a, model_b, issued_at, nonce
_LAYOUT = struct.Struct(">BIIIIIIIQ12s")
_MAC_BYTES = 16
DEFAULT_MAX_AGE_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class MatchClaims:
    """What the server promised when it served a match; model_a is the left image's model."""

    study_id: int
    epoch: int
    prompt_id: int
    left_image_id: int
    right_image_id: int
    model_a_id: int
    model_b_id: int
    issued_at: int
    nonce: bytes

    @property
    def nonce_hex(self) -> str:
        return self.nonce.hex()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and checks match tokens with one secret key."""

    def __init__(self, key: bytes, max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        if len(key) < 16:
            raise InputError("the secret key must be at least 16 bytes long")
        self._key = key
        self.max_age_s = max_age_s

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def issue(
        self,
        *,
        study_id: int,
        epoch: int,
        prompt_id: int,
        left_image_id: int,
        right_image_id: int,
        model_a_id: int,
        model_b_id: int,
        now: float | None = None,
    ) -> tuple[str, MatchClaims]:
        claims = MatchClaims(
            study_id,
            epoch,
            prompt_id,
            left_image_id,
            right_image_id,
            model_a_id,
            model_b_id,
            int(time.time() if now is None else now),
            secrets.token_bytes(12),
        )
        payload = _LAYOUT.pack(_VERSION, *_claim_fields(claims))
        return f"{_b64(payload)}.{_b64(self._mac(payload))}", claims

    def verify(self, token: str, now: float | None = None) -> MatchClaims:
        """Return the claims of a token this server signed; raise InputError (400) or ForbiddenError (403)."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
            raise InputError("malformed match token: request a new match and vote on that")
        body, _, mac = token.partition(".")
        try:
            payload, signature = _unb64(body), _unb64(mac)
        except ValueError:
            raise InputError("malformed match token: request a new match and vote on that") from None
        if len(payload) != _LAYOUT.size or len(signature) != _MAC_BYTES:
            raise InputError("malformed match token: request a new match and vote on that")
        if not hmac.compare_digest(signature, self._mac(payload)):
            raise ForbiddenError("this match token was not issued by this server: request a new match")
        version, *fields = _LAYOUT.unpack(payload)
        if version != _VERSION:
            raise InputError("match token from another server version: request a new match")
        claims = MatchClaims(*fields)
        age = (time.time() if now is None else now) - claims.issued_at
        if age > self.max_age_s:
            raise InputError("this match token has expired: request a new match")
        return claims


def _claim_fields(c: MatchClaims) -> tuple:
    return (
        c.study_id,
        c.epoch,
        c.prompt_id,
        c.left_image_id,
        c.right_image_id,
        c.model_a_id,
        c.model_b_id,
        c.issued_at,
        c.nonce,
    )


def load_or_create_secret(data_dir: Path, name: str, nbytes: int = 32) -> str:
    """Read the secret ``name`` from data_dir, creating it (owner-only permissions) on first use.

    Kept on disk so tokens and the admin token survive restarts and are shared by worker processes.
    """
    path = Path(data_dir) / name
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")  # owner-only (0600)
    tmp = Path(tmp_name)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # atomic and never overwrites: concurrent first starts agree on one value
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def check_admin(given: str | None, expected: str) -> None:
    """Raise ForbiddenError unless ``given`` is the admin token (constant-time comparison)."""
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ForbiddenError(
            "this action needs the admin token: send it as 'Authorization: Bearer TOKEN' "
            "(it is printed by `imagearena serve` and kept in DATA_DIR/admin_token)"
        )
