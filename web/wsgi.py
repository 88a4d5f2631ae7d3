"""The WSGI entry point for gunicorn (deploy/gunicorn.conf.py): settings from $TTHC_CONFIG and TTHC_*."""

from web import create_app

app = create_app()
