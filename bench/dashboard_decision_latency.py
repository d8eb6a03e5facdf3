"""How fast a reviewer can act on the next item: in Debian's Chromium at 1366x768 against `provenance dashboard`
on 127.0.0.1, the median time from clicking "Review next item" until the new item's "Machine-generated" button
is drawn, live (not a stale element of the previous run) and enabled; and from clicking "Human" until the next
item's button is. Goal: median <= 1 s.

The baseline in the same run is the same measurement against another git ref's dashboard (default ``main``),
exported with ``git archive`` into a temporary folder (the repository is not touched) and run with the same
virtual environment. Each variant seeds its own store with its own code (``testkit.review_seed``, same seed).
The first repetition is cold (imports, first queries) and is reported apart from the medians.

Keyboard shortcuts on this tree wait a further ``ARM_MS`` after an item opens (so a key meant for the previous
item cannot decide it); ``keys_usable_ms`` is the time from the click until that arming period ends.

    python bench/dashboard_decision_latency.py [--repeats 7] [--rows 300] [--baseline-ref main|none]

Prints one JSON object; the machine's ``uptime`` load is part of it (a shared machine makes every wall time
slower).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}
GOAL_MS = 1000.0
PASSWORD = "an invented bench passphrase"
# A new item is usable when a live (not stale) heading "Item N ..." other than ``prev`` is drawn and a live,
# enabled "Machine-generated" button with it. Returns the heading text.
USABLE = """(prev) => {
  const live = (el) => !el.closest('[data-stale="true"]');
  const head = [...document.querySelectorAll('h3')].find(h => live(h) && h.innerText.startsWith('Item '));
  if (!head || (prev && head.innerText === prev)) return false;
  const button = [...document.querySelectorAll('button')].find(
    b => live(b) && b.innerText.trim().startsWith('Machine-generated') && !b.disabled);
  return button ? head.innerText : false;
}"""
# Before each measured click: no item open and no script run requested or running (a click on a fragment's
# button while the whole page reruns can be dropped by Streamlit).
READY = """() => !!document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]') &&
  ![...document.querySelectorAll('h3')].some(
    h => !h.closest('[data-stale="true"]') && h.innerText.startsWith('Item '))"""
IDLE = """() => !!document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]')"""
SEED = """
import sys
from provenance.store import session_scope, upgrade
from provenance.review.accounts import add_reviewer
from testkit.review_seed import seed_demo_verdicts
url, rows, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
upgrade(url)
with session_scope(url) as db:
    seed_demo_verdicts(db, rows, seed=21)
add_reviewer(url, "bench", password)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def export_ref(ref: str, into: Path) -> Path:
    """``git archive`` of ``ref`` unpacked under ``into`` (read-only use of the repository)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def measure(tree: Path, work: Path, rows: int, repeats: int, *, keys: bool) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    home = work / "home"
    home.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1", "PROVENANCE_HOME": str(home),
           "HF_HUB_OFFLINE": "1"}
    env.pop("PROVENANCE_DATABASE_URL", None)
    url = f"sqlite:///{home / 'provenance.sqlite'}"
    subprocess.run([sys.executable, "-c", SEED, url, str(rows), PASSWORD], env=env, check=True, cwd=tree)
    port = free_port()
    log = (work / "dashboard.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "provenance.cli", "dashboard", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit("dashboard exited: " + (work / "dashboard.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        next_ms: list[float] = []
        decide_ms: list[float] = []
        keys_ms: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(180_000)
            page.goto(base)
            page.get_by_role("textbox", name="Account").fill("bench")
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Review queue").wait_for()
            for _ in range(repeats + 1):
                page.wait_for_function(READY, polling="raf")
                # forget the previous opening, so the wait below sees this item's focus script run
                click_epoch_ms = float(page.evaluate("window.__provItem = null; Date.now()"))
                start = time.perf_counter()
                page.get_by_role("button", name="Review next item").click()
                heading = page.wait_for_function(USABLE, arg=None, polling="raf").json_value()
                next_ms.append((time.perf_counter() - start) * 1000)
                if keys:  # the item's focus script sets the end of its arming period when it runs
                    page.wait_for_function("() => window.__provItem != null", polling="raf")
                    keys_ms.append(float(page.evaluate("window.__provArmedUntil")) - click_epoch_ms)
                start = time.perf_counter()
                page.locator('[data-stale="false"] button', has_text="Human").first.click()
                page.wait_for_function(USABLE, arg=heading, polling="raf")
                decide_ms.append((time.perf_counter() - start) * 1000)
                page.wait_for_function(IDLE, polling="raf")
                page.locator('[data-stale="false"] button', has_text="Release").first.click()
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    warm = slice(1, None)
    return {"cold_next_item_ms": round(next_ms[0], 1),
            "next_item_ms_median": round(statistics.median(next_ms[warm]), 1),
            "next_item_ms": [round(v, 1) for v in next_ms[warm]],
            "decide_to_next_ms_median": round(statistics.median(decide_ms[warm]), 1),
            "decide_to_next_ms": [round(v, 1) for v in decide_ms[warm]],
            **({"keys_usable_ms_median": round(statistics.median(keys_ms[warm]), 1)} if keys else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--baseline-ref", default="main", help="git ref to compare with, or 'none'")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"Chromium not found at {CHROMIUM}")
    load_before = os.getloadavg()
    results: dict[str, Any] = {"bench": "dashboard_decision_latency", "viewport": VIEWPORT, "rows": args.rows,
                               "repeats": args.repeats, "goal_ms": GOAL_MS}
    with tempfile.TemporaryDirectory() as tmp:
        results["this_tree"] = measure(ROOT, Path(tmp) / "this", args.rows, args.repeats, keys=True)
        if args.baseline_ref != "none":
            tree = export_ref(args.baseline_ref, Path(tmp) / "baseline-tree")
            baseline = measure(tree, Path(tmp) / "baseline", args.rows, args.repeats, keys=False)
            results[f"baseline_{args.baseline_ref}"] = baseline
    results["goal_met"] = results["this_tree"]["next_item_ms_median"] <= GOAL_MS
    results["load_avg_1_5_15_before"] = [round(v, 2) for v in load_before]
    results["load_avg_1_5_15_after"] = [round(v, 2) for v in os.getloadavg()]
    results["cpus"] = os.cpu_count()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
