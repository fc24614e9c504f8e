"""Issue 11.7: the default SMS back end (LoggingBackend) writes no phone number, e-mail address or text
in clear to the log."""

import logging

from bianmin.cases import tasks
from bianmin.cases.models import OutboxMessage
from bianmin.cases.notify import masked_recipient
from bianmin.core.identities import mask_phone

ID_NUMBER = "440802199001011238"


def test_the_default_back_end_logs_the_recipient_masked_and_no_text(db, caplog):
    row = OutboxMessage.objects.create(channel="sms", to="13812345678",
                                       body=f"【湛江市政务服务网】您的申请已受理,申请人证件号 {ID_NUMBER},联系电话 13987654321。")
    with caplog.at_level(logging.INFO, logger="bianmin.notify"):
        assert tasks.send_outbox.delay(row.pk).get() == "sent"
    logged = caplog.text
    # 【湛江市政务服务网】10 + 您的申请已受理,7+1 + 申请人证件号 6+1 + 18 + ,联系电话 1+4+1 + 11 + 。1 = 61
    assert "outbox sms to 138****5678: 61 characters" in logged
    assert "13812345678" not in logged and "已受理" not in logged and ID_NUMBER not in logged


def test_at_debug_the_text_is_logged_with_numbers_masked(db, caplog):
    row = OutboxMessage.objects.create(channel="email", to="zhang.san@example.com",
                                       body=f"证件号 {ID_NUMBER},电话 13987654321")
    with caplog.at_level(logging.DEBUG, logger="bianmin.notify"):
        assert tasks.send_outbox.delay(row.pk).get() == "sent"
    logged = caplog.text
    assert "to z***@example.com" in logged
    assert "证件号 440802********1238,电话 139****4321" in logged
    assert "zhang.san" not in logged and ID_NUMBER not in logged and "13987654321" not in logged


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86****5678"  # the one mask (core.identities): first 3, last 4
    assert mask_phone("07591234567") == "075****4567"
    assert mask_phone("12345") == "*****"  # too short to show any of it
    assert mask_phone("湛江") == "**"
    assert masked_recipient("") == ""
