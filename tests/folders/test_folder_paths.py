"""The one resolver from a requested name to a file inside the folder: every escape is refused."""

from __future__ import annotations

import os

import pytest
from folder_files import image_bytes

from imagearena.folders.paths import PathRefused, check_name, resolve_inside


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pics"
    (root / "sub").mkdir(parents=True)
    (root / "a.png").write_bytes(image_bytes())
    (root / "sub" / "b.png").write_bytes(image_bytes())
    (tmp_path / "secret.png").write_bytes(image_bytes())
    return root.resolve()


def test_plain_names_resolve_to_the_file(folder):
    assert resolve_inside(folder, "a.png") == folder / "a.png"
    assert resolve_inside(folder, "sub/b.png") == folder / "sub" / "b.png"


@pytest.mark.parametrize(
    "name",
    [
        "../secret.png",
        "sub/../../secret.png",
        "sub/../a.png",  # even one that would land inside: '..' is never accepted
        "./a.png",
        "sub//b.png",
        "%2e%2e/secret.png",
        "%2E%2E%2Fsecret.png",
        "..%2fsecret.png",
        "..%5csecret.png",
        "%252e%252e/secret.png",  # encoded twice
        "..\\secret.png",
        "sub\\b.png",
        "/etc/passwd",
        "C:/Windows/win.ini",
        "c:secret.png",
        "a.png\x00.txt",
        "a\npng",
        "",
    ],
)
def test_escapes_and_odd_names_are_refused(folder, name):
    with pytest.raises(PathRefused) as exc:
        resolve_inside(folder, name)
    assert exc.value.http_status == 404


def test_an_absolute_path_to_a_real_file_is_refused(folder):
    with pytest.raises(PathRefused):
        resolve_inside(folder, str(folder / "a.png"))


def test_symlinks_leaving_the_folder_are_refused(folder, tmp_path):
    os.symlink(tmp_path / "secret.png", folder / "link.png")
    os.symlink(tmp_path, folder / "up")
    with pytest.raises(PathRefused, match="leaves the folder"):
        resolve_inside(folder, "link.png")
    with pytest.raises(PathRefused, match="leaves the folder"):
        resolve_inside(folder, "up/secret.png")


def test_symlinks_within_the_folder_are_followed(folder):
    os.symlink(folder / "sub" / "b.png", folder / "alias.png")
    assert resolve_inside(folder, "alias.png") == folder / "sub" / "b.png"


def test_a_symlink_to_a_fifo_is_refused_without_blocking(folder):
    os.mkfifo(folder / "pipe")
    os.symlink(folder / "pipe", folder / "pipe.png")
    with pytest.raises(PathRefused, match="not a regular file"):
        resolve_inside(folder, "pipe.png")
    with pytest.raises(PathRefused, match="not a regular file"):
        resolve_inside(folder, "sub")  # a folder is not an image either


def test_missing_files_are_not_found(folder):
    with pytest.raises(PathRefused, match="no image"):
        resolve_inside(folder, "nope.png")


def test_check_name_keeps_plain_names():
    assert check_name("x/y z (1).png") == "x/y z (1).png"
    assert check_name("100%.png") == "100%.png"  # a percent that encodes nothing is a plain character
