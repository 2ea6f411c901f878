"""Every HTML page carries a Content-Security-Policy that allows nothing from another origin,
and the API docs are served from our own static files."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders

from tests.factories import UserFactory

# Every source a directive may name: this origin, nothing, inline images, the request's nonce.
ALLOWED_SOURCES = re.compile(r"'self'|'none'|data:|'nonce-[A-Za-z0-9+/=]+'")


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for directive in header.split(";"):
        name, *sources = directive.split()
        directives[name] = sources
    return directives


def assert_strict_policy(response):
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["img-src"] == ["'self'", "data:"]
    for name in ("script-src", "style-src"):
        assert directives[name][0] == "'self'"
    for name, sources in directives.items():
        for source in sources:
            assert ALLOWED_SOURCES.fullmatch(source), f"{name} allows {source}"


class AssetCollector(HTMLParser):
    """The URLs a page loads, and its inline script and style blocks."""

    def __init__(self):
        super().__init__()
        self.urls = []
        self.inline_blocks = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in ("src", "href"):
            if attributes.get(name):
                self.urls.append(attributes[name])
        if tag == "style" or (tag == "script" and "src" not in attributes):
            self.inline_blocks.append((tag, attributes.get("nonce")))


def collect_assets(response) -> AssetCollector:
    collector = AssetCollector()
    collector.feed(response.content.decode())
    return collector


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_public_pages_carry_the_policy(client, db, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_strict_policy(response)


def test_the_admin_carries_the_policy(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get("/admin/")

    assert response.status_code == 200
    assert_strict_policy(response)


def test_the_lockout_page_carries_the_policy(client, db):
    for attempt in range(5):
        response = client.post("/admin/login/", {"username": "ops", "password": f"x{attempt}"})

    assert response.status_code == 429
    assert_strict_policy(response)


def test_the_api_docs_load_only_assets_served_by_the_project(client, db):
    response = client.get("/api/docs/")
    assets = collect_assets(response)

    assert assets.urls == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/api/docs/?script=",
    ]
    assert "http://" not in response.content.decode()
    assert "https://" not in response.content.decode()


def test_the_api_docs_inline_style_carries_the_nonce_and_no_script_is_inline(client, db):
    response = client.get("/api/docs/")
    nonce = re.search(r"'nonce-([^']+)'", " ".join(policy(response)["style-src"])).group(1)

    assert collect_assets(response).inline_blocks == [("style", nonce)]


def test_the_api_docs_start_up_script_is_served_as_a_script(client, db):
    response = client.get("/api/docs/?script=")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert "SwaggerUIBundle(" in response.content.decode()
    assert '"/api/schema/"' in response.content.decode()


def test_the_docs_assets_are_served_from_our_static_files(client, db):
    for asset in collect_assets(client.get("/api/docs/")).urls[:4]:
        assert finders.find(asset.removeprefix("/static/")), asset


@pytest.mark.parametrize("path", ["/", "/fr/card/lost/", "/enroll/alice-bakery/", "/nowhere/"])
def test_the_customer_pages_carry_the_policy_and_load_only_our_assets(client, program, store, path):
    program.merchant.logo, program.merchant.logo_type = b"\x89PNG\r\n\x1a\n", "image/png"
    program.merchant.save()

    response = client.get(path)

    assert response.status_code in (200, 404)
    assert_strict_policy(response)
    assets = collect_assets(response)
    for url in assets.urls:
        assert url.startswith(("/", "#", "data:")) and not url.startswith("//"), url
    for url in [url for url in assets.urls if url.startswith("/static/")]:
        assert finders.find(url.removeprefix("/static/")), url
    # The only inline block is the merchant's colours, with the request's nonce.
    nonce = re.search(r"'nonce-([^']+)'", " ".join(policy(response)["style-src"]))
    expected = [("style", nonce.group(1))] if "enroll" in path else []
    assert assets.inline_blocks == expected
