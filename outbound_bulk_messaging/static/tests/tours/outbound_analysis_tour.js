/** @odoo-module **/
/**
 * The pictures of what was sent, driven by tests/test_ui_analysis.py: from a campaign, its
 * Messages Analysis as a chart and as a pivot; from its send job, the sending curve named with
 * the pace asked. The figures are those of the messages the test prepares.
 */
import { registry } from "@web/core/registry";
import { openCampaignSteps } from "./outbound_tour_steps";

registry.category("web_tour.tours").add("outbound_analysis_tour", {
    url: "/odoo",
    steps: () => [
        ...openCampaignSteps(),
        {
            content: "Open its analysis",
            trigger: ".o_form_view .o-form-buttonbox button[name=action_view_analysis]",
            run: "click",
        },
        {
            content: "The chart is drawn",
            trigger: ".o_graph_view .o_graph_canvas_container canvas",
        },
        {
            content: "Switch to the pivot",
            trigger: ".o_control_panel .o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "Sent, failed, delivered, undelivered, bounced and replies side by side",
            trigger: ".o_pivot thead:has(th:contains(Sent)):has(th:contains(Failed)):has(th:contains(Delivered)):has(th:contains(Replies))",
        },
        {
            content: "3 sent in the day",
            trigger: ".o_pivot tbody tr:has(th:contains(27 Nov)) td.o_pivot_cell_value:first:contains(/^3$/)",
        },
        {
            content: "Back to the campaign",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains(Renewals)",
            run: "click",
        },
        {
            content: "Open its send jobs",
            trigger: ".o_form_view .o-form-buttonbox button[name=action_view_jobs]",
            run: "click",
        },
        {
            content: "Open the job",
            trigger: ".o_list_view .o_data_row td[name=name]:contains(SEND/)",
            run: "click",
        },
        {
            content: "The pace asked is beside the curve's button",
            trigger: ".o-form-buttonbox button[name=action_view_sending_curve]:contains(500 per minute)",
            run: "click",
        },
        {
            content: "The curve is named with the pace asked",
            trigger: ".o_breadcrumb .active:contains(Sending Curve):contains(500 per minute)",
        },
        {
            content: "The curve is drawn",
            trigger: ".o_graph_view .o_graph_canvas_container canvas",
        },
    ],
});
