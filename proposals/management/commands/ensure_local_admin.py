"""Create or update the local curator account the quick start prints."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


def password_file() -> Path:
    """Where the generated password of *this* database's account is kept: one file per
    database, so switching ``DATABASE_URL`` never prints another database's password."""
    db = connection.settings_dict
    key = "|".join(str(db.get(part) or "") for part in ("ENGINE", "NAME", "HOST", "PORT"))
    return settings.VAR_DIR / f"admin-password-{hashlib.sha256(key.encode()).hexdigest()[:12]}.txt"


class Command(BaseCommand):
    help = (
        "Create a superuser for local use: password from TRACKER_ADMIN_PASSWORD (applied again "
        "whenever it changes) or generated and kept beside the database's other local files."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("ensure_local_admin is for local development (DJANGO_DEBUG=true).")
        username = os.environ.get("TRACKER_ADMIN_USER", "admin")
        given = os.environ.get("TRACKER_ADMIN_PASSWORD")
        kept = password_file()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            password = given or secrets.token_urlsafe(12)
            get_user_model().objects.create_superuser(
                username=username, email="", password=password
            )
            if not given:
                kept.write_text(password + "\n", encoding="utf-8")
                kept.chmod(0o600)
            self.stdout.write(f"Admin account created: {username} / {password}")
            return
        if given:
            if not user.check_password(given):
                user.set_password(given)
                user.save(update_fields=["password"])
                self.stdout.write(f"Admin account: {username} / {given} (password updated)")
            else:
                self.stdout.write(f"Admin account: {username} / {given}")
            return
        known = kept.read_text(encoding="utf-8").strip() if kept.exists() else None
        if known and user.check_password(known):
            self.stdout.write(f"Admin account: {username} / {known}")
        else:
            self.stdout.write(
                f"Admin account: {username} (password changed since it was generated; set "
                "TRACKER_ADMIN_PASSWORD to choose a new one)"
            )
