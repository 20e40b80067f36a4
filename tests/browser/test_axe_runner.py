"""The axe-core run of the browser tests (tests/browser/conftest.py) checks what an htmx
swap brings into a page, not only the page as loaded."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SWAP_IN_AN_IMAGE_WITHOUT_TEXT = """async () => {
  const reports = [];
  window.__portalAxeReport = (report) => { reports.push(report); };  // kept from the fixture
  const image = document.createElement("img");
  image.width = 40;
  image.height = 40;
  document.querySelector("main").append(image);
  image.dispatchEvent(new CustomEvent("htmx:afterSettle", { bubbles: true }));
  await window.__portalAxe;
  return reports;
}"""


def test_axe_runs_again_on_what_an_htmx_swap_brings(new_context) -> None:
    page = new_context().new_page()
    page.goto("/login")
    page.evaluate("() => window.__portalAxe || null")  # the run on the page as loaded

    reports = page.evaluate(SWAP_IN_AN_IMAGE_WITHOUT_TEXT)

    assert [v["id"] for report in reports for v in report["violations"]] == ["image-alt"]
