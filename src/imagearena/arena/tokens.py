"""Sealed one-time match tokens and the server's secrets.

A match token carries everything a vote needs (study, epoch, prompt, both images and their models),
sealed with AES-GCM under a key derived from the server's secret. Serving a match therefore writes
nothing; the vote inserts the match row (unique nonce: a replay fails) and the vote row in one
transaction. The claims are encrypted, not just signed: a voter who learned which model id is which
(from the names revealed after one vote) must not be able to read the next token's models before
voting.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import tempfile
import time
from dataclasses import astuple, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from imagearena.errors import ForbiddenError, InputError

_VERSION = 2
# study, epoch, prompt, left image, right image, model_a, model_b, issued_at
_CLAIMS = struct.Struct(">IIIIIIIQ")
_NONCE_BYTES = 12
_TAG_BYTES = 16
_TOKEN_BYTES = 1 + _NONCE_BYTES + _CLAIMS.size + _TAG_BYTES
DEFAULT_MAX_AGE_S = 24 * 3600
_MALFORMED = "malformed match token: request a new match and vote on that"


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


class TokenSigner:
    """Issues and opens match tokens with one secret key."""

    def __init__(self, key: bytes, max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        if len(key) < 16:
            raise InputError("the secret key must be at least 16 bytes long")
        # A dedicated AES key, so the stored secret can serve other purposes without key reuse.
        self._aead = AESGCM(hmac.new(key, b"imagearena match token", hashlib.sha256).digest())
        self.max_age_s = max_age_s

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
            secrets.token_bytes(_NONCE_BYTES),
        )
        header = bytes([_VERSION])
        sealed = self._aead.encrypt(claims.nonce, _CLAIMS.pack(*astuple(claims)[:-1]), header)
        token = base64.urlsafe_b64encode(header + claims.nonce + sealed).rstrip(b"=").decode("ascii")
        return token, claims

    def verify(self, token: str, now: float | None = None) -> MatchClaims:
        """Return the claims of a token this server issued; raise InputError (400) or ForbiddenError (403)."""
        if not isinstance(token, str) or not 0 < len(token) <= 200:
            raise InputError(_MALFORMED)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, binascii.Error):
            raise InputError(_MALFORMED) from None
        if len(raw) != _TOKEN_BYTES:
            raise InputError(_MALFORMED)
        if raw[0] != _VERSION:
            raise InputError("match token from another server version: request a new match")
        header, nonce, sealed = raw[:1], raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, sealed, header)
        except InvalidTag:
            raise ForbiddenError(
                "this match token was not issued by this server: request a new match"
            ) from None
        claims = MatchClaims(*_CLAIMS.unpack(plain), nonce)
        age = (time.time() if now is None else now) - claims.issued_at
        if age > self.max_age_s:
            raise InputError("this match token has expired: request a new match")
        return claims


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
