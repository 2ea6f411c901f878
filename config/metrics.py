"""`/metrics` in the Prometheus text format, the HTTP metrics, and who may read them.

Each app defines the metrics it moves (loyalty.metrics, messaging.metrics); this module adds
the requests' and serves them all. Under several processes (gunicorn workers, Celery workers)
each process writes its figures to files in PROMETHEUS_MULTIPROC_DIR, which must be set
before the first metric is made (in the environment, not in settings), and the scrape adds up
every file in METRICS_MULTIPROC_DIRS (default: that one directory). Without it, a single
process serves its own figures. README, "Metrics".
"""

import glob
import hmac
import ipaddress
import os
import time

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

from config.client_ip import client_ip
from loyalty import metrics as loyalty_metrics
from loyalty.metrics import tasks as task_metrics
from loyalty.metrics.figures import BusinessFiguresCollector
from messaging import metrics as messaging_metrics

HTTP_REQUESTS = Counter(
    "loyalty_http_requests_total",
    "Answered requests, by URL name (unmatched: no URL matched), method and status.",
    ["view", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "loyalty_http_request_duration_seconds",
    "Latency of the terminal API views.",
    ["view", "method"],
)
TERMINAL_API_PREFIX = "/api/v1/terminal/"
# Any client can send any method: others count as "other", so labels stay bounded.
COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Every metric the processes move (the business figures are read at scrape time).
PROCESS_METRICS = (
    HTTP_REQUESTS,
    HTTP_LATENCY,
    loyalty_metrics.RATE_LIMITED,
    loyalty_metrics.PIN_LOCKOUTS,
    loyalty_metrics.TRANSACTIONS,
    loyalty_metrics.WALLET_SYNCS,
    loyalty_metrics.ENROLMENT_FUNNEL,
    task_metrics.TASK_RUNS,
    task_metrics.TASK_DURATION,
    messaging_metrics.EMAILS,
)


class RequestMetricsMiddleware:
    """Counts every answer and times the terminal API's; first in the chain, so that answers
    other middleware give (static files, refusals) count too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match is not None else "unmatched"
        method = request.method if request.method in COUNTED_METHODS else "other"
        HTTP_REQUESTS.labels(view, method, response.status_code).inc()
        if request.path.startswith(TERMINAL_API_PREFIX):
            HTTP_LATENCY.labels(view, method).observe(time.perf_counter() - started)
        return response


class _EveryProcess:
    """Every process's figures from the directories given (glob patterns), added up, as the
    client's MultiProcessCollector does for one directory; and a metric no process has moved
    yet with its name and type alone, so that a scrape always lists every metric."""

    def __init__(self, directories: list[str]):
        self.directories = directories

    def collect(self):
        files = [
            path
            for directory in self.directories
            for path in glob.glob(os.path.join(directory, "*.db"))
        ]
        families = MultiProcessCollector.merge(files, accumulate=True)
        moved = {family.name for family in families}
        unmoved = [
            family
            for metric in PROCESS_METRICS
            for family in metric.describe()
            if family.name not in moved
        ]
        return [*families, *unmoved]


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if settings.METRICS_MULTIPROC_DIRS:
        registry.register(_EveryProcess(settings.METRICS_MULTIPROC_DIRS))
    else:
        # One process: its own metrics, and the client's process and platform figures.
        registry.register(REGISTRY)
    registry.register(BusinessFiguresCollector())
    return registry


def is_allowed(request) -> bool:
    """A bearer token equal to METRICS_TOKEN, or a client address in METRICS_ALLOWED_IPS (as
    config.client_ip determines it, so behind proxies only with TRUSTED_PROXY_COUNT)."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def metrics(request):
    if not is_allowed(request):
        # Nothing about the figures, nor which of the two checks failed.
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    # The classic text format (0.0.4), which every Prometheus version reads.
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
