from . import controllers, models, wizard


def uninstall_hook(env):
    """The running counts' and the job references' triggers and functions are PostgreSQL's, not
    the ORM's: drop them before the ORM drops the tables they are attached to."""
    env["outbound.tally"]._drop_all()
    env["outbound.message"]._drop_job_integrity()
