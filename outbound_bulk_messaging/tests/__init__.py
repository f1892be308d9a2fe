from . import (
    test_account,
    test_concurrency,
    test_dispatch,
    test_dispatch_sms,
    test_import,
    test_receipts,
    test_security,
    test_send_wizard,
    test_template,
)
