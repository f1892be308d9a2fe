#!/usr/bin/env python3
"""Install Odoo 18 into this Python when ``import odoo`` fails (``make setup`` calls it).

Where the source comes from, first that works:

1. ``$ODOO_SRC``, when it names an Odoo 18 checkout (``odoo-bin`` and ``requirements.txt``);
2. a shallow clone of Odoo's ``18.0`` branch into ``.odoo/`` (git-ignored), or that clone when it
   is already there.

Odoo's own ``requirements.txt`` is installed with the pins that work on Python 3.11 and 3.12
(``cbor2==5.6.5`` for the pins that no longer build, ``python-ldap`` left out since the addon
needs no LDAP and it needs OpenLDAP headers), with ``--no-build-isolation`` and ``setuptools<70``
for Odoo's pinned sdists; Debian's ``libpq-dev`` is installed for psycopg2 when missing and we may
(root with apt-get). Then ``pip install --no-deps -e`` of the source.

When none of this is possible it prints one loud line and exits 0, so that ``make setup`` still
sets up the rest and ``make test`` still runs the Odoo-free suite (saying loudly that the Odoo
suite was skipped).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLONE_DIR = ROOT / ".odoo"
ODOO_REPOSITORY = os.environ.get("ODOO_REPOSITORY", "https://github.com/odoo/odoo.git")
ODOO_BRANCH = "18.0"
# Requirement name -> the line that replaces every pin of it (None: left out).
REPLACED_PINS = {
    "cbor2": "cbor2==5.6.5",
    "python-ldap": None,
}
LOUD = "!!!!!"


def odoo_importable():
    probe = [sys.executable, "-c", "import odoo.release as r; print(r.version_info[0])"]
    result = subprocess.run(probe, capture_output=True, text=True, check=False)
    return result.returncode == 0 and result.stdout.strip() == "18"


def is_checkout(path):
    return bool(path) and (path / "odoo-bin").is_file() and (path / "requirements.txt").is_file()


def find_source():
    """The Odoo source folder to install, or None (with the reason printed)."""
    if os.environ.get("ODOO_SRC"):
        source = Path(os.environ["ODOO_SRC"]).expanduser().resolve()
        if is_checkout(source):
            return source
        print(f"ODOO_SRC={source} is not an Odoo checkout (no odoo-bin / requirements.txt)")
    if is_checkout(CLONE_DIR):
        return CLONE_DIR
    if shutil.which("git") is None:
        print("git is not installed: cannot clone Odoo")
        return None
    print(f"Cloning Odoo {ODOO_BRANCH} from {ODOO_REPOSITORY} into {CLONE_DIR} ...")
    clone = [
        "git",
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--branch",
        ODOO_BRANCH,
        ODOO_REPOSITORY,
        str(CLONE_DIR),
    ]
    if subprocess.run(clone, check=False).returncode != 0:
        shutil.rmtree(CLONE_DIR, ignore_errors=True)
        print(f"cloning {ODOO_REPOSITORY} failed")
        return None
    return CLONE_DIR


def pinned_requirements(text):
    """Odoo's requirements.txt with :data:`REPLACED_PINS` applied (each replacement once)."""
    lines, replaced = [], set()
    for line in text.splitlines():
        match = re.match(r"\s*([A-Za-z0-9_.-]+)", line)
        name = match.group(1).lower() if match else None
        if name in REPLACED_PINS:
            replacement = REPLACED_PINS[name]
            if replacement and name not in replaced:
                lines.append(replacement)
            replaced.add(name)
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def ensure_libpq():
    """Debian's libpq-dev, which psycopg2's sdist needs (pg_config), when we may install it."""
    if shutil.which("pg_config"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing Debian's libpq-dev for psycopg2...")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "libpq-dev"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            stdout=subprocess.DEVNULL,
        )
    else:
        print("pg_config is missing: install libpq-dev (sudo apt-get install libpq-dev)")


def pip(*args):
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    return subprocess.run([*command, *args], check=False).returncode == 0


def install(source):
    ensure_libpq()
    with tempfile.TemporaryDirectory() as directory:
        requirements = Path(directory) / "odoo-requirements.txt"
        requirements.write_text(pinned_requirements((source / "requirements.txt").read_text()))
        return (
            pip("setuptools<70", "wheel")
            and pip("--no-build-isolation", "-r", str(requirements))
            and pip("--no-deps", "-e", str(source))
        )


def main():
    if odoo_importable():
        return 0
    source = find_source()
    if source is None or not install(source) or not odoo_importable():
        print(
            f"{LOUD} ODOO 18 COULD NOT BE INSTALLED (set ODOO_SRC to an Odoo 18 checkout, or "
            f"allow cloning {ODOO_REPOSITORY}): only the Odoo-free suite will run {LOUD}"
        )
        return 0
    print(f"Odoo 18 installed from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
