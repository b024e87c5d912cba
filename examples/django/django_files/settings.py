"""Settings of the example site; the repository comes from the environment."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "django_files.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
WSGI_APPLICATION = "django_files.wsgi.application"
# Django keeps uploads up to this size in memory, larger ones in a temporary file:
# nrpfiles reads either kind the same way.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

NRPFILES_URL = os.environ.get("NRPFILES_URL", "http://127.0.0.1:8900")
NRPFILES_TOKEN = os.environ.get("NRPFILES_TOKEN")
