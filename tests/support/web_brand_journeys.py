"""What the brand journeys of tests/web/test_brand_journeys.py (issue #16) need beside the
journeys' shared helpers (tests/support/journeys.py): the file of a brand's 2,000 stores, the
controls of a page that would write something, and a record of how long steps took."""

from __future__ import annotations

import json

from playwright.async_api import Page

from tests.support.web import ARTIFACTS

STORES_HEADER = "external_ref,name,city,country,time_zone,status,groups"


def stores_csv(count: int, special: dict[int, str] | None = None) -> bytes:
    """A CSV of ``count`` stores (line 1 is the header, store ``n`` is on line ``n + 1``), with
    ``special`` lines (by store number) written as given."""
    zones = [
        ("Springfield", "US", "America/Chicago"),
        ("Lyon", "FR", "Europe/Paris"),
        ("Patras", "GR", "Europe/Athens"),
    ]
    lines = [STORES_HEADER]
    for n in range(1, count + 1):
        city, country, zone = zones[n % len(zones)]
        line = f"S{n:05d},Store {n:05d},{city},{country},{zone},active,"
        lines.append((special or {}).get(n, line))
    return ("\n".join(lines) + "\n").encode()


WRITE_CONTROLS = """() => {
  const found = [];
  for (const form of document.querySelectorAll("form")) {
    const method = (form.getAttribute("method") || "get").toLowerCase();
    if (method === "post" && !form.closest("header")) {
      found.push("form " + form.getAttribute("action"));
    }
  }
  for (const b of document.querySelectorAll("main button, main input[type=submit]")) {
    const form = b.form;
    const reads = form && (form.getAttribute("method") || "get").toLowerCase() === "get";
    if (!reads) {
      found.push("button " + (b.textContent || b.value || "").trim());
    }
  }
  return found;
}"""
"""Every form that posts outside the header (the switchers and the sign-out are the header's)
and every button of the page that does not belong to a form that only reads (a search)."""


async def write_controls(page: Page) -> list[str]:
    return list(await page.evaluate(WRITE_CONTROLS))


def keep_timings(name: str, seconds: dict[str, float]) -> None:
    """Writes how long the steps of a journey took to ``.data/artifacts/web/<name>.json`` (a
    record to read, not a limit: performance is measured in bench/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    rounded = {step: round(value, 2) for step, value in seconds.items()}
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(rounded, indent=2) + "\n")
