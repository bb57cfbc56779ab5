"""One settings object for the whole app, read from MATCHMAKER_* environment variables."""

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHMAKER_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./matchmaker.db"
    secret_key: str = "dev-insecure-change-me"
    io_table: str | None = None
    language: str = "it"
    # PostgreSQL pool: 2 uvicorn workers x (5 + 5 overflow) stays well under max_connections=100.
    pool_size: int = 5
    max_overflow: int = 5
    sqlite_busy_timeout_ms: int = 10_000
    # Build the recommender index in the background at startup (readiness waits for it), then
    # follow the change feed every index_refresh_seconds (0: only on demand).
    warm_index_on_start: bool = True
    index_refresh_seconds: float = 5.0
    # The largest request body in general, and for an association's members file (a
    # 50,000-row firms CSV with full profiles is about 23 MB); both answer 413 above it.
    max_upload_bytes: int = 20 * 1024 * 1024
    max_import_upload_bytes: int = 64 * 1024 * 1024
    templates_dir: Path = PROJECT_ROOT / "templates"
    static_dir: Path = PROJECT_ROOT / "static"
    cache_dir: Path = Path.home() / ".cache" / "matchmaker"


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()
