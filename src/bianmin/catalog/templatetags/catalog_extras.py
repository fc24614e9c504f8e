"""Small display helpers for the catalog's public pages."""

from django import template

from bianmin.catalog.models import OnlineLevel

register = template.Library()

ONLINE_WORDS = {
    0: "不可网上办理，须到现场申请",
    1: "可在网上咨询",
    2: "可在网上下载申请表格",
    3: "可在网上提交申请，结果须到现场领取或另行送达",
    4: "申请、受理、审批到出件全程在网上完成",
}


@register.filter
def yuan(fen) -> str:
    """Fen (integer) as yuan: 12345 -> '123.45'."""
    try:
        fen = int(fen)
    except (TypeError, ValueError):
        return ""
    return f"{fen // 100:,}.{fen % 100:02d}"


@register.filter
def online_words(level) -> str:
    try:
        return ONLINE_WORDS.get(int(level), "")
    except (TypeError, ValueError):
        return ""


@register.inclusion_tag("catalog/_badges.html")
def item_badges(item):
    """The 四办 badges of an item (即办, 全程网办/网上申办, 就近办, 零跑动/最多跑一次)."""
    badges = []
    if item.is_immediate:
        badges.append(("即办", "immediate"))
    if item.is_online:
        badges.append(("全程网办" if item.online_level == OnlineLevel.FULL else "网上申办", "online"))
    if item.is_nearby:
        badges.append(("就近办", "nearby"))
    if item.is_one_visit:
        badges.append(("零跑动" if item.max_visits == 0 else "最多跑一次", "visits"))
    return {"badges": badges}
