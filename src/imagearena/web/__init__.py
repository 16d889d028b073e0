"""The web app: ``imagearena.web.app.create_app(settings)`` builds it (pages, JSON API under /api/v1,
images under /media, local static files only)."""
