"""Test settings: eager Celery with propagation, fast password hashing, local-memory cache."""

import atexit
import os
import shutil
import tempfile

# Metrics as under gunicorn: in files, in a directory of this test run's own (a worker a test
# starts inherits it), removed when the run ends. Set before the settings read it and before
# prometheus_client is imported, which reads it then.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="loyalty-test-metrics-")
atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)

from config.settings import *  # noqa: E402, F403

DEBUG = False
SECURE_SSL_REDIRECT = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Static files as in debug: served from the source folders, no collectstatic, no hashed names.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The read replica as a mirror of the test database: the routing tests point the analytics at
# it (settings.ANALYTICS_DATABASE = "replica"); every other test reads the primary.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
