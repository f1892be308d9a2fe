"""Gateway secrets (keys, passwords, hosts) are visible to Outbound administrators only:
through the ORM calls the web client makes and through its routes."""

import json

from odoo import http
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged, users
from odoo.tools import mute_logger

from .security_common import ADMIN_ONLY, SECRET_VALUES, SecretsCase

SEND_JOB_LOGGER = "odoo.addons.outbound_bulk_messaging.models.outbound_send_job"


@tagged("post_install", "-at_install")
class TestGatewaySecrets(SecretsCase):
    """Gateway secrets through the ORM calls the web client makes, as Manager and as User."""

    @users("ob_manager", "ob_user")
    def test_read_omits_secrets_and_refuses_them_by_name(self):
        gateway = self.gateway.with_env(self.env)
        values = gateway.read()[0]
        self.assertEqual(values["name"], "Matrix gateway")
        self.assertFalse(set(ADMIN_ONLY) & set(values))
        self.assertNoSecret(values)
        self.assertNoSecret(gateway.search_read([], []))
        for field in ADMIN_ONLY:
            with self.subTest(field=field):
                with self.assertRaises(AccessError):
                    gateway.read([field])
                with self.assertRaises(AccessError):
                    getattr(gateway, field)
                with self.assertRaises(AccessError):
                    gateway.search_read([], ["name", field])
                with self.assertRaises(AccessError):
                    gateway.web_search_read([], {"name": {}, field: {}})
                with self.assertRaises(AccessError):
                    gateway.web_read({field: {}})

    @users("ob_manager", "ob_user")
    def test_secrets_cannot_be_searched_sorted_or_grouped(self):
        """A domain on a secret is an oracle: ``=like 'K%'`` reveals it letter by letter."""
        Gateway = self.env["outbound.sms.gateway"]
        for field, value in SECRET_VALUES.items():
            with self.subTest(field=field):
                for domain in ([(field, "=", value)], [(field, "=like", value[:1] + "%")]):
                    with self.assertRaises(AccessError):
                        Gateway.search(domain)
                    with self.assertRaises(AccessError):
                        Gateway.search_count(domain)
                with self.assertRaises(AccessError):
                    Gateway.search([], order=field)
                with self.assertRaises(AccessError):
                    Gateway.read_group([], [f"{field}:count_distinct"], [])
                with self.assertRaises(AccessError):
                    Gateway.web_read_group([], ["__count"], [field])
                # Through a relation: campaigns and jobs filtered on their gateway's secret.
                for model in ("outbound.campaign", "outbound.send.job"):
                    with self.assertRaises(AccessError):
                        self.env[model].search([(f"sms_gateway_id.{field}", "=like", "%")])
        self.assertEqual(Gateway.name_search(SECRET_VALUES["api_key"]), [])

    @users("ob_manager", "ob_user")
    def test_export_refuses_secrets(self):
        gateway = self.gateway.with_env(self.env)
        self.assertEqual(
            gateway.export_data(["name", "default_sender"])["datas"], [["Matrix gateway", "ACME"]]
        )
        for field in ADMIN_ONLY:
            with self.subTest(field=field):
                with self.assertRaises(AccessError):
                    gateway.export_data(["name", field])
                with self.assertRaises(AccessError):
                    self.campaign.with_env(self.env).export_data([f"sms_gateway_id/{field}"])

    @users("ob_manager", "ob_user")
    def test_field_descriptions_and_views_hide_secrets(self):
        Gateway = self.env["outbound.sms.gateway"]
        self.assertFalse(set(ADMIN_ONLY) & set(Gateway.fields_get()))
        self.assertEqual(Gateway.fields_get(["api_key", "api_secret"]), {})
        self.assertIn("default_sender", Gateway.fields_get())
        views = Gateway.get_views([(False, "form"), (False, "list"), (False, "search")])
        for view_type, view in views["views"].items():
            with self.subTest(view=view_type):
                for field in ADMIN_ONLY:
                    self.assertNotIn(f'name="{field}"', view["arch"])
        self.assertIn('name="default_sender"', views["views"]["form"]["arch"])
        self.assertNotIn("action_send_test_sms", views["views"]["form"]["arch"])
        for model, description in views["models"].items():
            if model == "outbound.sms.gateway":
                self.assertFalse(set(ADMIN_ONLY) & set(description["fields"]))

    @users("ob_manager", "ob_user")
    def test_campaign_and_job_do_not_leak_their_gateway_secrets(self):
        campaign, job = self.campaign.with_env(self.env), self.job.with_env(self.env)
        job.sudo().sms_gateway_id = self.gateway
        for record in (campaign, job):
            with self.subTest(model=record._name):
                self.assertNoSecret(record.read())
                spec = {"sms_gateway_id": {"fields": {"display_name": {}, "default_sender": {}}}}
                values = record.web_read(spec)[0]
                self.assertEqual(values["sms_gateway_id"]["display_name"], "Matrix gateway")
                self.assertNoSecret(values)
                for field in ADMIN_ONLY:
                    with self.assertRaises(AccessError):
                        record.web_read({"sms_gateway_id": {"fields": {field: {}}}})
                    with self.assertRaises(AccessError):
                        getattr(record.sms_gateway_id, field)
        form = self.env["outbound.campaign"].get_views([(False, "form")])
        self.assertNoSecret(form)

    @users("ob_manager", "ob_user")
    def test_onchange_does_not_leak_secrets(self):
        """The web client's form onchange on a gateway, with a specification naming secrets."""
        gateway = self.gateway.with_env(self.env)
        spec = {"name": {}, "api_key": {}, "api_secret": {}, "rest_host": {}}
        try:
            result = gateway.onchange({"name": "Renamed"}, ["name"], spec)
        except AccessError:
            return
        self.assertNoSecret(result)

    @users("ob_admin")
    def test_admins_read_and_search_secrets(self):
        gateway = self.gateway.with_env(self.env)
        values = gateway.read(list(ADMIN_ONLY))[0]
        self.assertEqual({field: values[field] for field in SECRET_VALUES}, SECRET_VALUES)
        self.assertEqual(gateway.search([("api_key", "=", SECRET_VALUES["api_key"])]), gateway)
        self.assertIn("api_secret", gateway.fields_get())
        arch = gateway.get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn('name="api_secret"', arch)

    def test_failure_reasons_do_not_carry_credentials(self):
        """What the provider answers ends up in texts every User reads: no key or secret."""
        self.template.body_type = "text"
        with self.fake_vonage(reject_with_401=True) as fake:
            self.gateway.write({"api_key": SECRET_VALUES["api_key"], "api_secret": "wrong"})
            fake.api_secret = "right"
            job = self._create_job("sms")
            with mute_logger("vonage", SEND_JOB_LOGGER):  # the pause is logged as a warning
                self._dispatch()
        self.assertEqual(job.state, "paused")
        self.assertTrue(fake.requests)
        job = job.with_user(self.user_outbound)
        texts = [job.state_reason, *job.outbound_message_ids.mapped("failure_reason")]
        texts += job.message_ids.mapped("body")
        self.assertIn("401", job.state_reason)
        for text in filter(None, texts):
            self.assertNotIn(SECRET_VALUES["api_key"], text)
            self.assertNotIn("wrong", text)


@tagged("post_install", "-at_install")
class TestGatewaySecretsRpc(SecretsCase, HttpCase):
    """The same secrets through the web client's routes, with a Campaign Manager's session."""

    def setUp(self):
        super().setUp()
        self.authenticate("ob_manager", "ob_manager")

    def _call(self, model, method, args, kwargs=None):
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
        }
        with mute_logger("odoo.http"):
            response = self.url_open(
                f"/web/dataset/call_kw/{model}/{method}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_rpc_read_and_search(self):
        gateway_id = self.gateway.id
        body = self._call("outbound.sms.gateway", "read", [[gateway_id]])
        self.assertEqual(body["result"][0]["name"], "Matrix gateway")
        self.assertNoSecret(body)
        for method, args, kwargs in (
            ("read", [[gateway_id], ["api_secret"]], {}),
            ("web_read", [[gateway_id]], {"specification": {"api_key": {}}}),
            ("web_search_read", [], {"domain": [], "specification": {"test_number": {}}}),
            ("search_read", [[("api_key", "=like", "K%")], ["name"]], {}),
            ("export_data", [[gateway_id], ["api_secret"]], {}),
        ):
            with self.subTest(method=method):
                body = self._call("outbound.sms.gateway", method, args, kwargs)
                self.assertNotIn("result", body)
                self.assertEqual(body["error"]["data"]["name"], "odoo.exceptions.AccessError")
                self.assertNoSecret(body)

    def test_export_route_and_content_route(self):
        data = {
            "model": "outbound.sms.gateway",
            "fields": [{"name": "name", "label": "Name"}, {"name": "api_key", "label": "Key"}],
            "ids": [self.gateway.id],
            "domain": [],
            "import_compat": False,
        }
        with mute_logger("odoo.http", "odoo.addons.web.controllers.export"):
            response = self.url_open(
                "/web/export/csv",
                data={"data": json.dumps(data), "csrf_token": http.Request.csrf_token(self)},
            )
        self.assertEqual(response.status_code, 500)
        self.assertIn("odoo.exceptions.AccessError", response.text)
        self.assertNoSecret(response.text)
        data["fields"].pop()
        response = self.url_open(
            "/web/export/csv",
            data={"data": json.dumps(data), "csrf_token": http.Request.csrf_token(self)},
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("Matrix gateway", response.text)
        for field in ("api_key", "api_secret", "ca_file"):
            with self.subTest(field=field), mute_logger("odoo.http"):
                response = self.url_open(
                    f"/web/content/outbound.sms.gateway/{self.gateway.id}/{field}"
                )
                self.assertNotEqual(response.status_code, 200)
                self.assertNoSecret(response.text)
        fields = self.make_jsonrpc_request(
            "/web/export/get_fields",
            {"model": "outbound.sms.gateway", "domain": [], "import_compat": False},
        )
        names = {field["id"] for field in fields}
        self.assertIn("default_sender", names)
        self.assertFalse(set(ADMIN_ONLY) & names)
