"""`python -m crawler` as a user runs it: a subprocess, real files, exit codes, stdout and stderr."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KEYS = sorted(p.stem for p in (REPO / "seeds").glob("*.toml"))  # one paper per seed file
CORE_KEYS = ["baocantho", "baocaobang", "baolaocai", "baonamdinh"]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def assert_one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:"), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


# --- help and sites ------------------------------------------------------------------------------


def test_help_lists_subcommands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("extract", "sites", "export", "mirror", "fixtures", "crawl", "demo"):
        assert command in proc.stdout


def test_no_command_is_a_usage_error():
    proc = run_cli()
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_sites_table():
    proc = run_cli("sites")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = lines[0].split()
    assert header[:2] == ["key", "name"]
    assert "domain" in header and "family" in header
    assert [line.split()[0] for line in lines[1:]] == KEYS
    assert set(CORE_KEYS) <= set(KEYS)
    assert "baocaobang.vn" in proc.stdout and "Báo Cao Bằng" in proc.stdout
    assert "merged into baoninhbinh" in proc.stdout  # Báo Nam Định's status


def test_sites_json():
    proc = run_cli("sites", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["key"] for r in rows] == KEYS
    assert set(CORE_KEYS) <= set(KEYS)
    by_key = {r["key"]: r for r in rows}
    assert by_key["baocaobang"]["domain"] == "baocaobang.vn"
    assert by_key["baocaobang"]["name"] == "Báo Cao Bằng"
    assert by_key["baonamdinh"]["family"] == "F3"
    assert by_key["baocantho"]["status"] == "current"


# --- extract -------------------------------------------------------------------------------------

URL = "https://example.org/tin-tuc/bai-viet-1.html"
TITLE = "Nông dân xã Hòa Bình thu hoạch lúa sớm"
PARAGRAPHS = [
    "Sáng 5/3, bà con nông dân xã Hòa Bình bắt đầu thu hoạch vụ lúa đông xuân sớm hơn mọi năm khoảng một tuần.",
    "Theo ông Nguyễn Văn Tám, trưởng thôn Đông, năng suất năm nay ước đạt hơn sáu tấn mỗi héc-ta nhờ "
    "thời tiết thuận lợi.",
    "Nhiều hộ đã thuê máy gặt đập liên hợp, giúp giảm chi phí nhân công và rút ngắn thời gian thu hoạch.",
    "Hợp tác xã dự kiến bao tiêu toàn bộ sản lượng lúa chất lượng cao cho bà con trong tháng này.",
]
PAGE = f"""<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>{TITLE} - Báo Ví Dụ</title>
<meta property="og:title" content="{TITLE}">
<meta property="article:published_time" content="2025-03-05T09:30:00+07:00">
</head>
<body>
<header><nav><a href="/">Trang chủ</a> <a href="/tin-tuc/">Tin tức</a></nav></header>
<main>
<article>
<h1>{TITLE}</h1>
{"".join(f"<p>{p}</p>" + chr(10) for p in PARAGRAPHS)}<p style="text-align:right"><strong>Minh Khôi</strong></p>
</article>
</main>
<footer><p>Bản quyền thuộc về Báo Ví Dụ.</p></footer>
</body>
</html>
"""


@pytest.fixture
def page(tmp_path) -> Path:
    path = tmp_path / "bai-viet-1.html"
    path.write_text(PAGE, encoding="utf-8")
    return path


def test_extract_json(page):
    proc = run_cli("extract", URL, "--html", str(page), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["url"] == URL
    assert out["site"] == ""
    assert out["title"] == TITLE
    assert out["published_at"] == "2025-03-05T09:30:00+07:00"
    assert out["author"] == "Minh Khôi"
    assert out["body"].split("\n\n") == PARAGRAPHS
    assert "Minh Khôi" not in out["body"]
    assert "Trang chủ" not in out["body"] and "Bản quyền" not in out["body"]
    assert out["page_kind"] == "article"
    blocks = out["text"].split("\n\n")
    assert blocks[0] == f" date 2025-03-05 {TITLE}"
    assert blocks[-2] == "Minh Khôi"
    assert blocks[-1] == f"Nguồn example.org: {URL}"


def test_extract_document_options(page):
    proc = run_cli("extract", URL, "--html", str(page), "--date-precision", "month", "--no-source-line")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip("\n").split("\n\n") == [f" date 2025-03 {TITLE}", *PARAGRAPHS, "Minh Khôi"]


def test_extract_missing_html_file(tmp_path):
    missing = tmp_path / "khong-co.html"
    proc = run_cli("extract", URL, "--html", str(missing))
    line = assert_one_error_line(proc)
    assert str(missing) in line
    assert proc.stdout == ""


def test_extract_without_html_option():
    assert_one_error_line(run_cli("extract", URL))


def test_extract_jsonl(page, tmp_path):
    jobs = [
        {"url": URL, "html_path": str(page)},
        {"url": "https://example.org/tin-tuc/bai-viet-2.html", "html_path": str(tmp_path / "missing.html")},
    ]
    stdin = "".join(json.dumps(j, ensure_ascii=False) + "\n" for j in jobs)
    proc = run_cli("extract", "--jsonl", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["url"] == URL
    assert first["title"] == TITLE
    assert first["author"] == "Minh Khôi"
    assert "error" not in first
    assert second["url"] == "https://example.org/tin-tuc/bai-viet-2.html"
    assert "error" in second
    assert "missing.html" in second["error"]


def test_extract_jsonl_bad_json_line_does_not_stop_the_stream(page):
    stdin = "not json\n\n" + json.dumps({"url": URL, "html_path": str(page)}) + "\n"
    proc = run_cli("extract", "--jsonl", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert "error" in first
    assert second["title"] == TITLE


# --- export --------------------------------------------------------------------------------------


def test_export_missing_db(tmp_path):
    missing = tmp_path / "khong-co.db"
    proc = run_cli("export", "--db", str(missing), "--out", str(tmp_path / "out"))
    line = assert_one_error_line(proc)
    assert str(missing) in line
    assert not (tmp_path / "out").exists()
    assert not missing.exists()  # the database is not created as a side effect
