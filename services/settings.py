"""Settings from the environment (prefix CASESTREAM_) or explicit arguments; one place for defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings. `CASESTREAM_DB` selects the store (default: a SQLite file in the working dir)."""

    model_config = SettingsConfigDict(env_prefix="CASESTREAM_", extra="ignore")

    db: str = Field(default="sqlite:///casestream.db", description="event store URL")
    ingest_batch_size: int = Field(default=2000, ge=1, le=100_000)
    small_cell_threshold: int = Field(default=5, ge=1)
    investigation_limit_days: int = Field(default=120, ge=1)
    var_dir: Path = Field(default=Path("var"), description="runtime files: logs, demo store")

    # --- metrics (issue 6): exporter and per-process /metrics endpoints ------------------------------
    exporter_host: str = Field(default="127.0.0.1", description="address the KPI exporter listens on")
    exporter_port: int = Field(default=9464, ge=0, le=65535, description="KPI exporter port")
    worker_metrics_port: int = Field(default=9465, ge=0, le=65535,
                                     description="worker i serves its own /metrics on this port + i")
    metrics_as_of: date | None = Field(default=None, description="business day the KPI gauges refer to; "
                                       "unset = today in Europe/Stockholm")
