"""The compose file's uploads: a volume the API and the worker share, or (profile s3) MinIO the service points at."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import compose

ROOT = Path(__file__).resolve().parents[2]


def _config(*args: str, **env: str) -> dict[str, Any]:
    binary = Path(compose.__file__).parent / "docker-compose"
    binary.chmod(0o755)
    # Only the variables given: the developer's own UPLOAD_* must not change what is checked.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("UPLOAD_")} | env
    result = subprocess.run(
        [str(binary), "-f", str(ROOT / "docker-compose.yml"), *args, "config", "--format", "json"],
        capture_output=True,
        check=True,
        env=environment,
        cwd=ROOT,
    )
    config: dict[str, Any] = json.loads(result.stdout)
    return config


def test_by_default_uploads_live_in_a_volume_the_api_and_the_worker_share() -> None:
    services = _config()["services"]
    assert "minio" not in services
    for name in ("api", "worker"):
        assert services[name]["environment"]["UPLOAD_STORAGE"] == "local"
        assert services[name]["environment"]["UPLOAD_DIR"] == "/app/var/uploads"
        (volume,) = [v for v in services[name]["volumes"] if v["target"] == "/app/var/uploads"]
        assert volume["source"] == "uploads-data"


def test_the_s3_profile_runs_minio_and_points_the_service_at_it() -> None:
    services = _config("--profile", "s3", UPLOAD_STORAGE="s3")["services"]
    assert {"minio", "minio-bucket"} <= set(services)
    for name in ("api", "worker"):
        environment = services[name]["environment"]
        assert environment["UPLOAD_STORAGE"] == "s3"
        assert environment["UPLOAD_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert environment["UPLOAD_S3_BUCKET"] == services["minio-bucket"]["environment"]["BUCKET"]
        assert environment["UPLOAD_S3_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]


def test_the_api_serves_in_web_concurrency_processes() -> None:
    """The image runs `python -m app serve`; compose hands WEB_CONCURRENCY on (empty: one per core)."""
    assert _config()["services"]["api"]["environment"]["WEB_CONCURRENCY"] == ""
    assert _config(WEB_CONCURRENCY="3")["services"]["api"]["environment"]["WEB_CONCURRENCY"] == "3"
    assert 'CMD ["python", "-m", "app", "serve"]' in (ROOT / "Dockerfile").read_text()
