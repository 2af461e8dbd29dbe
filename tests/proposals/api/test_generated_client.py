"""A client generated from the served schema by openapi-python-client works against the service.

The schema is what clients build on: generated into a Python package, every module must import,
and the client must read anonymously, log in and write with ``If-Match``, against a real server
on loopback.
"""

from __future__ import annotations

import datetime
import importlib
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import override_settings

from tests.factories import ActorFactory, MeasureFactory

PACKAGE = "tracker_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PASSWORD = "a long curator passphrase"


@pytest.fixture(scope="module")
def client_package(
    live_server: Any, tmp_path_factory: pytest.TempPathFactory, django_db_blocker: Any
) -> Iterator[ModuleType]:
    """The package generated from the schema the running service serves."""
    tmp_path = tmp_path_factory.mktemp("generated")
    # The live server allows its host only while a test runs; this runs before the first, and
    # the request's start checks the server thread's database connection, open since an
    # earlier test.
    with (
        override_settings(ALLOWED_HOSTS=[urlsplit(live_server.url).hostname]),
        django_db_blocker.unblock(),
    ):
        schema = requests.get(f"{live_server.url}/api/schema/?format=json", timeout=30)
    assert schema.status_code == HTTPStatus.OK
    (tmp_path / "schema.json").write_bytes(schema.content)
    (tmp_path / "config.yaml").write_text(f"package_name_override: {PACKAGE}\n")
    generated = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            tmp_path / "schema.json",
            "--config",
            tmp_path / "config.yaml",
            "--meta",
            "none",
            "--output-path",
            tmp_path / PACKAGE,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # Any warning means part of the schema could not become code.
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def operation(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.api.v1.{name}")


@pytest.fixture
def curator() -> User:
    # A transactional test starts from whatever the last one left (an earlier one empties every
    # table): write again what the data migrations write, the categories and the curators group.
    for migration, function in (
        ("0002_categories", "create_categories"),
        ("0003_curators_group", "create_curators"),
    ):
        getattr(importlib.import_module(f"proposals.migrations.{migration}"), function)(apps, None)
    user = User.objects.create_user("curator", password=PASSWORD)
    user.groups.add(Group.objects.get(name="curators"))
    return user


def test_every_generated_module_imports(client_package: ModuleType) -> None:
    names = [
        module.name
        for module in pkgutil.walk_packages(client_package.__path__, f"{PACKAGE}.")
        if not module.ispkg
    ]
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as error:  # every failure is reported, not just the first
            failed[name] = repr(error)
    assert failed == {}
    operations = {name.rsplit(".", 1)[1] for name in names if ".api." in name}
    # One module per operation of the schema: creates and full updates included.
    assert {"v1_measures_create", "v1_positions_update", "v1_import_create"} <= operations
    assert len(operations) == 50


# The server thread sees only committed rows.
@pytest.mark.django_db(transaction=True)
def test_it_reads_logs_in_and_writes_with_if_match(
    client_package: ModuleType, live_server: Any, curator: User
) -> None:
    from_package = client_package
    models = importlib.import_module(f"{PACKAGE}.models")
    MeasureFactory(slug="inf", title="INF Treaty")
    ActorFactory(code="RUS")

    # Anonymous: a list as it stood on a day.
    anonymous = from_package.Client(base_url=live_server.url, raise_on_unexpected_status=True)
    listed = operation(from_package, "v1_measures_list").sync_detailed(
        client=anonymous, as_of=datetime.date(2020, 1, 1)
    )
    assert listed.status_code == HTTPStatus.OK
    assert [measure.slug for measure in listed.parsed.results] == ["inf"]

    # Log in with the password, then write with the token.
    basic = from_package.Client(
        base_url=live_server.url, httpx_args={"auth": ("curator", PASSWORD)}
    )
    login = operation(from_package, "v1_auth_login_create").sync_detailed(client=basic)
    assert login.status_code == HTTPStatus.OK
    writer = from_package.AuthenticatedClient(
        base_url=live_server.url, token=login.parsed.token, prefix="Token"
    )

    created = operation(from_package, "v1_positions_create").sync_detailed(
        client=writer,
        body=models.PositionRequest(
            measure="inf",
            actor="RUS",
            stance=models.StanceEnum.OPPOSES,
            date=datetime.date(2019, 2, 2),
            quote="We suspend our participation.",
        ),
    )
    assert created.status_code == HTTPStatus.CREATED, created.content
    position_id = created.parsed.id
    etag = created.headers["ETag"]

    stale = operation(from_package, "v1_positions_partial_update").sync_detailed(
        id=position_id,
        client=writer,
        body=models.PatchedPositionRequest(stance=models.StanceEnum.NEUTRAL),
        if_match='"not-the-current-version"',
    )
    assert stale.status_code == HTTPStatus.PRECONDITION_FAILED

    updated = operation(from_package, "v1_positions_partial_update").sync_detailed(
        id=position_id,
        client=writer,
        body=models.PatchedPositionRequest(stance=models.StanceEnum.NEUTRAL),
        if_match=etag,
    )
    assert updated.status_code == HTTPStatus.OK, updated.content
    assert updated.parsed.stance == models.StanceEnum.NEUTRAL
    assert updated.headers["ETag"] != etag

    read = operation(from_package, "v1_positions_retrieve").sync_detailed(
        id=position_id, client=anonymous
    )
    assert read.parsed.stance == models.StanceEnum.NEUTRAL
    assert read.parsed.quote == "We suspend our participation."
