"""Reading `/metrics` in tests: the body parsed by prometheus_client's own parser, samples by
name and labels. Every test session writes its metrics to a directory of its own
(config/settings_test.py); within a session tests compare figures before and after, so no
test depends on what others moved."""

import re
from pathlib import Path

from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

from loyalty.metrics.figures import FIGURES_KEY, FIGURES_REFRESH_ASKED_KEY

ROOT = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "test-metrics-token-" + "x" * 32


def readme_metric_names() -> list[str]:
    """The metrics the README's "Metrics" section lists, one per table row."""
    section = ROOT.joinpath("README.md").read_text().split("### Metrics\n", 1)[1]
    section = section.split("\n### ", 1)[0]
    return re.findall(r"^\| `(loyalty_[a-z_]+)` \|", section, flags=re.MULTILINE)


class Scrape:
    def __init__(self, text: str):
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}

    def value(self, sample_name: str, **labels) -> float:
        """The sample's value; 0 when no process has moved it yet."""
        for family in self.families.values():
            for sample in family.samples:
                if sample.name == sample_name and sample.labels == labels:
                    return sample.value
        return 0.0

    def has_sample(self, sample_name: str, **labels) -> bool:
        return any(
            sample.name == sample_name and sample.labels == labels
            for family in self.families.values()
            for sample in family.samples
        )


def scrape(client, *, fresh_figures: bool = True) -> Scrape:
    """`/metrics` as Prometheus reads it; by default with the business figures read anew."""
    if fresh_figures:
        cache.delete_many([FIGURES_KEY, FIGURES_REFRESH_ASKED_KEY])
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return Scrape(response.content.decode())
