/** @odoo-module **/
/**
 * The send screen as a Campaign Manager uses it, driven by tests/test_ui.py: open a campaign
 * from the Outbound app, open "Send Email / SMS", check the status panel and the preview,
 * change the recipients and the pace, send, land on the new send job. The figures checked
 * here are those of the data test_ui.py prepares.
 */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const tours = registry.category("web_tour.tours");

/** A readonly field of the open dialog (or of the page) showing exactly ``text``. */
function fieldIs(name, text, scope = ".modal") {
    return `${scope} .o_field_widget[name=${name}]:contains(/^${text}$/)`;
}

/** Open the campaign called exactly ``name`` from the Outbound app's campaign list. */
function openCampaignSteps(name) {
    return [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        {
            content: `Open the campaign ${name}`,
            trigger: `.o_list_view .o_data_row td[name=name]:contains(/^${name}$/)`,
            run: "click",
        },
        {
            content: "Open the send wizard",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_open_send_wizard]",
            run: "click",
        },
        {
            content: "The send wizard is open",
            trigger: ".modal .o_outbound_send_wizard",
        },
    ];
}

tours.add("outbound_send_tour", {
    url: "/odoo",
    steps: () => [
        ...openCampaignSteps("Renewals"),
        // Status panel: unused and call-back accounts of both lists.
        { content: "Accounts in scope", trigger: fieldIs("count_accounts", 5) },
        { content: "With an email address", trigger: fieldIs("count_with_email", 4) },
        { content: "With an SMS number", trigger: fieldIs("count_with_sms", 3) },
        { content: "Already sent (earlier job)", trigger: fieldIs("count_email_sent", 1) },
        { content: "Sender shown", trigger: ".modal .o_field_widget[name=email_from]:contains(renewals@acme.example)" },
        // Preview tab (the default one): the template rendered for the first account.
        {
            content: "Preview subject rendered for the first account",
            trigger: fieldIs("preview_subject", "Your renewal, Nora Quinn"),
        },
        {
            content: "Preview body rendered for the first account",
            trigger: ".modal .o_field_widget[name=preview_body]:contains(your reference is N1.)",
        },
        {
            content: "Send Email is enabled",
            trigger: ".modal-footer button[name=action_send_email]:enabled",
        },
        {
            content: "Send SMS is shown disabled (no SMS gateway)...",
            trigger: ".modal-footer button:disabled:contains(Send SMS)",
        },
        {
            content: "... with the reason above the tabs",
            trigger: ".modal .o_field_widget[name=sms_blockers]:contains(the campaign has no SMS gateway)",
        },
        // Recipients: add the completed accounts, skip what was sent within the last day.
        {
            content: "Open the Recipients tab",
            trigger: ".modal .o_notebook a.nav-link[name=recipients]",
            run: "click",
        },
        {
            content: "Also send to Completed accounts",
            trigger: ".modal div[name=account_statuses] .form-check:has(label:contains(Completed)) input",
            run: "check",
        },
        { content: "The panel counts them", trigger: fieldIs("count_accounts", 6) },
        { content: "One more email address", trigger: fieldIs("count_with_email", 5) },
        {
            content: "Do not resend within a day",
            trigger: ".modal div[name=resend_period] select",
            run: 'select "day"',
        },
        // Schedule: 3 messages per hour.
        {
            content: "Open the Schedule tab",
            trigger: ".modal .o_notebook a.nav-link[name=schedule]",
            run: "click",
        },
        {
            content: "How many: 3",
            trigger: ".modal div[name=batch_size] input",
            run: "edit 3",
        },
        {
            content: "How often: every 1",
            trigger: ".modal div[name=batch_interval] input",
            run: "edit 1",
        },
        {
            content: "... hour",
            trigger: ".modal div[name=batch_interval_unit] select",
            run: 'select "hours"',
        },
        {
            content: "The pace is kept",
            trigger: ".modal div[name=batch_size] input:value(/^3$/)",
        },
        {
            content: "Send Email",
            trigger: ".modal-footer button[name=action_send_email]:enabled",
            run: "click",
        },
        // The new job, as the wizard left it: scheduled, nothing sent yet.
        {
            content: "Back on a page without dialog",
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The job form is shown",
            trigger: ".o_form_view .o_field_widget[name=name]:contains(SEND/)",
        },
        {
            content: "Job scheduled",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Scheduled)",
        },
        { content: "Email job", trigger: fieldIs("channel", "Email", ".o_form_view") },
        { content: "4 messages awaiting", trigger: fieldIs("count_queued", 4, ".o_form_view") },
        { content: "None sent yet", trigger: fieldIs("count_sent", 0, ".o_form_view") },
        {
            content: "2 skipped (no address, sent within the day)",
            trigger: fieldIs("count_skipped", 2, ".o_form_view"),
        },
        {
            content: "The pace reached the job",
            trigger: ".o_form_view div[name=batch_size] input:value(/^3$/)",
        },
        {
            content: "The chatter explains the job",
            trigger: ".o-mail-Message:contains(/4 message.s. queued. 2 skipped/)",
        },
    ],
});

tours.add("outbound_send_job_progress_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        {
            content: "Open the Sending menu",
            trigger: ".o_main_navbar button[data-menu-xmlid='outbound_bulk_messaging.outbound_menu_sending']",
            run: "click",
        },
        {
            content: "Open Send Jobs",
            trigger: ".dropdown-item[data-menu-xmlid='outbound_bulk_messaging.outbound_menu_send_job']",
            run: "click",
        },
        {
            content: "The job's row shows 3 sent",
            trigger: ".o_list_view .o_data_row:has(td[name=campaign_id]:contains(/^Renewals$/)) td[name=count_sent]:contains(/^3$/)",
            run: "click",
        },
        {
            content: "Job running",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains(Running)",
        },
        { content: "3 sent", trigger: fieldIs("count_sent", 3, ".o_form_view") },
        { content: "1 awaiting the next hour", trigger: fieldIs("count_queued", 1, ".o_form_view") },
        { content: "None failed", trigger: fieldIs("count_failed", 0, ".o_form_view") },
        {
            content: "Next batch planned",
            trigger: ".o_form_view .o_field_widget[name=next_run_at]:contains(/[0-9]/)",
        },
    ],
});

tours.add("outbound_send_user_tour", {
    url: "/odoo",
    steps: () => [
        ...openCampaignSteps("Renewals"),
        { content: "Users see the panel", trigger: fieldIs("count_accounts", 5) },
        {
            content: "... and the preview",
            trigger: fieldIs("preview_subject", "Your renewal, Nora Quinn"),
        },
        {
            content: "... but no Send button, enabled or not",
            trigger:
                ".modal-footer:not(:has(button:contains(Send Email))):not(:has(button:contains(Send SMS)))",
        },
        {
            content: "Close the wizard",
            trigger: ".modal-footer button:contains(Close)",
            run: "click",
        },
        {
            content: "Wizard closed",
            trigger: "body:not(:has(.modal))",
        },
    ],
});
