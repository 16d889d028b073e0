"""The folder scan: headers only, bad files listed with their reason, prompts from every source."""

from __future__ import annotations

import json
import os

import pytest
from folder_files import bomb_png, image_bytes, make_folder, noisy_bytes, png_with_text, write_prompts

from imagearena.folders.scan import scan_folder
from imagearena.media import ImageRejected, Limits, read_header


def _scan(root, **kw):
    return scan_folder(root.resolve(), **kw)


def test_images_are_found_in_subfolders_sorted_with_their_headers(tmp_path):
    names = make_folder(tmp_path / "f", 12, subfolders=3)
    (tmp_path / "f" / "notes.md").write_text("not an image")
    (tmp_path / "f" / ".hidden.png").write_bytes(image_bytes())
    (tmp_path / "f" / ".cache").mkdir()
    (tmp_path / "f" / ".cache" / "x.png").write_bytes(image_bytes())
    scan = _scan(tmp_path / "f")
    assert [i.name for i in scan.images] == names
    first = scan.images[0]
    assert (first.format, first.width, first.height) == ("PNG", 8, 6)
    assert first.size_bytes == (tmp_path / "f" / first.name).stat().st_size
    assert first.mtime_ns == (tmp_path / "f" / first.name).stat().st_mtime_ns
    assert scan.skipped == []


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_truncated_files_are_skipped_as_corrupt(tmp_path, fmt):
    data = noisy_bytes(fmt)
    (tmp_path / f"cut.{fmt.lower()}").write_bytes(data[: len(data) * 2 // 3])
    (tmp_path / f"whole.{fmt.lower()}").write_bytes(data)
    scan = _scan(tmp_path)
    assert [i.name for i in scan.images] == [f"whole.{fmt.lower()}"]
    [skipped] = scan.skipped
    assert (skipped.name, skipped.reason) == (f"cut.{fmt.lower()}", "corrupt")


def test_bad_files_are_listed_with_their_reason_and_the_rest_goes_on(tmp_path):
    root = tmp_path / "f"
    make_folder(root, 3)
    (root / "bomb.png").write_bytes(bomb_png())
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_bytes(b"hello, not a jpeg at all")
    (root / "big.png").write_bytes(image_bytes(size=(64, 64)))
    (root / "scan.bmp").write_bytes(image_bytes("BMP"))
    os.mkfifo(root / "pipe.png")
    (root / "locked.png").write_bytes(image_bytes())
    (root / "locked.png").chmod(0)
    limits = Limits(max_bytes=len(image_bytes(size=(64, 64))) - 1)
    scan = _scan(root, limits=limits)
    reasons = {s.name: s.reason for s in scan.skipped}
    expected = {
        "bomb.png": "too-many-pixels",
        "empty.png": "not-an-image",
        "text.jpg": "not-an-image",
        "big.png": "oversized",
        "scan.bmp": "not-an-image",
        "pipe.png": "special-file",
    }
    if os.geteuid() != 0:  # root reads any file
        expected["locked.png"] = "unreadable"
    for name, reason in expected.items():
        assert reasons[name] == reason, (name, scan.skipped)
    assert len(scan.images) == 3 + (os.geteuid() == 0)
    assert all(s.message for s in scan.skipped)


def test_symlinks_out_of_the_folder_are_skipped_and_inside_kept(tmp_path):
    root = tmp_path / "f"
    make_folder(root, 1)
    (tmp_path / "outside.png").write_bytes(image_bytes())
    os.symlink(tmp_path / "outside.png", root / "escape.png")
    os.symlink(root / "img00000.png", root / "again.png")
    os.symlink(tmp_path, root / "looped")  # a symlinked folder is not walked
    scan = _scan(root)
    assert [i.name for i in scan.images] == ["again.png", "img00000.png"]
    assert [(s.name, s.reason) for s in scan.skipped] == [("escape.png", "outside")]


def test_names_no_database_can_store_are_skipped(tmp_path):
    root = tmp_path / "f"
    root.mkdir()
    (root / "tab\there.png").write_bytes(image_bytes())
    os.close(os.open(os.fsencode(root) + b"/latin\xe9.png", os.O_CREAT | os.O_WRONLY))
    scan = _scan(root)
    assert scan.images == []
    assert {s.reason for s in scan.skipped} == {"bad-name"}


def test_prompts_come_from_sidecar_then_file_then_png_text(tmp_path):
    root = tmp_path / "f"
    root.mkdir()
    a1111 = "a red fox in snow\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7"
    comfy = json.dumps(
        {
            "3": {"class_type": "KSampler", "inputs": {"positive": ["6", 0], "negative": ["7", 0]}},
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk"}},
            "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly"}},
        }
    )
    (root / "side.png").write_bytes(png_with_text({"parameters": a1111}))
    (root / "side.txt").write_text("  the sidecar wins  \n")
    (root / "listed.png").write_bytes(png_with_text({"parameters": a1111}))
    (root / "a1111.png").write_bytes(png_with_text({"parameters": a1111}))
    (root / "short.png").write_bytes(png_with_text({"parameters": "just a prompt\nSteps: 4, Seed: 1"}))
    (root / "comfy.png").write_bytes(png_with_text({"prompt": comfy}))
    (root / "plain.png").write_bytes(image_bytes())
    rows = [("listed.png", "from the prompts file"), ("../x.png", "refused")]
    write_prompts(root / "prompts.jsonl", rows, then="not json\n")
    scan = _scan(root)
    prompts = {i.name: i.prompt for i in scan.images}
    assert prompts == {
        "a1111.png": "a red fox in snow",
        "comfy.png": "a lighthouse at dusk",
        "listed.png": "from the prompts file",
        "plain.png": None,
        "short.png": "just a prompt",
        "side.png": "the sidecar wins",
    }
    assert [where for where, _ in scan.prompt_problems] == ["prompts.jsonl:2", "prompts.jsonl:3"]


def test_an_explicit_prompts_file_replaces_the_folders_own(tmp_path):
    root = tmp_path / "f"
    make_folder(root, 2, subfolders=2)
    (root / "prompts.csv").write_text("file,prompt\nimg00000.png,from the folder\n")
    other = tmp_path / "mine.csv"
    other.write_text("image,caption\nset01/img00001.png,by path\nimg00000.png,by bare name\n")
    assert {i.name: i.prompt for i in _scan(root).images} == {
        "set00/img00000.png": "from the folder",
        "set01/img00001.png": None,
    }
    assert {i.name: i.prompt for i in _scan(root, prompts_file=other).images} == {
        "set00/img00000.png": "by bare name",
        "set01/img00001.png": "by path",
    }


def test_a_sidecar_symlinked_out_of_the_folder_is_not_read(tmp_path):
    root = tmp_path / "f"
    make_folder(root, 1)
    (tmp_path / "secret.txt").write_text("secret words")
    os.symlink(tmp_path / "secret.txt", root / "img00000.txt")
    assert _scan(root).images[0].prompt is None


def test_read_header_decodes_no_pixels(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(3000, 3000))  # 9 Mpx claimed, a few dozen bytes of data
    header = read_header(path)  # a full decode would fail on the missing pixel rows
    assert (header.format, header.width, header.height) == ("PNG", 3000, 3000)
    with pytest.raises(ImageRejected) as exc:
        read_header(path, Limits(max_pixels=3000 * 3000 - 1))
    assert exc.value.reason == "too-many-pixels"


def test_png_headers_read_as_pillow_reads_them(tmp_path):
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "plain latin text")
    info.add_text("prompt", "zipped " * 50, zip=True)
    info.add_itxt("comment", "ünïcödé 🐈", lang="en", tkey="Kommentar")
    info.add_itxt("big", "z" * 5000, zip=True)
    path = tmp_path / "t.png"
    Image.new("RGB", (7, 5)).save(path, pnginfo=info)
    header = read_header(path)
    with Image.open(path) as img:
        expected = {k: v for k, v in img.info.items() if isinstance(v, str)}
    assert (header.format, header.width, header.height) == ("PNG", 7, 5)
    assert dict(header.text) == expected and len(expected) == 4
    for cut in (20, 40, len(path.read_bytes()) - 5):
        (tmp_path / "cut.png").write_bytes(path.read_bytes()[:cut])
        with pytest.raises(ImageRejected) as exc:
            read_header(tmp_path / "cut.png")
        assert exc.value.reason == "corrupt"


def test_a_long_scan_reports_its_progress(tmp_path, monkeypatch):
    import imagearena.folders.scan as scan_module

    monkeypatch.setattr(scan_module, "PROGRESS_EVERY", 4)
    make_folder(tmp_path / "f", 10)
    seen: list[int] = []
    assert len(_scan(tmp_path / "f", on_progress=seen.append).images) == 10
    assert seen == [4, 8]


def test_candidates_are_counted_without_opening_them(tmp_path):
    from imagearena.folders.scan import count_candidates

    make_folder(tmp_path / "f", 7, subfolders=2)
    (tmp_path / "f" / "notes.txt").write_text("not counted")
    (tmp_path / "f" / "bad.png").write_bytes(b"not even an image: counted, skipped later by the scan")
    assert count_candidates(tmp_path / "f") == 8
    assert count_candidates(tmp_path / "f", stop_at=3) == 3
