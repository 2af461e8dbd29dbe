"""Refresh now: the admin action, the ``refresh_sources`` command and the API action."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.contrib.auth.models import Group, Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import SourceFactory
from tests.tracker.conftest import queued_sources
from tests.tracker.httpserver import LoopbackServer, Reply
from tracker.models import Source, SourceCheck

ARTICLE = (Path(__file__).parent / "pages" / "article.html").read_bytes()
HTML = {"Content-Type": "text/html; charset=utf-8"}
LATER = timedelta(days=1)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("celery_app")]


def test_the_admin_action_queues_the_selected_sources(
    client: Client,
    admin_user: User,
    celery_app: Celery,
    django_capture_on_commit_callbacks: Any,
) -> None:
    chosen = SourceFactory.create_batch(2, next_check_at=timezone.now() + LATER)
    SourceFactory.create()
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:tracker_source_changelist"),
            {"action": "check_now", "_selected_action": [s.pk for s in chosen]},
            follow=True,
        )

    assert "Queued 2 sources for a check" in response.content.decode()
    assert sorted(queued_sources(celery_app)) == sorted(s.pk for s in chosen)


def test_the_admin_action_needs_the_change_permission(client: Client) -> None:
    viewer = User.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_source"))
    client.force_login(viewer)

    response = client.get(reverse("admin:tracker_source_changelist"))

    assert response.status_code == 200
    assert "check_now" not in response.content.decode()


# --- the command ------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("refresh_sources", *args, stdout=out, verbosity=0)
    return out.getvalue()


def test_the_command_queues_the_due_sources_by_default(
    celery_app: Celery, django_capture_on_commit_callbacks: Any
) -> None:
    due = [SourceFactory.create(next_check_at=None), SourceFactory.create()]
    Source.objects.filter(pk=due[1].pk).update(next_check_at=timezone.now() - LATER)
    SourceFactory.create(next_check_at=timezone.now() + LATER)

    with django_capture_on_commit_callbacks(execute=True):
        output = run()

    assert output == "Queued 2 sources; the Celery workers check them.\n"
    assert sorted(queued_sources(celery_app)) == sorted(s.pk for s in due)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--all"], {"a1", "a2", "b1", "other"}),
        (["--host", "a.example"], {"a1", "a2"}),
        (["--host", "A.example.", "--host", "b.example"], {"a1", "a2", "b1"}),
        (["--health", "broken"], {"a2"}),
        (["--health", "broken", "--health", "ok"], {"a2", "b1"}),
        (["--health", "ok", "--host", "a.example"], set()),
    ],
)
def test_the_command_selects_by_health_and_host(
    celery_app: Celery,
    django_capture_on_commit_callbacks: Any,
    args: list[str],
    expected: set[str],
) -> None:
    names = {
        SourceFactory.create(
            url="https://a.example/1", next_check_at=timezone.now() + LATER
        ).pk: "a1",
        SourceFactory.create(url="https://a.example:8443/2", health="broken").pk: "a2",
        SourceFactory.create(url="http://b.example/1", health="ok").pk: "b1",
    }
    SourceFactory.create(url="https://a.example.org/not-a-example")

    with django_capture_on_commit_callbacks(execute=True):
        run(*args)

    assert {names.get(pk, "other") for pk in queued_sources(celery_app)} == expected


def test_the_command_refuses_all_with_a_filter() -> None:
    with pytest.raises(CommandError, match="--all cannot be combined"):
        run("--all", "--health", "ok")


def test_the_command_checks_here_with_sync(
    server: LoopbackServer, loopback_settings: Any, celery_app: Celery
) -> None:
    loopback_settings.TRACKER_HOST_MIN_INTERVAL = 0.3
    server.route("/a", Reply(body=ARTICLE, headers=HTML))
    server.route("/b", Reply(body=ARTICLE, headers=HTML))
    for path in ("/a", "/b", "/missing"):
        SourceFactory.create(url=server.url(path))

    output = run("--all", "--sync")

    assert output == "Checked 3 sources: gone 1, ok 2.\n"
    assert SourceCheck.objects.count() == 3
    assert queued_sources(celery_app) == []  # Checked here: nothing for the workers.


# --- the API ------------------------------------------------------------------------------------


def api_client(*, group: str | None = None) -> APIClient:
    user = User.objects.create_user(f"user-{group}", password="a long passphrase for tests")
    if group:
        user.groups.add(Group.objects.get(name=group))
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_curator_asks_the_api_for_a_check_now(
    celery_app: Celery, django_capture_on_commit_callbacks: Any
) -> None:
    source = SourceFactory.create(next_check_at=timezone.now() + LATER)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(group="curators").post(f"/api/v1/sources/{source.pk}/refresh/")

    assert response.status_code == 202
    assert response.json() == {
        "id": source.pk,
        "status": "queued",
        "checks": f"http://testserver/api/v1/sources/{source.pk}/checks/",
    }
    assert queued_sources(celery_app) == [source.pk]


@pytest.mark.parametrize(("group", "status"), [(None, 403), ("anonymous", 401)])
def test_the_api_refuses_a_check_now_without_the_change_permission(
    celery_app: Celery, group: str | None, status: int
) -> None:
    source = SourceFactory.create()
    client = APIClient() if group == "anonymous" else api_client()

    response = client.post(f"/api/v1/sources/{source.pk}/refresh/")

    assert response.status_code == status
    assert queued_sources(celery_app) == []


def test_the_api_answers_404_for_a_check_of_no_source() -> None:
    response = api_client(group="curators").post("/api/v1/sources/999999/refresh/")

    assert response.status_code == 404
