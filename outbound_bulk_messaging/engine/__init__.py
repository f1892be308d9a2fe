"""Odoo-free logic of outbound_bulk_messaging.

Nothing in this package imports ``odoo``: rendering, SMS encoding, address normalisation, CSV
reading, pacing arithmetic, gateway adapters and the error taxonomy live here and are tested by
the top-level pytest suite. ``models/`` and ``wizard/`` are the ORM glue that call them.
"""
