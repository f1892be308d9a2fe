from . import outbound_account_import, outbound_send_wizard
