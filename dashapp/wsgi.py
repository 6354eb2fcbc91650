"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py`` serves ``server``."""

from dashapp.app import create_app

app = create_app()
server = app.server
