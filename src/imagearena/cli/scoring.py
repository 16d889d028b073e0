"""CLI commands: scoring."""

from imagearena.cli.app import app  # noqa: F401
