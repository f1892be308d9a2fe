"""Import the addon's Odoo-free parts without Odoo.

``outbound_bulk_messaging/__init__.py`` imports the ORM layer, which needs Odoo. The engine and the
test servers in ``outbound_bulk_messaging/tests/fakes.py`` do not, so the two packages are
registered here as bare namespaces: importing ``outbound_bulk_messaging.engine`` then never runs
the addon's ``__init__``.
"""

import sys
import types
from pathlib import Path

ADDON = Path(__file__).resolve().parent.parent / "outbound_bulk_messaging"


def _namespace(name, path):
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module


_namespace("outbound_bulk_messaging", ADDON)
_namespace("outbound_bulk_messaging.tests", ADDON / "tests")
