from . import controllers, models, wizard
from .models import outbound_account, outbound_message


def uninstall_hook(env):
    """The running counts' and the job and list references' triggers and functions are
    PostgreSQL's, not the ORM's: drop them before the ORM drops the tables they are attached
    to."""
    env["outbound.tally"]._drop_all()
    for reference in (outbound_message.JOB_REFERENCE, outbound_account.LIST_REFERENCE):
        reference.drop(env)
