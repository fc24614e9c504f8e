"""Search in Chinese words, pinyin, pinyin initials and codes, with sensible ranking."""

import pytest

from bianmin.catalog import search, selectors
from bianmin.catalog.models import ServiceItem


def names(f):
    return [i.name for i in selectors.search_items(f)]


def q(text, **kw):
    return selectors.ItemFilters(q=text, **kw)


@pytest.fixture
def catalog(make_item, departments):
    police = departments["police"]
    return {
        "transfer": make_item(name="不动产转移登记", code="BDC-440800-001", basic_code="000173003000"),
        "mortgage": make_item(name="不动产抵押权登记", code="BDC-440800-002", basic_code="000173004000"),
        "food": make_item(name="食品经营许可证核发", code="SP-440800-001", basic_code="11440800MB2C91"),
        "idcard": make_item(police, name="居民身份证换领", code="SFZ-440800-001", basic_code="000105001000", audience="person"),
        "passport": make_item(police, name="普通护照签发", code="HZ-440800-001", basic_code="000105021000", audience="person"),
        "draft": make_item(name="不动产更正登记", code="BDC-440800-009", status="draft"),
    }


def test_chinese_word_finds_items_and_skips_drafts(catalog):
    # 不动产 matches the two published registrations; the draft 更正登记 stays hidden.
    assert sorted(names(q("不动产"))) == ["不动产抵押权登记", "不动产转移登记"]


def test_chinese_phrase_needs_every_word(catalog):
    # 不动产抵押 = 不动产 + 抵押: only the mortgage registration has both.
    assert names(q("不动产抵押")) == ["不动产抵押权登记"]


def test_single_character_matches_inside_words(catalog):
    # 证 stands inside 许可证 and 身份证 only.
    assert sorted(names(q("证"))) == ["居民身份证换领", "食品经营许可证核发"]


def test_pinyin_initials_find_the_item(catalog):
    # bdcdj = b(不) d(动) c(产) d(抵) … prefix of the initials of 不动产抵押权登记 ("bdcdyqdj")? No:
    # initials of 不动产抵押权登记 are bdcdyqdj, of 不动产转移登记 bdczydj; "bdcd" is a prefix only of the first.
    assert names(q("bdcd")) == ["不动产抵押权登记"]
    assert names(q("bdczy")) == ["不动产转移登记"]
    assert names(q("sfz")) == ["居民身份证换领"]  # 身份证 is a word of its own: its initials are indexed


def test_full_pinyin_and_prefix(catalog):
    assert names(q("huzhao")) == ["普通护照签发"]
    assert names(q("hefa")) == ["食品经营许可证核发"]
    assert sorted(names(q("budongchan"))) == ["不动产抵押权登记", "不动产转移登记"]


def test_code_search_by_implementation_and_basic_code(catalog):
    assert names(q("HZ-440800-001")) == ["普通护照签发"]
    # basic-code prefix; ordered by implementation code, and "HZ-…" sorts before "SFZ-…"
    assert names(q("000105")) == ["普通护照签发", "居民身份证换领"]


def test_name_match_ranks_above_body_match(make_item, departments):
    # "许可" appears in the first item's name, and only in a material of the second.
    make_item(name="公章刻制备案", code="GZ-1", materials=[{"name": "相关许可证明文件"}])
    make_item(name="药品经营许可", code="YP-1")
    assert names(q("许可")) == ["药品经营许可", "公章刻制备案"]


def test_filters_combine_with_search(catalog, departments):
    assert names(q("登记", department=departments["police"].pk)) == []
    assert names(q("sfz", audience="legal_person")) == []
    assert names(q("sfz", audience="person")) == ["居民身份证换领"]


@pytest.mark.parametrize("nasty", ['"', "*", "'", "AND(", "NEAR(", "a:b", "不动产 & | !", "-", "()", "\\", "%", "_", "登记 OR 1=1", "x" * 1000])
def test_syntax_characters_never_break_the_query(catalog, nasty):
    list(selectors.search_items(q(nasty)))  # must not raise


def test_reindex_after_rename(catalog):
    from bianmin.catalog import services

    item = catalog["food"]
    data = {f: getattr(item, f) for f in services.TEXT_FIELDS}
    data.update(kind=item.kind, audience=item.audience, level=item.level, statutory_days=20, promised_days=5,
                department=item.department, online_level=4, max_visits=0, materials=[{"name": "申请书"}])
    data["name"] = "药品零售许可"
    services.save_item(data, item=item)
    assert names(q("核发")) == []  # only the old name had 核发 (the other items share its materials)
    assert names(q("零售")) == ["药品零售许可"]


def test_query_terms_segmentation():
    assert search.query_terms("不动产 登记") == ["不动产", "登记"]
    assert search.query_terms("BDCDJ") == ["bdcdj"]
    assert search.query_terms("   ") == []
    assert search.looks_like_code("11440800MB2C91-440800000000-001")
    assert not search.looks_like_code("bdcdj")
