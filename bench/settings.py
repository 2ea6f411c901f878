"""Settings for the benchmark server: the project's, plus a trivial DRF endpoint."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
