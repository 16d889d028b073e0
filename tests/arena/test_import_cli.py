"""`imagearena import-folder` and `imagearena db upgrade` as a user runs them."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from imagearena.cli import app
from imagearena.storage import catalog, studies
from imagearena.storage.engine import head_revision, make_engine, make_sessionmaker

runner = CliRunner()


def test_import_folder_command_prints_a_summary_and_is_idempotent(tmp_path, db_url):
    root = tmp_path / "gens"
    (root / "m1").mkdir(parents=True)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")
    (root / "m1" / "a.png").write_bytes(buf.getvalue())
    (root / "m1" / "a.txt").write_text("a prompt")
    (root / "m1" / "bad.png").write_bytes(b"nope")
    (root / "m1" / "bad.txt").write_text("another")
    args = [
        "import-folder",
        str(root),
        "--study",
        "imp",
        "--db",
        db_url,
        "--data-dir",
        str(tmp_path / "data"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output  # the rest imported, but a file was skipped
    assert "imported 1, already present 0, errors 1" in result.output
    assert "m1/bad.png" in result.output
    again = runner.invoke(app, args)
    assert "imported 0, already present 1, errors 1" in again.output
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        images = catalog.list_images(session, studies.get_study(session, "imp"))
        assert [(i.model.name, i.prompt.text) for i in images] == [("m1", "a prompt")]
    engine.dispose()
    assert list((tmp_path / "data" / "media").rglob("*.png"))


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (4, 5, 6)).save(buf, format="PNG")
    return buf.getvalue()


def _import(tmp_path, root, db_url):
    args = ["import-folder", str(root), "--study", "imp", "--db", db_url, "--data-dir", str(tmp_path / "d")]
    return runner.invoke(app, args)


def test_import_folder_exits_zero_only_when_nothing_was_skipped(tmp_path, db_url):
    """A top-level README or LICENSE is not a problem: it is noted as ignored and the exit status is 0."""
    root = tmp_path / "gens"
    (root / "m1").mkdir(parents=True)
    (root / "m1" / "a.png").write_bytes(_png())
    (root / "m1" / "a.txt").write_text("a prompt")
    (root / "README.md").write_text("generated on 2026-11-01\n")
    (root / "LICENSE").write_text("CC-BY\n")
    result = _import(tmp_path, root, db_url)
    assert result.exit_code == 0, result.output
    assert "imported 1, already present 0, errors 0" in result.output
    assert "Ignored 2 top-level file(s) that are not images: LICENSE, README.md" in result.output
    (root / "m1" / "b.png").write_bytes(b"not an image")
    (root / "m1" / "b.txt").write_text("b prompt")
    again = _import(tmp_path, root, db_url)
    assert again.exit_code == 3, again.output
    assert "imported 0, already present 1, errors 1" in again.output


def test_import_folder_reports_names_that_are_not_utf8_and_imports_the_rest(tmp_path, db_url):
    import os

    root = tmp_path / "gens"
    (root / "m1").mkdir(parents=True)
    (root / "m1" / "a.png").write_bytes(_png())
    (root / "m1" / "a.txt").write_text("a prompt")
    bad = os.fsencode(root / "m1") + b"/caf\xe9.png"
    with open(bad, "wb") as fh:
        fh.write(_png())
    with open(bad[:-4] + b".txt", "wb") as fh:
        fh.write(b"a cafe")
    (root / "m1" / "[bold]odd.png").write_bytes(b"nope")  # shown as typed, not read as markup
    (root / "m1" / "[bold]odd.txt").write_text("odd")
    result = _import(tmp_path, root, db_url)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "m1/caf\\xe9.png" in result.output and "not valid UTF-8" in result.output
    assert "m1/[bold]odd.png" in result.output
    assert "imported 1, already present 0, errors 2" in result.output


def test_db_upgrade_command_on_a_new_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'x.db'}"
    result = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0, result.output
    head = head_revision()
    assert f"schema revision {head}" in result.output
    current = runner.invoke(app, ["db", "current", "--db", url])
    assert f"database: {head}" in current.output


def test_db_upgrade_default_database_lives_in_the_data_dir(tmp_path):
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "imagearena.db").is_file()


def test_user_errors_exit_nonzero_without_a_traceback(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "imagearena", "import-folder", str(tmp_path / "missing"), "--study", "s",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "is not a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_storage_commands_and_options_are_documented():
    """docs/arena.md shows every storage command and option a user can type."""
    import click
    import typer.main

    docs = (Path(__file__).resolve().parents[2] / "docs" / "arena.md").read_text()
    section = docs[docs.index("## Storage and importing") :]
    group = typer.main.get_command(app)
    commands = {
        "import-folder": group.commands["import-folder"],
        "db upgrade": group.commands["db"].commands["upgrade"],
        "db current": group.commands["db"].commands["current"],
    }
    for name, command in commands.items():
        assert f"imagearena {name}" in section, name
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert any(opt in section for opt in param.opts), f"{name} {param.opts}"


def test_import_folder_sets_the_round_type(tmp_path, db_url):
    root = tmp_path / "gens"
    for model in ("m1", "m2"):
        (root / model).mkdir(parents=True)
        Image.new("RGB", (8, 8), (len(model), 2, 3)).save(root / model / "a.png")
        (root / model / "a.txt").write_text("a prompt")
    base = ["import-folder", str(root), "--study", "r4", "--db", db_url, "--data-dir", str(tmp_path / "d")]
    engine = make_engine(db_url)

    def round_type() -> str:
        with make_sessionmaker(engine)() as session:
            return studies.get_study(session, "r4").round_type

    try:
        assert runner.invoke(app, [*base, "--round-type", "best4"]).exit_code == 0
        assert round_type() == "best4"
        assert runner.invoke(app, base).exit_code == 0  # not given: left as it is
        assert round_type() == "best4"
        assert runner.invoke(app, [*base, "--round-type", "order4"]).exit_code == 0
        assert round_type() == "order4"
        assert runner.invoke(app, [*base, "--round-type", "best5"]).exit_code == 2
    finally:
        engine.dispose()
