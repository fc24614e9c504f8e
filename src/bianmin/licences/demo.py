"""Demo data for the licence repository: the licence types the demo catalog names, and licences for
some of the demo applicants. Idempotent: run at every start, it creates only what is missing.

* Licence types: one for every code in demo/data/items_*.json (ServiceItem.result_licence_type and
  Material.satisfied_by), named as the data names them, with the issuing department of the city.
  `load_types()` creates them alone: the catalog checks its items' codes against these types, so the
  demo loader must create them before the items.
* National type codes (证照类型代码) are ILLUSTRATIVE: the competent ministry's code (an 18-character
  code with a valid GB 32100 check character, made up for the demo) + a 3-digit serial. The real codes
  come from the national e-licence catalogue (全国一体化政务服务平台电子证照目录) when the platform goes live.
* Validity rules: 居民身份证 10 years (the law's 10/20/long-term by age is the issuing officer's call),
  食品经营许可证 5 years, 营业执照 long-term, and so on (`TYPES`).
* Licences for the first demo applicants (demo/history.py): resident ID cards for persons, business
  licences and food business licences for firms, one of each expiring within 90 days so the personal
  page has a renewal reminder to show.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from bianmin.core.identities import uscc_with_check
from bianmin.org.models import Department

from .models import Licence, LicenceType

# Illustrative ministry codes (see the module's docstring), completed with their check character.
MINISTRY = {m: uscc_with_check(f"11100000{n:09d}") for n, m in enumerate([
    "公安部", "民政部", "市场监管总局", "自然资源部", "住房城乡建设部", "交通运输部", "国家卫生健康委", "应急管理部",
    "人力资源社会保障部", "教育部", "税务总局", "农业农村部", "生态环境部", "文化和旅游部", "国家发展改革委",
    "中国残联", "国家知识产权局", "国家药监局",
], start=1001)}

P, L, A = LicenceType.HolderKind.PERSON, LicenceType.HolderKind.LEGAL_PERSON, LicenceType.HolderKind.ANY
CITY = "湛江市"
# code, name, holder kind, ministry, issuing department (city level), validity years (None: long-term), renewal hint
TYPES = [
    ("jmsfz", "居民身份证", P, "公安部", "湛江市公安局", 10, "有效期满前三个月内可申请换领,可在户籍所在地或居住地公安机关办理。"),
    ("lssfz", "临时居民身份证", P, "公安部", "湛江市公安局", None, "有效期三个月,请在到期前申领正式居民身份证。"),
    ("hkb", "居民户口簿", P, "公安部", "湛江市公安局", None, ""),
    ("hz", "中华人民共和国普通护照", P, "公安部", "湛江市公安局", 10, "有效期不足六个月时可申请换发。"),
    ("gatxz", "往来港澳通行证", P, "公安部", "湛江市公安局", 10, "有效期不足六个月时可申请换发。"),
    ("jdcjsz", "机动车驾驶证", P, "公安部", "湛江市公安局", 6, "有效期满前九十日内申请换证。"),
    ("jdcdjzs", "机动车登记证书", A, "公安部", "湛江市公安局", None, ""),
    ("xsz", "机动车行驶证", A, "公安部", "湛江市公安局", None, ""),
    ("jyhgbz", "机动车检验合格标志", A, "公安部", "湛江市公安局", 1, "检验有效期满前三个月内可申请检验。"),
    ("jzz", "广东省居住证", P, "公安部", "湛江市公安局", None, "每年签注一次。"),
    ("wfzjlzm", "无犯罪记录证明", P, "公安部", "湛江市公安局", None, ""),
    ("jyywqrs", "见义勇为行为确认书", P, "公安部", "湛江市公安局", None, ""),
    ("jhz", "结婚证", P, "民政部", "湛江市民政局", None, ""),
    ("lhz", "离婚证", P, "民政部", "湛江市民政局", None, ""),
    ("mfqydjzs", "民办非企业单位登记证书", L, "民政部", "湛江市民政局", 5, "有效期届满前申请换发。"),
    ("shttdjzs", "社会团体法人登记证书", L, "民政部", "湛江市民政局", 5, "有效期届满前申请换发。"),
    ("yyzz", "营业执照", L, "市场监管总局", "湛江市市场监督管理局", None, ""),
    ("spjyxkz", "食品经营许可证", L, "市场监管总局", "湛江市市场监督管理局", 5, "有效期届满三十个工作日前申请延续。"),
    ("tzsbsydjz", "特种设备使用登记证", A, "市场监管总局", "湛江市市场监督管理局", None, ""),
    ("ypjyxkz", "药品经营许可证", L, "国家药监局", "湛江市市场监督管理局", 5, "有效期届满前六个月申请换发。"),
    ("bdcqzs", "不动产权证书", A, "自然资源部", "湛江市不动产登记中心", None, ""),
    ("bdcdjzm", "不动产登记证明", A, "自然资源部", "湛江市不动产登记中心", None, ""),
    ("jsgcghxkz", "建设工程规划许可证", L, "自然资源部", "湛江市自然资源局", None, ""),
    ("jsydghxkz", "建设用地规划许可证", L, "自然资源部", "湛江市自然资源局", None, ""),
    ("ydysxzyjs", "建设项目用地预审与选址意见书", L, "自然资源部", "湛江市自然资源局", 3, "有效期三年,届满需延续的应在届满三十日前申请。"),
    ("sgxkz", "建筑工程施工许可证", L, "住房城乡建设部", "湛江市住房和城乡建设局", None, ""),
    ("jzyqyzz", "建筑业企业资质证书", L, "住房城乡建设部", "湛江市住房和城乡建设局", 5, "有效期届满三个月前申请延续。"),
    ("spfysxkz", "商品房预售许可证", L, "住房城乡建设部", "湛江市住房和城乡建设局", None, ""),
    ("dlysjyxkz", "道路运输经营许可证", L, "交通运输部", "湛江市交通运输局", 4, "有效期届满三十日前申请换证。"),
    ("gkjyxkz", "港口经营许可证", L, "交通运输部", "湛江市交通运输局", 3, "有效期届满三十日前申请延续。"),
    ("wycjsyz", "网络预约出租汽车驾驶员证", P, "交通运输部", "湛江市交通运输局", 6, "有效期届满三十日前申请延续。"),
    ("ggcswsxkz", "公共场所卫生许可证", L, "国家卫生健康委", "湛江市卫生健康局", 4, "有效期届满三十日前申请延续。"),
    ("yszyzs", "医师执业证书", P, "国家卫生健康委", "湛江市卫生健康局", None, ""),
    ("csyxzm", "出生医学证明", P, "国家卫生健康委", "湛江市卫生健康局", None, ""),
    ("gzjjxfjc", "公众聚集场所投入使用、营业前消防安全检查意见书", L, "应急管理部", "湛江市消防救援支队", None, ""),
    ("sbk", "社会保障卡", P, "人力资源社会保障部", "湛江市人力资源和社会保障局", 10, "有效期届满前可申请换卡。"),
    ("jycyz", "就业创业证", P, "人力资源社会保障部", "湛江市人力资源和社会保障局", None, ""),
    ("ldnljdjl", "劳动能力鉴定结论书", P, "人力资源社会保障部", "湛江市人力资源和社会保障局", None, ""),
    ("rlzyfwxkz", "人力资源服务许可证", L, "人力资源社会保障部", "湛江市人力资源和社会保障局", None, ""),
    ("jszgzs", "教师资格证书", P, "教育部", "湛江市教育局", None, ""),
    ("nsjl", "个人所得税纳税记录", P, "税务总局", "国家税务总局湛江市税务局", None, ""),
    ("qswszm", "契税完税凭证", A, "税务总局", "国家税务总局湛江市税务局", None, ""),
    ("nyjyxkz", "农药经营许可证", L, "农业农村部", "湛江市农业农村局", 5, "有效期届满九十日前申请延续。"),
    ("ybxkz", "渔业捕捞许可证", A, "农业农村部", "湛江市农业农村局", 5, "有效期届满前申请换发。"),
    ("pwxkz", "排污许可证", L, "生态环境部", "湛江市生态环境局", 5, "有效期届满六十日前申请延续。"),
    ("lxsjyxkz", "旅行社业务经营许可证", L, "文化和旅游部", "湛江市文化广电旅游体育局", None, ""),
    ("yljyxkz", "娱乐经营许可证", L, "文化和旅游部", "湛江市文化广电旅游体育局", 2, "有效期届满三十日前申请换发。"),
    ("xmbazm", "广东省企业投资项目备案证", L, "国家发展改革委", "湛江市发展和改革局", 2, "两年内未开工建设的,应在届满前申请延期。"),
    ("xmhzpf", "项目核准批复", L, "国家发展改革委", "湛江市发展和改革局", 2, "两年内未开工建设的,应在届满前申请延期。"),
    ("cjrz", "中华人民共和国残疾人证", P, "中国残联", "湛江市残疾人联合会", 10, "有效期满前申请换领。"),
    ("zlzs", "专利证书", A, "国家知识产权局", "", None, ""),
]
RENEWAL_ITEMS = {  # type code -> the demo catalog's item that renews it
    "spjyxkz": "44XK00100500-440800000000-000-11440800MB2C38943J-1-00",
    "jmsfz": "44XK00200200-440800000000-000-114408000074855067-1-00",
    "jdcjsz": "44XK00201100-440800000000-000-114408000074855067-1-00",
}


def load_types() -> int:
    """Create the missing licence types; return how many were created."""
    departments = {d.name: d for d in Department.objects.filter(name__in={t[4] for t in TYPES if t[4]})}
    existing = set(LicenceType.objects.values_list("code", flat=True))
    new = []
    for serial, (code, name, holder_kind, ministry, department, years, hint) in enumerate(TYPES, start=1):
        if code in existing:
            continue
        new.append(LicenceType(
            code=code, name=name, type_code=f"{MINISTRY[ministry]}{serial:03d}", holder_kind=holder_kind,
            department=departments.get(department), validity_years=years, renewal_hint=hint,
            renewal_item_code=RENEWAL_ITEMS.get(code, ""),
        ))
    LicenceType.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _issue(licence_type, applicant, issuer, issued_on, counts, **extra) -> None:
    from . import services

    if Licence.objects.filter(licence_type=licence_type, holder_id_number=applicant.id_number).exists():
        return
    surface = {"持证主体": applicant.name}
    if applicant.legal_representative:
        surface["法定代表人"] = applicant.legal_representative
    services.issue_licence(licence_type=licence_type, holder_name=applicant.name, holder_id_number=applicant.id_number,
                           issuer=issuer, issued_on=issued_on, surface=surface | extra.pop("surface", {}), **extra)
    counts[licence_type.name] = counts.get(licence_type.name, 0) + 1


def load(*, people=(), firms=()) -> dict[str, int]:
    """Create what is missing; return counts created by kind. Safe to run at every start.

    people, firms: the demo's applicants (anything with name, id_number, legal_representative), the
    first 6 natural and 4 legal persons given licences. The caller picks them: applicants are the
    cases app's, above licences."""
    from . import services

    counts = {"证照类型": load_types()}
    types = {t.code: t for t in LicenceType.objects.filter(code__in=["jmsfz", "yyzz", "spjyxkz"]).select_related("department")}
    if len(types) < 3 or any(t.department is None for t in types.values()):
        return counts  # reference data (departments) not loaded
    today = services.today()
    people, firms = list(people)[:6], list(firms)[:4]
    with transaction.atomic():
        for i, person in enumerate(people):
            # the first card ends in 45 days (a renewal reminder), the others in 2-9 years
            issued = today - timedelta(days=365 * 10 - 45) if i == 0 else today - timedelta(days=365 * (1 + i))
            _issue(types["jmsfz"], person, types["jmsfz"].department, issued, counts,
                   surface={"签发机关": "湛江市公安局"})
        for i, firm in enumerate(firms):
            _issue(types["yyzz"], firm, types["yyzz"].department, today - timedelta(days=400 + 90 * i), counts,
                   surface={"类型": "有限责任公司(自然人投资或控股)"})
            issued = today - timedelta(days=365 * 5 - 60) if i == 0 else today - timedelta(days=200 * (i + 1))
            _issue(types["spjyxkz"], firm, types["spjyxkz"].department, issued, counts,
                   surface={"主体业态": "餐饮服务经营者", "经营项目": "热食类食品制售"})
    return counts
