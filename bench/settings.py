"""Settings for the benchmark server: the project's, plus a trivial DRF endpoint."""

from config.env import env_bool
from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# bench/terminal_load.py --metrics-comparison: false serves without the request metrics.
if not env_bool("BENCH_METRICS", True):
    MIDDLEWARE = [m for m in MIDDLEWARE if m != "config.metrics.RequestMetricsMiddleware"]  # noqa: F405
