"""The catalog's rules: the ten elements validated, every change versioned, proofs only from the retained list."""

import pytest
from django.db import IntegrityError, transaction

from bianmin.catalog import services
from bianmin.catalog.models import ItemVersion, Proof, ServiceItem
from bianmin.core.errors import PermissionDenied, ValidationError
from bianmin.core.models import AuditEntry
from tests.conftest import item_data


def codes(exc):
    return {(d["field"], d["code"]) for d in exc.value.details}


def test_create_records_version_one_and_audit(departments):
    item = services.save_item(item_data(departments["market"]))
    assert item.version == 1
    v = item.versions.get()
    assert (v.version, v.action) == (1, "create")
    assert v.snapshot["name"] == "食品经营许可证核发"
    assert [m["name"] for m in v.snapshot["materials"]] == ["食品经营许可申请书", "营业执照", "食品安全管理制度文本"]
    assert AuditEntry.objects.filter(action="catalog.item.create", object_id=str(item.pk)).count() == 1


def test_edit_records_readable_difference(departments, staff):
    item = services.save_item(item_data(departments["market"]))
    data = item_data(departments["market"], code=item.code, promised_days=3)
    item = services.save_item(data, item=item, actor=staff["market_admin"].user, reason="压缩承诺时限")
    assert item.version == 2
    v = item.versions.first()
    assert v.action == "update" and v.reason == "压缩承诺时限" and v.changed_by == staff["market_admin"].user
    assert v.diff == [{"field": "promised_days", "label": "承诺办结时限(工作日)", "old": 5, "new": 3}]


def test_saving_unchanged_item_makes_no_version(departments):
    item = services.save_item(item_data(departments["market"]))
    again = services.save_item(item_data(departments["market"], code=item.code), item=item)
    assert again.version == 1
    assert item.versions.count() == 1


def test_promised_days_cannot_exceed_statutory(departments):
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["market"], statutory_days=10, promised_days=15))
    assert ("promised_days", "promised_exceeds_statutory") in codes(exc)
    assert "承诺时限(15 个工作日)不能超过法定时限(10 个工作日)" in exc.value.message
    assert ServiceItem.objects.count() == 0


def test_database_enforces_promised_within_statutory_too(departments):
    item = services.save_item(item_data(departments["market"]))
    with pytest.raises(IntegrityError), transaction.atomic():
        ServiceItem.objects.filter(pk=item.pk).update(promised_days=99)


def test_immediate_item_has_no_promised_wait(departments):
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["market"], is_immediate=True, promised_days=2))
    assert ("promised_days", "immediate_with_wait") in codes(exc)


def test_every_mistake_is_reported_at_once(departments):
    with pytest.raises(ValidationError) as exc:
        data = item_data(departments["market"], name="", kind="licence", statutory_days="二十", nearby_levels="city,province")
        services.save_item({**data, "department": "不存在的局"})
    assert codes(exc) >= {("name", "required"), ("kind", "invalid_choice"), ("statutory_days", "not_integer"),
                          ("nearby_levels", "invalid_choice"), ("department", "unknown_department")}
    assert exc.value.code == "invalid_item"


def test_chinese_labels_are_accepted_for_choices(departments):
    item = services.save_item(item_data(departments["market"], kind="行政确认", audience="自然人", level="市级", nearby_levels="县级、镇级"))
    assert (item.kind, item.audience, item.level, item.nearby_levels) == ("confirmation", "person", "city", "county,town")


def test_duplicate_code_is_refused(departments):
    item = services.save_item(item_data(departments["market"]))
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["police"], code=item.code))
    assert ("code", "duplicate_code") in codes(exc)


def test_only_retained_proofs_may_be_required(departments):
    retained = Proof.objects.create(name="出生医学证明", legal_basis="《母婴保健法》", requesting_unit="公安机关", issuing_unit="助产机构")
    dropped = Proof.objects.create(name="亲属关系证明", legal_basis="-", requesting_unit="-", issuing_unit="-", is_retained=False)
    item = services.save_item(item_data(departments["market"], materials=[{"name": "出生医学证明", "proof": retained.pk}]))
    assert list(item.proofs.all()) == [retained]
    assert item.materials.get().proof == retained
    for ref in (dropped.pk, "居住证明"):
        with pytest.raises(ValidationError) as exc:
            services.save_item(item_data(departments["market"], materials=[{"name": "证明", "proof": ref}]))
        assert ("proofs", "proof_not_retained") in codes(exc)


def test_pending_materials_must_be_required(departments):
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["market"], materials=[{"name": "照片", "required": False, "pending_allowed": True}]))
    assert ("materials", "pending_not_required") in codes(exc)


def test_publish_and_withdraw_are_versions(departments):
    item = services.save_item(item_data(departments["market"], status="draft"))
    item = services.publish_item(item)
    assert item.status == "published" and item.published_at is not None
    with pytest.raises(ValidationError) as exc:
        services.withdraw_item(item, reason="  ")
    assert exc.value.code == "reason_required"
    item = services.withdraw_item(item, reason="机构改革,事项划转")
    assert [v.action for v in item.versions.all()] == ["withdraw", "publish", "create"]
    assert [v.version for v in item.versions.all()] == [3, 2, 1]


def test_catalog_admin_edits_only_own_department(departments, staff):
    market_item = services.save_item(item_data(departments["market"]))
    with pytest.raises(PermissionDenied) as exc:
        services.save_item(item_data(departments["market"], code=market_item.code, promised_days=1),
                           item=market_item, actor=staff["police_admin"].user)
    assert exc.value.code == "other_department"
    with pytest.raises(PermissionDenied) as exc:
        services.save_item(item_data(departments["market"]), actor=staff["market_clerk"].user)
    assert exc.value.code == "not_catalog_admin"
    # a system admin may edit any department's item
    services.save_item(item_data(departments["market"], code=market_item.code, promised_days=1), item=market_item, actor=staff["admin"].user)
    assert ItemVersion.objects.filter(item=market_item).count() == 2


def test_unchanged_save_writes_nothing(departments):
    item = services.save_item(item_data(departments["market"]))
    material_ids = list(item.materials.values_list("id", flat=True))
    updated_at = ServiceItem.objects.get(pk=item.pk).updated_at
    services.save_item(item_data(departments["market"], code=item.code), item=item)
    assert list(item.materials.values_list("id", flat=True)) == material_ids
    assert ServiceItem.objects.get(pk=item.pk).updated_at == updated_at


def test_material_change_on_a_prefetched_item_is_recorded(departments):
    item = services.save_item(item_data(departments["market"]))
    item = ServiceItem.objects.prefetch_related("materials").get(pk=item.pk)
    list(item.materials.all())  # the caller holds the old materials in its prefetch cache
    item = services.save_item(item_data(departments["market"], code=item.code, materials=[{"name": "申请书"}]), item=item)
    assert item.version == 2
    assert item.versions.first().diff[0]["field"] == "materials"


def test_published_item_needs_materials_even_on_create(departments):
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["market"], materials=[]))
    assert exc.value.code == "no_materials"


@pytest.mark.parametrize("bad", ["maybe", "2", "可能"])  # 有/无 are yes/no words (core.xlsx.yes_no), as in the Excel import
def test_yes_no_values_must_be_yes_or_no(departments, bad):
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["market"], is_immediate=bad))
    assert ("is_immediate", "not_boolean") in codes(exc)
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["market"], materials=[{"name": "申请书", "required": bad}]))
    assert ("materials", "not_boolean") in codes(exc)


def test_material_copies_out_of_range_is_an_error_not_a_clamp(departments):
    with pytest.raises(ValidationError) as exc:
        services.save_item(item_data(departments["market"], materials=[{"name": "照片", "copies": 500}]))
    assert ("materials", "out_of_range") in codes(exc)
