"""Settings, read once from `MODELYARD_*` environment variables and validated at start-up."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret.key"


def default_home() -> Path:
    return Path.home() / ".modelyard"


class Settings(BaseSettings):
    """Everything a modelyard server is configured with.

    Example:
        MODELYARD_HOME=/srv/modelyard \\
        MODELYARD_DATABASE_URL=postgresql+psycopg://modelyard@db/modelyard modelyard up
    """

    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="ignore")

    home: Path = Field(default_factory=default_home)
    database_url: str = ""
    secret_key: str = ""
    demo: bool = False
    admin_password: str = ""
    session_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    # argon2id cost of new password hashes; the defaults are RFC 9106's low-memory profile
    password_time_cost: int = Field(default=3, ge=1, le=100, description="argon2 iterations")
    password_memory_kib: int = Field(default=64 * 1024, ge=8, le=4 * 1024**2)
    password_parallelism: int = Field(default=4, ge=1, le=64, description="argon2 lanes")
    # brute-force protection: failed sign-ins counted in a sliding window, in process memory
    login_max_failures: int = Field(
        default=10, ge=1, description="failed sign-ins per username per window, then 429"
    )
    login_max_failures_per_ip: int = Field(
        default=50, ge=1, description="failed sign-ins per client address per window, then 429"
    )
    login_window_seconds: float = Field(default=15 * 60, gt=0, le=7 * 86400)
    secure_cookies: bool = False
    base_url: str = "http://127.0.0.1:8000"
    git_max_push_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    artifact_root: str = Field(default="", description="fsspec URL; default <home>/storage")
    artifact_max_bytes: int = Field(default=5 * 1024**3, gt=0)
    max_concurrent_runs: int = Field(default=2, gt=0, description="remote runs at once")
    run_python: str = Field(default="", description="interpreter for remote runs")
    run_server_url: str = Field(
        default="",
        description="where remote runs reach this server; default: the local address that "
        "took the submission, else base_url",
    )
    run_cancel_grace_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="SIGTERM to SIGKILL, when cancelling a run"
    )
    run_max_log_bytes: int = Field(
        default=50 * 1024**2, gt=0, description="a remote run's output kept; the rest is dropped"
    )

    serving_host: str = Field(default="127.0.0.1", description="where replica pools listen")
    serving_control_url: str = Field(
        default="", description="where replicas reach this server; default base_url"
    )
    serving_python: str = Field(default="", description="interpreter for replicas")
    serving_poll_seconds: float = Field(
        default=0.25, gt=0, le=10, description="how often replicas look for a new spec"
    )
    serving_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    serving_max_batch_records: int = Field(default=1000, gt=0)
    serving_stop_grace_seconds: float = Field(default=10.0, gt=0, le=600)
    serving_scale_up_seconds: float = Field(default=3.0, ge=0)
    serving_scale_down_seconds: float = Field(default=30.0, ge=0)
    serving_telemetry_retention_hours: float = Field(default=24.0, gt=0)
    serving_prediction_retention_days: float = Field(default=7.0, gt=0)
    online_publish_seconds: float = Field(
        default=2.0, gt=0, le=300, description="how often a learner publishes its state"
    )
    online_checkpoint_seconds: float = Field(
        default=600.0, gt=0, description="how often a learner checkpoints a model version"
    )
    online_late_seconds: float = Field(
        default=86400.0, gt=0, description="labels later than this are scored, not learned"
    )
    online_join_wait_seconds: float = Field(
        default=3.0, ge=0, le=30, description="how long feedback waits for its prediction's log"
    )
    online_score: Literal["prequential", "served"] = Field(
        default="prequential",
        description="what a learner scores: its own prediction just before learning each "
        "example (River's progressive validation), or the answer the replica served",
    )
    online_max_feedback: int = Field(default=10_000, gt=0, description="labels per request")
    online_feedback_retention_days: float = Field(default=30.0, gt=0)
    alerts_interval_seconds: float = Field(default=5.0, gt=0, le=300)

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @model_validator(mode="after")
    def _argon2_memory_per_lane(self) -> Settings:
        if self.password_memory_kib < 8 * self.password_parallelism:
            raise ValueError(
                "MODELYARD_PASSWORD_MEMORY_KIB must be at least 8 per lane "
                f"(8 * MODELYARD_PASSWORD_PARALLELISM = {8 * self.password_parallelism})"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'modelyard.db'}"

    @property
    def repos_dir(self) -> Path:
        return self.home / "repos"

    @property
    def storage_dir(self) -> Path:
        return self.home / "storage"

    @property
    def uploads_dir(self) -> Path:
        """Where uploads are spooled until complete (then copied into the artifact store)."""
        return self.home / "uploads"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def serving_logs_dir(self) -> Path:
        return self.home / "serving" / "logs"

    @property
    def resolved_control_url(self) -> str:
        return (self.serving_control_url or self.base_url).rstrip("/")

    @property
    def resolved_artifact_root(self) -> str:
        return self.artifact_root or str(self.storage_dir)

    def prepare_home(self) -> Settings:
        """Create the home folder and return settings with a secret key filled in.

        The key is generated once into `<home>/secret.key` (mode 0600) when
        `MODELYARD_SECRET_KEY` is unset, so a server never runs on a well-known secret.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        self.storage_dir.mkdir(exist_ok=True)
        self.uploads_dir.mkdir(exist_ok=True)
        if self.secret_key:
            if len(self.secret_key) < 32:
                raise ValueError("MODELYARD_SECRET_KEY must be at least 32 characters long")
            return self
        key_file = self.home / SECRET_KEY_FILE
        if not key_file.exists():
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return self.model_copy(update={"secret_key": key_file.read_text().strip()})
