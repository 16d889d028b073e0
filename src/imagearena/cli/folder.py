"""CLI command: `imagearena rank-folder DIR`: rank the images of a folder in the browser, in place.

No desktop dialog: the folder is an argument and the ranker is a web page, so it works on a remote
machine through SSH port forwarding (``ssh -L 8000:127.0.0.1:8000 host``). The ranking's state is a
database (SQLite under the data dir, one file per folder, unless ``--state`` names another); running the
command again on the same folder resumes it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from imagearena.cli.app import app, console
from imagearena.types import RoundType

if TYPE_CHECKING:
    from imagearena.arena.folder import OpenedFolder
    from imagearena.arena.runtime import Arena
    from imagearena.settings import Settings


#: Folders with at least this many image files are read while the server already answers (a loading
#: page); smaller ones before it starts, which serves their first round sooner.
BACKGROUND_SCAN_FILES = 20_000


def data_home() -> Path:
    """Where rankings live without ``--data-dir`` or IMAGEARENA_DATA_DIR: the user's data folder, the
    same whatever directory the command runs from (so a rerun finds the ranking again)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "imagearena"


def _settings(
    folder: Path, data_dir: Path | None, state: str | None, host: str | None, port: int | None
) -> Settings:
    from imagearena.arena.folder import default_state_url
    from imagearena.folders.paths import resolve_folder
    from imagearena.settings import Settings

    root = resolve_folder(folder)
    chosen = data_dir or (None if os.environ.get("IMAGEARENA_DATA_DIR") else data_home())
    base = Settings() if chosen is None else Settings(data_dir=chosen)
    overrides: dict[str, object] = {"db_url": state or default_state_url(base.data_dir, root)}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    return Settings(**{**base.model_dump(), **overrides})


@app.command("rank-folder")
def rank_folder(
    folder: Path = typer.Argument(..., help="The folder of images to rank (subfolders included)."),
    mode: RoundType | None = typer.Option(
        None,
        "--mode",
        help="pair: two images; best4: pick the best of four; order4: order four "
        "(default: what the ranking used last; pair for a new one).",
    ),
    host: str | None = typer.Option(None, "--host", help="Interface to listen on (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (default 8000)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser window."),
    state: str | None = typer.Option(
        None,
        "--state",
        help="Database URL of the ranking (default: SQLite under the data dir, one per folder).",
    ),
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Keys, thumbnails and default state (default ~/.local/share/imagearena)."
    ),
    prompts: Path | None = typer.Option(
        None, "--prompts", help="Prompts file (JSONL or CSV: file, prompt) instead of the folder's own."
    ),
    prerank: str | None = typer.Option(
        None,
        "--prerank",
        help="Score every image with this scorer first (e.g. imagereward; the 'score' extra).",
    ),
    import_log: Path | None = typer.Option(
        None, "--import", help="Replay a decision log (votes.csv/.jsonl, or Image Ranker's Winner,Loser CSV)."
    ),
    export: Path | None = typer.Option(None, "--export", help="Write the rankings CSV here and exit."),
    export_log: Path | None = typer.Option(
        None,
        "--export-log",
        help="Write the decision log here (.jsonl: battle-log JSON Lines, else CSV) and exit.",
    ),
    copy_to: Path | None = typer.Option(
        None,
        "--copy-to",
        help="Copy the images, best first with rank prefixes, into this new folder and exit.",
    ),
    sidecar: Path | None = typer.Option(
        None, "--sidecar", help="Write the rankings as one JSON file here and exit."
    ),
    no_serve: bool = typer.Option(False, "--no-serve", help="Stop after the scan, --import and --prerank."),
) -> None:
    """Rank the images of FOLDER in the browser: pairs, best of four or an order of four. Images are
    served from FOLDER in place and nothing is written there; state is kept so a rerun resumes."""
    from imagearena.arena import folder as ranker
    from imagearena.arena.database import prepare_server, shown_url
    from imagearena.arena.runtime import Arena
    from imagearena.cli.arena import _check_port_free
    from imagearena.folders.paths import resolve_folder
    from imagearena.folders.scan import count_candidates

    settings = _settings(folder, data_dir, state, host, port)
    ranker.check_outside(resolve_folder(folder), settings.data_dir)
    ranker.check_state_outside(resolve_folder(folder), settings.database_url)
    serving = not no_serve and all(p is None for p in (export, export_log, copy_to, sidecar))
    if serving:
        _check_port_free(settings.host, settings.port)  # before the scan, not after it
    out = console()
    prepare_server(settings)
    arena = Arena(settings)

    def after_open(opened: OpenedFolder) -> None:
        """What follows the scan: the report, then --import and --prerank."""
        _report_open(opened)
        out.print(f"State: {shown_url(settings.database_url)}")
        if import_log is not None:
            done = ranker.import_log(arena, opened.study, import_log)
            out.print(f"Imported {done.decisions} decisions ({done.kind} log) from {import_log}")
            for position, why in done.skipped[:20]:
                out.print(f"  decision {position} skipped: {why}")
            if len(done.skipped) > 20:
                out.print(f"  ... and {len(done.skipped) - 20} more skipped")
        if prerank is not None:
            scored = ranker.prerank(arena, opened.study, prerank)
            out.print(
                f"Pre-ranked by {scored.scorer}: {scored.scored} scored now, {scored.already_scored} before, "
                f"{len(scored.failed)} failed"
            )

    try:
        if (
            serving
            and count_candidates(resolve_folder(folder), BACKGROUND_SCAN_FILES) >= BACKGROUND_SCAN_FILES
        ):
            # a large folder: answer at once (a loading page) while the folder is read in the background
            study = ranker.begin_loading(arena, folder, mode)
            reader = threading.Thread(
                target=_load_in_background,
                args=(arena, folder, mode, prompts, after_open),
                name="folder-scan",
                daemon=True,
            )
            reader.start()
            _serve(settings, arena, study, open_browser=not no_browser)
            return
        # a smaller folder is read first: its rounds are ready sooner without a scan competing with the
        # server's start for the interpreter
        with out.status(f"Scanning {folder} ...") as status:  # shown on a terminal only

            def progress(count: int) -> None:
                status.update(f"Scanning {folder}: {count:,} files examined ...")

            opened = ranker.open_folder(
                arena, folder, round_type=mode, prompts_file=prompts, on_progress=progress
            )
        after_open(opened)
        _write_files(arena, opened.study, export, export_log, copy_to, sidecar)
        if serving:
            _serve(settings, arena, opened.study, open_browser=not no_browser)
    finally:
        arena.close()  # after the server stops: what the vote writer holds is written


def _load_in_background(
    arena: Arena,
    folder: Path,
    mode: RoundType | None,
    prompts: Path | None,
    then: Callable[[OpenedFolder], None],
) -> None:
    """Read the folder while the server answers; a failure is printed and shown on the loading page."""
    from imagearena.arena import folder as ranker
    from imagearena.errors import ImageArenaError

    try:
        ranker.load_folder(arena, folder, round_type=mode, prompts_file=prompts, then=then)
    except ImageArenaError as exc:
        console(stderr=True).print(f"Error: {exc}", markup=False, highlight=False)
    except Exception:
        import logging

        logging.getLogger("imagearena.folder").exception("reading %s failed", folder)


def _report_open(opened: OpenedFolder) -> None:
    out = console()
    counts = opened.sync
    verb = "New ranking" if opened.created else "Resumed"
    out.print(
        f"{verb} [bold]{opened.study}[/] of {opened.root}: {opened.images} images, mode {opened.round_type.value} "
        f"(scan {opened.scan_s:.1f} s, sync {opened.sync_s:.1f} s)"
    )
    if not opened.created and (counts.added or counts.changed or counts.missing or counts.returned):
        out.print(
            f"Since the last run: {counts.added} added, {counts.changed} changed, {counts.missing} gone, "
            f"{counts.returned} back"
        )
    if opened.skipped:
        out.print(f"Skipped {len(opened.skipped)} files:")
        for item in opened.skipped[:50]:
            out.print(f"  {item.name}: {item.reason}: {item.message}", markup=False, highlight=False)
        if len(opened.skipped) > 50:
            out.print(f"  ... and {len(opened.skipped) - 50} more")
    for where, message in opened.prompt_problems[:20]:
        out.print(f"  prompts {where}: {message}", markup=False, highlight=False)


def _write_files(
    arena: Arena,
    study: str,
    export: Path | None,
    log: Path | None,
    copy_to: Path | None,
    sidecar: Path | None,
) -> None:
    from imagearena.arena import folder as ranker

    out = console()
    if export is not None:
        out.print(f"Wrote {ranker.export_rankings(arena, study, export)} images' rankings to {export}")
    if log is not None:
        out.print(f"Wrote {ranker.export_log(arena, study, log)} battles to {log}")
    if copy_to is not None:
        out.print(f"Copied {ranker.copy_ranked(arena, study, copy_to)} images, best first, into {copy_to}")
    if sidecar is not None:
        out.print(f"Wrote {ranker.write_sidecar(arena, study, sidecar)} images' rankings to {sidecar}")


def _serve(settings: Settings, arena: Arena, study: str, *, open_browser: bool) -> None:
    import webbrowser

    import uvicorn

    from imagearena.web.app import create_app
    from imagearena.web.folder import ranker_path

    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{host}:{settings.port}{ranker_path(study)}"
    out = console()
    out.print(f"Ranker at [link={url}]{url}[/link]   study: [bold]{study}[/]")
    out.print(
        f"From another machine: ssh -L {settings.port}:127.0.0.1:{settings.port} <this host>, then open the URL"
    )
    out.print("Press Ctrl+C to stop; run the same command again to resume.")
    if open_browser:
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    uvicorn.run(
        create_app(settings, arena=arena),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )
