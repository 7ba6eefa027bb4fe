"""The merchant contests with a statement and the counter-evidence in one step (the
dashboard's contest form; the API does the same in two calls: evidence, then respond)."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from disputes.models import Dispute, Evidence, Status
from disputes.permissions import require_merchant
from disputes.services.conversation import (
    Action,
    clean_text,
    deadline_passed,
    dispute_respond,
)
from disputes.services.evidence import EvidenceUpload, dispute_add_evidence
from disputes.services.state_machine import not_allowed


def dispute_contest(
    *,
    dispute: Dispute,
    merchant_user: User,
    message: str,
    evidence: Sequence[EvidenceUpload] = (),
) -> Dispute:
    """Add the merchant's counter-evidence (`dispute_add_evidence`, each file checked by
    content) and contest (`dispute_respond`), all or nothing: when the answer is refused, the
    files just stored are deleted again and the complaint is as it was."""
    require_merchant(merchant_user, dispute)
    # What would refuse the answer, checked before any file is stored.
    if dispute.status != Status.AWAITING_MERCHANT:
        raise not_allowed(dispute, _("the merchant's answer"))
    due = dispute.merchant_response_due
    if due and timezone.now() > due:
        raise deadline_passed(_("answer this complaint"), due)
    clean_text(message, label=_("A message"))
    added: list[Evidence] = []
    try:
        with transaction.atomic():
            for upload in evidence:
                added.append(
                    dispute_add_evidence(
                        dispute=dispute,
                        user=merchant_user,
                        kind=upload.kind,
                        file=upload.file,
                        note=upload.note,
                    )
                )
            return dispute_respond(
                dispute=dispute,
                merchant_user=merchant_user,
                action=Action.CONTEST,
                message=message,
            )
    except BaseException:
        for item in added:
            default_storage.delete(item.stored_name)
        raise
