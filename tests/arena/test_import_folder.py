"""import-folder on real files: good images, every kind of bad file, idempotency and path tricks."""

from __future__ import annotations

import io
import json
import os

import pytest
from folder_files import write_prompts
from PIL import Image

from imagearena.arena.importing import import_folder
from imagearena.errors import InputError
from imagearena.media import Limits
from imagearena.storage import catalog, studies


def png(colour=(200, 30, 30), size=(24, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (32, 32), bytes((seed * 7 + i) % 256 for i in range(32 * 32 * 3))).save(
        buf, "JPEG"
    )
    return buf.getvalue()


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "gens"
    for model in ("sdxl", "flux"):
        (root / model).mkdir(parents=True)
    (root / "sdxl" / "cat.png").write_bytes(png((10, 10, 10)))
    (root / "sdxl" / "dog.png").write_bytes(png((20, 20, 20)))
    (root / "flux" / "cat.png").write_bytes(png((30, 30, 30)))
    (root / "flux" / "dog.jpg").write_bytes(jpeg(1))
    write_prompts(root / "prompts.jsonl", [("cat.png", "a cat"), ("dog.png", "a dog")])
    (root / "flux" / "dog.txt").write_text("a dog\n")  # sidecar
    return root


def summary(session, name="s"):
    study = studies.get_study(session, name)
    return sorted((i.model.name, i.prompt.text, i.format) for i in catalog.list_images(session, study))


def test_imports_good_files_with_model_and_prompt_bound(session, media_store, folder):
    report = import_folder(session, media_store, folder, "s")
    assert (report.imported, report.already, report.problems) == (4, 0, [])
    assert summary(session) == [
        ("flux", "a cat", "PNG"),
        ("flux", "a dog", "JPEG"),
        ("sdxl", "a cat", "PNG"),
        ("sdxl", "a dog", "PNG"),
    ]
    for image in catalog.list_images(session, studies.get_study(session, "s")):
        stored = media_store.read(image.sha256)
        assert len(stored) == image.size_bytes
        assert stored == (folder / image.model.name / os.path.basename(image.source)).read_bytes()


def test_reimport_adds_only_what_is_new_and_loses_nothing(session, media_store, folder):
    import_folder(session, media_store, folder, "s")
    first_ids = {i.id for i in catalog.list_images(session, studies.get_study(session, "s"))}
    (folder / "sdxl" / "bird.png").write_bytes(png((40, 40, 40)))
    (folder / "sdxl" / "bird.txt").write_text("a bird")
    (folder / "flux" / "cat.png").unlink()  # gone from disk: stays imported
    report = import_folder(session, media_store, folder, "s")
    assert (report.imported, report.already, report.errors) == (1, 3, 0)
    images = catalog.list_images(session, studies.get_study(session, "s"))
    assert first_ids < {i.id for i in images} and len(images) == 5
    again = import_folder(session, media_store, folder, "s")
    assert (again.imported, again.already) == (0, 4)


def test_csv_prompts_and_model_specific_names(session, media_store, tmp_path):
    root = tmp_path / "d"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "1.png").write_bytes(png((1, 1, 1)))
    (root / "b" / "1.png").write_bytes(png((2, 2, 2)))
    (root / "prompts.csv").write_text('file,prompt\n1.png,"a shared, quoted prompt"\nb/1.png,only for b\n')
    report = import_folder(session, media_store, root, "s")
    assert report.errors == 0
    assert summary(session) == [("a", "a shared, quoted prompt", "PNG"), ("b", "only for b", "PNG")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("truncated.png", lambda: png(size=(64, 64))[:60], "corrupt"),
        ("corrupt.jpg", lambda: jpeg(2)[:200] + b"\x00" * 50, "corrupt"),
        ("notes.png", lambda: b"just some text, not pixels", "not-an-image"),
        ("empty.png", lambda: b"", "not-an-image"),
        ("picture.bmp", lambda: _bmp(), "not-an-image"),
        ("huge.png", lambda: png(size=(300, 300)), "too-many-pixels"),
        ("big.png", lambda: png() + b"\x00" * 20_000, "oversized"),
    ],
)
def test_bad_files_are_reported_and_skipped(session, media_store, folder, name, content, reason):
    (folder / "sdxl" / name).write_bytes(content())
    (folder / "sdxl" / name).with_suffix(".txt").write_text("a broken one")
    report = import_folder(
        session, media_store, folder, "s", limits=Limits(max_bytes=10_000, max_pixels=50_000)
    )
    assert report.imported == 4  # the good files still go in
    assert [(p.path, p.reason) for p in report.problems] == [(f"sdxl/{name}", reason)]
    assert "a broken one" not in {
        p.text for p in catalog.study_prompts(session, studies.get_study(session, "s"))
    }


def _bmp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="BMP")
    return buf.getvalue()


def test_images_without_a_prompt_are_reported(session, media_store, folder):
    (folder / "sdxl" / "orphan.png").write_bytes(png((5, 6, 7)))
    report = import_folder(session, media_store, folder, "s")
    assert [(p.path, p.reason) for p in report.problems] == [("sdxl/orphan.png", "no-prompt")]
    assert "orphan.txt" in report.problems[0].message


def test_symlinks_leaving_the_folder_are_refused(session, media_store, folder, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "x.png").write_bytes(png((9, 9, 9)))
    (outside / "x.txt").write_text("a secret")
    (folder / "sdxl" / "link.png").symlink_to(outside / "x.png")
    (folder / "sdxl" / "link.txt").write_text("a link")
    (folder / "evilmodel").symlink_to(outside, target_is_directory=True)
    (folder / "flux" / "cat.txt").symlink_to(outside / "x.txt")  # a sidecar pointing out
    inside = folder / "sdxl" / "alias.png"
    inside.symlink_to(folder / "sdxl" / "cat.png")  # stays inside: fine
    (folder / "sdxl" / "alias.txt").write_text("an alias")
    report = import_folder(session, media_store, folder, "s")
    problems = {(p.path, p.reason) for p in report.problems}
    assert problems == {("sdxl/link.png", "outside"), ("evilmodel", "outside"), ("flux/cat.png", "outside")}
    prompts = {p.text for p in catalog.study_prompts(session, studies.get_study(session, "s"))}
    assert "a secret" not in prompts and "an alias" in prompts
    assert "evilmodel" not in {m.name for m in catalog.study_models(session, studies.get_study(session, "s"))}


@pytest.mark.parametrize(
    "bad", ["../outside.png", "/etc/passwd", "sdxl/../../x.png", "a/b/c.png", "..\\x.png"]
)
def test_prompt_file_names_that_climb_out_are_refused(session, media_store, folder, bad):
    write_prompts(folder / "prompts.jsonl", [(bad, "sneaky"), ("cat.png", "a cat")])
    (folder / "sdxl" / "dog.txt").write_text("a dog")
    report = import_folder(session, media_store, folder, "s")
    assert [(p.path, p.reason) for p in report.problems] == [("prompts.jsonl:1", "prompt-file")]
    assert report.imported == 4
    assert "sneaky" not in {p.text for p in catalog.study_prompts(session, studies.get_study(session, "s"))}


def test_bad_prompt_file_lines_are_reported(session, media_store, folder):
    (folder / "prompts.jsonl").write_text('{"file": "cat.png", "prompt": "a cat"}\nnot json\n{"x": 1}\n')
    (folder / "sdxl" / "dog.txt").write_text("a dog")
    report = import_folder(session, media_store, folder, "s")
    assert [p.path for p in report.problems] == ["prompts.jsonl:2", "prompts.jsonl:3"]
    assert report.imported == 4


def test_layout_problems_are_reported(session, media_store, folder):
    (folder / "stray.png").write_bytes(png())
    (folder / "sdxl" / "nested").mkdir()
    (folder / ".hidden").mkdir()
    report = import_folder(session, media_store, folder, "s")
    assert {(p.path, p.reason) for p in report.problems} == {
        ("stray.png", "layout"),
        ("sdxl/nested", "layout"),
    }


def test_missing_folder_and_bad_study_are_user_errors(session, media_store, tmp_path, folder):
    with pytest.raises(InputError, match="not a folder"):
        import_folder(session, media_store, tmp_path / "nope", "s")
    with pytest.raises(InputError, match="study name"):
        import_folder(session, media_store, folder, "no spaces")


def test_same_bytes_in_two_models_are_stored_once(session, media_store, folder):
    (folder / "flux" / "cat.png").write_bytes((folder / "sdxl" / "cat.png").read_bytes())
    import_folder(session, media_store, folder, "s")
    images = catalog.list_images(session, studies.get_study(session, "s"))
    cats = [i for i in images if i.prompt.text == "a cat"]
    assert len(cats) == 2 and cats[0].sha256 == cats[1].sha256
    assert len([p for p in media_store.root.rglob("*") if p.is_file()]) == 3


def test_import_holds_no_write_lock_while_it_reads_files(sqlite_url, media_store, folder):
    """A running server must be able to record votes during an import: between batches (while files
    are read and decoded) another connection can take SQLite's write lock at once."""
    import sqlite3

    from imagearena.storage.engine import make_engine, make_sessionmaker

    for i in range(5):
        (folder / "sdxl" / f"extra{i}.png").write_bytes(png((50 + i, 0, 0)))
        (folder / "sdxl" / f"extra{i}.txt").write_text(f"extra {i}")
    path = sqlite_url.removeprefix("sqlite:///")
    checks: list[str] = []

    def try_to_write(rel: str) -> None:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once with 'database is locked' if held
            other.execute("ROLLBACK")
            checks.append(rel)
        finally:
            other.close()

    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as session:
        # batch=2: several batches from the 9 files
        report = import_folder(session, media_store, folder, "s", on_file=try_to_write, batch=2)
    engine.dispose()
    assert report.imported == 9 and len(checks) == 9


def _bytes_path(folder, *names: bytes) -> bytes:
    """A path under ``folder`` spelled in bytes, so a name need not be valid UTF-8."""
    return b"/".join([os.fsencode(folder), *names])


def test_names_that_are_not_utf8_are_skipped_and_shown_escaped(session, media_store, folder):
    with open(_bytes_path(folder, b"sdxl", b"caf\xe9.png"), "wb") as fh:
        fh.write(png((60, 60, 60)))
    with open(_bytes_path(folder, b"sdxl", b"caf\xe9.txt"), "wb") as fh:
        fh.write(b"a cafe")
    os.mkdir(_bytes_path(folder, b"model-\xff"))
    with open(_bytes_path(folder, b"model-\xff", b"cat.png"), "wb") as fh:
        fh.write(png((70, 70, 70)))
    report = import_folder(session, media_store, folder, "s")
    assert report.imported == 4  # the rest of the batch goes in
    assert [(p.path, p.reason) for p in report.problems] == [
        ("model-\\xff", "bad-name"),
        ("sdxl/caf\\xe9.png", "bad-name"),
    ]
    assert all("not valid UTF-8" in p.message for p in report.problems)
    models = catalog.study_models(session, studies.get_study(session, "s"))
    assert {m.name for m in models} == {"sdxl", "flux"}


def test_prompts_no_database_can_store_are_reported(session, media_store, folder):
    (folder / "sdxl" / "nul.png").write_bytes(png((80, 80, 80)))
    (folder / "sdxl" / "nul.txt").write_text("a cat\x00 with a NUL")
    (folder / "flux" / "lone.png").write_bytes(png((90, 90, 90)))
    with (folder / "prompts.jsonl").open("a") as fh:
        fh.write(json.dumps({"file": "lone.png", "prompt": "half a pair \ud800"}) + "\n")
    report = import_folder(session, media_store, folder, "s")
    assert report.imported == 4
    assert [(p.path, p.reason) for p in report.problems] == [
        ("flux/lone.png", "bad-prompt"),
        ("sdxl/nul.png", "bad-prompt"),
    ]
    assert "NUL" in report.problems[1].message and "surrogate" in report.problems[0].message
    assert len(catalog.study_prompts(session, studies.get_study(session, "s"))) == 2


def test_fifos_are_reported_and_never_opened(session, media_store, folder):
    os.mkfifo(folder / "sdxl" / "pipe.png")  # opening it for reading would wait for a writer forever
    (folder / "sdxl" / "pipe.txt").write_text("a pipe")
    os.mkfifo(folder / "incoming")
    report = import_folder(session, media_store, folder, "s")
    assert report.imported == 4
    assert [(p.path, p.reason) for p in report.problems] == [
        ("incoming", "special-file"),
        ("sdxl/pipe.png", "special-file"),
    ]
    assert "FIFO" in report.problems[0].message


def test_a_broken_symlink_is_reported(session, media_store, folder):
    (folder / "sdxl" / "gone.png").symlink_to(folder / "sdxl" / "never-there.png")
    report = import_folder(session, media_store, folder, "s")
    assert [(p.path, p.reason) for p in report.problems] == [("sdxl/gone.png", "unreadable")]


def test_top_level_files_that_are_not_images_are_ignored(session, media_store, folder):
    (folder / "README.md").write_text("# my run\n")
    (folder / "LICENSE").write_text("CC-BY\n")
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    report = import_folder(session, media_store, folder, "s")
    assert (report.imported, report.problems) == (4, [])
    assert report.ignored == ["LICENSE", "README.md"]


def test_readable_name_escapes_what_a_user_cannot_read():
    from imagearena.arena.importing import readable_name

    assert readable_name(os.fsdecode(b"caf\xe9.png")) == "caf\\xe9.png"
    assert readable_name("caf\u00e9\n.png") == "caf\u00e9\\n.png"
    assert readable_name("lone \ud800") == "lone \\ud800"
    assert readable_name("plain/name.png") == "plain/name.png"
