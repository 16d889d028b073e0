"""Sealed one-time match tokens and the server's secrets.

A match token carries everything a vote needs (study, epoch, prompt, the round type, the images in
display order and their models),
sealed with AES-GCM under a key derived from the server's secret. Serving a match therefore writes
nothing; the vote inserts the match row (unique nonce: a replay fails) and the vote row in one
transaction. The claims are encrypted, not just signed: a voter who learned which model id is which
(from the names revealed after one vote) must not be able to read the next token's models before
voting.

The key is derived from the secret and the database's installation id (storage.installation.installation_id),
so two installations sharing a secret refuse each other's tokens. The match's images are served under
sealed names of their own (:meth:`TokenSigner.image_name`): a fresh name per match that expires with the
token, so a voter cannot map an image URL seen after one reveal to its model in the next match.
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
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from imagearena.errors import ForbiddenError, InputError, UnknownNameError
from imagearena.media import FORMATS
from imagearena.storage.engine import make_private_dir
from imagearena.storage.matches import MatchClaims
from imagearena.types import RoundType

_VERSION = 4  # 3: the key is bound to the database; 4: four-image rounds
# study, epoch, prompt, round type, images 1-4, models 1-4 (0 for the 3rd and 4th of a pair), issued_at
_CLAIMS = struct.Struct(">IIIB4I4IQ")
_ROUND_TYPES = tuple(RoundType)
_NONCE_BYTES = 12
_TAG_BYTES = 16
_TOKEN_BYTES = 1 + _NONCE_BYTES + _CLAIMS.size + _TAG_BYTES
DEFAULT_MAX_AGE_S = 24 * 3600
_MALFORMED = "malformed match token: request a new match and vote on that"
# A match image's sealed name: sha256, format (index in media.FORMATS), issued_at of its token.
_IMAGE = struct.Struct(">32sBQ")
_IMAGE_VERSION = 0x81
_IMAGE_NAME_BYTES = 1 + _NONCE_BYTES + _IMAGE.size + _TAG_BYTES
_IMAGE_FORMATS = tuple(FORMATS)
_NO_IMAGE = "this match image does not exist or has expired: request a new match"


class TokenSigner:
    """Issues and opens match tokens with one secret key."""

    def __init__(self, key: bytes, max_age_s: float = DEFAULT_MAX_AGE_S, *, database_id: bytes = b"") -> None:
        """``database_id`` binds the tokens to one database: another one refuses them with 403."""
        if len(key) < 16:
            raise InputError("the secret key must be at least 16 bytes long")
        # Dedicated AES keys, so the stored secret can serve other purposes without key reuse.
        self._aead = AESGCM(_derive(key, b"imagearena match token", database_id))
        self._image_aead = AESGCM(_derive(key, b"imagearena match image", database_id))
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
        round_type: RoundType = RoundType.PAIR,
        more_images: tuple[int, int] = (0, 0),
        more_models: tuple[int, int] = (0, 0),
    ) -> tuple[str, MatchClaims]:
        """Seal a match: left and right (model_a, model_b), and for a four-image round its third and
        fourth images and models (``more_images``, ``more_models``) in display order."""
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
            round_type,
            *more_images,
            *more_models,
        )
        header = bytes([_VERSION])
        plain = _CLAIMS.pack(
            study_id,
            epoch,
            prompt_id,
            _ROUND_TYPES.index(round_type),
            left_image_id,
            right_image_id,
            *more_images,
            model_a_id,
            model_b_id,
            *more_models,
            claims.issued_at,
        )
        sealed = self._aead.encrypt(claims.nonce, plain, header)
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
                "this match token was not issued by this server for this database "
                "(or was altered): request a new match"
            ) from None
        study_id, epoch, prompt_id, kind, left, right, im3, im4, ma, mb, m3, m4, issued_at = _CLAIMS.unpack(
            plain
        )
        if kind >= len(_ROUND_TYPES):
            raise InputError(_MALFORMED)
        claims = MatchClaims(
            study_id,
            epoch,
            prompt_id,
            left,
            right,
            ma,
            mb,
            issued_at,
            nonce,
            _ROUND_TYPES[kind],
            im3,
            im4,
            m3,
            m4,
        )
        if self._expired(claims.issued_at, now):
            raise InputError("this match token has expired: request a new match")
        return claims

    def _expired(self, issued_at: int, now: float | None) -> bool:
        return (time.time() if now is None else now) - issued_at > self.max_age_s

    def image_name(self, sha256: str, format: str, issued_at: int) -> str:
        """A sealed, single-match name for a stored image that expires with the token issued at ``issued_at``."""
        plain = _IMAGE.pack(bytes.fromhex(sha256), _IMAGE_FORMATS.index(format.upper()), issued_at)
        header, nonce = bytes([_IMAGE_VERSION]), secrets.token_bytes(_NONCE_BYTES)
        sealed = self._image_aead.encrypt(nonce, plain, header)
        return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")

    def open_image_name(self, name: str, now: float | None = None) -> tuple[str, str, int]:
        """(sha256, format, issued_at) behind a name from :meth:`image_name`; UnknownNameError (404)
        when it was forged, altered or has expired."""
        raw = _decode(name, _IMAGE_NAME_BYTES)
        if raw is None or raw[0] != _IMAGE_VERSION:
            raise UnknownNameError(_NO_IMAGE)
        header, nonce, sealed = raw[:1], raw[1 : 1 + _NONCE_BYTES], raw[1 + _NONCE_BYTES :]
        try:
            digest, format_index, issued_at = _IMAGE.unpack(self._image_aead.decrypt(nonce, sealed, header))
        except InvalidTag:
            raise UnknownNameError(_NO_IMAGE) from None
        if self._expired(issued_at, now) or format_index >= len(_IMAGE_FORMATS):
            raise UnknownNameError(_NO_IMAGE)
        return digest.hex(), _IMAGE_FORMATS[format_index], issued_at


def _derive(key: bytes, purpose: bytes, database_id: bytes) -> bytes:
    return hmac.new(key, purpose + b"\0" + database_id, hashlib.sha256).digest()


def _decode(text: str, size: int) -> bytes | None:
    """The bytes of an unpadded urlsafe base64 string of ``size`` bytes, or None."""
    if not isinstance(text, str) or len(text) > 2 * size:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        return None
    return raw if len(raw) == size else None


def load_or_create_secret(data_dir: Path, name: str, nbytes: int = 32) -> str:
    """Read the secret ``name`` from data_dir, creating it (owner-only permissions) on first use.

    Kept on disk so tokens and the admin token survive restarts and are shared by worker processes.
    """
    path = Path(data_dir) / name
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    make_private_dir(path.parent)
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
