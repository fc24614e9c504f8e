"""The licence demo data: a type for every code the demo catalog names; licences for demo applicants; idempotent."""

import json
from datetime import timedelta
from pathlib import Path

from bianmin.cases import services as case_services
from bianmin.cases.models import Applicant
from bianmin.core.identities import resident_id_with_check, uscc_with_check
from bianmin.licences import demo, identifiers, services
from bianmin.licences.models import Licence, LicenceType

DATA = Path(demo.__file__).resolve().parent.parent / "demo" / "data"


def test_every_code_of_the_demo_catalog_has_a_type():
    codes = set()
    for name in ("items_city.json", "items_local.json"):
        items = json.loads((DATA / name).read_text(encoding="utf-8"))
        for item in items if isinstance(items, list) else items["items"]:
            codes.add(item.get("result_licence_type") or "")
            codes.update(m.get("satisfied_by") or "" for m in item.get("materials", []))
    codes.discard("")
    assert codes <= {t[0] for t in demo.TYPES}
    type_codes = [f"{demo.MINISTRY[t[3]]}{i:03d}" for i, t in enumerate(demo.TYPES, start=1)]
    assert len(set(type_codes)) == len(type_codes)
    assert all(identifiers._TYPE_CODE.fullmatch(c) for c in type_codes)


def test_load_is_idempotent_and_gives_a_licence_expiring_within_90_days(departments):
    LicenceType.objects.all().delete()  # the shared fixture's few types; demo.load_types makes all of them
    for i in range(3):
        case_services.register_applicant(kind="person", name=f"市民{i}", id_number=resident_id_with_check(f"44080219900101{i:03d}"))
        case_services.register_applicant(kind="legal_person", name=f"公司{i}", id_number=uscc_with_check(f"91440800MA4W0000{i}"),
                                         legal_representative="王五")
    applicants = Applicant.objects.order_by("id")
    holders = {"people": applicants.filter(kind="person"), "firms": applicants.filter(kind="legal_person")}
    first = demo.load(**holders)
    assert first["证照类型"] == len(demo.TYPES)
    assert (first["居民身份证"], first["营业执照"], first["食品经营许可证"]) == (3, 3, 3)
    assert demo.load(**holders) == {"证照类型": 0}
    today = services.today()
    soon = Licence.objects.filter(valid_until__lte=today + timedelta(days=90), valid_until__gte=today)
    assert {lic.licence_type.code for lic in soon} == {"jmsfz", "spjyxkz"}
    assert all(services.verification(lic)["current"] for lic in Licence.objects.all())
    assert LicenceType.objects.get(code="spjyxkz").renewal_item_code
