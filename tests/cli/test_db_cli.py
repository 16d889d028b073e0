"""`imagearena db current|upgrade` through the real CLI: read-only commands create nothing."""

from __future__ import annotations

from cli_process import imagearena


def test_db_current_on_a_missing_sqlite_file_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "x.db"
    result = imagearena("db", "current", "--db", f"sqlite:///{missing}", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"no database at {missing}" in result.stderr and "imagearena db upgrade" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_db_current_in_an_empty_data_dir_creates_nothing(tmp_path):
    result = imagearena("db", "current", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 1 and "imagearena db upgrade" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_db_current_reads_what_db_upgrade_created(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'arena.db'}"
    assert imagearena("db", "upgrade", "--db", url, cwd=tmp_path).returncode == 0
    result = imagearena("db", "current", "--db", url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    revision, needed = (part.split(": ")[1] for part in result.stdout.strip().split("; "))
    assert revision == needed != "empty"
