"""All configuration in one object, read from arguments or IMAGEARENA_* environment variables.

Passed down explicitly; no module keeps settings in globals.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from imagearena.types import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IMAGEARENA_", extra="ignore")

    data_dir: Path = Field(default=Path("imagearena-data"), description="Images, the default database, keys.")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir.")
    host: str = Field(
        default="127.0.0.1", description="Address the server listens on; 0.0.0.0 for other machines."
    )
    port: int = Field(default=8000, description="Port the server listens on.")
    secret_key: str | None = Field(default=None, description="Signs match tokens; default: kept in data_dir.")
    admin_token: str | None = Field(default=None, description="Required for admin actions; default: kept in data_dir.")
    max_image_bytes: int = Field(
        default=MAX_IMAGE_BYTES, description="Largest image file accepted (import, scoring, generators)."
    )
    max_image_pixels: int = Field(
        default=MAX_IMAGE_PIXELS,
        description="Most pixels an image may have, all frames of an animation counted.",
    )
    elo_k: float = Field(default=32.0, description="K-factor of the online Elo ratings on the leaderboards.")
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body the server reads; larger ones get 413."
    )
    rate_limit_per_minute: int = Field(
        default=0,
        ge=0,
        description="Matches and votes each client may request per minute (429 beyond it); 0: no limit.",
    )
    vote_write_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="Longest a vote's database write may wait for locks or run (PostgreSQL) before a 503.",
    )

    generators_file: Path | None = Field(
        default=None,
        description="TOML file of named generator entries (backend, model, ...); default: generators.toml in data_dir.",
    )

    prompt_filter: str = Field(
        default="deny-list",
        description="Filter a live round's prompt passes before any generator runs: deny-list (built in) "
        "or one a package registers (entry points imagearena.prompt_filters).",
    )
    prompt_deny_terms: str = Field(
        default="",
        description="Words or phrases the deny-list filter refuses in live prompts, separated by commas.",
    )

    @property
    def generators_path(self) -> Path:
        return self.generators_file or self.data_dir / "generators.toml"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'imagearena.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"
