/** @odoo-module **/
/**
 * The send wizard on a scope above the panel's sync limit, driven by tests/test_ui.py: the
 * figures that take a pass over every account arrive once the wizard is open, come again when
 * the recipients change, and Send sends what they said.
 */
import { registry } from "@web/core/registry";
import { openSendWizardSteps, SEND_WIZARD as WIZARD } from "./outbound_tour_steps";

registry.category("web_tour.tours").add("outbound_deferred_counts_tour", {
    url: "/odoo",
    steps: () => [
        ...openSendWizardSteps(),
        {
            content: "The emails to send arrive after the wizard opened",
            trigger: `${WIZARD}:not(:has(.o_outbound_counting:visible)) .o_field_widget[name=count_sendable_email]:contains(/^4$/)`,
        },
        {
            content: "and Send Email is offered",
            trigger: `${WIZARD} .modal-footer button[name=action_send_email]`,
        },
        {
            content: "Open the Recipients tab",
            trigger: `${WIZARD} .o_notebook a.nav-link[name=recipients]`,
            run: "click",
        },
        {
            content: "Who is left out was counted too",
            trigger: `${WIZARD} .o_outbound_recipients_summary td:contains(/^Accounts of the campaign or list$/)`,
        },
        {
            content: "Also send to Completed accounts",
            trigger: `${WIZARD} div[name=account_statuses] .form-check:has(label:contains(Completed)) input`,
            run: "check",
        },
        {
            content: "The panel counts them at once",
            trigger: `${WIZARD} .o_field_widget[name=count_accounts]:contains(/^6$/)`,
        },
        {
            content: "and the emails to send are counted again",
            trigger: `${WIZARD}:not(:has(.o_outbound_counting:visible)) .o_field_widget[name=count_sendable_email]:contains(/^5$/)`,
        },
        {
            content: "Send Email",
            trigger: `${WIZARD} .modal-footer button[name=action_send_email]`,
            run: "click",
        },
        {
            content: "The job opens",
            trigger: ".o_form_view .o_field_widget[name=count_queued]:contains(/^5$/)",
        },
    ],
});
