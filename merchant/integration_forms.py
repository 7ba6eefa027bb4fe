"""The integrations page's forms (merchant/views/integrations.py): a webhook, a group robot.
They check the input's shape; the rules (the URL's SSRF check, the event types, who may) are
integrations.services'."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from integrations import events
from integrations.models import ROBOT_KINDS, EndpointKind

# Where a service's refusal shows (kamen_complaints.forms.add_domain_error).
FIELD_OF_CODE = {
    "url_refused": "url",
    "unknown_event_type": "events",
}


class WebhookForm(forms.Form):
    url = forms.CharField(
        label=_("Receiver URL"),
        max_length=2000,
        help_text=_("Your server's https:// address; each event is POSTed there, signed."),
        widget=forms.URLInput(
            attrs={"placeholder": "https://erp.example.com/kamen/events", "autocomplete": "off"}
        ),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event, including types added later."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = events.event_labels()  # type: ignore[attr-defined]


class RobotForm(WebhookForm):
    kind = forms.ChoiceField(label=_("Chat app"), choices=())
    secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=200,
        strip=True,
        help_text=_(
            "DingTalk: the signing secret of the robot's security settings (SEC…); Feishu: "
            "its signature secret. A WeChat Work robot has none."
        ),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    field_order = ["kind", "url", "secret", "events"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [  # type: ignore[attr-defined]
            (kind.value, kind.label) for kind in ROBOT_KINDS
        ]
        self.fields["url"].label = _("The robot's webhook URL")
        self.fields["url"].help_text = _(
            "Copied from the group's robot settings, with its token "
            "(for example https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…)."
        )
        self.fields["url"].widget.attrs["placeholder"] = ""
        self.order_fields(self.field_order)

    def clean_kind(self) -> str:
        kind = self.cleaned_data["kind"]
        if kind == EndpointKind.WEBHOOK:
            raise forms.ValidationError(_("Choose a chat app."))
        return str(kind)
