"""`tthc serve [--workers N]`: the dashboard, on Werkzeug's development server or under gunicorn."""

from __future__ import annotations

import argparse
import socket
import sys

from cli.common import CliError, bounded

_port = bounded(1, 65535, "a port")


def add_commands(sub) -> None:  # noqa: ANN001
    s = sub.add_parser("serve", help="start the dashboard (development server, or gunicorn with --workers)")
    s.add_argument("--host")
    s.add_argument("--port", type=_port)
    s.add_argument("--workers", type=bounded(0, 64, "a number of workers"), default=0,
                   help="run gunicorn with N worker processes")
    s.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, settings) -> int:  # noqa: ANN001
    host = args.host or settings.get("web.host")
    port = args.port or settings.get("web.port")
    if args.workers:
        print(f"Dashboard: http://{host}:{port}", flush=True)
        if warning := settings.base_url_warning():
            print(warning, file=sys.stderr, flush=True)
        return run_gunicorn(settings, host, port, args.workers)
    from werkzeug.serving import make_server

    from web import create_app

    app = create_app(settings)
    try:  # bound here (Werkzeug would print two lines and exit), then announced: what is printed is where it listens
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise CliError(f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = make_server(host, port, app, threaded=True, fd=sock.detach())
    print(f"Dashboard: http://{host}:{server.socket.getsockname()[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def run_gunicorn(settings, host: str, port: int, workers: int) -> int:  # noqa: ANN001
    """The dashboard under gunicorn with `workers` processes, until it is stopped (also bench/web.py)."""
    from gunicorn.app.base import BaseApplication

    class App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 2)
            self.cfg.set("accesslog", None)
            # forwarded headers are believed by web.TrustedProxies (web.trusted_proxies) alone
            self.cfg.set("forwarded_allow_ips", "")

        def load(self):  # noqa: ANN202
            from web import create_app

            return create_app(settings)

    App().run()
    return 0
