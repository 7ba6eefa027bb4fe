"""The rating is five labelled radio buttons in ascending order, 1 很差 … 5 很满意, each with
its words as its label (the stars are decoration, hidden from screen readers)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.disputes.factories import resolved_by_refund

pytestmark = pytest.mark.django_db


def test_the_rating_reads_one_to_five_with_words_each_a_labelled_radio(client: Client):
    dispute = resolved_by_refund()
    client.force_login(dispute.buyer)

    html = client.get(reverse("disputes:complaint", args=[dispute.number])).content.decode()
    form = html[html.index('id="rating"') :]
    values = re.findall(r'<input type="radio" name="score" value="(\d)"', form)
    assert values == ["1", "2", "3", "4", "5"]
    labels = re.findall(
        r'<label class="rating-stars__option" for="([^"]+)">.*?'
        r'aria-hidden="true">(★+)</span> <span>(\d) ([^<]+)</span></label>',
        form,
    )
    assert [(stars, n, words) for _, stars, n, words in labels] == [
        ("★", "1", "很差"),
        ("★★", "2", "较差"),
        ("★★★", "3", "一般"),
        ("★★★★", "4", "满意"),
        ("★★★★★", "5", "很满意"),
    ]
    for input_id, *_ in labels:
        assert f'id="{input_id}"' in form
