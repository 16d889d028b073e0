"""Errors a user can cause. Each message says what went wrong and what to do about it.

The CLI prints these without a traceback and exits non-zero; the web app maps them to 4xx responses.
"""


class ImageArenaError(Exception):
    """Base of every error caused by input, configuration or state a user controls."""

    exit_code = 1
    http_status = 400


class InputError(ImageArenaError):
    """Malformed input: a bad file, row, value or argument."""


class UnknownNameError(ImageArenaError, KeyError):
    """A name (model, study, scorer, generator...) that does not exist."""

    http_status = 404

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ConflictError(ImageArenaError):
    """The request contradicts recorded state, such as a match token that was already used."""

    http_status = 409


class ForbiddenError(ImageArenaError):
    """Missing or wrong credentials, or a forged token."""

    http_status = 403


class ServiceUnavailableError(ImageArenaError):
    """The database could not take a write in time (a long lock, a lost connection); nothing was stored."""

    http_status = 503


class MissingDependencyError(ImageArenaError):
    """An optional extra is needed for this feature.

    The package is not on any index, so the hint installs the extra from a clone or from a built wheel.
    """

    def __init__(self, feature: str, extra: str, package: str) -> None:
        from imagearena import __version__

        self.feature, self.extra, self.package = feature, extra, package
        super().__init__(
            f"{feature} needs the '{package}' package (the '{extra}' extra): "
            f"from a clone, pip install -e '.[{extra}]'; "
            f"from a wheel, pip install 'imagearena-{__version__}-py3-none-any.whl[{extra}]'"
        )
