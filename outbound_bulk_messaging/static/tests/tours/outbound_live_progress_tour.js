/** @odoo-module **/
/**
 * Live progress, driven by tests/test_ui_live_progress.py: while the screens stay open, the test
 * sends one batch of the job each time a step logs "outbound-live:dispatch", and the wizard's
 * panel, the job list, the kanban and the job form show the new counts by themselves. The page
 * is never reloaded (a marker set on window at the start is still there at the end), and what
 * was typed in the wizard is kept.
 */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const MARKER = "outboundLiveNotReloaded";
const TYPED = "typed@example.com";
// A batch is sent by the test, then told through the bus: allow for a busy machine.
const LIVE_TIMEOUT = 30000;

function fieldIs(name, text, scope) {
    return `${scope} .o_field_widget[name=${name}]:contains(/^${text}$/)`;
}

function dispatchStep(what) {
    return {
        content: `The cron sends a batch (${what})`,
        trigger: "body",
        run() {
            if (!window[MARKER]) {
                throw new Error("The page was reloaded");
            }
            console.log("outbound-live:dispatch");
        },
    };
}

function liveStep(content, trigger) {
    return { content, trigger, timeout: LIVE_TIMEOUT };
}

function menuSteps(section, item) {
    return [
        {
            content: `Open the ${section} menu`,
            trigger: `.o_main_navbar button[data-menu-xmlid='outbound_bulk_messaging.${section}']`,
            run: "click",
        },
        {
            content: `Open ${item}`,
            trigger: `.dropdown-item[data-menu-xmlid='outbound_bulk_messaging.${item}']`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("outbound_live_progress_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        {
            content: "Mark the page: a reload would drop the mark",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^Renewals$/)",
            run() {
                window[MARKER] = true;
            },
        },
        {
            content: "Open the campaign",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^Renewals$/)",
            run: "click",
        },
        {
            content: "Open the send wizard",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_open_send_wizard]",
            run: "click",
        },
        { content: "Panel: none sent yet", trigger: fieldIs("count_sms_sent", 0, ".modal") },
        { content: "Panel: 10 awaiting", trigger: fieldIs("count_sms_awaiting", 10, ".modal") },
        {
            content: "Type a test recipient (not sent)",
            trigger: ".modal .o_field_widget[name=test_recipient] input",
            run: `edit ${TYPED}`,
        },
        dispatchStep("wizard"),
        liveStep("Panel: 2 sent", fieldIs("count_sms_sent", 2, ".modal")),
        liveStep("Panel: 8 awaiting", fieldIs("count_sms_awaiting", 8, ".modal")),
        {
            content: "What was typed is still there",
            trigger: ".modal .o_field_widget[name=test_recipient] input",
            run() {
                const value = this.anchor.value;
                if (value !== TYPED) {
                    throw new Error(`The test recipient was reset to "${value}"`);
                }
            },
        },
        {
            content: "Close the wizard",
            trigger: ".modal-footer button:contains(Close)",
            run: "click",
        },
        { content: "Wizard closed", trigger: "body:not(:has(.modal))" },
        ...menuSteps("outbound_menu_sending", "outbound_menu_send_job"),
        { content: "List: 2 sent", trigger: ".o_list_view .o_data_row td[name=count_sent]:contains(/^2$/)" },
        dispatchStep("list"),
        liveStep("List: 4 sent", ".o_list_view .o_data_row td[name=count_sent]:contains(/^4$/)"),
        {
            content: "Switch to the kanban",
            trigger: ".o_control_panel .o_switch_view.o_kanban",
            run: "click",
        },
        { content: "Kanban: 4 sent", trigger: ".o_kanban_record:contains(Sent: 4)" },
        dispatchStep("kanban"),
        liveStep("Kanban: 6 sent", ".o_kanban_record:contains(Sent: 6)"),
        liveStep(
            "Kanban: progress bar at 60%",
            ".o_kanban_record .o_field_widget[name=progress] .o_progressbar_value:contains(60)"
        ),
        {
            content: "Open the job",
            trigger: ".o_kanban_record:contains(Sent: 6)",
            run: "click",
        },
        { content: "Form: 6 sent", trigger: fieldIs("count_sent", 6, ".o_form_view") },
        dispatchStep("form"),
        liveStep("Form: 8 sent", fieldIs("count_sent", 8, ".o_form_view")),
        liveStep("Form: 2 awaiting", fieldIs("count_queued", 2, ".o_form_view")),
        dispatchStep("form, last batch"),
        liveStep("Form: 10 sent", fieldIs("count_sent", 10, ".o_form_view")),
        liveStep(
            "Form: the job is done",
            ".o_statusbar_status button.o_arrow_button_current:contains(Done)"
        ),
        {
            content: "The page was never reloaded",
            trigger: ".o_form_view",
            run() {
                if (!window[MARKER]) {
                    throw new Error("The page was reloaded");
                }
            },
        },
    ],
});
