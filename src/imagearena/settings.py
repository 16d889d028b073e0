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
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str | None = Field(default=None, description="Signs match tokens; default: kept in data_dir.")
    admin_token: str | None = Field(default=None, description="Required for admin actions; default: kept in data_dir.")
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_image_pixels: int = MAX_IMAGE_PIXELS
    elo_k: float = 32.0
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body the server reads; larger ones get 413."
    )

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.data_dir / 'imagearena.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"
