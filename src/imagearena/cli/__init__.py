"""Command-line entry point: `imagearena COMMAND ...`. Thin: parse, call the library, print."""

from __future__ import annotations

import sys

from imagearena.cli import agreement as _agreement  # noqa: F401  (registers commands)
from imagearena.cli import arena as _arena  # noqa: F401
from imagearena.cli import bench as _bench  # noqa: F401
from imagearena.cli import db as _db  # noqa: F401
from imagearena.cli import folder as _folder  # noqa: F401
from imagearena.cli import generate as _generate  # noqa: F401
from imagearena.cli import generation as _generation  # noqa: F401
from imagearena.cli import judge as _judge  # noqa: F401
from imagearena.cli import prompts as _prompts  # noqa: F401
from imagearena.cli import rating as _rating  # noqa: F401
from imagearena.cli import scoring as _scoring  # noqa: F401
from imagearena.cli import simulate as _simulate  # noqa: F401
from imagearena.cli import studies as _studies  # noqa: F401
from imagearena.cli.app import app
from imagearena.errors import ImageArenaError


def main() -> None:
    """Run the CLI; a user error prints one clear line on stderr and exits non-zero, without a traceback."""
    try:
        app()
    except ImageArenaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
