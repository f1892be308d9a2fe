from . import outbound_account_import, outbound_send_job_reject, outbound_send_wizard
