import collections
import os
import re
import subprocess
import sys
import tempfile
import time

from odoo import SUPERUSER_ID, Command, api, tools
from odoo.tests import TransactionCase, tagged

from .fakes import SmtpSink

ACCOUNTS = 450
ZONES = ("America/New_York", "Australia/Sydney", False)
WORKER = os.path.join(os.path.dirname(__file__), "dispatch_worker.py")


@tagged("post_install", "-at_install")
class TestConcurrentDispatch(TransactionCase):
    """Two dispatcher processes work on the same job at once.

    The test transaction cannot be seen by other processes, so the data is committed through a
    cursor of its own and removed again at the end.
    """

    def _committed_env(self):
        return api.Environment(self.registry.cursor(), SUPERUSER_ID, {"tracking_disable": True})

    def _create_job(self, env, sink, hours=False):
        server = env["ir.mail_server"].create(
            {"name": "Concurrency sink", "smtp_host": sink.host, "smtp_port": sink.port}
        )
        campaign = env["outbound.campaign"].create(
            {"name": "Concurrency", "email_from": "c@acme.example", "mail_server_id": server.id}
        )
        outbound_list = env["outbound.list"].create(
            {"name": "Concurrency list", "campaign_id": campaign.id}
        )
        env["outbound.account"].create(
            [
                {
                    "list_id": outbound_list.id,
                    "reference": f"C{i:04d}",
                    "email": f"c{i:04d}@example.com",
                    "time_zone": ZONES[i % len(ZONES)] if hours else False,
                }
                for i in range(ACCOUNTS)
            ]
        )
        if hours:
            campaign.send_calendar_id = self._always_open(env)
        template = env["outbound.template"].create(
            {
                "name": "C",
                "campaign_id": campaign.id,
                "subject": "Hi",
                "body": "Hi $ACCOUNT_REFERENCE",
            }
        )
        wizard = (
            env["outbound.send.wizard"]
            .with_context(active_model="outbound.campaign", active_id=campaign.id)
            .create({"template_id": template.id, "batch_size": 10_000})
        )
        job = env["outbound.send.job"].browse(wizard.action_send_email()["res_id"])
        env.cr.commit()
        return job.id, campaign.id, server.id

    def _always_open(self, env):
        return env["resource.calendar"].create(
            {
                "name": "Concurrency hours",
                "tz": "UTC",
                "attendance_ids": [
                    Command.create(
                        {"name": str(day), "dayofweek": str(day), "hour_from": 0, "hour_to": 24}
                    )
                    for day in range(7)
                ],
            }
        )

    def _delete(self, job_id, campaign_id, server_id):
        env = self._committed_env()
        with env.cr:
            campaign = env["outbound.campaign"].browse(campaign_id)
            calendar = campaign.send_calendar_id
            env["outbound.send.job"].browse(job_id).unlink()
            campaign.list_ids.unlink()
            campaign.unlink()
            calendar.unlink()
            env["ir.mail_server"].browse(server_id).unlink()
            env.cr.commit()

    def _start_workers(self, count, directory):
        """Start ``count`` dispatcher processes on this database; return them once all are ready."""
        config = tools.config
        odoo_args = ["-d", self.env.cr.dbname, "--addons-path", config["addons_path"]]
        for option in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(option):
                odoo_args += [f"--{option}", str(config[option])]
        go = os.path.join(directory, "go")
        workers = []
        for index in range(count):
            ready = os.path.join(directory, f"ready{index}")
            command = [
                sys.executable,
                WORKER,
                "--ready",
                ready,
                "--go",
                go,
                *odoo_args,
                "--log-level",
                "warn",
            ]
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            workers.append((process, ready))
        deadline = time.monotonic() + 60
        while not all(os.path.exists(ready) for _process, ready in workers):
            self.assertLess(time.monotonic(), deadline, "workers did not start")
            time.sleep(0.05)
        open(go, "w").close()
        return [process for process, _ready in workers]

    def test_two_dispatchers_never_send_the_same_message(self):
        self._check_two_dispatchers(hours=False)

    def test_two_dispatchers_with_sending_hours(self):
        # Several open zones: each claim locks a range per zone and claims the first of them.
        self._check_two_dispatchers(hours=True)

    def _check_two_dispatchers(self, hours):
        # The sink answers each message after 5 ms so the two workers overlap for seconds.
        with SmtpSink(stall=0.005) as sink:
            env = self._committed_env()
            with env.cr:
                ids = self._create_job(env, sink, hours)
            try:
                with tempfile.TemporaryDirectory() as directory:
                    workers = self._start_workers(2, directory)
                    outputs = [
                        f"exit {process.wait(120)}: {process.communicate()[0]}"
                        for process in workers
                    ]
                found = [re.search(r"processed (\d+)", output) for output in outputs]
                self.assertTrue(all(found), "\n".join(outputs))
                processed = [int(match.group(1)) for match in found]
                received = collections.Counter(m.rcpt_tos[0] for m in sink.messages)
                check = self._committed_env()
                with check.cr:
                    job = check["outbound.send.job"].browse(ids[0])
                    states = collections.Counter(job.outbound_message_ids.mapped("state"))
                    failures = set(job.outbound_message_ids.mapped("failure_reason"))
                    job_state = job.state
            finally:
                self._delete(*ids)
        self.assertEqual(len(received), ACCOUNTS, (outputs, states, failures))
        self.assertEqual(max(received.values()), 1, "an address received the message twice")
        self.assertEqual(states, {"sent": ACCOUNTS})
        self.assertEqual(job_state, "done")
        # Both dispatchers took part: each claimed batches of the same job.
        self.assertEqual(sum(processed), ACCOUNTS)
        self.assertTrue(all(processed), processed)
