"""gunicorn settings for the dashboard behind nginx (deploy/systemd/tthc-web.service runs it).

Listens on a unix socket only nginx can reach (group tthc, umask 007). X-Forwarded-Proto from a unix
socket peer is trusted by gunicorn: the app knows the request came over HTTPS (Secure cookie, HSTS).
With PROMETHEUS_MULTIPROC_DIR set, each worker's request-latency histogram is kept in that folder and
/metrics adds them up (web/ops.py); the folder is emptied at start and dead workers are marked.
"""

import os
import shutil

wsgi_app = "web.wsgi:app"
bind = os.environ.get("WEB_BIND", "unix:/run/tthc/web.sock")
workers = int(os.environ.get("WEB_WORKERS", "4"))
threads = 2
umask = 0o007  # the socket: rw for user and group (nginx's user is in group tthc)
timeout = 120  # a large upload is imported inside the request
graceful_timeout = 30
accesslog = None  # the app logs each request (by endpoint, never the query string): web/ops.py
errorlog = "-"


def on_starting(server):  # noqa: ANN001, ANN201
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, mode=0o700, exist_ok=True)


def child_exit(server, worker):  # noqa: ANN001, ANN201
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
