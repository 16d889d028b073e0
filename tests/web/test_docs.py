"""docs/arena.md keeps up with the code: every API route and every serve option is documented."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "arena.md"


def test_every_api_route_is_documented(tmp_path):
    from imagearena.settings import Settings
    from imagearena.web.app import create_app

    class NoArena:  # the schema needs the routes only
        pass

    text = DOC.read_text()
    app = create_app(Settings(data_dir=tmp_path), arena=NoArena(), background_snapshots=False)  # type: ignore[arg-type]
    paths = app.openapi()["paths"]
    documented = set(re.findall(r"`(?:GET|POST) (/api/v1/[^`?\s]*)", text))
    for path in paths:
        if path.startswith("/api/v1/"):
            base = path.split("/votes.")[0] + "/votes.jsonl" if path.endswith("votes.csv") else path
            assert base in documented, f"{path} is missing from docs/arena.md"


def test_every_serve_option_is_documented():
    from typer.main import get_command

    from imagearena.cli.app import app

    text = DOC.read_text()
    for name in ("serve", "demo"):
        command = get_command(app).commands[name]  # type: ignore[attr-defined]
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert f"`{opt}" in text, f"{name} {opt} is missing from docs/arena.md"
