"""The ASGI entry point for any ASGI server: ``uvicorn pgcube.asgi:app``."""

from pgcube.app import create_app

app = create_app()
