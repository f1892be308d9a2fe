/** @odoo-module **/
/**
 * Screens for docs/ (tools/screenshots.py, tests/test_ui.py TestScreenshots), on demo data.
 * A screenshot step logs "outbound-screenshot:<name>" and waits until the test, which captures
 * the page through Chrome's DevTools protocol, says it is saved.
 */
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

const tours = registry.category("web_tour.tours");
const SHOT_TIMEOUT = 20000;

function screenshotStep(name, trigger = "body", settle = 0) {
    return {
        content: `Screenshot ${name}`,
        trigger,
        async run() {
            // A chart is drawn with an animation: let it end.
            await new Promise((resolve) => setTimeout(resolve, settle));
            // No focus ring, caret or hover effect in the picture.
            document.activeElement?.blur();
            console.log(`outbound-screenshot:${name}`);
            const start = Date.now();
            while (!(window.outboundScreenshots || []).includes(name)) {
                if (Date.now() - start > SHOT_TIMEOUT) {
                    throw new Error(`Screenshot ${name} was not saved`);
                }
                await new Promise((resolve) => setTimeout(resolve, 100));
            }
        },
    };
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

tours.add("outbound_screenshot_send_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        {
            content: "Open the demo campaign",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^Winter Renewals$/)",
            run: "click",
        },
        {
            content: "Open the send wizard",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_open_send_wizard]",
            run: "click",
        },
        {
            content: "Preview rendered",
            trigger: ".modal .o_field_widget[name=preview_subject]:contains(/\\S/)",
        },
        screenshotStep("send_wizard", ".modal-footer button[name=action_send_email]:enabled"),
        {
            content: "Open the Schedule tab",
            trigger: ".modal .o_notebook a.nav-link[name=schedule]",
            run: "click",
        },
        {
            content: "10 messages",
            trigger: ".modal div[name=batch_size] input",
            run: "edit 10",
        },
        {
            content: "per hour",
            trigger: ".modal div[name=batch_interval_unit] select",
            run: 'select "hours"',
        },
        {
            content: "Send Email",
            trigger: ".modal-footer button[name=action_send_email]:enabled",
            run: "click",
        },
        {
            content: "The job is created",
            trigger: "body:not(:has(.modal)) .o_form_view .o_field_widget[name=name]:contains(SEND/)",
        },
    ],
});

tours.add("outbound_screenshot_job_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        ...menuSteps("outbound_menu_sending", "outbound_menu_send_job"),
        {
            content: "Open the job",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(SEND/)",
            run: "click",
        },
        {
            content: "The first batch is sent",
            trigger: ".o_form_view .o_field_widget[name=count_sent]:contains(/^10$/)",
        },
        screenshotStep("send_job", ".o-mail-Message:contains(queued)"),
    ],
});

/** After two more hourly batches: the job's curve, then the Messages Analysis. */
tours.add("outbound_screenshot_charts_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        ...menuSteps("outbound_menu_sending", "outbound_menu_send_job"),
        {
            content: "Open the job",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(SEND/)",
            run: "click",
        },
        {
            content: "All 24 sent, in three batches",
            trigger: ".o_form_view .o_field_widget[name=count_sent]:contains(/^24$/)",
        },
        {
            content: "Its sending curve",
            trigger: ".o-form-buttonbox button[name=action_view_sending_curve]",
            run: "click",
        },
        screenshotStep("sending_curve", ".o_graph_view .o_graph_canvas_container canvas", 1500),
        ...menuSteps("outbound_menu_reporting", "outbound_menu_message_analysis"),
        screenshotStep(
            "messages_analysis",
            ".o_action:has(.o_breadcrumb:contains(Messages Analysis)) .o_graph_canvas_container canvas",
            1500
        ),
        {
            content: "As a pivot",
            trigger: ".o_control_panel .o_switch_view.o_pivot",
            run: "click",
        },
        screenshotStep("messages_pivot", ".o_pivot thead:has(th:contains(Sent))"),
    ],
});

/** The other screens, saved for review in the log folder of tools/screenshots.py. */
tours.add("outbound_screenshot_review_tour", {
    url: "/odoo",
    steps: () => [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        screenshotStep("review_campaign_list", ".o_list_view .o_data_row"),
        {
            content: "Open the demo campaign",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^Winter Renewals$/)",
            run: "click",
        },
        screenshotStep("review_campaign_form", ".o_form_view .o_field_widget[name=list_ids] .o_data_row"),
        ...menuSteps("outbound_menu_campaigns", "outbound_menu_list"),
        screenshotStep("review_list_list", ".o_list_view .o_data_row"),
        {
            content: "Open a list",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^North region$/)",
            run: "click",
        },
        screenshotStep("review_list_form", ".o_form_view button[name=action_import_accounts]"),
        {
            content: "Import Accounts",
            trigger: ".o_form_view button[name=action_import_accounts]",
            run: "click",
        },
        screenshotStep("review_import_wizard", ".modal .o_field_widget[name=file]"),
        {
            content: "Close the import wizard",
            trigger: ".modal-footer button:contains(Close)",
            run: "click",
        },
        ...menuSteps("outbound_menu_campaigns", "outbound_menu_account"),
        screenshotStep("review_account_list", "body:not(:has(.modal)) .o_list_view .o_data_row"),
        {
            content: "Open an account",
            trigger: ".o_list_view .o_data_row td[name=reference]:contains(/^ACC1000$/)",
            run: "click",
        },
        screenshotStep("review_account_form", ".o_form_view .o_field_widget[name=data_display]"),
        ...menuSteps("outbound_menu_configuration", "outbound_menu_template"),
        {
            content: "Open the email template",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(email)",
            run: "click",
        },
        screenshotStep("review_template_form", ".o_form_view .o_field_widget[name=body_html] .odoo-editor-editable"),
        {
            content: "Open the Preview tab",
            trigger: ".o_form_view .o_notebook a.nav-link[name=preview]",
            run: "click",
        },
        screenshotStep(
            "review_template_preview",
            ".o_form_view .o_field_widget[name=preview_subject]:contains(/\\S/)"
        ),
        ...menuSteps("outbound_menu_sending", "outbound_menu_send_job"),
        screenshotStep("review_job_list", ".o_list_view .o_data_row td[name=count_sent]:contains(/^24$/)"),
        {
            content: "Kanban view",
            trigger: ".o_control_panel .o_switch_view.o_kanban",
            run: "click",
        },
        screenshotStep("review_job_kanban", ".o_kanban_view .o_kanban_record"),
        ...menuSteps("outbound_menu_sending", "outbound_menu_message"),
        screenshotStep("review_message_list", ".o_list_view .o_data_row"),
        {
            content: "Back to the campaign list (leave no form open)",
            trigger: ".o_main_navbar .o_menu_brand",
            run: "click",
        },
        {
            content: "Campaign list shown",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(/^Winter Renewals$/)",
        },
    ],
});
