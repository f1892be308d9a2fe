from . import (
    outbound_account,
    outbound_account_status,
    outbound_campaign,
    outbound_dispatcher,
    outbound_import_profile,
    outbound_list,
    outbound_message,
    outbound_send_job,
    outbound_sms_gateway,
    outbound_template,
    resource_calendar,
)
