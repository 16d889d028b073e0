"""Reuses the arena test fixtures (tests/arena/arena_fixtures.py)."""

import importlib.util
import sys
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "arena" / "arena_fixtures.py"
_spec = importlib.util.spec_from_file_location("arena_fixtures", _path)
assert _spec and _spec.loader
_module = sys.modules.get("arena_fixtures") or importlib.util.module_from_spec(_spec)
if "arena_fixtures" not in sys.modules:
    sys.modules["arena_fixtures"] = _module
    _spec.loader.exec_module(_module)

admin_headers = _module.admin_headers
arena = _module.arena
arena_settings = _module.arena_settings
client = _module.client
seeded = _module.seeded
seed_study = _module.seed_study
