"""What a generator backend can answer besides images, as one-line errors that name the generator entry.

None of these messages ever holds an API key: they are built from the entry's name, the HTTP status and
the service's own error text, with the key redacted from that text (see imagearena.generators.http).
"""

from __future__ import annotations

from imagearena.errors import ImageArenaError, ServiceUnavailableError, UnknownNameError


class GeneratorError(ImageArenaError):
    """A generator service answered with an error; the web app answers 502 (a bad upstream answer)."""

    http_status = 502


class GeneratorAuthError(GeneratorError):
    """Missing or refused credentials (401/403): the fix is the key in the variable ``api_key_env`` names."""


class UnknownModelError(GeneratorError, UnknownNameError):
    """The service does not know the configured model (a 404, or the API's own model-not-found code)."""

    http_status = 404

    def __str__(self) -> str:
        return UnknownNameError.__str__(self)


class GenerationRefused(GeneratorError):
    """The service refused the prompt (a safety or content-policy block): change the prompt, not the setup."""

    http_status = 422


class GeneratorUnavailable(GeneratorError, ServiceUnavailableError):
    """The service could not be reached or kept failing (timeouts, 5xx, 429 after every retry)."""

    http_status = 503
