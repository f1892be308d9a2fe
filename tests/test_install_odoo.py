"""tools/install_odoo.py: Odoo's requirements with the pins that build on Python 3.11 and 3.12."""

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "install_odoo.py"
spec = importlib.util.spec_from_file_location("install_odoo", TOOL)
install_odoo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install_odoo)

ODOO_REQUIREMENTS = """\
Babel==2.9.1 ; python_version < '3.11'  # min version = 2.6.0
cbor2==5.4.2 ; python_version < '3.12'
cbor2==5.6.2 ; python_version >= '3.12'
psycopg2==2.9.5 ; python_version == '3.11'
python-ldap==3.4.0 ; sys_platform != 'win32' and python_version < '3.12'
python-ldap==3.4.4 ; sys_platform != 'win32' and python_version >= '3.12'  # (Noble)
Werkzeug==2.0.2 ; python_version <= '3.10'
"""


def test_pins_are_replaced_once_and_ldap_left_out():
    lines = install_odoo.pinned_requirements(ODOO_REQUIREMENTS).splitlines()
    assert lines == [
        "Babel==2.9.1 ; python_version < '3.11'  # min version = 2.6.0",
        "cbor2==5.6.5",
        "psycopg2==2.9.5 ; python_version == '3.11'",
        "Werkzeug==2.0.2 ; python_version <= '3.10'",
    ]


def test_a_checkout_needs_odoo_bin_and_requirements(tmp_path):
    assert not install_odoo.is_checkout(tmp_path)
    (tmp_path / "odoo-bin").write_text("")
    assert not install_odoo.is_checkout(tmp_path)
    (tmp_path / "requirements.txt").write_text("")
    assert install_odoo.is_checkout(tmp_path)
