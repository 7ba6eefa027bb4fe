"""A complaint number is a path segment anyone can type: junk is a 404, never a 500
(PostgreSQL refuses NUL bytes in a string literal, so an unchecked look-up would crash)."""

import pytest

from tests.factories import UserFactory

PATHS = [
    "/api/v1/disputes/{n}/",
    "/api/v1/disputes/{n}/evidence-package/",
    "/api/v1/disputes/{n}/evidence/1/",
]
POSTS = [
    "/api/v1/disputes/{n}/messages/",
    "/api/v1/disputes/{n}/withdraw/",
    "/api/v1/disputes/{n}/appeal/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["TS%00", "TS\x00X", "x" * 300, "%E2%80%AE"])
def test_absurd_complaint_numbers_are_404(api_client, number):
    api_client.force_authenticate(UserFactory())
    for path in PATHS:
        response = api_client.get(path.format(n=number))
        assert response.status_code == 404, (path, response.status_code)
        assert response.json()["code"] == "not_found"
    for path in POSTS:
        response = api_client.post(path.format(n=number), {"body": "hi", "reason": "x"})
        assert response.status_code == 404, (path, response.status_code)
