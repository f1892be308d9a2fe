/** @odoo-module **/
/**
 * "Edit Templates" from the send wizard, driven by tests/test_ui.py: the user sets a pace and the
 * recipients, opens the templates over the wizard, changes the subject of the one in use, and
 * comes back to the wizard as she left it, its preview showing the new subject.
 */
import { registry } from "@web/core/registry";
import { openSendWizardSteps, SEND_WIZARD as WIZARD } from "./outbound_tour_steps";

const TEMPLATES = ".modal:has(.o_outbound_templates_dialog)";

registry.category("web_tour.tours").add("outbound_edit_templates_tour", {
    url: "/odoo",
    steps: () => [
        ...openSendWizardSteps(),
        {
            content: "Open the Schedule tab",
            trigger: `${WIZARD} .o_notebook a.nav-link[name=schedule]`,
            run: "click",
        },
        { content: "How many: 7", trigger: `${WIZARD} div[name=batch_size] input`, run: "edit 7" },
        {
            content: "Open the Recipients tab",
            trigger: `${WIZARD} .o_notebook a.nav-link[name=recipients]`,
            run: "click",
        },
        {
            content: "Also send to Completed accounts",
            trigger: `${WIZARD} div[name=account_statuses] .form-check:has(label:contains(Completed)) input`,
            run: "check",
        },
        {
            content: "The panel counts them",
            trigger: `${WIZARD} .o_field_widget[name=count_accounts]:contains(/^6$/)`,
        },
        {
            content: "Edit Templates",
            trigger: `${WIZARD} .modal-footer button[name=action_edit_templates]`,
            run: "click",
        },
        {
            content: "The templates open over the wizard",
            trigger: `${TEMPLATES} .o_list_view .o_data_row td[name=name]:contains(/^Reminder$/)`,
            run: "click",
        },
        {
            content: "Change the subject of the template in use",
            trigger: ".modal .o_form_view div[name=subject] input:value(/renewal/)",
            run: "edit Renewal time, $ACCOUNT_NAME",
        },
        {
            content: "Save it",
            trigger: ".modal:has(div[name=subject]) .o_form_button_save",
            run: "click",
        },
        {
            content: "Back in the list of templates, which shows the new subject",
            trigger: `${TEMPLATES} .o_data_row td[name=subject]:contains(Renewal time)`,
        },
        {
            content: "Back to sending",
            trigger: `${TEMPLATES} .o_outbound_templates_back`,
            run: "click",
        },
        {
            content: "The wizard kept the recipients chosen",
            trigger: `${WIZARD}:not(:has(.o_outbound_templates_dialog)) .o_field_widget[name=count_accounts]:contains(/^6$/)`,
        },
        {
            content: "Open the Schedule tab",
            trigger: `${WIZARD} .o_notebook a.nav-link[name=schedule]`,
            run: "click",
        },
        {
            content: "The wizard kept the pace typed",
            trigger: `${WIZARD} div[name=batch_size] input:value(/^7$/)`,
        },
        {
            content: "Open the Preview tab",
            trigger: `${WIZARD} .o_notebook a.nav-link[name=preview]`,
            run: "click",
        },
        {
            content: "The preview shows the new subject",
            trigger: `${WIZARD} .o_field_widget[name=preview_subject]:contains(/^Renewal time, Nora Quinn$/)`,
        },
        {
            content: "Close the wizard without sending",
            trigger: `${WIZARD} .modal-footer button:contains(Close)`,
            run: "click",
        },
        {
            content: "Back on the campaign",
            trigger: "body:not(:has(.modal)) .o_form_view",
        },
    ],
});
