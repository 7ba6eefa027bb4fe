import pytest


@pytest.mark.django_db
def test_healthz_answers_ok_when_database_and_broker_are_reachable(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_unreachable(client, settings, monkeypatch):
    settings.CELERY_BROKER_IS_FILESYSTEM = False
    from kamen_complaints.celery import app

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration
    # (as CI sets it), so point both at a port where nothing listens.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    from kamen_complaints import health

    class Broken:
        def cursor(self):
            raise RuntimeError("database down")

    monkeypatch.setattr(health, "connection", Broken())
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is False
    assert body["status"] == "unavailable"
