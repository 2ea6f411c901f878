"""A browser tab for the browser tests: Debian's chromium driven by Playwright, with every
request it made, every Content-Security-Policy violation it saw, and axe-core's findings.
The `browser` and `visit` fixtures are in tests/conftest.py."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
AXE_URL = "/static/vendor/axe-core/axe.min.js"
ARTIFACTS = Path(__file__).parent / "artifacts"
PHONE = {"width": 375, "height": 812}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 900}

# Collected in the page before any of its scripts run: the browser fires this event for
# every resource or inline block the policy refuses.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


class Visit:
    """One browser tab, with everything it requested and every policy violation it saw."""

    def __init__(self, page, origin):
        self.page = page
        self.origin = origin
        self.requests = []
        self.console_errors = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "console",
            lambda message: message.type == "error" and self.console_errors.append(message.text),
        )
        page.add_init_script(RECORD_CSP_VIOLATIONS)

    def open(self, path):
        response = self.page.goto(self.origin + path)
        assert response.status == 200, path

    def log_in(self, username, password):
        self.open("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_url(self.origin + "/admin/")

    def assert_no_csp_violation(self):
        assert self.page.evaluate("window.cspViolations") == []
        assert [text for text in self.console_errors if "Content Security Policy" in text] == []

    def assert_same_origin_only(self):
        assert self.requests
        assert [url for url in self.requests if not url.startswith(self.origin + "/")] == []

    def serious_accessibility_violations(self, skip_rules=()):
        """axe-core's serious and critical findings: rule id and the elements at fault.

        axe is added as a script served by the project (add_script_tag(url=...)): the
        policy lets it in like any of our scripts, where an inline copy (path=...) would be
        refused."""
        self.page.add_script_tag(url=self.origin + AXE_URL)
        return self.page.evaluate(
            """async (skipRules) => {
              const rules = Object.fromEntries(skipRules.map((id) => [id, {enabled: false}]));
              const {violations} = await axe.run(document, {rules});
              return violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
            }""",
            list(skip_rules),
        )

    def accessibility_summary(self, skip_rules=()) -> dict:
        """axe-core's whole verdict on the page: how many violations of each impact, how many
        rules passed, and the serious and critical findings in full."""
        self.page.add_script_tag(url=self.origin + AXE_URL)
        return self.page.evaluate(
            """async (skipRules) => {
              const rules = Object.fromEntries(skipRules.map((id) => [id, {enabled: false}]));
              const {violations, passes} = await axe.run(document, {rules});
              const impacts = {minor: 0, moderate: 0, serious: 0, critical: 0};
              for (const v of violations) impacts[v.impact] += 1;
              return {
                violations: impacts,
                passes: passes.length,
                serious: violations
                  .filter((v) => v.impact === "serious" || v.impact === "critical")
                  .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
                other: violations
                  .filter((v) => v.impact !== "serious" && v.impact !== "critical")
                  .map((v) => `${v.impact} ${v.id}`),
              };
            }""",
            list(skip_rules),
        )


def check_page(
    visit, name: str, summaries: dict, *, screenshot: bool = True, viewports=(PHONE, DESKTOP)
) -> None:
    """axe-core finds nothing serious or critical, the page keeps to the policy and to our
    origin, it does not scroll sideways at 320 px, and it is photographed at each of
    `viewports` (375 and 1280 px unless told) into tests/artifacts/<name>-<width>.png."""
    summary = visit.accessibility_summary()
    summaries[name] = {key: summary[key] for key in ("violations", "passes", "other")}
    assert summary["serious"] == [], name
    visit.assert_no_csp_violation()
    visit.assert_same_origin_only()
    page = visit.page
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": 700})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320, name
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        for viewport in viewports:
            page.set_viewport_size(viewport)
            page.screenshot(path=ARTIFACTS / f"{name}-{viewport['width']}.png", full_page=True)
    page.set_viewport_size(size)
