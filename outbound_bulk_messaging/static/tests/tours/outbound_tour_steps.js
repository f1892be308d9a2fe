/** @odoo-module **/
/** Steps the Outbound tours share: into the app, onto a campaign, into its send wizard. */
import { stepUtils } from "@web_tour/tour_service/tour_utils";

export const SEND_WIZARD = ".modal:has(.o_outbound_send_wizard)";

export function openCampaignSteps(name = "Renewals") {
    return [
        ...stepUtils.goToAppSteps("outbound_bulk_messaging.outbound_menu_root", "Open Outbound"),
        {
            content: `Open the campaign ${name}`,
            trigger: `.o_list_view .o_data_row td[name=name]:contains(/^${name}$/)`,
            run: "click",
        },
    ];
}

export function openSendWizardSteps(name = "Renewals") {
    return [
        ...openCampaignSteps(name),
        {
            content: "Open the send wizard",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_open_send_wizard]",
            run: "click",
        },
    ];
}
