"""CLI commands: rating."""

from imagearena.cli.app import app  # noqa: F401
