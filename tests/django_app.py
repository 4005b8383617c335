"""One Django configuration for every test that serves a Django app: settings are process-wide."""

from __future__ import annotations

from typing import Any


def configure_django() -> None:
    """Configure Django once, with CSRF protection on (notify views must be exempt)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="paycore-tests",
            ALLOWED_HOSTS=["127.0.0.1"],
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
            INSTALLED_APPS=[],
            ROOT_URLCONF=None,
        )
        django.setup()


def django_wsgi(urlpatterns: list[Any]) -> Any:
    """A Django WSGI application serving ``urlpatterns``."""
    configure_django()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.urls import clear_url_caches

    settings.ROOT_URLCONF = type("urls", (), {"urlpatterns": urlpatterns})
    clear_url_caches()
    return WSGIHandler()
