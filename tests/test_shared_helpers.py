"""The helpers every app shares (kamen_complaints: forms, files, timefmt): one home each,
so these pin what every caller gets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django import forms
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from kamen_complaints.errors import DomainError
from kamen_complaints.files import private_file_response
from kamen_complaints.forms import YuanField, add_domain_error
from kamen_complaints.timefmt import SHORT_FORMAT, shanghai


class _Form(forms.Form):
    name = forms.CharField(required=False)
    body = forms.CharField(required=False)


def _refused(code: str, fields: dict[str, str | tuple[str, ...]]) -> _Form:
    form = _Form(data={})
    form.is_valid()
    add_domain_error(form, DomainError("refused", code=code), fields=fields)
    return form


def test_a_refusal_lands_next_to_its_field_or_above_the_form() -> None:
    assert _refused("name_invalid", {"name_invalid": "name"}).errors == {"name": ["refused"]}
    # The first of several candidate fields the form has.
    assert _refused("x", {"x": ("reason", "body")}).errors == {"body": ["refused"]}
    # A code the map does not know, or a field this form lacks: above the form.
    assert _refused("other", {"x": "name"}).non_field_errors() == ["refused"]
    assert _refused("x", {"x": "reason"}).non_field_errors() == ["refused"]


def test_yuan_field_reads_what_a_person_types() -> None:
    field = YuanField()
    assert str(field.clean("¥1,000.5")) == "1000.50"
    with pytest.raises(forms.ValidationError):
        field.clean("0")
    with pytest.raises(forms.ValidationError):
        field.clean("1.005")


def test_times_are_shown_in_shanghai_whatever_their_zone() -> None:
    moment = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert shanghai(moment) == "2026-03-02 00:30"
    assert shanghai(moment.isoformat(), SHORT_FORMAT) == "03-02 00:30"
    assert shanghai(None) == shanghai("not a time") == ""


@pytest.mark.django_db
def test_private_files_are_sandboxed_unsniffed_and_privately_cached() -> None:
    stored = default_storage.save("evidence/test-shared.png", ContentFile(b"\x89PNG..."))
    try:
        image = private_file_response(
            stored, content_type="image/png", filename='a"b.png', max_age=3600
        )
        download = private_file_response(
            stored, content_type="image/png", filename="聊天.png", as_attachment=True
        )
        for response in (image, download):
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
            response.close()
        assert image["Cache-Control"] == "private, max-age=3600"
        assert image["Content-Disposition"] == 'inline; filename="a\\"b.png"'
        assert download["Cache-Control"] == "private, no-store"
        assert download["Content-Disposition"].startswith("attachment; filename*=utf-8''")
    finally:
        default_storage.delete(stored)


def test_the_lower_apps_get_what_they_read_of_complaints_from_registrations() -> None:
    """escrow and the project package import no complaint module and load no model by name:
    the apps register at start-up (docs/architecture.md)."""
    from pathlib import Path

    from escrow import selectors
    from kamen_complaints import backups

    assert [type(f).__name__ for f in selectors._complaint_facts] == ["ComplaintFacts"]
    assert {c.name for c in backups._restore_checks} >= {"orders.secrets", "disputes.clock"}
    assert "package_public_key_id" in backups._public_key_ids
    assert "get_model" not in Path(selectors.__file__).read_text(encoding="utf-8")


@pytest.mark.django_db
def test_a_deposit_hold_names_its_complaint_and_the_ledger_counts_replacements() -> None:
    from escrow.selectors import _order_checks, merchant_holds
    from tests.disputes.factories import file

    dispute = file()  # filing holds the claimed amount on the funded deposit
    assert [h.number for h in merchant_holds(dispute.merchant)] == [dispute.number]
    # A replacement worth more than the order was paid is a breach check_ledger reports.
    type(dispute).objects.filter(pk=dispute.pk).update(replaced_value=dispute.order.amount + 1)
    breaches = [b for c in _order_checks() for b in c.breaches]
    assert any(dispute.order.number in b and "replacement keys" in b for b in breaches)
