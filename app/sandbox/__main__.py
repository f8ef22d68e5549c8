"""`python -m app.sandbox --port N [--host 127.0.0.1]`: the sandbox alone, at `/sandbox` as when embedded."""

from __future__ import annotations

import argparse
import sys

from app.config import Settings
from app.sandbox.application import build_standalone_app, refuse_production


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.sandbox", description="Serve the Instagram Platform API sandbox alone."
    )
    parser.add_argument("--port", type=int, default=8100, help="TCP port (default 8100)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--public-url",
        help="where clients reach this server, for the CDN links it hands out (default http://<host>:<port>)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        refuse_production(settings)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host_for_links = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104 - a comparison
    public_url = args.public_url or f"http://{host_for_links}:{args.port}"
    app = build_standalone_app(settings, public_url=public_url)

    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
