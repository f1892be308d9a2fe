from . import (
    test_account,
    test_concurrency,
    test_dispatch,
    test_dispatch_sms,
    test_hostile_input,
    test_import,
    test_receipts,
    test_security,
    test_security_matrix,
    test_send_wizard,
    test_template,
    test_ui,
)
