"""The faults driver's own rules (bench/load/faults.py, docs/load.md "Faults"): its check after
the run waits for what the sweep sends after its grace instead of reading the outbox once, and
it injects a fault only while Locust's users still have time to work through it."""

from __future__ import annotations

import json
import time
import types
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from bench.load import faults
from disputes.models import Notification
from disputes.services.notifications import SWEEP_GRACE, notifications_send_pending
from tests.disputes.factories import file

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 2, 2, 0, 5, tzinfo=UTC)


def _clock(monkeypatch: pytest.MonkeyPatch, traveller: Any, every_sleep: Any = None) -> None:
    """The driver's `time` on time-machine's clock: its sleeps move the clock (and let the
    platform do what it would meanwhile)."""

    def sleep(seconds: float) -> None:
        traveller.shift(timedelta(seconds=seconds))
        if every_sleep is not None:
            every_sleep()

    fake = types.SimpleNamespace(time=time.time, sleep=sleep, strftime=time.strftime)
    monkeypatch.setattr(faults, "time", fake)
    monkeypatch.setattr(faults, "_setup", lambda: None)
    monkeypatch.setattr(faults, "INTERVAL", 10)


def test_the_check_waits_for_a_notification_the_sweep_sends_after_its_grace(
    monkeypatch, tmp_path, capsys
):
    """A notification whose on-commit send was lost, 5 s old when the load stopped: the sweep
    sends it only once it is SWEEP_GRACE old, so a check that looks once finds it waiting."""
    with time_machine.travel(START, tick=False) as traveller:
        dispute = file()
        Notification.objects.update(sent_at=timezone.now())
        lost = Notification.objects.filter(dispute=dispute).first()
        assert lost is not None
        Notification.objects.filter(pk=lost.pk).update(
            sent_at=None, created_at=timezone.now() - timedelta(seconds=5)
        )
        plan = tmp_path / "plan.json"
        plan.write_text(json.dumps({"armed": []}))
        monkeypatch.setattr(faults, "PLAN", plan)
        # Beat's sweep, as often as the driver looks (it only sends rows past the grace).
        _clock(monkeypatch, traveller, every_sleep=notifications_send_pending)
        faults.check()
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("FAULTS_CHECK "))
    summary = json.loads(line[len("FAULTS_CHECK ") :])
    assert summary["outbox"] == 0
    waited = summary["waited_for_the_queues_seconds"]
    assert SWEEP_GRACE.total_seconds() - 5 <= waited <= summary["queues_bound_seconds"]
    assert Notification.objects.get(pk=lost.pk).sent_at is not None


def test_no_fault_is_injected_after_the_users_stopped(monkeypatch, tmp_path, capsys):
    """Users for 200 s after the ramp: the first fault (which here takes 100 s) runs, the second
    has 85 s left (5 s after the ramp, 100 s, the 10 s after its recovery) of the 160 s a
    fault may need and is not injected."""
    with time_machine.travel(START, tick=False) as traveller:
        (tmp_path / "ramp.json").write_text(json.dumps({"ended_at": time.time()}))
        monkeypatch.setattr(faults, "WORK", tmp_path)
        monkeypatch.setattr(faults, "MEASURE_SECONDS", 200.0, raising=False)
        _clock(monkeypatch, traveller)
        ran: list[str] = []

        def fault(name: str) -> Any:
            def run() -> dict[str, Any]:
                began = time.time()
                ran.append(name)
                traveller.shift(timedelta(seconds=100))
                return {"began": began, "ended": time.time()}

            return run

        monkeypatch.setattr(
            faults, "FAULTS", [("first", fault("first")), ("second", fault("second"))]
        )
        monkeypatch.setattr(faults, "_note_baseline", lambda: None)
        monkeypatch.setattr(faults, "_wait_recovered", lambda after: (time.time(), "ok"))
        faults.inject()
    assert ran == ["first"]
    out = capsys.readouterr()
    rows = [json.loads(x[6:]) for x in out.out.splitlines() if x.startswith("FAULT ")]
    assert [row["fault"] for row in rows] == ["first"]
    assert rows[0]["under_load_until"] == "recovery + 10 s"
    assert "second: NOT injected: the users stop in 85 s" in out.err
