"""Security: SQL only through parameters, export file names from hex ids only, no secret in the logs,
no remote control of a running crawl. (Datasette read-only on 127.0.0.1: tests/test_datasette.py and
test_datasette_metadata.py; robots.txt and the User-Agent under faults: tests/test_reliability.py.)"""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
from pathlib import Path

from crawler.article import Article, Block
from crawler.export import export
from crawler.mirror import MirrorServer
from crawler.redact import install, redact
from crawler.storage import Store
from tests.reliability import SITES

REPO = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("crawler", "pipelines", "spiders", "datasette") for p in (REPO / d).rglob("*.py")]
SQL_WORDS = ("SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "DROP ", " WHERE ", " SET ")
# What may be spliced into SQL text: placeholders (`?, ?`), and table or column names from constants
# of the code (`table` comes from a literal tuple or a call with a literal, `cols` from a dict's keys).
SPLICE_OK = {"marks", "table", "sets", "key", "_ARTICLE_SQL", "', '.join(cols)", "', '.join(('?' for _ in cols))",
             "', '.join(('?' for _ in chunk))", "_marks(len(chunk))", "_marks(len(keys))", "_marks(len(ids))",
             "', '.join((f'{k} = ?' for k in row))", "', '.join(map(str, FTS_WEIGHTS))"}
NOT_SQL = {("crawler/quality.py", "line")}  # prints `DROP <field line>`: a report, not SQL


def _spliced_sql(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if any(w in text.upper() for w in SQL_WORDS):
                for v in node.values:
                    if isinstance(v, ast.FormattedValue):
                        yield node.lineno, ast.unparse(v.value)


def test_sql_is_parameterised_everywhere():
    """No value is ever formatted into SQL text: an f-string that builds SQL splices only placeholders
    and names from the code's constants (the list above). A new splice fails here until reviewed."""
    found = {}
    for path in SOURCES:
        for line, expr in _spliced_sql(ast.parse(path.read_text("utf-8"))):
            if expr not in SPLICE_OK and (str(path.relative_to(REPO)), expr) not in NOT_SQL:
                found[f"{path.relative_to(REPO)}:{line}"] = expr
    assert found == {}
    assert any(_spliced_sql(ast.parse('x = f"SELECT a FROM t WHERE b = \'{value}\'"')))  # the check bites


def test_the_spliced_table_and_column_names_come_from_constants():
    text = (REPO / "crawler" / "storage.py").read_text("utf-8")
    assert 'for table in ("articles", "seen_urls")' in text
    tree = ast.parse(text)
    for node in ast.walk(tree):  # every call of _upsert names its table with a literal
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_upsert":
            assert isinstance(node.args[0], ast.Constant), ast.unparse(node)


def test_export_file_names_come_from_hex_ids_only(tmp_path):
    """A hostile title or URL never reaches the file system: names are NNN_<16 hex>.txt, inside --out."""
    db = tmp_path / "news.db"
    store = Store(db)
    evil = ["../../../etc/passwd", "..\\..\\win.ini", "/tmp/owned", "a\x00b", "CON", "$(rm -rf ~)", "x" * 300]
    for i, title in enumerate(evil):
        a = Article(url=f"https://baocantho.com.vn/{title}/../../x-a{i}.html?f=../../y", site="baocantho",
                    title=title, blocks=[Block("paragraph", "Nội dung bài viết.")])
        a.id, a.canonical_url, a.content_hash, a.text = f"{i:016x}", a.url + str(i), f"h{i}", f"{title}\n\nx"
        from crawler.state import CrawlState  # noqa: F401 - the batch path users run is below
        from crawler.storage import Batch

        store.write_batch(Batch(articles=[a]), None)
    # A row whose id is not 16 hex (written by someone else) is never exported under its id.
    store.db.execute("UPDATE articles SET id = '../../escape' WHERE id = ?", [f"{0:016x}"])
    store.close()
    out = tmp_path / "out"
    n = export(db, out)
    names = sorted(p.name for p in out.iterdir())
    assert n == len(evil) - 1 == len(names)
    assert all(len(name) == len("000_") + 16 + len(".txt") and name[4:20].isalnum() for name in names)
    assert {p.resolve().parent for p in out.iterdir()} == {out.resolve()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["news.db", "news.db-shm", "news.db-wal", "out"] or \
        sorted(p.name for p in tmp_path.iterdir()) == ["news.db", "out"]


def test_redact_masks_passwords_and_secret_settings():
    assert redact("redis://:hunter2@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact("proxy http://bob:s3cr3t@proxy.local:3128 up") == "proxy http://bob:***@proxy.local:3128 up"
    assert redact("{'MAIL_PASS': 'a b', 'AWS_SECRET_ACCESS_KEY': 'k', 'NEWS_API_TOKEN': 't'}") == \
        "{'MAIL_PASS': '***', 'AWS_SECRET_ACCESS_KEY': '***', 'NEWS_API_TOKEN': '***'}"
    for harmless in ("https://baocantho.com.vn/a-a1.html", "mailto:you@example.org", "tokens=5 bypass: 3",
                     "USER_AGENT: vn-provincial-news/0.1 (+mailto:a@b.org)"):
        assert redact(harmless) == harmless


def test_the_log_record_factory_masks_every_record(caplog):
    install()
    with caplog.at_level(logging.INFO):
        logging.getLogger("x").info("connecting to %s", "redis://:hunter2@h:6379/0")
        try:
            raise ConnectionError("redis://u:hunter2@h:6379/0 refused")
        except ConnectionError:
            logging.getLogger("x").exception("failed")
    assert "hunter2" not in caplog.text and "redis://:***@h:6379/0" in caplog.text


def test_a_crawl_logs_no_secret_and_runs_no_remote_control(tmp_path):
    """Scrapy logs every one of its settings that is overridden (MAIL_PASS among them): masked. Our own
    settings (e.g. a Redis URL) are not in that dump; any log line with a URL password is masked too
    (test_the_log_record_factory_masks_every_record)."""
    secret = "hunter2-s3cret"
    with MirrorServer(SITES, port=0) as srv:
        cmd = [sys.executable, "-m", "scrapy", "crawl", "baocantho", "-s", f"DB_PATH={tmp_path / 'news.db'}",
               "-s", f"MIRROR_URL={srv.url}", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
               "-s", f"NEWS_UPSTREAM_URL=redis://:{secret}@127.0.0.1:6379/0",  # not a setting of ours: logged all the same
               "-s", f"NEWS_PROXY=http://crawler:{secret}@proxy.invalid:3128", "-s", f"MAIL_PASS={secret}"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        env.pop("MIRROR_URL", None)
        run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Overridden settings" in run.stderr and "'MAIL_PASS': '***'" in run.stderr
    assert secret not in run.stderr + run.stdout
    assert "Remote control" not in run.stderr and "remote_control" not in run.stderr.split("Enabled extensions")[1][:800]
