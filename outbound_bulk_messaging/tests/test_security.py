from odoo.exceptions import AccessError
from odoo.tests import tagged, users

from .common import OutboundCase


@tagged("post_install", "-at_install")
class TestAccessRights(OutboundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls._create_accounts(cls.list_active, 1)

    @users("ob_user")
    def test_user_reads_but_cannot_write(self):
        campaign = self.campaign.with_env(self.env)
        self.assertEqual(campaign.name, "Renewals")
        self.assertEqual(campaign.list_ids.mapped("name"), ["North", "South"])
        self.assertEqual(self.account.with_env(self.env).reference, "R00000")
        with self.assertRaises(AccessError):
            campaign.write({"name": "Hijacked"})
        with self.assertRaises(AccessError):
            self.env["outbound.campaign"].create({"name": "New"})
        with self.assertRaises(AccessError):
            self.env["outbound.list"].create({"name": "New list"})
        with self.assertRaises(AccessError):
            self.account.with_env(self.env).write({"status": "completed"})
        with self.assertRaises(AccessError):
            self.profile.with_env(self.env).write({"delimiter": ";"})

    @users("ob_user")
    def test_user_cannot_import(self):
        with self.assertRaises(AccessError):
            self._import("reference,name\nX1,Ann\n", user=self.env.user)
        self.assertFalse(self.list_active.account_ids.filtered(lambda a: a.reference == "X1"))

    @users("ob_manager")
    def test_manager_edits_campaign_properties(self):
        campaign = self.campaign.with_env(self.env)
        campaign.write({"name": "Renewals 2027", "email_from": "renewals@acme.example"})
        self.assertEqual(campaign.name, "Renewals 2027")
        new_list = self.env["outbound.list"].create({"name": "East", "campaign_id": campaign.id})
        account = self.env["outbound.account"].create(
            {"list_id": new_list.id, "reference": "E1", "email": "E1@Example.COM"}
        )
        self.assertEqual(account.email, "e1@example.com")
        account.unlink()
        # Account statuses are configuration: only administrators rename them.
        with self.assertRaises(AccessError):
            self.env.ref("outbound_bulk_messaging.account_status_unused").with_env(self.env).write(
                {"name": "Fresh"}
            )

    @users("ob_admin")
    def test_admin_renames_statuses(self):
        status = self.env.ref("outbound_bulk_messaging.account_status_unused").with_env(self.env)
        status.write({"name": "Fresh"})
        self.assertEqual(status.name, "Fresh")


@tagged("post_install", "-at_install")
class TestMultiCompany(OutboundCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.env["res.company"].create({"name": "Other Company"})
        cls.campaign_b = cls.env["outbound.campaign"].create(
            {"name": "Other campaign", "company_id": cls.company_b.id}
        )
        cls.list_b = cls.env["outbound.list"].create(
            {"name": "Other list", "campaign_id": cls.campaign_b.id}
        )
        cls.account_b = cls._create_accounts(cls.list_b, 2, start=500)
        cls.profile_b = cls.profile.copy({"name": "Other profile", "company_id": cls.company_b.id})
        cls._create_accounts(cls.list_active, 3)

    def test_list_takes_campaign_company(self):
        self.assertEqual(self.list_b.company_id, self.company_b)

    @users("ob_manager")
    def test_other_company_records_are_invisible(self):
        for model, record in (
            ("outbound.campaign", self.campaign_b),
            ("outbound.list", self.list_b),
            ("outbound.account", self.account_b[0]),
            ("outbound.import.profile", self.profile_b),
        ):
            with self.subTest(model=model):
                self.assertFalse(self.env[model].search([("id", "=", record.id)]))
                with self.assertRaises(AccessError):
                    record.with_env(self.env).read(["display_name"])
        visible = self.env["outbound.account"].search([])
        self.assertFalse(visible & self.account_b.with_env(self.env))
        self.assertEqual(visible.company_id, self.env.company)
        self.assertIn(self.campaign, self.env["outbound.campaign"].search([]))
        self.assertNotIn(self.campaign_b, self.env["outbound.campaign"].search([]))

    @users("ob_manager")
    def test_user_of_both_companies_sees_both(self):
        self.env.user.sudo().company_ids |= self.company_b
        companies = self.env.user.company_ids
        env = self.env(context=dict(self.env.context, allowed_company_ids=companies.ids))
        env_a = self.env(context=dict(self.env.context, allowed_company_ids=self.env.company.ids))
        domain = [("id", "in", self.account_b.ids)]
        self.assertEqual(env_a["outbound.account"].search_count(domain), 0)
        self.assertEqual(env["outbound.account"].search_count(domain), 2)
        self.assertIn(self.campaign_b, env["outbound.campaign"].search([]))


@tagged("post_install", "-at_install")
class TestMailServerChoice(OutboundCase):
    def test_manager_chooses_a_mail_server_but_never_sees_its_password(self):
        server = self.env["ir.mail_server"].create(
            {"name": "Relay", "smtp_host": "relay.example", "smtp_user": "u", "smtp_pass": "secret"}
        )
        campaign = self.campaign.with_user(self.user_manager)
        campaign.mail_server_id = server
        self.assertEqual(campaign.mail_server_id.display_name, "Relay")
        with self.assertRaises(AccessError):
            server.with_user(self.user_manager).read(["smtp_pass"])
        with self.assertRaises(AccessError):
            server.with_user(self.user_manager).write({"smtp_host": "evil.example"})
        with self.assertRaises(AccessError):
            server.with_user(self.user_outbound).read(["name"])
