"""Settings: development fills secrets, production refuses every unsafe configuration by name."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app import config
from app.config import ConfigurationError, Settings

GOOD_KEY = Fernet.generate_key().decode()


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "app_env": "production",
        "jwt_secret": "s" * 48,
        "token_encryption_key": GOOD_KEY,
        "instagram_app_id": "123456789",
        "instagram_app_secret": "a-real-app-secret",
        "database_url": "postgresql://postgres@db/instagram",
        "public_base_url": "https://instagram.example.com",
        "instagram_webhook_verify_token": "a-long-random-verify-token",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


class TestProduction:
    def test_a_complete_configuration_starts(self) -> None:
        settings = production()
        settings.check_production()
        assert settings.instagram_mode == "live"
        assert settings.database_url.startswith("postgresql+asyncpg://")

    @pytest.mark.parametrize(
        ("overrides", "variable"),
        [
            ({"jwt_secret": None}, "JWT_SECRET"),
            ({"jwt_secret": "change-me"}, "JWT_SECRET"),
            ({"jwt_secret": "short"}, "JWT_SECRET"),
            ({"token_encryption_key": None}, "TOKEN_ENCRYPTION_KEY"),
            ({"token_encryption_key": "change-me"}, "TOKEN_ENCRYPTION_KEY"),
            ({"instagram_app_id": None, "instagram_app_secret": None}, "INSTAGRAM_MODE"),
            ({"instagram_mode": "sandbox"}, "INSTAGRAM_MODE"),
            ({"instagram_app_secret": None}, "INSTAGRAM_APP_SECRET"),
            ({"instagram_app_secret": "changeme"}, "INSTAGRAM_APP_SECRET"),
            ({"synthetic_media": True}, "SYNTHETIC_MEDIA"),
            ({"jwt_algorithm": "RS256"}, "JWT_PUBLIC_KEY"),
            ({"public_base_url": ""}, "PUBLIC_BASE_URL"),
            ({"instagram_webhook_verify_token": None}, "INSTAGRAM_WEBHOOK_VERIFY_TOKEN"),
            ({"instagram_webhook_verify_token": "change-me"}, "INSTAGRAM_WEBHOOK_VERIFY_TOKEN"),
        ],
    )
    def test_unsafe_settings_stop_start_up_naming_the_variable(
        self, overrides: dict[str, object], variable: str
    ) -> None:
        with pytest.raises(ConfigurationError) as raised:
            production(**overrides).check_production()
        assert variable in str(raised.value)
        assert "\n" not in str(raised.value)

    def test_malformed_encryption_key_is_named(self) -> None:
        with pytest.raises(ConfigurationError, match="TOKEN_ENCRYPTION_KEY entry 2"):
            production(token_encryption_key=f"{GOOD_KEY},not-a-key").check_keys()


class TestDevelopment:
    def test_missing_secrets_are_generated_once_and_kept(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(config, "VAR_DIR", tmp_path)
        first = Settings(_env_file=None, app_env="development")
        first.fill_development_secrets()
        second = Settings(_env_file=None, app_env="development")
        second.fill_development_secrets()
        assert first.jwt_secret is not None and second.jwt_secret is not None
        assert first.jwt_secret.get_secret_value() == second.jwt_secret.get_secret_value()
        assert len(first.jwt_secret.get_secret_value()) >= 32
        # The inbound webhooks' verify token too (typed into the Meta App Dashboard, so kept as well).
        assert first.webhook_verify_token() is not None
        assert first.webhook_verify_token() == second.webhook_verify_token()
        second.check_keys()
        assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0

    def test_processes_starting_at_once_share_one_set_of_secrets(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An API and a worker (or two of each) started together on one var directory: none fails on
        another's half-written file, and all of them get the same generated values (threads here: the
        lock is on the open file, so they exclude each other as processes do)."""
        for round_number in range(15):
            var_dir = tmp_path / str(round_number)
            monkeypatch.setattr(config, "VAR_DIR", var_dir)
            starting = threading.Barrier(6)

            def start(starting: threading.Barrier) -> tuple[str, str, str | None]:
                settings = Settings(_env_file=None, app_env="development")
                starting.wait()
                settings.fill_development_secrets()
                assert settings.jwt_secret is not None and settings.token_encryption_key is not None
                return (
                    settings.jwt_secret.get_secret_value(),
                    settings.token_encryption_key.get_secret_value(),
                    settings.webhook_verify_token(),
                )

            with ThreadPoolExecutor(max_workers=6) as pool:
                seen = set(pool.map(start, [starting] * 6))
            assert len(seen) == 1, f"round {round_number}: {len(seen)} different sets of secrets"
            assert sorted(path.name for path in var_dir.iterdir()) == ["dev-secrets.json", "dev-secrets.lock"]

    def test_generated_secrets_are_logged_without_their_value(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        monkeypatch.setattr(config, "VAR_DIR", tmp_path)
        settings = Settings(_env_file=None, app_env="development")
        with caplog.at_level("WARNING"):
            settings.fill_development_secrets()
        assert settings.jwt_secret is not None
        assert "generated development secrets" in caplog.text
        assert settings.jwt_secret.get_secret_value() not in caplog.text

    def test_defaults_are_the_embedded_mode(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("HOST", "PORT", "PUBLIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        settings = Settings(_env_file=None)
        assert settings.is_sqlite
        assert settings.redis_url is None
        assert settings.instagram_mode == "sandbox"
        assert settings.synthetic_media is True
        assert settings.graph_base_url == "http://127.0.0.1:8000/sandbox/graph"
        assert settings.database_auto_migrate is True


class TestPublicBaseUrl:
    @pytest.mark.parametrize(
        ("host", "port", "expected"),
        [
            ("127.0.0.1", "8765", "http://127.0.0.1:8765"),
            ("0.0.0.0", "8765", "http://localhost:8765"),  # noqa: S104 - a setting read, nothing bound
            ("::", "9000", "http://localhost:9000"),
            ("::1", "9000", "http://[::1]:9000"),
            ("myhost.local", "80", "http://myhost.local:80"),
        ],
    )
    def test_unset_it_follows_host_and_port(
        self, monkeypatch: pytest.MonkeyPatch, host: str, port: str, expected: str
    ) -> None:
        monkeypatch.delenv("PUBLIC_BASE_URL", raising=False)
        monkeypatch.setenv("HOST", host)
        monkeypatch.setenv("PORT", port)
        settings = Settings(_env_file=None)
        assert settings.public_base_url == expected
        assert settings.public_base_url_follows_request
        assert settings.oauth_redirect_uri == f"{expected}/api/sns/instagram/callback"
        assert settings.authorize_base_url == f"{expected}/sandbox"

    def test_set_it_wins_and_is_fixed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORT", "8765")
        settings = Settings(_env_file=None, public_base_url="https://api.example.com/")
        assert settings.public_base_url == "https://api.example.com"
        assert not settings.public_base_url_follows_request

    def test_production_requires_it(self) -> None:
        with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL must be set in production"):
            production(public_base_url="").check_production()

    def test_scopes_are_todays_business_scopes_and_configurable(self) -> None:
        assert Settings(_env_file=None).instagram_scopes == (
            "instagram_business_basic",
            "instagram_business_content_publish",
            "instagram_business_manage_insights",
            "instagram_business_manage_comments",
        )
        custom = Settings(_env_file=None, instagram_scopes="instagram_business_basic, x")  # type: ignore[arg-type]
        assert custom.instagram_scopes == ("instagram_business_basic", "x")
