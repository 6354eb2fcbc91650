"""Events in a real browser: add an event on the Data page (a bad one first: the message), open History and see
its band with its name; then edit and remove it on the Data page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

NAME = "Browser promo"
HISTORY = "/history?granularity=60&start=1995-07-24&end=1995-07-29&price=0.93"  # a price no other test uses
LABELS = ("Array.from(document.querySelectorAll('#history-traffic-box .annotation-text'))"
          ".map(e => e.textContent)")
BAND_X0 = ("document.querySelector('#history-traffic-box .js-plotly-plot').layout.shapes"
           ".filter(s => s.fillcolor && s.x0 && String(s.x0).startsWith('1995-07-25')).length")


def _fill(page, name: str, start: str, end: str, impact: str) -> None:
    page.fill("#data-event-name", name)
    page.fill("#data-event-start", start)
    page.fill("#data-event-end", end)
    page.select_option("#data-event-impact", impact)


def test_add_an_event_on_the_data_page_and_see_its_band_on_history(web):
    page = web.open("/")
    page.wait_for_selector("#data-events")
    _fill(page, NAME, "1995-07-26", "1995-07-25", "high_traffic")
    page.click("#data-event-save")
    page.wait_for_selector("#data-event-error")
    assert "swap the dates" in web.text("#data-event-error")
    assert NAME not in web.text("#data-events")

    page.fill("#data-event-start", "1995-07-25")
    page.fill("#data-event-end", "1995-07-26")
    page.click("#data-event-save")
    web.wait_js(f"document.querySelector('#data-events').innerText.includes({NAME!r})")
    assert "Added 'Browser promo'" in web.text("#data-event-result")
    assert "1995-07-26" in web.text("#data-events")

    page = web.open(HISTORY)
    page.wait_for_selector("#history-traffic-box .js-plotly-plot .main-svg", timeout=180_000)
    web.wait_js(f"{LABELS}.includes({NAME!r})")
    assert page.evaluate(BAND_X0) >= 1  # the band starts on its first day

    # Back on the Data page: pick it (its name in the list), rename it, then remove it.
    page = web.open("/")
    page.click(f"#data-events button:has-text({NAME!r})")
    web.wait_js(f"document.querySelector('#data-event-name').value === {NAME!r}")
    assert page.input_value("#data-event-end") == "1995-07-26"
    page.fill("#data-event-name", "Renamed promo")
    page.click("#data-event-save")
    web.wait_js("document.querySelector('#data-events').innerText.includes('Renamed promo')")
    assert NAME not in web.text("#data-events")
    page.click("#data-event-remove")
    web.wait_js("document.querySelector('#data-events').innerText.includes('No custom events')")
    assert web.errors == []
