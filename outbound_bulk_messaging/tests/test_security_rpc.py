"""The buttons over JSON-RPC as the web client calls them, with a real session."""

import json

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .security_common import CSV_FILE, MatrixCase


@tagged("post_install", "-at_install")
class TestRpcAccess(MatrixCase, HttpCase):
    """The buttons over JSON-RPC, as the web client calls them, with a real session."""

    def _rpc(self, model, method, args, kwargs=None, route="call_kw"):
        """POST to /web/dataset/<route>; return (result, error) as the web client gets them."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        with mute_logger("odoo.http"):  # a refused call is logged as a warning, on purpose
            response = self.url_open(
                f"/web/dataset/{route}/{model}/{method}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.status_code, 200)
        body = response.json()
        return body.get("result"), body.get("error")

    def _rpc_refused(self, *args, error="odoo.exceptions.AccessError", **kwargs):
        result, failure = self._rpc(*args, **kwargs)
        self.assertIsNone(result)
        self.assertIsNotNone(failure, f"{args[:2]} was not refused")
        self.assertEqual(failure["data"]["name"], error, failure["data"]["message"])
        return failure["data"]["message"]

    def _open_wizard(self):
        """The send screen saved over RPC, as the web client does before a button runs."""
        context = {"active_model": "outbound.campaign", "active_id": self.campaign.id}
        saved, failure = self._rpc(
            "outbound.send.wizard",
            "web_save",
            [[], {"template_id": self.template.id}],
            {"specification": {"count_accounts": {}}, "context": context},
        )
        self.assertIsNone(failure)
        return saved[0]["id"], saved[0]["count_accounts"]

    def test_user_cannot_send_over_rpc(self):
        self.authenticate("ob_user", "ob_userx")
        wizard_id, count = self._open_wizard()
        self.assertEqual(count, 4)
        counts = self._counts()
        for method in ("action_send_email", "action_send_sms"):
            for route in ("call_kw", "call_button"):
                with self.subTest(method=method, route=route):
                    message = self._rpc_refused(
                        "outbound.send.wizard", method, [[wizard_id]], route=route
                    )
                    self.assertIn("Only Campaign Managers", message)
        self.assertEqual(self._counts(), counts)

    def test_internal_user_cannot_open_or_send_over_rpc(self):
        self.authenticate("ob_internal", "ob_internal")
        wizard = self.env(user=self.user_internal, su=True)["outbound.send.wizard"].create(
            {"campaign_id": self.campaign.id, "template_id": self.template.id}
        )
        counts = self._counts()
        self._rpc_refused(
            "outbound.send.wizard",
            "create",
            [{"campaign_id": self.campaign.id}],
        )
        self._rpc_refused("outbound.send.wizard", "action_send_email", [[wizard.id]])
        self._rpc_refused("outbound.campaign", "search_read", [[], ["name"]])
        self.assertEqual(self._counts(), counts)

    def test_user_cannot_run_job_buttons_over_rpc(self):
        self.authenticate("ob_user", "ob_userx")
        before = (self.job.state, self.failed.state)
        for model, method, args in (
            ("outbound.send.job", "action_pause", [[self.job.id]]),
            ("outbound.send.job", "action_cancel", [[self.job.id]]),
            ("outbound.send.job", "action_retry_failed", [[self.job.id]]),
            ("outbound.send.job", "action_approve", [[self.job.id]]),
            ("outbound.send.job", "action_reject", [[self.job.id], "Not on my watch"]),
            ("outbound.send.job", "write", [[self.job.id], {"state": "cancelled"}]),
            ("outbound.message", "action_retry", [[self.failed.id]]),
            ("outbound.message", "write", [[self.failed.id], {"state": "sent"}]),
            ("outbound.campaign", "write", [[self.campaign.id], {"sms_gateway_id": False}]),
        ):
            with self.subTest(method=f"{model}.{method}"):
                self._rpc_refused(model, method, args)
        self.env.invalidate_all()
        self.assertEqual((self.job.state, self.failed.state), before)
        self.assertEqual(self.campaign.sms_gateway_id, self.gateway)

    def test_user_cannot_import_or_test_gateway_over_rpc(self):
        self.authenticate("ob_user", "ob_userx")
        counts = self._counts()
        vals = {"list_id": self.list_active.id, "profile_id": self.profile.id}
        self._rpc_refused("outbound.account.import", "create", [dict(vals, file=CSV_FILE.decode())])
        message = self._rpc_refused(
            "outbound.sms.gateway",
            "action_send_test_sms",
            [[self.gateway.id]],
            error="odoo.exceptions.UserError",
        )
        self.assertIn("Only Outbound administrators", message)
        self.assertEqual(self._counts(), counts)

    def test_private_methods_are_not_callable(self):
        self.authenticate("ob_manager", "ob_manager")
        for model, method, args in (
            ("outbound.send.job", "_cron_dispatch", []),
            ("outbound.send.job", "_create_messages", [[self.job.id]]),
            ("outbound.send.wizard", "_action_send", [[], "email"]),
            ("outbound.sms.gateway", "_get_adapter", [[self.gateway.id]]),
            ("outbound.send.job", "init", []),
        ):
            with self.subTest(method=method):
                message = self._rpc_refused(model, method, args)
                self.assertIn("Private methods", message)

    def test_manager_sends_over_rpc(self):
        """The refusals above are the policy, not a broken route: a manager's click works."""
        self.authenticate("ob_manager", "ob_manager")
        wizard_id, _count = self._open_wizard()
        action, failure = self._rpc(
            "outbound.send.wizard", "action_send_email", [[wizard_id]], route="call_button"
        )
        self.assertIsNone(failure)
        job = self.env["outbound.send.job"].browse(action["res_id"])
        self.assertEqual((job.user_id, job.count_queued), (self.user_manager, 4))
