"""report.html: one self-contained page holding the evaluation, drawn by a real browser."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from conftest import TEST_DIR, Job
from PIL import Image

CONSTRAINED = {"duration_in_month": 1, "credit_amount": 1}


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    base = tmp_path_factory.mktemp("report") / "ml"
    shutil.copytree(TEST_DIR, base)
    job = Job(base)
    hp = json.loads((base / "input/config/hyperparameters.json").read_text())
    hp.update(
        protected_columns="personal_status_and_sex,age_in_years:25,40,60,foreign_worker",
        monotone_constraints=json.dumps(CONSTRAINED),
    )
    job.write_config("hyperparameters", hp)
    done = job.train()
    assert done.returncode == 0, done.stderr + job.failure
    return job


class Page(HTMLParser):
    """The page's images, tables (rows of cell texts), headings and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.headings: list[str] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "h3":
            self._heading = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "h3" and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        for part in (self._cell, self._heading):
            if part is not None:
                part.append(data)


@pytest.fixture(scope="module")
def page(job):
    text = (job.base / "output" / "data" / "report.html").read_text()
    parsed = Page()
    parsed.feed(text)
    return text, parsed


def test_self_contained(page):
    text, parsed = page
    assert not {"script", "link", "iframe"} & parsed.tags
    assert not re.search(r"(src|href)=\"(?!data:)", text) and "url(" not in text
    assert len(parsed.images) >= 2 * 6 + 1  # six pictures per channel, plus monotone curves
    for src in parsed.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        with Image.open(io.BytesIO(base64.b64decode(src[len(prefix) :]))) as image:
            assert image.format == "PNG" and image.width >= 300
            assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 20


def test_summary_table_shows_each_channel_metrics(job, page):
    _, parsed = page
    summary = parsed.tables[0]
    header = summary[0]
    for row in summary[1:]:
        report = job.evaluation(row[0])
        cells = dict(zip(header, row, strict=True))
        assert int(cells["rows"]) == report["rows"]
        expected = {
            "ROC AUC": report["roc_auc"],
            "Gini": report["gini"],
            "KS": report["ks"]["statistic"],
            "KS at score": report["ks"]["score"],
            "PR AUC": report["pr_auc"],
            "Brier": report["brier"],
            "score PSI": report["score_psi"]["value"],
        }
        for name, value in expected.items():
            assert float(cells[name]) == pytest.approx(value, rel=1e-3), name
    assert [row[0] for row in summary[1:]] == ["validation", "test"]


def test_gains_table_matches_the_evaluation(job, page):
    _, parsed = page
    gains = [t for t in parsed.tables if t[0][:3] == ["decile", "rows", "bads"]]
    assert len(gains) == 2
    for table, channel in zip(gains, ("validation", "test"), strict=True):
        rows = job.evaluation(channel)["gains"]
        assert [int(r[2]) for r in table[1:]] == [g["positives"] for g in rows]
        assert [float(r[7]) for r in table[1:]] == pytest.approx(
            [g["lift"] for g in rows], rel=1e-3
        )


def test_bias_flags_exactly_the_columns_under_four_fifths(job, page):
    _, parsed = page
    report = job.evaluation("validation")
    for column, entry in report["bias"].items():
        heading = next(h for h in parsed.headings if h.startswith(column + " "))
        flagged = "DI < 0.8: flagged" in heading
        assert flagged == (entry["disparate_impact"] < 0.8), (column, entry["disparate_impact"])


def test_monotone_verdicts_are_stated(job, page):
    text, _ = page
    for name in CONSTRAINED:
        assert re.search(
            rf"{name}: <span class=\"badge pass\">holds</span> scores move only up as it "
            r"rises, on 150 validation rows",
            text,
        )


def browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_renders_in_chromium(job, tmp_path):
    """Headless Chromium draws the page: the pictures decode and appear where they belong."""
    if browser() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing (scripts/setup.sh installs it)")
        pytest.skip("chromium is not installed (scripts/setup.sh installs it)")
    shot = tmp_path / "report.png"
    done = subprocess.run(
        [
            browser(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2600",
            (job.base / "output" / "data" / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1280, 2600)
        pixels = np.asarray(image.convert("RGB"), dtype=int)

    def near(colour: tuple[int, int, int], tolerance: int = 40) -> int:
        return int((np.abs(pixels - np.array(colour)).sum(axis=2) < tolerance).sum())

    # The KS plot's bads curve (#d7301f) and the ROC curve (matplotlib's first colour) are drawn.
    assert near((0xD7, 0x30, 0x1F)) > 500
    assert near((0x1F, 0x77, 0xB4)) > 500
