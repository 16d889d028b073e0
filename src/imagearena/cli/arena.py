"""CLI commands: arena."""

from imagearena.cli.app import app  # noqa: F401
