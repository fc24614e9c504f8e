"""One rule, one place (issue 10 point 1): each rule of the plan has one definition, and a second one
coming back — a deadline comparison, `online_level >= 3`, a hand-written mask, a `timezone.localdate()`
— fails here, naming the file and line and the function to call instead.

The scan reads every .py and .html file under src/bianmin (migrations aside) and allows each pattern
only in the module that owns it.
"""

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "bianmin"

# (what, pattern, owner modules (paths under src/bianmin), what to call instead)
RULES = [
    ("超期/预警 deadline comparison", r"promised_deadline__(lt|lte|gt|gte)\b|promised\w*\s*[<>]=?\s*(on|today)\b|\b(on|today)\s*[<>]=?\s*promised|\bWARNING_DAYS\s*\+",
     {"cases/clock.py"}, "cases.clock.overdue_q / warning_q / attention_q / running_state / warning_limit"),
    ("超期办结 comparison", r"decided_on__(gt|lte)\s*=\s*F\(\s*[\"']promised_deadline|decided_on\s*>\s*promised",
     {"cases/clock.py"}, "cases.clock.finished_late / finished_late_q / finished_on_time_q"),
    ("running clock condition", r"stopped_on__isnull[\"']?\s*[=:]\s*True", {"cases/clock.py"}, "cases.clock.running_q"),
    ("网上办 threshold", r"online_level\s*(>=|>|<|<=)\s*\d|online_level__(gte|gt|lt)\b|online_level\s*==\s*3|>=\s*OnlineLevel\.APPLY",
     {"catalog/selectors.py"}, "catalog.selectors.online / online_q, or item.is_online in templates"),
    ("就近办 levels", r"nearby_levels__contains|\{\s*[\"']town[\"'],\s*[\"']village[\"']\s*\}",
     {"catalog/selectors.py"}, "catalog.selectors.nearby / nearby_q, or item.is_nearby"),
    ("一次办 limit", r"max_visits\s*(<=|<)\s*\d|max_visits__(lte|lt)\b|max_visits\s*==\s*1\b|visit_count\s*>\s*\S*max_visits|visit_count__gt",
     {"catalog/selectors.py"}, "catalog.selectors.one_visit / one_visit_q / visits_exceeded, or item.is_one_visit"),
    ("masking by hand", r"[\"']\*{2,}[\"']|[\"']\*[\"']\s*\*\s*\(?\s*(len|max|\d)",
     {"core/identities.py"}, "core.identities.mask_id_number / mask_phone / mask_case_number / mask_person_name / scrub"),
    ("today outside Asia/Shanghai's one function", r"timezone\.localdate\(\s*\)|\bdate\.today\(\)|datetime\.now\(\)|\.astimezone\(SHANGHAI\)\.date\(\)",
     {"core/workdays.py"}, "core.workdays.today"),
    ("差评 scores", r"score__lte\s*=\s*2\b|score\s*<=\s*2\b|score\s+in\s+\(1,\s*2\)|BAD_SCORES\s*=",
     {"supervision/ratings/selectors.py"}, "supervision.ratings.selectors.is_bad_score / bad_q, or rating.is_bad"),
]


def _files():
    for path in sorted(SRC.rglob("*")):
        if path.suffix in (".py", ".html") and "migrations" not in path.parts:
            yield path


def test_the_scan_sees_the_owners():
    """The scan would notice: each owner exists and itself holds its pattern (so a typo in a pattern
    cannot make this module pass on nothing)."""
    seen = {p.relative_to(SRC).as_posix(): p.read_text(encoding="utf-8") for p in _files()}
    for what, pattern, owners, _ in RULES:
        assert any(re.search(pattern, seen[o]) for o in owners), f"{what}: the owner does not state the rule"


@pytest.mark.parametrize("what, pattern, owners, instead", RULES, ids=[r[0] for r in RULES])
def test_no_second_definition(what, pattern, owners, instead):
    found = []
    rx = re.compile(pattern)
    for path in _files():
        rel = path.relative_to(SRC).as_posix()
        if rel in owners:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            if rx.search(line):
                found.append(f"{rel}:{n}: {line.strip()[:120]}")
    assert not found, f"{what} restated outside {sorted(owners)}; call {instead}:\n" + "\n".join(found)
