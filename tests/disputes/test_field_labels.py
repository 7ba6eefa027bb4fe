"""Labels that used to borrow another field's translation: the blacklist entry's source is not
the product's 货源, a notification's send attempts are not the order's 发货尝试次数; and the
evidence package's summary (for 12315 or a court) names money movements in words, never by
their codes."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import translation

from disputes.models import BlacklistEntry, Notification
from disputes.presenting import movement_label
from disputes.services.package import build_summary
from orders.models import Order, Product
from tests.disputes.factories import resolved_by_refund
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def label(model, name: str) -> str:
    return str(model._meta.get_field(name).verbose_name)


def test_the_blacklist_source_has_its_own_label():
    with translation.override("zh-hans"):
        assert label(BlacklistEntry, "source") == "列入方式"
        assert label(Product, "source") == "货源"  # the product's keeps its own
    with translation.override("en"):
        assert label(BlacklistEntry, "source") == "entry source"


def test_a_notifications_attempts_are_send_attempts():
    with translation.override("zh-hans"):
        assert label(Notification, "attempts") == "发送尝试次数"
        assert label(Order, "delivery_attempts") == "发货尝试次数"


def test_the_blacklist_admin_shows_the_new_label_in_chinese():
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name="arbitrator"))
    client = Client(headers={"accept-language": "zh-hans"})
    client.force_login(staff)
    response = client.get("/admin/disputes/blacklistentry/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "列入方式" in body
    assert "货源" not in body


@pytest.mark.parametrize(
    ("code", "zh"),
    [
        ("payout", "退款给买家"),
        ("appeal-payout", "申诉后追加退款给买家"),
        ("recovery", "从商家保证金追偿"),
        ("recovery-reversal", "退回商家保证金"),
        ("capped", "赔付以订单尚可退款金额为限"),
    ],
)
def test_every_movement_has_a_translated_neutral_label(code, zh):
    with translation.override("zh-hans"):
        assert movement_label(code) == zh
    with translation.override("en"):
        assert movement_label(code) != code


def test_the_chinese_package_summary_names_the_payout_in_words():
    dispute = resolved_by_refund()
    assert dispute.events.filter(data__movement="payout").exists()
    with translation.override("zh-hans"):
        summary = build_summary(dispute)
    assert "(退款给买家)" in summary
    assert "(payout)" not in summary
    assert "payout" not in summary


@pytest.mark.django_db
def test_the_seeded_policy_reads_since_the_platform_started_not_1970() -> None:
    from django.utils import translation

    from disputes.models import Policy

    policy = Policy.objects.filter(product_kind="").order_by("effective_from").first()
    assert policy is not None and policy.effective_from.year == 1970
    with translation.override("zh-hans"):
        assert "1970" not in str(policy) and "自平台启用起" in str(policy)
