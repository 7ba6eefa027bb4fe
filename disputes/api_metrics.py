"""`GET /api/v1/staff/metrics/?from=&to=&merchant=` — the metrics (disputes/metrics.py) as
JSON, or as the admin page's CSV with `format=csv`; staff holding `disputes.view_metrics`
only (anyone else 403, anonymous 401)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from disputes import metrics, metrics_rollup
from disputes.selectors import channel_complaint_figures
from kamen_complaints.api import request_user
from kamen_complaints.errors import Forbidden

PERMISSION = "disputes.view_metrics"


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        if isinstance(data, str):
            return data.encode("utf-8")
        return json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")  # an error


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


class MetricsView(APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, required=False),
            OpenApiParameter("to", OpenApiTypes.DATE, required=False),
            OpenApiParameter("merchant", int, required=False),
            OpenApiParameter("format", str, required=False, enum=["json", "csv"]),
        ],
        responses={200: OpenApiTypes.OBJECT},
        operation_id="v1_staff_metrics",
    )
    def get(self, request: Request) -> Response:
        user = request_user(request)
        if not (user.is_staff and user.has_perm(PERMISSION)):
            raise Forbidden(_("Only platform staff allowed to see the metrics may do this."))
        form = metrics.RangeForm(request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(form.errors_by_parameter())
        rng = form.cleaned_data["range"]
        merchant_id = form.cleaned_data.get("merchant")
        report = metrics_rollup.report(rng, merchant_id=merchant_id)
        if request.accepted_renderer.format == "csv":
            response = Response(metrics.as_csv(report))
            name = f"complaint-metrics-{rng.first:%Y%m%d}-{rng.last:%Y%m%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        body: dict[str, Any] = {
            **report["figures"],
            "definitions": metrics.definitions(),
            "top_merchants": report["top_merchants"],
            "by_merchant": report["by_merchant"],
            # Live beside the daily figures (disputes.selectors.channel_complaint_figures).
            "channel_complaints": channel_complaint_figures(
                rng.start, rng.end, merchant_id=merchant_id
            ),
        }
        return Response(_json_ready(body))
