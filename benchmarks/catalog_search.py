"""Catalog search at city-and-beyond scale.

Loads N synthetic items (default 50,000) into the database DATABASE_URL names (SQLite under ./var
when unset), then sends a few hundred realistic Chinese, pinyin, initials and code queries through
the API (in-process, the whole Django stack: URL routing, validation, search, serialisation) and
prints the latency. Last line: `items=N median_ms=X p99_ms=Y`.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench python benchmarks/catalog_search.py --items 50000
"""

import argparse
import random
import statistics
import time

from _setup import percentile, setup

OBJECTS = ["不动产", "食品经营", "药品零售", "建设工程", "居民身份证", "机动车驾驶证", "往来港澳通行证", "普通护照", "医疗保险",
           "养老保险", "失业保险", "住房公积金", "最低生活保障", "临时救助", "个体工商户", "农民专业合作社", "有限责任公司",
           "道路运输", "出租汽车", "排污许可", "取水许可", "林木采伐", "渔业捕捞", "烟草专卖零售", "娱乐场所", "网吧",
           "医疗机构执业", "护士执业", "教师资格", "职业技能", "特种设备", "消防设计", "人防工程", "城市道路占用",
           "户外广告设置", "殡葬", "婚姻", "收养", "出生医学证明", "残疾人证"]
ACTIONS = ["登记", "许可", "变更", "注销", "核发", "备案", "补领", "换领", "申领", "审批", "认定", "延续", "查询", "证明开具"]
QUALIFIERS = ["", "首次", "转移", "抵押", "更正", "预告", "异地", "跨省", "临时", "延期", "电子"]
KINDS = ["licensing", "benefit", "confirmation", "award", "adjudication", "public_service"]


def item_name(rng):
    return f"{rng.choice(QUALIFIERS)}{rng.choice(OBJECTS)}{rng.choice(ACTIONS)}"


def load(n: int, seed: int = 7) -> None:
    from django.db import transaction

    from bianmin.catalog import search
    from bianmin.catalog.models import ServiceItem
    from bianmin.core.identities import uscc_with_check
    from bianmin.org.models import Department, Level, Region

    ServiceItem.objects.filter(code__startswith="BENCH-").delete()
    city, _ = Region.objects.get_or_create(code="440800", defaults={"name": "湛江市", "level": Level.CITY})
    depts = []
    for i, name in enumerate(["市场监督管理局", "公安局", "人力资源和社会保障局", "自然资源局", "住房和城乡建设局", "民政局",
                              "交通运输局", "医疗保障局", "卫生健康局", "生态环境局"]):
        d, _ = Department.objects.get_or_create(
            uscc=uscc_with_check(f"11440800BEN{i:06d}"),
            defaults={"name": f"湛江市{name}(基准测试)", "region": city, "level": Level.CITY})
        depts.append(d)
    rng = random.Random(seed)
    batch = 2000
    started = time.perf_counter()
    for start in range(0, n, batch):
        rows = []
        for i in range(start, min(start + batch, n)):
            d = rng.choice(depts)
            rows.append(ServiceItem(
                name=item_name(rng), basic_code=f"{rng.randrange(10**11, 10**12)}", code=f"BENCH-{i:07d}",
                kind=rng.choice(KINDS), legal_basis="《中华人民共和国行政许可法》", department=d, conditions="符合条件",
                route="申请、受理、审查、决定", statutory_days=20, promised_days=rng.choice([0, 1, 3, 5, 10]),
                region=city, level=Level.CITY, audience=rng.choice(["person", "legal_person", "both"]),
                online_level=rng.choice([2, 3, 4, 4]), nearby_levels="city,county,town", max_visits=rng.choice([0, 1, 1, 2]),
                status=ServiceItem.Status.PUBLISHED))
        with transaction.atomic():
            created = ServiceItem.objects.bulk_create(rows)
            # the same documents the services write for one item (search.name_tokens / body_tokens)
            search.write_index([(it.pk, " ".join(search.name_tokens(it.name)), " ".join(search.body_tokens(it.department.name)))
                                for it in created])
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE catalog_serviceitem")
    print(f"loaded {n} items in {time.perf_counter() - started:.1f} s")


def queries(rng, count):
    from pypinyin import Style, lazy_pinyin

    from bianmin.catalog.models import ServiceItem

    basic_codes = list(ServiceItem.objects.filter(code__startswith="BENCH-").values_list("basic_code", flat=True)[:2000])

    out = []
    for _ in range(count):
        kind = rng.random()
        obj, act = rng.choice(OBJECTS), rng.choice(ACTIONS)
        if kind < 0.45:
            out.append(rng.choice([obj, obj + act, f"{obj} {act}", act]))  # 不动产, 不动产登记, 登记
        elif kind < 0.65:
            out.append("".join(lazy_pinyin(obj)))
        elif kind < 0.85:
            out.append("".join(lazy_pinyin(obj + act, style=Style.FIRST_LETTER)))
        else:  # people paste a whole implementation code or a whole basic code
            out.append(f"BENCH-{rng.randrange(0, 50_000):07d}" if rng.random() < 0.7 else rng.choice(basic_codes))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.test import Client

    if not args.skip_load:
        load(args.items)
    client = Client()
    rng = random.Random(11)
    qs = queries(rng, args.queries)
    for q in qs[:20]:  # warm up caches (jieba's dictionary, the database's buffers)
        client.get("/api/v1/items", {"q": q})
    times, hits, errors = [], [], 0
    for q in qs:
        t0 = time.perf_counter()
        r = client.get("/api/v1/items", {"q": q})
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            errors += 1
        else:
            hits.append(r.json()["count"])
    from bianmin.catalog.models import ServiceItem

    n = ServiceItem.objects.filter(status="published").count()
    print(f"database={connection.vendor} queries={len(qs)} errors={errors} mean_hits={statistics.mean(hits):.0f} "
          f"zero_hit_queries={sum(1 for h in hits if h == 0)} max_ms={max(times):.1f}")
    print(f"items={n} median_ms={statistics.median(times):.1f} p99_ms={percentile(times, 99):.1f}")


if __name__ == "__main__":
    main()
