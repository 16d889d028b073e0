"""Finished imports' reports, kept in the data dir so that the web import can answer with a redirect
to a report page (Post/Redirect/Get): a reload re-reads the report instead of importing again, and
any server process can show it."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from imagearena.errors import UnknownNameError

REPORTS_DIR = "import-reports"  # in the data dir
REPORTS_KEPT = 50
_REPORT_ID = re.compile(r"[A-Za-z0-9_-]{16}")


def save_report(data_dir: Path, report: dict[str, Any]) -> str:
    """Keep a report (imagearena.arena.importing.report_as_dict) in the data dir, private to the user,
    and return its id. Only the newest REPORTS_KEPT are kept."""
    directory = data_dir / REPORTS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    report_id = secrets.token_urlsafe(12)
    path = directory / f"{report_id}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(report, fh)
    others = sorted((p for p in directory.glob("*.json") if p != path), key=_mtime, reverse=True)
    for stale in others[REPORTS_KEPT - 1 :]:  # the one just written is always kept
        stale.unlink(missing_ok=True)
    return report_id


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # removed meanwhile by another process
        return 0


def load_report(data_dir: Path, report_id: str) -> dict[str, Any]:
    """A report kept by :func:`save_report`; UnknownNameError when it is gone or the id is not one."""
    path = data_dir / REPORTS_DIR / f"{report_id}.json"
    if not _REPORT_ID.fullmatch(report_id) or not path.is_file():
        raise UnknownNameError(
            f"no import report {report_id!r}: only the latest {REPORTS_KEPT} are kept; "
            "import again to see one"
        )
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report
