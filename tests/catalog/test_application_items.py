"""catalog.selectors.item_for_application: the copy applications use is never older than the item."""

from bianmin.catalog import selectors, services
from tests.conftest import item_data


def test_the_application_copy_follows_every_change(departments):
    data = item_data(departments["market"], status="published",
                     materials=[{"name": "营业执照", "required": True}])
    item = services.save_item(data)
    first = selectors.item_for_application(item.code)
    assert [m.name for m in first.materials.all()] == ["营业执照"]
    assert selectors.item_for_application(item.code) is first  # same version: the process's copy

    data["materials"] = [{"name": "营业执照", "required": True}, {"name": "经营场所证明", "required": True}]
    item = services.save_item(data, item=item, reason="增加材料")
    changed = selectors.item_for_application(item.code)
    assert changed is not first and changed.version == item.version
    assert [m.name for m in changed.materials.all()] == ["营业执照", "经营场所证明"]

    services.withdraw_item(item, reason="暂停办理")
    assert selectors.item_for_application(item.code) is None
    assert selectors.item_for_application("no-such-code") is None
