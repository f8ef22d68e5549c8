"""Real media fetches: a tiny HTTP server on 127.0.0.1, reached over the loopback network."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
from PIL import Image

from app.media.synthetic import build_video

from .helpers import (
    BASE_URL,
    container_status,
    create_container,
    error_of,
    long_token,
    make_settings,
    me,
    mounted,
    publish,
    wait_finished,
)


def _jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


FILES = {
    "/photo.jpg": (_jpeg(1080, 1350), "image/jpeg"),
    "/banner.jpg": (_jpeg(2000, 500), "image/jpeg"),
    "/clip.mp4": (build_video(1080, 1920, 20.0) + bytes(512 * 1024), "video/mp4"),
}


class _Handler(BaseHTTPRequestHandler):
    requested: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requested.append(self.path)
        found = FILES.get(self.path)
        if found is None:
            self.send_error(404)
            return
        content, content_type = found
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        # The sandbox stops reading a video after its head.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(content)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def media_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
async def network_client() -> AsyncIterator[httpx.AsyncClient]:
    """A sandbox without fetch_transport: non-synthetic URLs go over the network."""
    app = mounted(make_settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        yield http


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_loopback_fetches(network_client: httpx.AsyncClient, media_server: str) -> None:
    settings = make_settings()
    # The fixture's app has its own settings object; the app id and secret are the same defaults.
    token = await long_token(network_client, settings)
    user_id = (await me(network_client, token))["user_id"]

    image = await create_container(network_client, token, user_id, image_url=f"{media_server}/photo.jpg")
    assert image.status_code == 200, image.text
    assert (await container_status(network_client, token, image.json()["id"]))["status_code"] == "FINISHED"
    assert (await publish(network_client, token, user_id, image.json()["id"])).status_code == 200

    banner = await create_container(network_client, token, user_id, image_url=f"{media_server}/banner.jpg")
    assert (error_of(banner)["code"], error_of(banner)["error_subcode"]) == (36003, 2207009)

    missing = await create_container(network_client, token, user_id, image_url=f"{media_server}/nothing.jpg")
    assert (error_of(missing)["code"], error_of(missing)["error_subcode"]) == (9004, 2207052)

    refused = await create_container(
        network_client, token, user_id, image_url=f"http://127.0.0.1:{_closed_port()}/photo.jpg"
    )
    assert error_of(refused)["code"] == 9004

    reel = await create_container(
        network_client, token, user_id, media_type="REELS", video_url=f"{media_server}/clip.mp4"
    )
    assert reel.status_code == 200, reel.text
    assert (await wait_finished(network_client, token, reel.json()["id"]))["status_code"] == "FINISHED"
    assert {"/photo.jpg", "/banner.jpg", "/nothing.jpg", "/clip.mp4"} <= set(_Handler.requested)
