"""Near-duplicates across papers (crawler/neardup.py, pipelines/neardup.py, `python -m crawler dedupe`).

The layers: canonical URL and exact fingerprint (an alias, never stored twice), then near-duplicates
(stored, linked in a cluster with a similarity and a canonical member). Crafted pairs in our own
Vietnamese text: a story re-posted with another title, a paragraph cut and another byline is a
near-duplicate; two delegation visits of one week (alike in vocabulary, other facts) are not; a
legacy and a current domain of one paper collapse to one article; tone-mark variants of one text
are one text for matching. Then the index: incremental across runs, rebuilt after a threshold
change, clusters in SQLite, `export --dedupe`, and a crawl of two mirror papers carrying one
TTXVN story.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from crawler import neardup
from crawler.article import PARAGRAPH, Article, Block
from crawler.canonical import canonical_url, url_id
from crawler.cli import main as cli
from crawler.mirror import MirrorServer
from crawler.normalize import clean_text, fold_for_matching
from crawler.registry import default_registry
from crawler.render import content_hash, render_document
from crawler.state import Fetch, state_for
from crawler.storage import Batch, Store
from tests.evolving_mirror import EvolvingMirror, ago, crawl_rows, query, refresh

THRESHOLD = neardup.DEFAULT_THRESHOLD

# --- crafted text (our own) ------------------------------------------------------------------------

STORY_TITLE = "Thủ tướng chủ trì hội nghị trực tuyến về dữ liệu dân cư và chuyển đổi số"
STORY_SAPO = ("Sáng 14/3, tại Hà Nội, Thủ tướng Chính phủ chủ trì hội nghị trực tuyến toàn quốc sơ kết một năm "
              "triển khai Đề án phát triển ứng dụng dữ liệu dân cư, định danh và xác thực điện tử phục vụ chuyển "
              "đổi số quốc gia.")
STORY = [
    "Hội nghị được kết nối tới trụ sở Ủy ban nhân dân 63 tỉnh, thành phố và hơn 10.000 điểm cầu cấp xã, với sự "
    "tham dự của lãnh đạo các bộ, ngành, địa phương, đại diện các doanh nghiệp viễn thông, công nghệ thông tin.",
    "Theo báo cáo của Bộ Công an, sau một năm triển khai, cơ sở dữ liệu quốc gia về dân cư đã được kết nối với 13 "
    "bộ, ngành, 3 doanh nghiệp nhà nước và 63 địa phương; hơn 82 triệu thẻ căn cước gắn chíp đã được cấp, gần 40 "
    "triệu tài khoản định danh điện tử đã được kích hoạt.",
    "Việc làm sạch dữ liệu giúp giải quyết nhiều thủ tục hành chính nhanh hơn, tiết kiệm cho xã hội hàng nghìn tỷ "
    "đồng mỗi năm. Người dân có thể dùng thẻ căn cước thay thẻ bảo hiểm y tế khi khám, chữa bệnh tại hơn 12.000 cơ "
    "sở y tế; ngành thủy sản, hòa mạng di động và chăm sóc sức khỏe đều đã dùng dữ liệu này.",
    "Bên cạnh kết quả đạt được, hội nghị cũng chỉ ra một số hạn chế như hạ tầng công nghệ thông tin ở nhiều nơi "
    "chưa đồng bộ, việc chia sẻ dữ liệu giữa các bộ, ngành còn chậm, một bộ phận người dân chưa quen sử dụng dịch "
    "vụ công trực tuyến.",
    "Phát biểu kết luận, Thủ tướng yêu cầu các bộ, ngành, địa phương coi chuyển đổi số là nhiệm vụ trọng tâm, "
    "thường xuyên, lấy người dân và doanh nghiệp làm trung tâm; hoàn thiện thể chế, bảo đảm an ninh, an toàn dữ "
    "liệu, đẩy mạnh cung cấp dịch vụ công trực tuyến toàn trình.",
    "Thủ tướng đề nghị các doanh nghiệp công nghệ phát huy vai trò tiên phong, phối hợp với các cơ quan nhà nước "
    "xây dựng các nền tảng số dùng chung, phấn đấu đến cuối năm cơ bản hoàn thành kết nối giữa các cơ sở dữ liệu "
    "quốc gia, hòa thành một hệ sinh thái thống nhất.",
]
COPY_TITLE = "Đẩy mạnh khai thác dữ liệu dân cư, tạo nền tảng cho chuyển đổi số quốc gia"
COPY = STORY[:3] + STORY[4:]  # the fourth paragraph cut

VISIT_A = ("Đoàn công tác tỉnh Điện Biên thăm và làm việc tại Lào Cai",
           "Ngày 18/11, Đoàn công tác tỉnh Điện Biên do đồng chí Mùa A Sơn, Phó Bí thư Tỉnh ủy, Chủ tịch UBND "
           "tỉnh làm trưởng đoàn đã đến thăm và làm việc tại tỉnh Lào Cai.", [
               "Tiếp đoàn có đồng chí Hoàng Quốc Khánh, Phó Bí thư Tỉnh ủy, Chủ tịch UBND tỉnh Lào Cai cùng lãnh "
               "đạo một số sở, ban, ngành của tỉnh.",
               "Tại buổi làm việc, hai bên trao đổi kinh nghiệm phát triển du lịch cộng đồng gắn với bảo tồn bản "
               "sắc văn hóa các dân tộc vùng cao. Năm nay Lào Cai đón hơn 7,2 triệu lượt khách, doanh thu du lịch "
               "đạt gần 30.000 tỷ đồng; Điện Biên đón khoảng 1,3 triệu lượt khách.",
               "Đoàn Điện Biên quan tâm tới cách Lào Cai quy hoạch Sa Pa, quản lý homestay và liên kết tua tuyến "
               "với các tỉnh Tây Bắc, nhất là tuyến du lịch theo đường Hoàng Liên qua Lai Châu.",
               "Hai tỉnh thống nhất xây dựng chương trình hợp tác giai đoạn 2026 - 2030, trước hết là kết nối tuyến "
               "du lịch Điện Biên Phủ - Sa Pa và trao đổi cán bộ quản lý văn hóa, du lịch.",
               "Dịp này, đoàn đã thăm khu du lịch Cát Cát và làng nghề dệt thổ cẩm của đồng bào Dao đỏ ở Tả Phìn.",
           ])
VISIT_B = ("Đoàn đại biểu tỉnh Hà Giang thăm, làm việc tại Lào Cai",
           "Ngày 20/11, Đoàn đại biểu tỉnh Hà Giang do đồng chí Nguyễn Mạnh Dũng, Phó Bí thư Thường trực Tỉnh ủy "
           "làm trưởng đoàn đã đến thăm và làm việc tại tỉnh Lào Cai.", [
               "Tiếp đoàn có đồng chí Vũ Xuân Cường, Phó Bí thư Thường trực Tỉnh ủy, Chủ tịch HĐND tỉnh Lào Cai cùng "
               "đại diện lãnh đạo các sở, ngành liên quan.",
               "Tại buổi làm việc, đoàn tìm hiểu cách Lào Cai phát triển vùng chè Shan tuyết, cây quế và dược liệu "
               "theo chuỗi giá trị. Toàn tỉnh hiện có hơn 110.000 ha quế, giá trị xuất khẩu nông sản năm nay ước "
               "đạt 160 triệu USD.",
               "Lãnh đạo Hà Giang chia sẻ kinh nghiệm xây dựng thương hiệu cam sành Bắc Quang và mật ong bạc hà, "
               "đồng thời đề nghị hai tỉnh phối hợp kiểm soát dịch bệnh trên đàn gia súc ở khu vực giáp ranh.",
               "Hai bên thống nhất sớm ký kết quy chế phối hợp quản lý rừng đầu nguồn sông Chảy và hỗ trợ nhau tiêu "
               "thụ nông sản qua cửa khẩu quốc tế Kim Thành.",
               "Trước đó, đoàn đã tham quan hợp tác xã chế biến quế ở Văn Bàn và nhà máy chè tại huyện Bắc Hà.",
           ])

TO_OLD = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "òe": "oè", "óe": "oé", "ỏe": "oẻ",
          "ùy": "uỳ", "úy": "uý", "ủy": "uỷ", "ũy": "uỹ", "ụy": "uỵ", "Ủy": "Uỷ"}


def old_style(text: str) -> str:
    for new, old in TO_OLD.items():
        text = text.replace(new, old)
    return text


def article(url: str, title: str, sapo: str, paragraphs: list[str], author: str = "Phóng viên",
            published: str = "2026-03-14T10:00:00+07:00") -> Article:
    """An Article as the render pipeline leaves it (id, fingerprint, document)."""
    registry = default_registry()
    canon = canonical_url(url)
    site = registry.for_host(canon.split("/")[2])
    a = Article(url=url, canonical_url=canon, site=site.key if site else "", title=title, sapo=sapo,
                blocks=[Block(PARAGRAPH, p) for p in paragraphs], author=author, published_at=published)
    a.id = url_id(canon)
    a.content_hash = content_hash(a)
    a.text = render_document(a, short_name=site.short_name if site else "")
    return a


def matching_set(a: Article, k: int = neardup.DEFAULT_SHINGLE) -> np.ndarray:
    return neardup.shingle_set("\n".join(neardup.matching_blocks(a.sapo, [b.text for b in a.blocks])), k)


def stored(db: Path, *articles: Article) -> None:
    store = Store(db)
    store.write_batch(Batch(articles=list(articles)), None)
    store.close()


def index(db: Path, threshold: float = THRESHOLD) -> tuple[neardup.NearDupIndex, neardup.Report]:
    conn = neardup.connect(db)
    idx = neardup.NearDupIndex.open(conn, neardup.Params.make(threshold))
    return idx, idx.index(idx.pending())


def clusters(db: Path) -> list[dict]:
    """{canonical, members: {id: (similarity, matched_id)}} per cluster, in id order."""
    out = {}
    for cid, canonical in query(db, "SELECT id, canonical_id FROM clusters ORDER BY id"):
        out[cid] = {"canonical": canonical, "members": {}}
    for art, cid, is_canonical, sim, matched in query(
            db, "SELECT article_id, cluster_id, is_canonical, similarity, matched_id FROM cluster_members"):
        out[cid]["members"][art] = (sim, matched)
        assert bool(is_canonical) == (art == out[cid]["canonical"])
    return list(out.values())


ORIGINAL = article("https://baolaocai.vn/thu-tuong-chu-tri-hoi-nghi-post410001.html", STORY_TITLE, STORY_SAPO, STORY,
                   author="Theo TTXVN", published="2026-03-14T11:20:00+07:00")
REPOST = article("https://baocantho.com.vn/day-manh-khai-thac-du-lieu-dan-cu-a200001.html", COPY_TITLE, STORY_SAPO,
                 COPY, author="TTXVN", published="2026-03-14T15:05:00+07:00")
VISITS = [article(f"https://baolaocai.vn/doan-cong-tac-{i}-post41010{i}.html", t, s, ps, author="Minh Anh",
                  published=f"2026-11-{18 + 2 * i}T16:00:00+07:00") for i, (t, s, ps) in enumerate((VISIT_A, VISIT_B))]


# --- matching text and fingerprints ----------------------------------------------------------------

def test_a_repost_with_another_title_a_cut_paragraph_and_another_byline_is_a_near_duplicate():
    assert ORIGINAL.content_hash != REPOST.content_hash  # not an exact duplicate: both are stored
    sim = neardup.jaccard(matching_set(ORIGINAL), matching_set(REPOST))
    assert sim >= THRESHOLD, sim
    assert sim > 0.75  # one paragraph of seven blocks cut; title and byline are not compared at all
    # The MinHash estimate agrees with the exact similarity.
    params = neardup.Params.make()
    sk = neardup.sketch([neardup.Doc.from_row((a.id, a.site, a.sapo, a.body, a.author, a.published_at, "", ""))
                         .text for a in (ORIGINAL, REPOST)], params, neardup.permutations(params.num_perm))
    assert abs(neardup.estimate(sk.sigs[0], sk.sigs[1:])[0] - sim) < 0.12
    # They share band keys: the LSH index finds one from the other.
    assert set(sk.keys[0].tolist()) & set(sk.keys[1].tolist())


def test_two_delegation_visits_of_one_week_are_not_near_duplicates():
    a, b = VISITS
    sim = neardup.jaccard(matching_set(a), matching_set(b))
    assert sim < 0.1
    # Their vocabulary is alike: single words overlap many times more than five-word shingles do.
    assert neardup.jaccard(matching_set(a, 1), matching_set(b, 1)) > max(0.25, 5 * sim)


def test_tone_mark_variants_of_one_text_are_exact_duplicates_for_matching():
    old = article("https://baocantho.com.vn/ban-cu-a200002.html", old_style(STORY_TITLE), old_style(STORY_SAPO),
                  [old_style(p) for p in STORY], author="Theo TTXVN")
    assert old.body != ORIGINAL.body and "uỷ" in old.body.casefold() and "hoà" in old.body  # really another spelling
    assert old.content_hash == ORIGINAL.content_hash  # the exact fingerprint: an alias, never stored twice
    assert np.array_equal(matching_set(old), matching_set(ORIGINAL))
    # Case, punctuation, spacing and NFD input fold away as well.
    shouty = article("https://baocantho.com.vn/in-hoa-a200003.html", STORY_TITLE.upper(),
                     unicodedata.normalize("NFD", STORY_SAPO.replace(",", " ,  ")), [p.upper() for p in STORY])
    assert shouty.content_hash == ORIGINAL.content_hash


def test_the_fingerprint_leaves_out_byline_source_line_and_url():
    other = article("https://baodaklak.vn/thoi-su/bai-khac-123456.html", STORY_TITLE, STORY_SAPO, STORY,
                    author="Nguyễn Văn Minh (tổng hợp)")
    assert other.text != ORIGINAL.text  # another byline and another source line in the document
    assert other.content_hash == ORIGINAL.content_hash
    # Credit lines a paper leaves in the body are not compared either.
    credited = article("https://baodaklak.vn/thoi-su/bai-nua-123457.html", STORY_TITLE, STORY_SAPO,
                       [*STORY, "Theo TTXVN", "Ảnh: TTXVN"])
    assert np.array_equal(matching_set(credited), matching_set(ORIGINAL))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="aàáảãạăằắâầấđeèéêềểoòóỏọôồơờuùúủụưừyỳýỷAÀĐÔƠƯ hkmnqtgv0123456789,.;:!?-–()“”%/\n\u00a0",
               max_size=120))
def test_word_hashes_are_the_hashes_of_the_folded_words(raw):
    text = clean_text(raw)
    expected = [neardup._word_hash(w) for w in fold_for_matching(text).split()]
    assert neardup.token_hashes(text).tolist() == expected


def test_signatures_are_datasketch_minhashes():
    from datasketch import MinHash

    params = neardup.Params.make()
    a, b = neardup.permutations(params.num_perm)
    reference = MinHash(num_perm=params.num_perm, seed=neardup.SEED, scheme="affine32")
    assert np.array_equal(reference.permutations[0], a) and np.array_equal(reference.permutations[1], b)
    texts = ["\n".join(neardup.matching_blocks(x.sapo, [p.text for p in x.blocks])) for x in (ORIGINAL, REPOST)]
    sk = neardup.sketch(texts, params, (a, b))
    for text, sig in zip(texts, sk.sigs, strict=True):
        m = MinHash(num_perm=params.num_perm, seed=neardup.SEED, scheme="affine32", hashfunc=int)
        words, lengths = neardup.tokens([text])
        shingles, _ = neardup._shingles_of_concat(words, lengths, params.shingle)
        m.update_batch(neardup.shingle_hash32(shingles).tolist())
        assert np.array_equal(m.hashvalues, sig)
    lean = neardup.as_minhash(sk.sigs[0].astype("<u4").tobytes())
    assert lean.jaccard(neardup.as_minhash(sk.sigs[1].astype("<u4").tobytes())) == neardup.estimate(
        sk.sigs[0], sk.sigs[1:])[0]


def test_lsh_parameters_find_a_pair_at_the_threshold():
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
        bands, rows = neardup.lsh_params(threshold, 128)
        assert bands * rows <= 128
        assert 1 - (1 - threshold**rows) ** bands >= neardup.RECALL_AT_THRESHOLD
        # ... and the most rows that do so: one more row per band would miss it more often.
        more = 128 // (rows + 1)
        assert 1 - (1 - threshold ** (rows + 1)) ** more < neardup.RECALL_AT_THRESHOLD


# --- who is canonical --------------------------------------------------------------------------------

@pytest.mark.parametrize(("author", "credit"), [
    ("Theo TTXVN", "ttxvn"), ("(Theo TTXVN)", "ttxvn"), ("TTXVN", "ttxvn"), ("Minh Anh (TTXVN)", "ttxvn"),
    ("Thu Hằng/TTXVN", "ttxvn"), ("Nguồn: VOV", "vov"), ("Theo Báo Lào Cai", "báo lào cai"),
    ("Theo TTXVN/Vietnam+", "ttxvn vietnam"), ("Tin, ảnh: Văn Huỳnh", ""), ("Thế Hiển", ""), ("", ""),
])
def test_credited_source(author, credit):
    assert neardup.credited_source(author) == credit


def test_a_credit_line_left_in_the_body_counts_and_an_editorial_sentence_does_not():
    assert neardup.credited_source("", ["Đoạn cuối của bài.", "Theo TTXVN"]) == "ttxvn"
    assert neardup.credited_source("", ["Theo kế hoạch, tuyến đường sẽ hoàn thành trong năm nay."]) == ""


def test_the_canonical_member_is_the_original_source_then_the_earliest():
    m = neardup.Member
    # All copies of one agency story: the earliest published.
    ttxvn = [m("b", "baocantho", "ttxvn", 200.0), m("a", "baolaocai", "ttxvn", 100.0),
             m("c", "baodaklak", "ttxvn", 300.0)]
    assert neardup.choose_canonical(ttxvn) == "a"
    # A paper's own story, re-posted by another with `Theo Báo Lào Cai`: the Lào Cai one, even if its
    # date came out later (a wrong or re-dated page).
    reposts = [m("copy", "baoyenbai", "báo lào cai", 100.0), m("own", "baolaocai", "", 200.0)]
    assert neardup.choose_canonical(reposts) == "own"
    # Otherwise an article that credits nobody rather than one that credits an agency.
    mixed = [m("copy", "baocantho", "ttxvn", 100.0), m("own", "baolaocai", "", 200.0)]
    assert neardup.choose_canonical(mixed) == "own"
    # Undated (first seen) and ties: first seen, then id.
    assert neardup.choose_canonical([m("y", "baolaocai", "", 5.0, "2026-01-02"),
                                     m("x", "baocantho", "", 5.0, "2026-01-02")]) == "x"


def test_instants_compare_across_time_zones_and_dates_alone():
    assert neardup.instant("2026-03-14T11:20:00+07:00", "") < neardup.instant("2026-03-14T05:00:00+00:00", "")
    assert neardup.instant("2026-03-14", "") == neardup.instant("2026-03-14T00:00:00+07:00", "")
    assert neardup.instant("", "2026-03-14T04:20:00+00:00") == neardup.instant("2026-03-14T11:20:00+07:00", "")
    assert neardup.instant("", "") == float("inf")


# --- the index in the database -----------------------------------------------------------------------

def test_near_duplicates_are_stored_and_linked_in_a_cluster(tmp_path):
    db = tmp_path / "news.db"
    stored(db, ORIGINAL, REPOST, *VISITS)
    _, report = index(db)
    assert (report.indexed, report.near_duplicates, report.clusters_new) == (4, 1, 1)
    assert query(db, "SELECT count(*) FROM articles") == [(4,)]  # a near-duplicate is stored
    [cluster] = clusters(db)
    assert cluster["canonical"] == ORIGINAL.id  # both credit TTXVN: the earliest
    sim, matched = cluster["members"][REPOST.id]
    assert matched == ORIGINAL.id and sim == pytest.approx(neardup.jaccard(matching_set(ORIGINAL),
                                                                          matching_set(REPOST)))
    assert cluster["members"][ORIGINAL.id] == (sim, REPOST.id)
    # Queryable as such (and so in Datasette): the view joins the articles.
    rows = query(db, "SELECT site, is_canonical, title FROM near_duplicates ORDER BY is_canonical DESC")
    assert rows == [("baolaocai", 1, STORY_TITLE), ("baocantho", 0, COPY_TITLE)]


def test_the_index_persists_and_a_later_run_checks_only_new_articles(tmp_path):
    db = tmp_path / "news.db"
    stored(db, ORIGINAL, *VISITS)
    _, first = index(db)
    assert (first.indexed, first.near_duplicates) == (3, 0)
    # A later run, another process: the repost and a third copy (tone marks of the other convention,
    # a word changed) are checked against what is indexed, nothing is indexed again.
    third = article("https://baodaklak.vn/thoi-su/du-lieu-dan-cu-123458.html", "Sơ kết đề án dữ liệu dân cư",
                    old_style(STORY_SAPO), [old_style(p.replace("tiên phong", "đi đầu")) for p in STORY],
                    author="Theo TTXVN", published="2026-03-14T09:00:00+07:00")
    stored(db, REPOST, third)
    idx, second = index(db)
    assert (second.indexed, second.near_duplicates, second.clusters_new) == (2, 2, 1)
    assert idx.pending() == []
    [cluster] = clusters(db)
    assert set(cluster["members"]) == {ORIGINAL.id, REPOST.id, third.id}
    assert cluster["canonical"] == third.id  # published earliest of the three TTXVN copies
    assert query(db, "SELECT size FROM clusters") == [(3,)]
    _, nothing = index(db)
    assert nothing.indexed == 0


def test_two_clusters_bridged_by_a_new_article_merge(tmp_path):
    db = tmp_path / "news.db"
    half_a = article("https://baolaocai.vn/nua-dau-post410201.html", "Nửa đầu", STORY_SAPO, STORY[:4])
    half_b = article("https://baocantho.com.vn/nua-sau-a200201.html", "Nửa sau", STORY[2], STORY[3:])
    stored(db, half_a, half_b)
    index(db, threshold=0.5)  # the halves share about 0.3, each shares 0.6 to 0.7 with the whole
    assert clusters(db) == []
    stored(db, ORIGINAL)
    _, report = index(db, threshold=0.5)
    [cluster] = clusters(db)
    assert set(cluster["members"]) == {half_a.id, half_b.id, ORIGINAL.id}
    assert report.clusters_new == 1


def test_a_changed_article_is_indexed_again_and_leaves_its_cluster(tmp_path):
    db = tmp_path / "news.db"
    stored(db, ORIGINAL, REPOST)
    index(db)
    assert len(clusters(db)) == 1
    rewritten = article(REPOST.url, COPY_TITLE, VISIT_B[1], VISIT_B[2], author="TTXVN")  # same URL, new text
    assert rewritten.id == REPOST.id
    stored(db, rewritten)
    _, report = index(db)
    assert report.indexed == 1
    assert clusters(db) == []  # a cluster of one is no cluster
    assert query(db, "SELECT content_hash FROM minhash WHERE article_id = ?", REPOST.id) == [(rewritten.content_hash,)]


def test_rebuild_finds_what_the_incremental_index_found_and_applies_a_new_threshold(tmp_path):
    db = tmp_path / "news.db"
    stored(db, ORIGINAL, *VISITS)
    index(db)
    stored(db, REPOST)
    index(db)
    incremental = clusters(db)
    conn = neardup.connect(db)
    report = neardup.rebuild(conn, neardup.Params.make(THRESHOLD))
    assert clusters(db) == incremental
    assert (report.indexed, report.pairs, report.clusters_new) == (4, 1, 1)
    # A threshold above the pair's similarity: no cluster any more, and the index says so.
    report = neardup.rebuild(conn, neardup.Params.make(0.95))
    assert clusters(db) == [] and report.pairs == 0
    assert neardup.params_from_meta(neardup.read_meta(conn)).threshold == 0.95
    # An index built with 0.95 keeps it: a pipeline asking for the default only warns.
    assert neardup.NearDupIndex.open(conn, neardup.Params.make()).params.threshold == 0.95
    conn.close()


def test_a_short_article_is_recorded_but_not_indexed(tmp_path):
    db = tmp_path / "news.db"
    short = article("https://baolaocai.vn/ngan-post410301.html", "Tin ngắn", "", ["Mưa lớn."])
    stored(db, short, article("https://baocantho.com.vn/ngan-a200301.html", "Tin ngắn", "", ["Mưa to."]))
    idx, report = index(db)
    assert (report.indexed, report.too_short) == (0, 2)
    assert idx.pending() == []
    assert query(db, "SELECT shingles, signature FROM minhash WHERE article_id = ?", short.id) == [(0, None)]


# --- through the real pipelines ----------------------------------------------------------------------

def run_pipelines(db: Path, key: str, items: list[Article]):
    """The project's item pipelines in their order, with a real crawler, its stats and SQLite."""
    from pipelines.dedupe import DedupePipeline
    from pipelines.neardup import NearDupPipeline
    from pipelines.render import RenderPipeline
    from pipelines.store import SQLitePipeline
    from pipelines.validate import ValidatePipeline
    from spiders import registry as spiders

    spidercls = getattr(spiders, f"{key.title()}Spider")
    crawler = get_crawler(spidercls, settings_dict={"DB_PATH": str(db)})
    crawler.spider = spidercls.from_crawler(crawler)
    pipes = [cls.from_crawler(crawler) for cls in (ValidatePipeline, RenderPipeline, DedupePipeline, SQLitePipeline,
                                                   NearDupPipeline)]
    store = pipes[3]
    store.open_spider()
    for item in items:
        item._fetch = Fetch(urls=[item.url])  # what the spider attaches: the URL the page was fetched from
        try:
            for pipe in pipes:
                item = pipe.process_item(item)
        except DropItem as exc:
            store.item_dropped(item, None, exc)
    for pipe in reversed(pipes):  # Scrapy closes pipelines in reverse order
        if hasattr(pipe, "close_spider"):
            pipe.close_spider()
    stats = dict(crawler.stats.get_stats())
    store.spider_closed(crawler.spider, "finished")
    return stats


def test_one_article_under_a_legacy_and_a_current_domain_collapses_to_one(tmp_path):
    db = tmp_path / "news.db"
    path = "/thu-tuong-chu-tri-hoi-nghi-3190001.html"
    current = article(f"https://baocaobang.vn{path}", STORY_TITLE, STORY_SAPO, STORY)
    legacy = article(f"http://www.baocaobang.vn{path}?utm_source=zalo", STORY_TITLE, STORY_SAPO, STORY)
    assert legacy.id == current.id
    stats = run_pipelines(db, "baocaobang", [current, legacy])
    assert query(db, "SELECT id, url FROM articles") == [(current.id, current.url)]
    # The legacy URL is not lost: it is recorded as fetched, and as a spelling of the stored article.
    assert query(db, "SELECT url, outcome, article_id FROM seen_urls WHERE url = ?", legacy.url) == [
        (legacy.url, "duplicate_url", current.id)]
    assert stats["articles/duplicate/url"] == 1
    assert stats["neardup/indexed"] == 1 and "articles/near_duplicate" not in stats
    # The same text on another paper is an exact duplicate there: an alias again, not a cluster.
    stats = run_pipelines(db, "baocantho", [article("https://baocantho.com.vn/ban-sao-a200401.html", STORY_TITLE,
                                                    STORY_SAPO, STORY, author="Theo TTXVN")])
    assert stats["articles/duplicate/content"] == 1
    assert query(db, "SELECT url, article_id, reason FROM aliases") == [
        ("https://baocantho.com.vn/ban-sao-a200401.html", current.id, "content")]
    assert query(db, "SELECT count(*) FROM articles") == [(1,)] and clusters(db) == []


def test_the_pipeline_links_a_near_duplicate_and_counts_it(tmp_path):
    db = tmp_path / "news.db"
    run_pipelines(db, "baolaocai", [ORIGINAL, *VISITS])
    stats = run_pipelines(db, "baocantho", [REPOST])
    assert stats["articles/near_duplicate"] == 1 and stats["neardup/indexed"] == 1
    crawl = query(db, "SELECT stats FROM crawls ORDER BY id DESC LIMIT 1")[0][0]
    assert json.loads(crawl)["articles/near_duplicate"] == 1  # in the crawl row's stats too
    assert clusters(db)[0]["canonical"] == ORIGINAL.id


def test_the_pipeline_can_be_switched_off(tmp_path):
    from scrapy.exceptions import NotConfigured

    from pipelines.neardup import NearDupPipeline

    crawler = get_crawler(settings_dict={"NEWS_NEARDUP_ENABLED": False, "DB_PATH": str(tmp_path / "x.db")})
    with pytest.raises(NotConfigured):
        NearDupPipeline.from_crawler(crawler)
    state_for(crawler).close()


# --- the command and the export ----------------------------------------------------------------------

def test_dedupe_command_rebuilds_indexes_and_refuses_a_silent_threshold_change(tmp_path, capsys):
    db = tmp_path / "news.db"
    stored(db, ORIGINAL, *VISITS)
    assert cli(["dedupe", "--db", str(db)]) == 0
    assert "indexed new and changed articles: 3 articles" in capsys.readouterr().out
    stored(db, REPOST)
    assert cli(["dedupe", "--db", str(db), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["indexed"], out["near_duplicates"], out["clusters"], out["clustered_articles"]) == (1, 1, 1, 2)
    assert cli(["dedupe", "--db", str(db), "--threshold", "0.9"]) == 2
    assert "needs --rebuild" in capsys.readouterr().err
    assert cli(["dedupe", "--db", str(db), "--rebuild", "--threshold", "0.95", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["command"] == "rebuild" and out["clusters"] == 0 and out["params"]["threshold"] == 0.95
    assert cli(["dedupe", "--db", str(tmp_path / "missing.db")]) == 2


def test_export_dedupe_writes_only_canonical_members(tmp_path, capsys):
    db = tmp_path / "news.db"
    stored(db, ORIGINAL, REPOST, *VISITS)
    index(db)
    assert cli(["export", "--db", str(db), "--out", str(tmp_path / "all.jsonl"), "--format", "jsonl"]) == 0
    assert cli(["export", "--db", str(db), "--out", str(tmp_path / "once.jsonl"), "--format", "jsonl",
                "--dedupe"]) == 0
    every = [json.loads(line)["id"] for line in (tmp_path / "all.jsonl").read_text("utf-8").splitlines()]
    once = [json.loads(line)["id"] for line in (tmp_path / "once.jsonl").read_text("utf-8").splitlines()]
    assert sorted(every) == sorted(a.id for a in (ORIGINAL, REPOST, *VISITS))
    assert sorted(once) == sorted(a.id for a in (ORIGINAL, *VISITS))


# --- a crawl: two mirror papers carrying one TTXVN story ---------------------------------------------

def story_entry(path: str, section: str, title: str, paragraphs: list[str], byline: str, hours: float) -> dict:
    return {"path": path, "section": section, "kind": "article", "published": ago(hours), "title": title,
            "sapo": STORY_SAPO, "body": paragraphs, "byline": byline, "tags": ["Chuyển đổi số"]}


def test_a_crawl_links_one_ttxvn_story_on_two_papers_and_a_later_refresh_adds_a_third_copy(tmp_path):
    evolving = EvolvingMirror(tmp_path / "tree")
    sections = {k: evolving.content[k]["sections"][0]["path"] for k in ("baolaocai", "baocantho")}
    evolving.content["baolaocai"]["articles"].append(story_entry(
        "/thu-tuong-chu-tri-hoi-nghi-du-lieu-dan-cu-post990001.html", sections["baolaocai"], STORY_TITLE, STORY,
        "Theo TTXVN", 30))
    evolving.content["baocantho"]["articles"].append(story_entry(
        "/day-manh-khai-thac-du-lieu-dan-cu-a990002.html", sections["baocantho"], COPY_TITLE, COPY, "TTXVN", 26))
    evolving.build()
    db = tmp_path / "news.db"
    with MirrorServer(evolving.sites, port=0) as mirror:
        run = refresh(db, mirror.url)
        assert run.returncode == 0, run.stderr[-3000:]
        first = crawl_rows(db)
        [cluster] = clusters(db)
        urls = dict(query(db, "SELECT id, url FROM articles"))
        by_url = {urls[i]: i for i in cluster["members"]}
        lao_cai = evolving.url("baolaocai", "/thu-tuong-chu-tri-hoi-nghi-du-lieu-dan-cu-post990001.html")
        can_tho = evolving.url("baocantho", "/day-manh-khai-thac-du-lieu-dan-cu-a990002.html")
        assert set(by_url) == {lao_cai, can_tho}
        assert cluster["canonical"] == by_url[lao_cai]  # both say TTXVN; Lào Cai published it first
        assert cluster["members"][by_url[can_tho]][0] >= THRESHOLD
        assert sum(r["stats"].get("articles/near_duplicate", 0) for r in first) == 1
        indexed_first = sum(r["stats"].get("neardup/indexed", 0) for r in first)
        assert indexed_first == query(db, "SELECT count(*) FROM articles")[0][0]  # every stored article

        # Later, Cần Thơ re-posts the story once more (another title, the other tone-mark convention).
        evolving.content["baocantho"]["articles"].append(story_entry(
            "/du-lieu-dan-cu-va-chuyen-doi-so-a990003.html", sections["baocantho"],
            "Dữ liệu dân cư: nền tảng của chuyển đổi số", [old_style(p) for p in STORY[1:]], "Theo TTXVN", 2))
        evolving.build()
        run = refresh(db, mirror.url)
        assert run.returncode == 0, run.stderr[-3000:]
    second = crawl_rows(db)[len(first):]
    # The index lives in the database: the second refresh checked only its one new article.
    assert sum(r["stats"].get("neardup/indexed", 0) for r in second) == 1
    assert sum(r["stats"].get("articles/near_duplicate", 0) for r in second) == 1
    [cluster] = clusters(db)
    assert len(cluster["members"]) == 3 and cluster["canonical"] == by_url[lao_cai]
    assert query(db, "SELECT count(*) FROM minhash") == query(db, "SELECT count(*) FROM articles")
