"""The merchant's contest form takes several counter-evidence files at once
(merchant.forms.ContestForm, one service call with the list: disputes.services.dispute_contest)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from disputes.models import Role, Status
from tests.disputes.factories import file, pdf, png

pytestmark = pytest.mark.django_db


def _url(name: str, number: str) -> str:
    return reverse(f"merchant:{name}", args=[number])


def test_the_contest_form_offers_several_files_and_stores_them_all(client: Client):
    dispute = file()
    client.force_login(dispute.merchant.owner)

    page = client.get(_url("complaint", dispute.number)).content.decode()
    contest = page[page.index('action="' + _url("complaint_contest", dispute.number)) :]
    file_input = contest[contest.index('type="file"') - 200 : contest.index('type="file"') + 300]
    assert "multiple" in file_input

    response = client.post(
        _url("complaint_contest", dispute.number),
        {
            "message": "Redeemed upstream, see both records.",
            "kind": "redemption_record",
            "file": [png("upstream.png"), pdf("statement.pdf")],
            "note": "Upstream log and our statement",
        },
    )

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == Status.UNDER_REVIEW
    stored = dispute.evidence.filter(role=Role.MERCHANT).order_by("id")
    assert [e.original_name for e in stored] == ["upstream.png", "statement.pdf"]
    assert {e.note for e in stored} == {"Upstream log and our statement"}


def test_a_contest_without_any_file_is_refused_next_to_the_field(client: Client):
    dispute = file()
    client.force_login(dispute.merchant.owner)

    response = client.post(
        _url("complaint_contest", dispute.number),
        {"message": "No proof", "kind": "redemption_record"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    assert "at least one piece of counter-evidence" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == Status.AWAITING_MERCHANT
