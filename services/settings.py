"""Settings from the environment (prefix CASESTREAM_) or explicit arguments; one place for defaults."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime settings. `CASESTREAM_DB` selects the store (default: a SQLite file in the working dir)."""

    model_config = SettingsConfigDict(env_prefix="CASESTREAM_", extra="ignore")

    db: str = Field(default="sqlite:///casestream.db", description="event store URL")
    ingest_batch_size: int = Field(default=2000, ge=1, le=100_000)
    small_cell_threshold: int = Field(default=5, ge=1)
    investigation_limit_days: int = Field(default=120, ge=1)
    var_dir: Path = Field(default=Path("var"), description="runtime files: logs, demo store")

    # --- pipeline (issue 11): broker, topics, relay, worker, read models -------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CASESTREAM_KAFKA_BOOTSTRAP_SERVERS"),
        description="a real Kafka/Redpanda cluster; unset = the embedded Tansu broker")
    kafka_security_protocol: str = Field(default="PLAINTEXT",
                                         description="PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL")
    kafka_sasl_mechanism: str | None = Field(default=None,
                                             description="PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None
    broker_port: int = Field(default=0, ge=0, le=65535, description="embedded broker port (0 = a free port)")
    topic_case_events: str = "case-events"
    topic_dead_letter: str = "case-events-dead-letter"
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    broker_session_timeout: float = Field(default=6.0, ge=6.0, description="group session, s (never below 6)")
    broker_heartbeat_interval: float = Field(default=1.0, gt=0)
    broker_rebalance_timeout: float = Field(default=12.0, gt=0)
    consumer_auto_offset_reset: str = Field(default="earliest", pattern="^(earliest|latest|none)$")
    relay_batch_size: int = Field(default=2000, ge=1)
    relay_poll_interval: float = Field(default=0.2, gt=0, description="s between store polls when idle")
    worker_group: str = "casestream-projector"
    worker_batch_max: int = Field(default=5000, ge=1)
    worker_web_port: int = Field(default=6066, ge=0, le=65535)
    worker_decode_processes: int = Field(default=1, ge=0, description="validating processes, 0 = inline")
    worker_helper_writes: bool = Field(
        default=True, description="with a helper process: it validates AND writes the batches (one helper)"
    )
    readmodel_db: str | None = Field(default=None, description="read-model URL; unset = beside the store")
    pipeline_signing_key: SecretStr | None = Field(
        default=None, description="hex key (32-128 hex digits) the relay signs messages with and workers "
        "verify; unset = a random key kept in the read-model database (services/kafka/signing.py)")

    # --- audit replay (issue 7): the page memo (services/audit/page_memo.py) ---------------------------
    replay_memo: bool = Field(default=True, description="replay and diff keep gathered pages in a memo "
                              "and take them from it (verify never does)")
    replay_memo_dir: Path | None = Field(default=None, description="the page memo's folder; unset = "
                                         "<var_dir>/replay-memo")

    def replay_memo_folder(self) -> Path | None:
        """The page memo's folder for replay and diff (None: no memo)."""
        if not self.replay_memo:
            return None
        return self.replay_memo_dir if self.replay_memo_dir is not None else self.var_dir / "replay-memo"

    # --- UI (issue 5): the Streamlit front end -----------------------------------------------------------
    ui_host: str = Field(default="127.0.0.1", description="address the Streamlit UI listens on")
    ui_port: int = Field(default=8501, ge=0, le=65535, description="Streamlit UI port")

    # --- metrics (issue 6): exporter and per-process /metrics endpoints ------------------------------
    exporter_host: str = Field(default="127.0.0.1", description="address the KPI exporter listens on")
    exporter_port: int = Field(default=9464, ge=0, le=65535, description="KPI exporter port")
    worker_metrics_port: int = Field(default=9465, ge=0, le=65535,
                                     description="worker i serves its own /metrics on this port + i")
    relay_metrics_port: int = Field(default=9466, ge=0, le=65535, description="the relay's own /metrics port")
    metrics_as_of: date | None = Field(default=None, description="business day the KPI gauges refer to; "
                                       "unset = today in Europe/Stockholm")

    # --- forecast (issue 8): the simulated band ------------------------------------------------------
    forecast_seed: int = Field(default=2021, description="seed of random.Random for the forecast simulation")
    forecast_simulations: int = Field(default=1000, ge=10, le=100_000, description="simulations per forecast")
    forecast_scenario_dir: Path | None = Field(
        default=None, description="folder of scenario files (YAML/JSON) the Prognos page offers")
    ui_forecast_history_max_events: int = Field(
        default=20_000, ge=0, description="the Prognos page draws the month-end band history by default "
        "up to this many events in the store")

    # --- simulator and demo (issue 4) ------------------------------------------------------------------
    test_scale: str = Field(default="full", pattern="^(small|full)$",
                            description="small = shrunken heavy runs (CI; the demo simulates one month)")
    demo_db: str = Field(default="sqlite:///var/demo/store.db", description="the demo's embedded store")
    demo_seed: int = Field(default=1880, description="seed of random.Random for the demo history")

    # --- sign-in, roles and access log (issue 9): Streamlit's OIDC login, docs/ui.md "Sign-in" ---------
    auth_enabled: bool = Field(default=False, description="OIDC sign-in; off = every UI user has auth_role")
    auth_server_metadata_url: str | None = Field(
        default=None, description="the provider's .well-known/openid-configuration URL")
    auth_client_id: str | None = Field(default=None, description="the UI's OIDC client id")
    auth_client_secret: SecretStr | None = Field(default=None, description="the UI's OIDC client secret")
    auth_redirect_uri: str | None = Field(
        default=None, description="absolute URL ending in /oauth2callback; unset = http://ui_host:ui_port/…")
    auth_cookie_secret: SecretStr | None = Field(
        default=None, description="signs the identity cookie; unset = random per start (sign-ins end then)")
    auth_role_claim: str = Field(default="casestream_role", min_length=1,
                                 description="the token claim (string or list) that carries the role")
    auth_role_map: dict[str, str] = Field(
        default_factory=lambda: {"oversikt": "oversikt", "enhet": "enhet", "controller": "controller"},
        description="claim value -> role (oversikt | enhet | controller), JSON in the environment")
    auth_role: str = Field(default="controller", pattern="^(oversikt|enhet|controller)$",
                           description="the role of every UI user while sign-in is off (the demo)")
    access_municipality: str | None = Field(
        default=None, pattern=r"^[0-9]{4}$",
        description="kommunkod of access.viewed events; unset = that of the store's first event")
    access_review_many_units: int = Field(
        default=5, ge=1, description="logguppföljning flags a user who viewed more distinct units than this")

    # --- privacy (issue 9): the key store of the sealed personal part, retention ---------------------
    keystore_url: str | None = Field(
        default=None, description="key store URL (one AES key per person); unset = beside the store: "
        "x.db -> x.keys.db, PostgreSQL: the store's database (set a separate one in production)")
