"""Settings, read from the environment (``ONEMAP_*``; libpq's ``PG*`` / ``DATABASE_URL``)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


@cache
def project_root() -> Path:
    """The checkout holding ``layers/`` (``ONEMAP_ROOT`` overrides)."""
    env = os.environ.get("ONEMAP_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2]


class DbSettings(BaseSettings):
    """Where the database is, and the project-run cluster's own facts."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_DB_")

    host: str = "127.0.0.1"
    port: int = 55432
    name: str = "onemap"
    owner: str = "onemap_owner"
    reader: str = "onemap_reader"
    # Citizen reports (onemap.reports): INSERT-only intake role, staff role behind tokens.
    intake: str = "onemap_intake"
    staff: str = "onemap_staff"
    state_dir: Path = Field(default_factory=lambda: project_root() / ".onemap")
    pg_bin: Path = Path("/usr/lib/postgresql/15/bin")


class ServeSettings(BaseSettings):
    """Where pygeoapi listens and how it is reached."""

    model_config = SettingsConfigDict(env_prefix="ONEMAP_")

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    public_url: str | None = None

    @property
    def url(self) -> str:
        """The URL clients use (``ONEMAP_PUBLIC_URL`` behind a proxy)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")
