"""`python -m crawler check SITE` against the mirror, and its template-change flag."""

import subprocess
import sys
from pathlib import Path

from crawler.check import summarize
from crawler.extract import extract
from crawler.fixtures import mirror_articles
from crawler.mirror import MirrorServer

REPO = Path(__file__).resolve().parent.parent


def test_check_reports_a_healthy_paper():
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0) as mirror:
        run = subprocess.run(
            [sys.executable, "-m", "crawler", "check", "baolaocai", "--count", "4", "--mirror", mirror.url],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert "ok: the paper's parser finds the core fields" in run.stdout
    assert "title" in run.stdout and "published_at" in run.stdout


def test_template_change_is_flagged():
    # The same pages read as if every family selector had stopped matching: fields now come from
    # the generic fallback, which is what a changed template looks like.
    pages = [i for i in mirror_articles(REPO) if i["site"] == "baocantho" and i["kind"] == "article"]
    healthy = [extract(i["url"], Path(i["file"]).read_bytes()) for i in pages]
    changed = [extract(i["url"], Path(i["file"]).read_bytes(), use_families=False) for i in pages]
    assert summarize(healthy)[1] is False
    lines, flagged = summarize(changed)
    assert flagged and any("TEMPLATE CHANGE" in line for line in lines)


def test_check_unknown_site_is_one_error_line():
    run = subprocess.run([sys.executable, "-m", "crawler", "check", "nosuchpaper"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and run.stderr.startswith("error:")


def test_fixtures_record_saves_a_page_and_its_extraction(tmp_path):
    url = "https://baocantho.com.vn/kiem-tra-cong-tac-phong-chay-chua-chay-tai-cac-cho-dip-cao-diem-tet-a196612.html"
    with MirrorServer(REPO / "mirror" / "sites", host="127.0.0.1", port=0) as mirror:
        run = subprocess.run(
            [sys.executable, "-m", "crawler", "fixtures", "record", url, "--out", str(tmp_path), "--mirror", mirror.url],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )
    assert run.returncode == 0, run.stderr[-2000:]
    saved = tmp_path / "baocantho.com.vn" / url.rsplit("/", 1)[1]
    import json

    data = json.loads(saved.with_suffix(".json").read_text(encoding="utf-8"))
    assert saved.read_bytes() == (REPO / "mirror/sites/baocantho.com.vn" / saved.name).read_bytes()
    assert data["title"].startswith("Kiểm tra công tác phòng cháy") and data["source_url"] == url
