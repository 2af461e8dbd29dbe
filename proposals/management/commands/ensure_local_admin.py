"""Create the local curator account the quick start prints, if it does not exist yet."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create a superuser for local use (password from TRACKER_ADMIN_PASSWORD or generated)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("ensure_local_admin is for local development (DJANGO_DEBUG=true).")
        username = os.environ.get("TRACKER_ADMIN_USER", "admin")
        password_file = settings.VAR_DIR / "admin-password.txt"
        user_model = get_user_model()
        if user_model.objects.filter(username=username).exists():
            if password_file.exists():
                password = password_file.read_text(encoding="utf-8").strip()
                self.stdout.write(f"Admin account: {username} / {password}")
            else:
                self.stdout.write(f"Admin account: {username} (password as set before)")
            return
        password = os.environ.get("TRACKER_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        if "TRACKER_ADMIN_PASSWORD" not in os.environ:
            password_file.write_text(password + "\n", encoding="utf-8")
            password_file.chmod(0o600)
        self.stdout.write(f"Admin account created: {username} / {password}")
