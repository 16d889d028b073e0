"""The one HTTP client of the network generator backends: timeouts, bounded retries, one-line errors.

Retries: on 429 and 5xx answers and on connections that could not be made, at most ``max_retries``
times, waiting what ``Retry-After`` asks (seconds or an HTTP date) or else an exponential backoff with
full jitter (a uniform wait in [0, min(cap, base * 2**attempt)]), so many clients do not retry in step.
A request that was sent but not answered in time is retried only when it is idempotent (a GET): a
generation may already be running, and paid for.

Errors: 401/403 -> GeneratorAuthError, 404 -> UnknownModelError, 429/5xx after the retries, timeouts and
refused connections -> GeneratorUnavailable, any other 4xx -> GeneratorError; a backend's ``classify``
hook sees every error answer first, to name its API's own codes (a safety block, an unknown model in a
400). The API key is sent only to ``base_url``, never logged, never in a message (redacted from the
service's own error text too) and never in a repr. httpx comes with the ``gen`` extra.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from imagearena.errors import InputError, MissingDependencyError
from imagearena.generators.config import GeneratorConfig, float_option, int_option
from imagearena.generators.errors import (
    GeneratorAuthError,
    GeneratorError,
    GeneratorUnavailable,
    UnknownModelError,
)
from imagearena.types import MAX_IMAGE_BYTES

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Options every network backend reads besides the common keys.
HTTP_OPTIONS = frozenset({"max_retries", "retry_cap_s"})
#: Largest answer read: a few base64-encoded images at the decoder's byte limit, and no more.
MAX_RESPONSE_BYTES = 8 * MAX_IMAGE_BYTES
_MESSAGE_CHARS = 300


def require_httpx() -> Any:
    """Import httpx, or say which extra installs it."""
    try:
        import httpx
    except ImportError:
        raise MissingDependencyError("network generators", "gen", "httpx") from None
    return httpx


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry; ``max_retry_after_s`` bounds a server's Retry-After wish."""

    max_retries: int = 3
    base_s: float = 0.5
    cap_s: float = 30.0
    max_retry_after_s: float = 300.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**attempt))


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header's wait in seconds (delta-seconds or an HTTP date), None when absent or bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def one_line(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` on one line, at most a few hundred characters, with every secret replaced by ***."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def error_text(reply: Reply) -> str:
    """The service's own error message: the usual JSON shapes ({"error": {"message"}}, {"detail"},
    {"message"}, {"error": "..."}), else the start of the body."""
    data = reply.json()
    if isinstance(data, dict):
        for key in ("error", "detail", "message", "errors"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail") or value.get("type")
            if isinstance(value, list) and value:
                first = value[0]
                value = first.get("msg") or first.get("message") if isinstance(first, dict) else first
            if isinstance(value, str) and value.strip():
                return value
    return reply.body[:_MESSAGE_CHARS].decode("utf-8", "replace")


def decode_base64(data: object, what: str) -> bytes:
    """Strict base64 (a data: URL prefix allowed), or a GeneratorError naming ``what``."""
    if not isinstance(data, str):
        raise GeneratorError(f"{what} is not a base64 string")
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise GeneratorError(f"{what} is not valid base64") from None


Classify = Callable[[Reply, str], GeneratorError | None]


class ApiClient:
    """Requests to one generator service for one entry, with its key, timeout, retries and concurrency.

    ``classify(reply, text)`` (text: the service's message, key redacted) may name an error answer
    before the generic mapping does. ``sleep`` and ``rng`` are attributes so a caller can pace retries.
    """

    def __init__(
        self,
        config: GeneratorConfig,
        base_url: str,
        *,
        auth: str = "bearer",
        classify: Classify | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.base_url = base_url.rstrip("/")
        if auth not in ("bearer", "basic") and not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,63}", auth):
            raise InputError(
                f"generator {config.name!r}: auth must be bearer, basic or the name of the header that carries "
                "the key (such as api-key)"
            )
        self.auth = auth
        self.classify = classify
        self.retry = retry or RetryPolicy(
            max_retries=int_option(config, "max_retries", 3, 0, 20),
            cap_s=float_option(config, "retry_cap_s", 30.0, 0.0, 3600.0),
        )
        self.sleep: Callable[[float], None] = time.sleep
        self.rng = random.Random()
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._client: httpx.Client | None = None
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ApiClient(generator={self.config.name!r}, base_url={self.base_url!r})"

    @property
    def where(self) -> str:
        return f"generator {self.config.name!r}"

    def _headers(self) -> dict[str, str]:
        key = self.config.api_key()
        if key is None:
            return {}
        if self.auth == "basic":
            password = key.partition(":")[2]
            self._secrets = (key, password, base64.b64encode(key.encode()).decode())
            return {"Authorization": "Basic " + base64.b64encode(key.encode()).decode()}
        self._secrets = (key,)
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {key}"}
        return {self.auth: key}  # a named header, such as api-key or x-api-key

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                httpx = require_httpx()
                timeout = httpx.Timeout(self.config.timeout_s, connect=min(10.0, self.config.timeout_s))
                self._client = httpx.Client(
                    headers=self._headers(), timeout=timeout, follow_redirects=False, trust_env=False
                )
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def redact(self, text: str) -> str:
        return one_line(text, self._secrets)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: object = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Reply:
        """Send a request to ``base_url + path``, retrying as the module says; a 2xx/3xx answer or an error."""
        client = self._http()
        url = f"{self.base_url}{path}"
        idempotent = method.upper() in ("GET", "HEAD") if idempotent is None else idempotent
        for attempt in range(self.retry.max_retries + 1):
            last = attempt == self.retry.max_retries
            try:
                with self._slots:
                    reply = self._send(client, method, url, json_body, params)
            except GeneratorError:
                raise
            except Exception as exc:  # httpx transport errors; anything else is re-raised below
                if not self._is_transport_error(exc):
                    raise
                retryable = idempotent or self._never_sent(exc)
                if retryable and not last:
                    self._wait(attempt, None, f"{type(exc).__name__}")
                    continue
                raise self._transport_error(exc) from None
            if reply.status < 300:
                return reply
            if reply.status < 400:
                # Not followed: the key would go along. The entry should name where the service answers.
                where_to = self.redact(reply.headers.get("location", "elsewhere"))
                raise GeneratorError(
                    f"{self.where}: {url} redirects (HTTP {reply.status}) to {where_to}: "
                    "set base_url to the address that answers"
                )
            text = self.redact(error_text(reply))
            named = self.classify(reply, text) if self.classify else None
            if named is not None:
                raise named
            if reply.status in RETRY_STATUSES and not last:
                wait = retry_after_seconds(reply.headers.get("retry-after"))
                if wait is not None and wait > self.retry.max_retry_after_s:
                    raise GeneratorUnavailable(
                        f"{self.where}: {self.base_url} asks to wait {wait:.0f} s (HTTP {reply.status}): "
                        f"{text}; try again later"
                    )
                self._wait(attempt, wait, f"HTTP {reply.status}")
                continue
            raise self.status_error(reply, text, retried=attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request`` and its body parsed as JSON (a GeneratorError when it is not JSON)."""
        reply = self.request(method, path, **kwargs)
        data = reply.json()
        if data is None:
            raise GeneratorError(f"{self.where}: {self.base_url}{path} did not answer with JSON")
        return data

    def download(self, url: str) -> bytes:
        """GET an image URL the service returned. The key goes along only when the URL is on base_url's
        host and scheme; elsewhere (a CDN) the request carries no credentials."""
        if not re.match(r"https?://", url):
            raise GeneratorError(f"{self.where}: the service returned an image URL that is not http(s)")
        if _origin(url) == _origin(self.base_url):
            return self._download_with(self._http(), url, credentials=True)
        return self._download_plain(url)

    def _download_plain(self, url: str) -> bytes:
        """GET ``url`` with a client that carries no credentials and follows redirects."""
        httpx = require_httpx()
        timeout = httpx.Timeout(self.config.timeout_s, connect=min(10.0, self.config.timeout_s))
        with httpx.Client(timeout=timeout, follow_redirects=True, trust_env=False) as plain:
            return self._download_with(plain, url, credentials=False)

    def _download_with(self, client: httpx.Client, url: str, *, credentials: bool) -> bytes:
        for attempt in range(self.retry.max_retries + 1):
            last = attempt == self.retry.max_retries
            try:
                with self._slots:
                    reply = self._send(client, "GET", url, None, None)
            except GeneratorError:
                raise
            except Exception as exc:
                if not self._is_transport_error(exc):
                    raise
                if not last:
                    self._wait(attempt, None, type(exc).__name__)
                    continue
                raise self._transport_error(exc) from None
            if reply.status < 300:
                return reply.body
            location = reply.headers.get("location")
            if credentials and reply.status < 400 and location:
                # A same-origin URL that moves the image (to storage, a CDN): fetched without the key.
                return self._download_plain(urljoin(url, location))
            if reply.status in RETRY_STATUSES and not last:
                self._wait(
                    attempt, retry_after_seconds(reply.headers.get("retry-after")), f"HTTP {reply.status}"
                )
                continue
            raise GeneratorError(
                f"{self.where}: downloading the generated image failed (HTTP {reply.status}): "
                f"{self.redact(error_text(reply))}"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        json_body: object,
        params: Mapping[str, str] | None,
    ) -> Reply:
        kwargs: dict[str, Any] = {"params": params}
        if json_body is not None:
            kwargs["json"] = json_body
        with client.stream(method, url, **kwargs) as response:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise GeneratorError(
                        f"{self.where}: the answer from {self.base_url} is over {MAX_RESPONSE_BYTES:,} bytes: "
                        "refused"
                    )
                chunks.append(chunk)
            headers = {k.lower(): v for k, v in response.headers.items()}
            return Reply(response.status_code, headers, b"".join(chunks))

    def _wait(self, attempt: int, retry_after: float | None, why: str) -> None:
        wait = retry_after if retry_after is not None else self.retry.backoff(attempt, self.rng)
        log.warning(
            "generator %r: %s from %s; retry %d of %d in %.2f s",
            self.config.name, why, self.base_url, attempt + 1, self.retry.max_retries, wait,
        )  # fmt: skip
        self.sleep(wait)

    @staticmethod
    def _is_transport_error(exc: Exception) -> bool:
        httpx = require_httpx()
        return isinstance(exc, httpx.TransportError)

    @staticmethod
    def _never_sent(exc: Exception) -> bool:
        """True when the request cannot have reached the service (no connection was made)."""
        httpx = require_httpx()
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)

    def _transport_error(self, exc: Exception) -> GeneratorUnavailable:
        httpx = require_httpx()
        if isinstance(exc, httpx.TimeoutException):
            return GeneratorUnavailable(
                f"{self.where}: {self.base_url} did not answer within {self.config.timeout_s:g} s: "
                "raise timeout_s in the generators file, or try again later"
            )
        reason = self.redact(str(exc)) or type(exc).__name__
        return GeneratorUnavailable(
            f"{self.where}: cannot reach {self.base_url} ({reason}): is the service up?"
        )

    def status_error(self, reply: Reply, text: str, *, retried: int = 0) -> GeneratorError:
        """The generic error for an error answer the backend did not name."""
        status = reply.status
        if status in (401, 403):
            if self.config.api_key_env:
                fix = f"check the key in ${self.config.api_key_env}"
            else:
                fix = "set api_key_env to the variable that holds the key"
            return GeneratorAuthError(
                f"{self.where}: {self.base_url} refused the credentials (HTTP {status}: {text}): {fix}"
            )
        if status == 404:
            return UnknownModelError(
                f"{self.where}: not found at {self.base_url} (HTTP 404: {text}): check model "
                f"{self.config.model!r} and base_url"
            )
        if status in RETRY_STATUSES:
            tries = f" after {retried} retries" if retried else ""
            return GeneratorUnavailable(
                f"{self.where}: {self.base_url} answered HTTP {status}{tries}: {text}"
            )
        return GeneratorError(f"{self.where}: {self.base_url} rejected the request (HTTP {status}): {text}")


def _origin(url: str) -> tuple[str, str]:
    scheme, _, rest = url.partition("://")
    return scheme.lower(), rest.split("/", 1)[0].lower()
