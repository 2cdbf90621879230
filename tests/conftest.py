"""Shared fixtures: the real-data folder (skipped when absent) and a tiny trained synthetic run."""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import subprocess
from html import unescape as html_unescape
from pathlib import Path

import pytest
import torch

# One thread: the tests' tensors are tiny, and two threads on a busy 2-core machine thrash.
torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the repository; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    """Tiny synthetic four-site data (64x64, 5 cases per site, 2 raters, 2 OOD of each kind)."""
    from seguq.data.synthetic import generate_synthetic

    folder = tmp_path_factory.mktemp("synthetic") / "data"
    manifest = generate_synthetic(folder, seed=0, n_per_site=5, size=64, n_raters=2, n_ood=2)
    # Every case of the training sites: in-distribution cases for calibration tests.
    lines = manifest.read_text().splitlines()
    keep = [line for line in lines[1:] if ",site4," not in line and ",ood_" not in line]
    (manifest.parent / "site_calibration.csv").write_text("\n".join(lines[:1] + keep) + "\n")
    return manifest


def tiny_config(manifest: Path, method: str = "deterministic", **train):
    """A run config small enough to train in seconds."""
    from seguq.config import RunConfig

    config = RunConfig()
    config.data.source = str(manifest)
    config.data.train_domains = ["site1", "site2", "site3"]
    config.data.patch_size = [32, 32]
    config.data.batch_size = 4
    config.net.widths = [8, 16, 32]
    config.method.name = method
    config.method.members = 2
    config.train.epochs = train.pop("epochs", 2)
    config.train.steps_per_epoch = train.pop("steps_per_epoch", 3)
    config.train.progress = False
    for key, value in train.items():
        setattr(config.train, key, value)
    return config


def tree_digest(*paths: Path) -> str:
    """SHA-256 over the names and bytes of every file under `paths` (files or folders)."""
    digest = hashlib.sha256()
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def unchanged():
    """`with unchanged(path, ...):` fails the test when a file under the paths changes."""

    @contextlib.contextmanager
    def guard(*paths: Path):
        before = tree_digest(*paths)
        yield
        assert tree_digest(*paths) == before, f"input files changed under {paths}"

    return guard


@pytest.fixture
def cli_error(capsys):
    """`cli_error(argv) -> message`: runs `seguq argv`, expects exit status 2 and one line."""
    from seguq.cli import main

    def run(argv: list[str]) -> str:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err.strip()
        assert code == 2, f"exit {code}, stderr: {err}"
        lines = [line for line in err.splitlines() if line.startswith("seguq: error: ")]
        assert len(lines) == 1 and "Traceback" not in err, err
        return lines[0]

    return run


@pytest.fixture(scope="session")
def make_config():
    """The `tiny_config` factory, for tests that build their own runs."""
    return tiny_config


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_manifest) -> Path:
    """A deterministic run trained for two short epochs on the tiny synthetic data."""
    from seguq.engine.train import train

    out = tmp_path_factory.mktemp("runs") / "det"
    train(tiny_config(tiny_manifest), out)
    return out


CHROMIUM = shutil.which("chromium")
PROBE = """<script>
window.addEventListener("load", () => {
  const body = document.body;
  const widths = [...document.images].map(i => i.naturalWidth);
  body.setAttribute("data-widths", widths.join(","));
  const rows = document.querySelectorAll("#main-table tbody tr").length;
  body.setAttribute("data-main-rows", String(rows));
  body.setAttribute("data-alts", [...document.images].map(i => i.alt).join("|"));
  const zoom = document.querySelector("figure.zoom img");
  if (zoom) {  // a click shows the case figure at full size
    const before = zoom.getBoundingClientRect().width;
    zoom.click();
    const after = zoom.getBoundingClientRect().width;
    body.setAttribute("data-zoom", [before, after, zoom.naturalWidth].join(","));
  }
  body.setAttribute("data-text", body.innerText.replace(/\\s+/g, " "));
});
</script>
</body>"""


def _chromium(tmp_path: Path, *args: str) -> str:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu"]
    command += [f"--user-data-dir={tmp_path / 'profile'}", *args]
    # Chromium prints harmless warnings on stderr; only its output and exit status matter.
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def render_in_chromium(tmp_path):
    """A function: report.html -> what Chromium shows of it: the natural widths of its images,
    the rows of its main table, the images' alt texts, the first case figure's width fitted,
    after a click and natural, and the page's text; it also saves a screenshot beside the
    rendered copy. Skips when Chromium is not installed."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it in .ci/run)")

    def render(report: Path) -> dict:
        html = report.read_text()
        assert html.count("</body>") == 1
        page = tmp_path / "rendered.html"
        page.write_text(html.replace("</body>", PROBE))
        dom = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", page.as_uri())
        found = {
            name: re.search(rf'data-{name}="([^"]*)"', dom)
            for name in ("widths", "main-rows", "alts", "zoom", "text")
        }
        assert found["widths"] and found["main-rows"], dom[:500]
        shot = tmp_path / "screenshot.png"
        _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
        assert shot.is_file() and shot.stat().st_size > 0
        zoom = found["zoom"].group(1).split(",") if found["zoom"] else []
        return {
            "widths": [int(w) for w in found["widths"].group(1).split(",") if w],
            "rows": int(found["main-rows"].group(1)),
            "alts": html_unescape(found["alts"].group(1)).split("|"),
            "zoom": [float(v) for v in zoom],  # fitted width, width after a click, natural
            "text": html_unescape(found["text"].group(1)),
        }

    return render
