"""The study page's import form: Post/Redirect/Get to a readable report page, bad files skipped, no 500."""

from __future__ import annotations

import os
import re

from PIL import Image
from seeding import STUDY

HTML = {"accept": "text/html"}


def _folder(tmp_path):
    """Two good images, a broken one, a prompt with a NUL, a name that is not UTF-8, and a README."""
    folder = tmp_path / "incoming"
    for k, model in enumerate(("delta", "epsilon")):
        (folder / model).mkdir(parents=True)
        Image.new("RGB", (8, 8), (200, 10 * k, 0)).save(folder / model / "cube.png")
        (folder / model / "cube.txt").write_text("a red cube")
    (folder / "delta" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "delta" / "broken.txt").write_text("a red cube")
    Image.new("RGB", (8, 8), (1, 1, 1)).save(folder / "epsilon" / "nul.png")
    (folder / "epsilon" / "nul.txt").write_text("a NUL \x00 here")
    with open(os.fsencode(folder / "epsilon") + b"/caf\xe9.png", "wb") as fh:
        fh.write((folder / "epsilon" / "cube.png").read_bytes())
    (folder / "README.md").write_text("what this run is\n")
    return folder


def _login(client, arena) -> None:
    r = client.post("/admin/login", data={"token": arena.admin_token}, follow_redirects=False)
    assert r.status_code == 303


def _images(client) -> int:
    return client.get(f"/api/v1/studies/{STUDY}").json()["study"]["images"]


def test_import_form_redirects_to_a_report_page_that_a_reload_does_not_resubmit(client, arena, tmp_path):
    _login(client, arena)
    before = _images(client)
    r = client.post(f"/studies/{STUDY}/import", data={"folder": str(_folder(tmp_path))}, follow_redirects=False)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(rf"/studies/{STUDY}/imports/[A-Za-z0-9_-]{{16}}", location)
    assert _images(client) == before + 2
    page = client.get(location, headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    summary = re.sub(r"<[^>]+>|\s+", " ", page.text.split('id="import-summary">')[1].split("</p>")[0])
    assert "2 images imported, 0 already present, 3 skipped; models: delta, epsilon" in " ".join(summary.split())
    for path, reason in (("delta/broken.png", "corrupt"), ("epsilon/caf\\xe9.png", "bad-name"),
                         ("epsilon/nul.png", "bad-prompt")):  # fmt: skip
        assert re.search(rf"<code>{re.escape(path)}</code></td><td[^>]*>{reason}</td>", page.text), path
    assert "README.md" in page.text and "{&#34;" not in page.text and '"problems"' not in page.text
    again = client.get(location, headers=HTML)  # a reload shows the same report and imports nothing
    assert again.text == page.text and _images(client) == before + 2


def test_import_report_pages_are_for_admins_and_their_own_study(client, arena, tmp_path):
    _login(client, arena)
    location = client.post(
        f"/studies/{STUDY}/import", data={"folder": str(_folder(tmp_path))}, follow_redirects=False
    ).headers["location"]
    report_id = location.rsplit("/", 1)[1]
    assert client.get(f"/studies/other/imports/{report_id}", headers=HTML).status_code == 404
    assert client.get(f"/studies/{STUDY}/imports/AAAAAAAAAAAAAAAA", headers=HTML).status_code == 404
    assert client.get(f"/studies/{STUDY}/imports/..%2F..%2Fsecret_key", headers=HTML).status_code == 404
    r = client.post("/studies/nope/import", data={"folder": str(tmp_path)}, headers=HTML, follow_redirects=False)
    assert r.status_code == 404
    client.cookies.clear()
    assert client.get(location, headers=HTML).status_code == 403


def test_reports_are_kept_private_and_bounded(tmp_path):
    from imagearena.arena import import_reports as reports

    ids = [reports.save_report(tmp_path, {"study": "s", "n": n}) for n in range(reports.REPORTS_KEPT + 5)]
    directory = tmp_path / reports.REPORTS_DIR
    assert len(list(directory.glob("*.json"))) == reports.REPORTS_KEPT
    assert reports.load_report(tmp_path, ids[-1]) == {"study": "s", "n": reports.REPORTS_KEPT + 4}
    assert (directory.stat().st_mode & 0o077, (directory / f"{ids[-1]}.json").stat().st_mode & 0o077) == (0, 0)
