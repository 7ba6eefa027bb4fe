"""Which deadline runs now is one rule (disputes/deadlines.py): the Python form a page or a
notification reads, the SQL form the inbox sorts by, and the inbox index's expression
(migration 0009) agree for every status."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.utils import timezone

from disputes import deadlines, presenting
from disputes.models import Dispute, Outcome, Status
from disputes.selectors import with_deadline
from tests.disputes.factories import file

pytestmark = pytest.mark.django_db

_migration = importlib.import_module("disputes.migrations.0009_inbox_deadline_index")


def test_the_sql_form_is_the_inbox_index_expression():
    index_expression = _migration._index().expressions[1]
    assert deadlines.running_deadline_sql() == index_expression


@pytest.mark.parametrize(
    ("status", "paused", "column"),
    [
        (Status.AWAITING_MERCHANT, False, "merchant_response_due"),
        (Status.AWAITING_BUYER, False, "buyer_response_due"),
        (Status.UNDER_REVIEW, True, "info_due"),
        (Status.UNDER_REVIEW, False, "review_due"),
        (Status.RESOLVED, False, None),
        (Status.WITHDRAWN, False, None),
    ],
)
def test_python_and_sql_name_the_same_deadline(status, paused, column):
    dispute = file()
    now = timezone.now()
    # Every clock set, each to a different time, so the one chosen is told apart.
    Dispute.objects.filter(pk=dispute.pk).update(
        status=status,
        merchant_response_due=now + timedelta(hours=1),
        buyer_response_due=now + timedelta(hours=2),
        info_due=now + timedelta(hours=3),
        review_due=now + timedelta(hours=4),
        review_paused_at=now if paused else None,
        outcome=Outcome.REFUNDED if status == Status.RESOLVED else "",
    )
    dispute.refresh_from_db()
    expected = getattr(dispute, column) if column else None
    assert deadlines.running_field(dispute) == column
    assert deadlines.running_deadline(dispute) == expected
    assert with_deadline(Dispute.objects.filter(pk=dispute.pk)).get().deadline == expected
    assert presenting.next_deadline(dispute)[0] == expected
