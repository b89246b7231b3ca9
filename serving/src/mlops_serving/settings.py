"""Service settings: environment variables with the ``SERVING_`` prefix.

Unknown ``SERVING_*`` variables are an error at start-up (a typo such as
``SERVING_POLL_INTERVAL`` would otherwise be silently ignored).
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PREFIX = "SERVING_"


class SettingsError(ValueError):
    """Invalid or unknown service settings."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="forbid")

    model_store_uri: str = Field(
        "data/models",
        description="Model store root: a local folder or s3://bucket/prefix/models",
    )
    use_cases: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["retail"],
        description="Use cases to serve (comma-separated in the environment)",
    )
    poll_interval_s: float = Field(
        2.0, gt=0, le=3600, description="How often the production pointer is checked"
    )
    max_batch_size: int = Field(1000, ge=1, le=100_000)
    max_body_bytes: int = Field(
        4_000_000, ge=1024, description="Larger request bodies get 413"
    )
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for /admin/*; admin routes are off without it"
    )
    runtime: Literal["auto", "onnx", "sklearn"] = Field(
        "auto", description="auto: model.onnx when the bundle has one, else sklearn"
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint (a moto server in tests; unset on AWS)"
    )
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    emf_enabled: bool = Field(
        True, description="CloudWatch Embedded Metric Format lines on stdout"
    )
    emf_namespace: str = "MLOpsPlatform/Serving"

    @field_validator("use_cases", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("use_cases")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one use case is required")
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
                raise ValueError(f"invalid use case name {name!r}")
        return value

    @field_validator("admin_token")
    @classmethod
    def _strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("admin_token must be at least 16 characters")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and overrides); raise SettingsError naming
    what is wrong."""
    known = {name.upper() for name in Settings.model_fields}
    unknown = sorted(
        k
        for k in os.environ
        if k.upper().startswith(PREFIX) and k.upper()[len(PREFIX) :] not in known
    )
    if unknown:
        raise SettingsError(
            f"unknown setting(s) {unknown}; known: {sorted(PREFIX + k for k in known)}"
        )
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc
