"""Fixture-build settings for the ORIGINAL PSS backend (Clickatell4/Pss-backendN).

build.sh copies this file into the original's work tree (outside /work/main) and runs
manage.py with DJANGO_SETTINGS_MODULE=local_settings.  It imports the original's local
settings unchanged and only swaps the database (PSS_DB=sqlite|postgres).
"""
import os

from pss_backend.settings.local import *  # noqa: F401,F403

if os.environ.get("PSS_DB", "sqlite") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("PSS_PG_NAME", "django_pss"),
            "USER": os.environ.get("PSS_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("PSS_PG_PASSWORD", ""),
            "HOST": os.environ.get("PSS_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("PSS_PG_PORT", "5432"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("PSS_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),  # noqa: F405
        }
    }

# Django 4.2 defaults (PBKDF2 600000 first; Argon2 available through argon2-cffi).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
