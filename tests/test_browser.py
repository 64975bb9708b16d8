"""The companion's website and the explorer app, tested in headless Chromium (selenium).

Marked ``browser``. Where Chromium or chromedriver is missing the tests skip with the reason;
in CI (environment variable ``CI`` set) a missing browser is a failure, never a skip
(``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver``).

* The site is built from the committed executed notebooks into a temporary folder (once per
  session) and served by ``http.server`` on 127.0.0.1; every page loads, every image loads,
  the console has no error, and the navigation reaches every notebook page.
* The explorer app: ``voila`` serves the explorer notebook on 127.0.0.1; the map shows, and
  moving the T slider or changing S changes it. The server is killed (its process group)
  whatever happens.

Every wait is bounded (``WebDriverWait`` with a timeout, a deadline for the servers).
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fca_utils.cli import site

pytestmark = pytest.mark.browser

PROJECT = Path(__file__).resolve().parents[1]
NOTEBOOKS = PROJECT / "notebooks"

# The explorer app: the notebook voila serves and how to find its parts. explorer.ipynb draws its map in
# a widget of CSS class "fca-map"; the quickstart's explorer draws it in an ipywidgets Output.
EXPLORER = NOTEBOOKS / "explorer.ipynb"
if EXPLORER.is_file():
    MAP_SELECTOR = ".fca-map"
else:
    EXPLORER, MAP_SELECTOR = NOTEBOOKS / "00_quickstart.ipynb", ".widget-output"
APP_START_TIMEOUT = 600   # s: voila starts a kernel and runs the whole notebook before the page shows
REDRAW_TIMEOUT = 180      # s: one redraw of the map on a busy CPU
PAGE_TIMEOUT = 60         # s: a static page and its images


def _browser_or_skip() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    reason = ("headless Chromium and chromedriver are needed for the browser tests "
              "(Debian: apt-get install chromium chromium-driver)")
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {reason}: not installed")
    pytest.skip(reason)


def _chromium(page_load_strategy: str = "normal"):
    """A headless Chromium (selenium), with the console log readable through ``get_log('browser')``."""
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.page_load_strategy = page_load_strategy
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-proxy-server"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    return driver


@pytest.fixture(scope="session")
def browser():
    driver = _chromium()
    try:
        yield driver
    finally:
        driver.quit()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def site_url(tmp_path_factory):
    """The site of the committed executed notebooks, built once and served on 127.0.0.1 in a thread."""
    _browser_or_skip()
    root = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    site.build_site(NOTEBOOKS, root / "site", root / "work", site.explorer_app_command(NOTEBOOKS))
    print(f"\nsite built in {time.perf_counter() - start:.0f} s")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(root / "site")))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _severe(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _load(driver, url):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, PAGE_TIMEOUT).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def _notebook_pages() -> list[str]:
    return [f"{p.stem}.html" for p in site.find_executed(NOTEBOOKS)]


def test_every_page_loads_with_its_images_and_no_console_error(browser, site_url):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")  # drop what earlier tests left
    for page in ["index.html", *_notebook_pages()]:
        _load(browser, f"{site_url}/{page}")
        assert browser.find_element("css selector", "article h1").text.strip(), f"{page}: no title"
        WebDriverWait(browser, PAGE_TIMEOUT).until(
            lambda d: d.execute_script("return Array.from(document.images).every(i => i.complete)"),
            message=f"{page}: images still loading")
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)")
        assert not broken, f"{page}: images that did not load: {broken}"
        assert not _severe(browser), f"{page}: console errors: {_severe(browser)}"


def test_notebook_pages_have_figures_and_folded_code(browser, site_url):
    from selenium.webdriver.support.ui import WebDriverWait

    _load(browser, f"{site_url}/03_synthetic_fca_vs_histogram.html")
    assert browser.execute_script("return document.querySelectorAll('.cell_output img').length") > 0
    folded = browser.find_elements("css selector", ".cell.tag_hide-input > details")
    assert folded and not any(d.get_attribute("open") for d in folded)  # code is folded, results shown
    code = folded[0].find_element("css selector", ".cell_input")
    assert not code.is_displayed()
    summary = folded[0].find_element("css selector", "summary")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()
    WebDriverWait(browser, PAGE_TIMEOUT).until(lambda d: code.is_displayed(), message="the code did not unfold")


def test_landing_page_lists_the_run(browser, site_url):
    _load(browser, f"{site_url}/index.html")
    rows = browser.find_elements("css selector", "table.fca-results tbody tr")
    assert [r.find_element("css selector", "td").text for r in rows] == [p[:2] for p in _notebook_pages()]
    statuses = {r.find_elements("css selector", "td")[4].text for r in rows}
    assert statuses <= {"ok", "FAILED"}


def test_navigation_reaches_every_notebook_page(browser, site_url):
    """The sidebar links every notebook page in the series' order, and "next" walks through all of them."""
    _load(browser, f"{site_url}/index.html")
    links = browser.find_elements("css selector", "nav.bd-docs-nav a.reference.internal")
    targets = [link.get_attribute("href").rsplit("/", 1)[-1] for link in links]
    assert targets == _notebook_pages()
    titles = [link.get_attribute("textContent").strip() for link in links]
    assert all(t.startswith(page[:2] + " ·") for t, page in zip(titles, targets))

    visited = []
    for _ in range(len(targets) + 1):  # bounded: one step per page
        following = browser.find_elements("css selector", "a.right-next")
        if not following:
            break
        following[0].click()
        _load(browser, browser.current_url)
        visited.append(browser.current_url.rsplit("/", 1)[-1])
    assert visited == targets


@pytest.fixture
def explorer_url(tmp_path):
    """``voila`` serving the explorer notebook on 127.0.0.1; its process group is killed at the end."""
    _browser_or_skip()
    port = _free_port()
    env = dict(os.environ, FCA_OFFLINE="1")
    command = [sys.executable, "-m", "voila", str(EXPLORER.relative_to(PROJECT)), "--no-browser",
               f"--port={port}", "--Voila.ip=127.0.0.1"]  # the README's command, from the repository root
    log = tmp_path / "voila.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=PROJECT, env=env, start_new_session=True,
                                   stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:  # bounded: until the server listens or the deadline
            if process.poll() is not None:
                pytest.fail(f"voila exited with status {process.returncode}: {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"voila did not listen within 120 s: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _map_picture(driver) -> str | None:
    """What the map shows: the source of the first image in the map widget (None while there is none)."""
    return driver.execute_script(
        "const m = document.querySelector(arguments[0]); if (!m) return null;"
        "const i = m.tagName === 'IMG' ? m : m.querySelector('img');"
        "return i && i.complete && i.naturalWidth > 0 ? i.src : null;", MAP_SELECTOR)


def _control(driver, description: str, kind: str):
    """The widget of class ``kind`` (e.g. "widget-slider") whose description label reads ``description``."""
    for widget in driver.find_elements("css selector", f".{kind}"):
        labels = widget.find_elements("css selector", ".widget-label")
        if labels and labels[0].get_attribute("textContent").strip() == description:
            return widget
    raise AssertionError(f"no {kind} described {description!r} in the explorer app")


@pytest.fixture
def app_browser():
    """A Chromium whose ``get`` returns at once: voila's page arrives only as the notebook runs."""
    driver = _chromium(page_load_strategy="none")
    try:
        yield driver
    finally:
        driver.quit()


def test_explorer_app_redraws_the_map(app_browser, explorer_url):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser = app_browser
    browser.get(explorer_url)
    first = WebDriverWait(browser, APP_START_TIMEOUT, poll_frequency=2).until(
        _map_picture, message=f"the map never showed within {APP_START_TIMEOUT} s")

    slider = _control(browser, "T", "widget-slider")
    handle = slider.find_element("css selector", ".noUi-handle")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)  # one step up
    second = WebDriverWait(browser, REDRAW_TIMEOUT).until(
        lambda d: (p := _map_picture(d)) not in (None, first) and p, message="moving T did not redraw the map")

    select = Select(_control(browser, "S", "widget-dropdown").find_element("css selector", "select"))
    current = select.first_selected_option.text
    select.select_by_visible_text(next(o.text for o in select.options if o.text != current))
    WebDriverWait(browser, REDRAW_TIMEOUT).until(
        lambda d: (p := _map_picture(d)) not in (None, first, second) and p,
        message="changing S did not redraw the map")
