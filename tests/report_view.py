"""Screenshots of a Snakemake report in headless Chromium, after clicking through its menu.

The report is a single-page app without URL routes, so a copy of it gets a small script that clicks the
given menu entries (by their visible text) once the page has loaded; Chromium's virtual time lets those
clicks run before the screenshot is taken.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

CHROMIUM = next((c for c in ("chromium", "chromium-browser", "google-chrome") if shutil.which(c)), None)

_CLICKER = """<script>
(function () {
  const steps = %s;
  function visible(el) { return el.offsetParent !== null; }
  function byText(text) {
    return [...document.querySelectorAll("a, button, li, span, div, td")]
      .filter(e => visible(e) && e.textContent.trim() === text).pop();
  }
  function showOf(text) {  // the "eye" button on the row of a result
    const label = byText(text);
    let row = label;
    while (row && !row.querySelector("svg, button")) row = row.parentElement;
    const buttons = row ? [...row.querySelectorAll("a, button, svg")] : [];
    return buttons.length ? buttons[0] : null;
  }
  function run(i) {
    if (i >= steps.length) { document.title = "done"; return; }
    const [kind, text] = steps[i];
    const el = kind === "show" ? showOf(text) : byText(text);
    if (!el) { document.title = "missing: " + text; return; }
    el.dispatchEvent(new MouseEvent("click", {bubbles: true}));
    setTimeout(() => run(i + 1), 400);
  }
  window.addEventListener("load", () => setTimeout(() => run(0), 400));
})();
</script>"""


def screenshot(report: str | Path, out: str | Path, steps: list[tuple[str, str]], size=(1500, 1000)
               ) -> tuple[Path, str]:
    """``steps``: ("click", menu text) or ("show", result label) in order; returns ``out`` (PNG) and the
    page's DOM after the steps (its ``<title>`` is "done", or "missing: <text>" if a step found nothing)."""
    if CHROMIUM is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    html = Path(report).read_text(encoding="utf-8")
    end = html.rindex("</body>")
    page = Path(out).with_suffix(".html")
    page.write_text(html[:end] + _CLICKER % json.dumps(steps) + html[end:], encoding="utf-8")
    common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=8000"]
    subprocess.run([*common, f"--screenshot={out}", page.resolve().as_uri()], check=True, capture_output=True,
                   timeout=180)
    dom = subprocess.run([*common, "--dump-dom", page.resolve().as_uri()], check=True, capture_output=True,
                         text=True, timeout=180).stdout
    return Path(out), dom
